"""cyborg-api refuses a bad [upgrade_levels] conductor cap in one line,
before it forks workers that would each die on it."""

import subprocess
import sys


def test_an_unknown_conductor_cap_stops_the_start_in_one_line(tmp_path):
    conf_file = tmp_path / 'cyborg.conf'
    conf_file.write_text(
        '[DEFAULT]\nstate_path = %s\ntransport_url = fake://\n'
        '[api]\napi_workers = 2\n'
        '[upgrade_levels]\nconductor = 1.1.0\n' % tmp_path)

    result = subprocess.run(
        [sys.executable, '-m', 'cyborg.cmd.api', '--config-file',
         str(conf_file)], capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "api.py: error: Invalid configuration of [upgrade_levels] "
        "conductor: '1.1.0' is not a version of the conductor RPC API; this "
        "release knows 1.0, 1.1, 1.2, 1.3, 1.4. Set the version the oldest "
        "conductor still running serves, or leave the option unset."]
