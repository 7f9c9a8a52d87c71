"""Every console script parses its options and answers --help cleanly."""

import subprocess
import sys

import pytest

COMMANDS = ['api', 'conductor', 'agent', 'dbsync', 'status', 'all_in_one']


@pytest.mark.parametrize('command', COMMANDS)
def test_help_exits_zero_with_usage(command):
    result = subprocess.run(
        [sys.executable, '-m', 'cyborg.cmd.%s' % command, '--help'],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'usage:' in result.stdout
    assert 'Traceback' not in result.stderr
    # Each accepts a config file, as every OpenStack service does.
    assert '--config-file' in result.stdout


def test_status_upgrade_check_fails_until_the_schema_is_current(tmp_path):
    conf_file = tmp_path / 'cyborg.conf'
    conf_file.write_text('[database]\nconnection = sqlite:///%s\n'
                         % (tmp_path / 'cyborg.sqlite'))

    def run(module, *args):
        return subprocess.run(
            [sys.executable, '-m', 'cyborg.cmd.%s' % module,
             '--config-file', str(conf_file)] + list(args),
            capture_output=True, text=True, timeout=120)

    before = run('status', 'upgrade', 'check')
    assert before.returncode == 2, before.stdout
    assert 'cyborg-dbsync upgrade' in before.stdout
    assert run('dbsync', 'upgrade').returncode == 0
    after = run('status', 'upgrade', 'check')
    assert after.returncode == 0, after.stdout
