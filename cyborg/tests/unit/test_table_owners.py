"""One module writes each table: no other module issues INSERT/UPDATE/DELETE.

Reads are anyone's; a write to a table belongs to its owner module (the
table below, also in doc/source/contributor/architecture.rst), which the
rest of the code calls. The check walks the source of every module: each
``sa.insert/update/delete(target)`` and each ``bulk.*_rows(session,
target, ...)`` call must name a table it can resolve, and the module
making it must own that table. ORM writes (``session.add``, ``.delete()``
on a query, attribute assignment on loaded rows flushed later) are not
used for our tables at all, so any ``session.add``/``session.delete`` or
``.flush()`` call is refused too.
"""

import ast
import pathlib

import pytest

from cyborg.db import models

ROOT = pathlib.Path(__file__).parents[3]

OWNERS = {
    'extended_accelerator_requests': 'cyborg/db/arq_states.py',
    'instance_claims': 'cyborg/db/arq_states.py',
    'attach_handles': 'cyborg/db/attach_handles.py',
    'attach_handle_releases': 'cyborg/db/handle_releases.py',
    'deployables': 'cyborg/db/deployables.py',
    'deployable_traits': 'cyborg/db/deployables.py',
    'devices': 'cyborg/db/devices.py',
    'controlpath_ids': 'cyborg/db/devices.py',
    'attributes': 'cyborg/db/attributes.py',
    'device_profiles': 'cyborg/db/device_profiles.py',
    'device_contexts': 'cyborg/db/device_contexts.py',
    'nova_events': 'cyborg/db/nova_event_outbox.py',
    'agent_hosts': 'cyborg/db/agent_hosts.py',
    'quota_project_locks': 'cyborg/db/quota_locks.py',
}
# Statement builders that write nothing on their own (the owners call them
# with their tables), and the schema's own tooling.
EXEMPT = ('cyborg/db/bulk.py', 'cyborg/db/migrations/', 'cyborg/tests/')
WRITE_BUILDERS = {'insert', 'update', 'delete'}
# sqlalchemy.dialects modules, whose insert() builds an upsert.
DIALECT_MODULES = ('mysql', 'postgresql', 'sqlite')
BULK_WRITERS = {'insert_rows', 'update_rows', 'delete_rows'}
ORM_WRITES = {'add', 'add_all', 'flush', 'merge'}

TABLE_BY_MODEL = {mapper.class_.__name__: mapper.class_.__tablename__
                  for mapper in models.BASE.registry.mappers}


def _modules():
    for path in sorted((ROOT / 'cyborg').rglob('*.py')):
        relative = path.relative_to(ROOT).as_posix()
        if not relative.startswith(EXEMPT):
            yield relative, ast.parse(path.read_text(), relative)


def _table_of(node, aliases):
    """The table name an expression names, or None."""
    if isinstance(node, ast.Attribute) and node.attr == '__table__':
        return _table_of(node.value, aliases)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == 'models':
        return TABLE_BY_MODEL.get(node.attr)
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    return None


def _aliases(scope, inherited):
    """Names assigned a model or table in scope (not nested functions)."""
    aliases = dict(inherited)
    for node in ast.walk(scope):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs = []
            if isinstance(target, ast.Name):
                pairs = [(target, node.value)]
            elif (isinstance(target, ast.Tuple) and
                  isinstance(node.value, ast.Tuple)):
                pairs = zip(target.elts, node.value.elts, strict=False)
            for name, value in pairs:
                table = _table_of(value, aliases)
                if isinstance(name, ast.Name) and table:
                    aliases[name.id] = table
    return aliases


def _writes(tree):
    """(line, table or None, what) for every write statement in a module."""
    module_aliases = _aliases(
        ast.Module(body=[n for n in tree.body if isinstance(n, ast.Assign)],
                   type_ignores=[]), {})
    scopes = [n for n in ast.walk(tree)
              if isinstance(n, (ast.FunctionDef, ast.Module))]
    seen = set()
    for scope in scopes:
        aliases = _aliases(scope, module_aliases)
        for node in ast.walk(scope):
            if not isinstance(node, ast.Call) or id(node) in seen:
                continue
            func = node.func
            if not isinstance(func, ast.Attribute):
                continue
            owner = func.value.id if isinstance(func.value, ast.Name) else ''
            if (owner in ('sa', 'sqlalchemy') + DIALECT_MODULES
                    and func.attr in WRITE_BUILDERS):
                target = node.args[0] if node.args else None
            elif owner == 'bulk' and func.attr in BULK_WRITERS:
                target = node.args[1] if len(node.args) > 1 else None
            elif owner == 'session' and func.attr in ORM_WRITES:
                seen.add(id(node))
                yield node.lineno, None, 'session.%s' % func.attr
                continue
            else:
                continue
            seen.add(id(node))
            yield (node.lineno, _table_of(target, aliases),
                   '%s.%s' % (owner, func.attr))


def test_every_table_has_an_owner():
    assert set(OWNERS) == set(models.BASE.metadata.tables)


def test_only_the_owner_writes_each_table():
    problems, written = [], set()
    for module, tree in _modules():
        for line, table, what in _writes(tree):
            written.add(table)
            if table is None:
                problems.append('%s:%d: %s of a table this check cannot '
                                'name' % (module, line, what))
            elif OWNERS[table] != module:
                problems.append('%s:%d: %s writes %s, owned by %s'
                                % (module, line, what, table, OWNERS[table]))
    assert not problems, '\n'.join(problems)
    # The walk found every owner's writes: it looked where the code is.
    assert written >= set(OWNERS), set(OWNERS) - written


def _documented_owners():
    """The owner table of architecture.rst as {table: owner module}.

    A row starts where the second column names a ``db/...`` module; table
    names in the first column belong to the row they sit in, continuation
    lines included.
    """
    text = (ROOT / 'doc/source/contributor/architecture.rst').read_text()
    table = text.split('written only by\n', 1)[1].split('\n\n', 1)[0]
    owners, owner = {}, None
    for line in table.splitlines():
        if line.startswith('='):
            continue
        names = line.partition('  ')[0]
        described = line[len(names):].strip()
        if described.startswith('``db/'):
            owner = 'cyborg/' + described.split('``')[1]
        for name in names.split('``')[1::2]:
            owners[name] = owner
    return owners


def test_the_architecture_doc_names_each_owner():
    assert _documented_owners() == OWNERS


@pytest.mark.parametrize('source, expected', [
    ('import sqlalchemy as sa\n'
     'from cyborg.db import models\n'
     '_ARQ = models.ExtendedAcceleratorRequest.__table__\n'
     'def f(session):\n'
     '    session.execute(sa.update(_ARQ).values(state="x"))\n',
     [(5, 'extended_accelerator_requests', 'sa.update')]),
    ('def f(session, rows):\n'
     '    table = models.Device.__table__\n'
     '    bulk.insert_rows(session, table, rows)\n',
     [(3, 'devices', 'bulk.insert_rows')]),
    ('def f(session, table):\n'
     '    session.execute(sa.delete(table))\n',
     [(2, None, 'sa.delete')]),
])
def test_the_check_sees_writes(source, expected):
    # Without this, a check that found nothing would pass forever.
    assert list(_writes(ast.parse(source))) == expected
