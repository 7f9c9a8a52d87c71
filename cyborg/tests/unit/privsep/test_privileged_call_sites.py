"""Static check: only cyborg.privsep writes files for the host or runs
programs; everything else that writes a file is a known writer of the
agent's own state.

The source of every module outside the tests is parsed and each call that
runs a program (subprocess, os.exec*/spawn*/system/popen, oslo.concurrency
processutils.execute) or opens a file for writing (open/os.open/os.fdopen
with a write mode, Path.write_text/write_bytes, Path.open with a write
mode) is listed with its module. Sysfs lives under ``[agent] sysfs_root``
and the tools are the vendors'; the privileged daemon is the only place
allowed to touch either, so a new write or execution anywhere else fails
here until it is moved there or, when it writes cyborg's own state, named
below with its reason.
"""

import ast
import pathlib

import cyborg

ROOT = pathlib.Path(cyborg.__file__).parent
PRIVILEGED_PACKAGE = 'privsep'

# Modules that write files, none of them under sysfs: why each may.
STATE_WRITERS = {
    'agent/programming.py': 'programming records and bitstream downloads '
                            'under [DEFAULT] state_path',
    'accelerator/drivers/fake.py': "the fake driver's region records "
                                   'under [DEFAULT] state_path',
    'clients/glance.py': 'writes a downloaded image to the file the agent '
                         'names (under [DEFAULT] state_path)',
}

# os.fork alone runs no program (the API forks its workers).
_RUNNERS_IN_OS = ('system', 'popen', 'posix_spawn', 'posix_spawnp')
_WRITE_MODE_CHARS = set('wax+')


def _modules():
    for path in sorted(ROOT.rglob('*.py')):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith('tests/'):
            continue
        yield relative, ast.parse(path.read_text(), str(path))


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return '.'.join(reversed(parts))


def _mode_argument(call, position):
    if len(call.args) > position:
        node = call.args[position]
    else:
        node = next((k.value for k in call.keywords if k.arg == 'mode'),
                    None)
    if node is None:
        return 'r'
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return '?'  # computed: counted as a write, to be safe


def _is_write_mode(mode):
    return mode == '?' or bool(_WRITE_MODE_CHARS & set(mode))


def classify(call):
    """'exec', 'write' or None for one ast.Call."""
    name = _dotted(call.func)
    last = name.rsplit('.', 1)[-1]
    if name.startswith('subprocess.') or last == 'Popen':
        return 'exec'
    if name.startswith('os.') and (last in _RUNNERS_IN_OS or
                                   last.startswith(('exec', 'spawn'))):
        return 'exec'
    if last in ('execute', 'trycmd', 'ssh_execute') and (
            'processutils' in name):
        return 'exec'
    if name == 'open':
        return 'write' if _is_write_mode(_mode_argument(call, 1)) else None
    if name == 'os.open':
        return 'write'
    if name == 'os.fdopen':
        return 'write' if _is_write_mode(_mode_argument(call, 1)) else None
    if last in ('write_text', 'write_bytes'):
        return 'write'
    if last == 'open' and isinstance(call.func, ast.Attribute):
        # pathlib's Path.open(mode)
        return 'write' if _is_write_mode(_mode_argument(call, 0)) else None
    return None


def find_call_sites():
    """{(module, kind): [line numbers]} outside the privsep package."""
    sites = {}
    for module, tree in _modules():
        if module.startswith(PRIVILEGED_PACKAGE + '/'):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                kind = classify(node)
                if kind:
                    sites.setdefault((module, kind), []).append(node.lineno)
    return sites


def test_nothing_outside_privsep_runs_a_program():
    runners = {module: lines for (module, kind), lines in
               find_call_sites().items() if kind == 'exec'}
    assert runners == {}


def test_only_the_known_state_writers_write_files():
    writers = {module for (module, kind) in find_call_sites()
               if kind == 'write'}
    assert writers == set(STATE_WRITERS)


def test_the_privsep_package_does_write_and_run():
    # The check above must see these calls where they belong, or it
    # would pass by seeing nothing at all.
    found = set()
    for module, tree in _modules():
        if module.startswith(PRIVILEGED_PACKAGE + '/'):
            found |= {(module, classify(node)) for node in ast.walk(tree)
                      if isinstance(node, ast.Call) and classify(node)}
    assert ('privsep/sysfs.py', 'write') in found
    assert ('privsep/tools.py', 'exec') in found


def test_the_classifier_recognises_what_it_must():
    def kind(source):
        return classify(ast.parse(source).body[0].value)
    assert kind("open(path, 'w')") == 'write'
    assert kind("open(path, mode='ab')") == 'write'
    assert kind('open(path, flags)') == 'write'
    assert kind("open(path)") is None
    assert kind("open(path, 'rb')") is None
    assert kind("(root / 'create').write_text(value)") == 'write'
    assert kind("path.open('r+')") == 'write'
    assert kind('subprocess.run(argv)') == 'exec'
    assert kind('processutils.execute(*argv)') == 'exec'
    assert kind("os.execv(tool, argv)") == 'exec'
    assert kind('os.system(command)') == 'exec'
    assert kind('processutils.get_worker_count()') is None
