"""The committed sample configuration and policy are what the generators write.

``etc/cyborg/cyborg.conf.sample`` and ``etc/cyborg/policy.yaml.sample`` are
shipped in the tree for operators to read; they are regenerated here into
a temporary directory, with the commands ``tox -e genconfig`` and ``tox -e
genpolicy`` run, and must be identical. Changing an option's help or
default, or a policy rule, without regenerating fails here, naming the
command to run. The generators run as separate processes: they call
``set_lib_defaults``, which changes library defaults process-wide.

The configuration sample also carries the options of the libraries we use
(oslo.messaging, oslo.db, ...), so a new release of one of them can make
this fail too; the message then names that library's section, and the fix
is the same command.
"""

import difflib
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BIN = pathlib.Path(sys.executable).parent

SAMPLES = [
    pytest.param('oslo-config-generator',
                 'tools/config/cyborg-config-generator.conf',
                 'etc/cyborg/cyborg.conf.sample', 'genconfig', id='config'),
    pytest.param('oslopolicy-sample-generator',
                 'tools/config/cyborg-policy-generator.conf',
                 'etc/cyborg/policy.yaml.sample', 'genpolicy', id='policy'),
]


def _namespaces_differing(committed, generated):
    """The '# From <namespace>' blocks of the config sample that differ."""
    def blocks(text):
        found, current = {}, 'header'
        group = None
        for line in text.splitlines():
            if line.startswith('['):
                group = line
            match = re.match(r'^# From (\S+)$', line)
            if match:
                current = '%s %s' % (group, match.group(1))
            found.setdefault(current, []).append(line)
        return found
    old, new = blocks(committed), blocks(generated)
    return sorted(name for name in old.keys() | new.keys()
                  if old.get(name) != new.get(name))


@pytest.mark.parametrize('command, generator_conf, sample, tox_env', SAMPLES)
def test_committed_sample_is_up_to_date(tmp_path, command, generator_conf,
                                        sample, tox_env):
    output = tmp_path / pathlib.Path(sample).name
    result = subprocess.run(
        [str(BIN / command), '--config-file', generator_conf,
         '--output-file', str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    committed = (REPO / sample).read_text()
    generated = output.read_text()
    if committed != generated:
        diff = list(difflib.unified_diff(
            committed.splitlines(), generated.splitlines(),
            sample, 'generated', lineterm='', n=1))
        pytest.fail(
            '%s is out of date: run "tox -e %s" (or "%s --config-file %s") '
            'and commit the result. Sections that differ: %s\n%s'
            % (sample, tox_env, command, generator_conf,
               ', '.join(_namespaces_differing(committed, generated)),
               '\n'.join(diff[:80])), pytrace=False)
