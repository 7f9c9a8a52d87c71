"""Write rows copied from upstream Cyborg, through the tables' owners.

``cyborg/upstream_import.py`` reads an upstream database and maps its rows
to ours (the rules live there); this module writes them in one transaction,
as ``host_reports.py`` writes a host's report: it reads what is here,
decides per row whether it is new, already here, or clashes, and hands the
new rows to each table's owner module.

Identity: rows keep their upstream ids and uuids. A row whose id and uuid
are both here is skipped (a second import changes nothing); one whose id,
uuid or unique name is held here by another row refuses the whole import
(ImportRefused; the transaction rolls back).
"""

from oslo_db import exception as db_exc
import sqlalchemy as sa

from cyborg.db import agent_hosts
from cyborg.db import arq_states
from cyborg.db import attach_handles
from cyborg.db import attributes
from cyborg.db import deployables
from cyborg.db import device_profiles
from cyborg.db import devices
from cyborg.db import engine
from cyborg.db import models
from cyborg import exception

# Table -> the owner's function inserting rows as given, in FK order.
_WRITERS = (
    ('devices', devices.add),
    ('controlpath_ids', devices.add_controlpaths),
    ('device_profiles', device_profiles.add_imported),
    ('deployables', deployables.add),
    ('attributes', attributes.add),
    ('attach_handles', attach_handles.add),
)
_ARQS = 'extended_accelerator_requests'
# Columns that must not name another row here (beyond id and uuid).
_UNIQUE_NAMES = {'device_profiles': 'name', 'deployables': 'name'}
# Rows per IN (...) list when looking up what is already here.
_CHUNK = 500


@engine.writer
def write(context, tables, traits, compute_nodes, now, compared):
    """Write the mapped rows; return (counts, changed).

    ``tables``: table name -> rows (dicts with ids), ``traits``: deployable
    id -> traits, ``compute_nodes``: hostname -> compute node provider uuid,
    ``compared``: table name -> the columns whose difference from a row
    already here is counted in ``changed`` (table name -> count).
    ``counts``: table name -> (inserted, already here).
    """
    session = context.session
    counts, changed, inserted = {}, {}, {}
    for name, add in _WRITERS + ((_ARQS, None),):
        table = models.BASE.metadata.tables[name]
        rows = tables[name]
        new, differ = _new_rows(session, table, rows, compared[name],
                                _UNIQUE_NAMES.get(name))
        try:
            if name == _ARQS:
                claims = arq_states.add_imported(session, new, now)
            elif new:
                add(session, new)
        except db_exc.DBError as exc:
            # A constraint of ours that upstream's data breaks in a way the
            # mapping does not cover.
            raise exception.ImportRefused(reason='%s: %s' % (
                name, _first_line(exc)))
        inserted[name] = {row['id'] for row in new}
        counts[name] = (len(new), len(rows) - len(new))
        if differ:
            changed[name] = differ
    # A handle imported free by an earlier run may be held by an ARQ
    # copied now (upstream claimed it since).
    attach_handles.update(session, {
        row['attach_handle_id']: {'in_use': True}
        for row in tables[_ARQS]
        if row['id'] in inserted[_ARQS] and row['attach_handle_id']
        and not _in_use(session, row['attach_handle_id'])})
    counts['deployable_traits'] = _add_traits(session, tables, traits,
                                              inserted)
    counts['instance_claims'] = claims
    counts['agent_hosts'] = _add_hosts(context, compute_nodes, now)
    _advance_sequences(session, inserted)
    return counts, changed


def _chunks(values):
    values = sorted(values)
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _first_line(exc):
    text = str(getattr(exc, 'inner_exception', None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _new_rows(session, table, rows, compared, unique_name=None):
    """(rows not here yet, how many of the others differ in ``compared``)."""
    if not rows:
        return [], 0
    columns = list(rows[0])
    here = {}
    lookups = [('id', table.c.id), ('uuid', table.c.uuid)]
    if unique_name:
        lookups.append((unique_name, table.c[unique_name]))
    for key, column in lookups:
        for chunk in _chunks({r[key] for r in rows}):
            for found in session.execute(
                    sa.select(*[table.c[c] for c in columns])
                    .where(column.in_(chunk))):
                here[found.id] = found._asdict()
    by_uuid = {r['uuid']: r for r in here.values()}
    by_name = {r[unique_name]: r for r in here.values()} if unique_name \
        else {}
    new, changed = [], 0
    for row in rows:
        mine = here.get(row['id'])
        if mine is not None and mine['uuid'] == row['uuid']:
            changed += any(mine[c] != row[c] for c in compared)
            continue
        # The name first: it is what an operator recognises.
        holder = by_name.get(row.get(unique_name))
        if holder is not None:
            raise exception.ImportRefused(
                reason='%s named %r exists here with uuid %s, upstream\'s '
                       'is %s' % (table.name, row[unique_name],
                                  holder['uuid'], row['uuid']))
        if mine is not None or row['uuid'] in by_uuid:
            raise exception.ImportRefused(
                reason='%s row %s (uuid %s) is held here by another row; '
                       'import into a database only cyborg-dbsync '
                       'import-upstream has written'
                       % (table.name, row['id'], row['uuid']))
        new.append(row)
    return new, changed


def _in_use(session, handle_id):
    table = models.AttachHandle.__table__
    return session.execute(sa.select(table.c.in_use).where(
        table.c.id == handle_id)).scalar()


def _add_traits(session, tables, traits, inserted):
    """deployable_traits of deployables or trait rows new in this run."""
    table = models.DeployableTrait.__table__
    touched = inserted['deployables'] | {
        row['deployable_id'] for row in tables['attributes']
        if row['id'] in inserted['attributes']}
    wanted = {(dep, trait) for dep, names in traits.items()
              if dep in touched for trait in names}
    present = set()
    for chunk in _chunks({dep for dep, _trait in wanted}):
        present.update(session.execute(
            sa.select(table.c.deployable_id, table.c.trait)
            .where(table.c.deployable_id.in_(chunk))).tuples())
    new = sorted(wanted - present)
    deployables.add_traits(session, [
        {'deployable_id': dep, 'trait': trait} for dep, trait in new])
    total = sum(len(names) for names in traits.values())
    return len(new), total - len(new)


def _add_hosts(context, compute_nodes, now):
    """agent_hosts rows for hosts whose compute node provider is known.

    The RPC name is a guess (the host name) and there is no report
    fingerprint, so the agent's first heartbeat asks for a full report,
    which corrects both.
    """
    new = [host for host in sorted(compute_nodes)
           if agent_hosts.get_host(context, host) is None]
    for host in new:
        agent_hosts.record_report(context, host, host, compute_nodes[host],
                                  None, now)
    return len(new), len(compute_nodes) - len(new)


def _advance_sequences(session, inserted):
    """PostgreSQL: move each id sequence past the ids we inserted."""
    if session.get_bind().dialect.name != 'postgresql':
        # MySQL's AUTO_INCREMENT and SQLite's rowid follow by themselves.
        return
    for name, ids in inserted.items():
        if ids:
            session.execute(sa.text(
                "SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                "(SELECT max(id) FROM %s))" % name), {'t': name})
