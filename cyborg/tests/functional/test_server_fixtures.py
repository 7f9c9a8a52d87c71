"""A misconfigured test server skips a test, or fails it under CI, saying why.

The tests run pytest in a subprocess on a small test module that needs
MariaDB, PostgreSQL and RabbitMQ, pointed at this machine's servers with a
wrong password, an unknown role and a closed port, once with ``CI`` set and
once without.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

from cyborg.tests.fixtures import servers

REPO = pathlib.Path(__file__).resolve().parents[3]

NEEDS_SERVERS = '''
import pytest

from cyborg.tests.fixtures import database
from cyborg.tests.fixtures.processes import rabbit  # noqa: F401


@pytest.mark.parametrize('database_type', ['mysql', 'postgresql'])
def test_database(database_type, tmp_path):
    with database.schema_database(database_type, tmp_path):
        pass


def test_rabbit(rabbit):
    pass
'''

# What each server's client says about the misconfiguration below.
# (PostgreSQL here trusts loopback, so a wrong password would get in: an
# unknown role is its misconfiguration.)
REASONS = (
    "Access denied for user 'root'",
    'role "nobody" does not exist',
    'RabbitMQ at 127.0.0.1:1/ not usable: OperationalError: '
    '[Errno 111] Connection refused',
)


def run_pytest(tmp_path, ci):
    (tmp_path / 'test_needs_servers.py').write_text(NEEDS_SERVERS)
    # An ini of its own: not the repository's (xdist, addopts).
    (tmp_path / 'pytest.ini').write_text('[pytest]\n')
    env = dict(os.environ,
               OS_TEST_DBAPI_ADMIN_CONNECTION=(
                   'mysql+pymysql://root:secret@127.0.0.1:3306/test;'
                   'postgresql+psycopg2://nobody@127.0.0.1:5432/postgres'),
               CYBORG_TEST_TRANSPORT_URL='rabbit://guest:guest@127.0.0.1:1/')
    env.pop('CI', None)
    if ci:
        env['CI'] = 'true'
    return subprocess.run(
        [sys.executable, '-m', 'pytest', '-c', str(tmp_path / 'pytest.ini'),
         '--rootdir', str(tmp_path), '-p', 'no:cacheprovider', '-rfs',
         str(tmp_path / 'test_needs_servers.py')],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('ci', [True, False], ids=['ci', 'developer'])
def test_misconfigured_servers(tmp_path, ci):
    result = run_pytest(tmp_path, ci)
    output = result.stdout + result.stderr

    counts = {outcome: int(number) for number, outcome in re.findall(
        r'(\d+) (failed|errors?|skipped|passed)\b', output.splitlines()[-1])}
    if ci:
        assert result.returncode == 1, output
        # The fixture's failure is reported as an error at setup.
        assert counts == {'failed': 2, 'error': 1}, output
        assert 'CI is set' in output
    else:
        assert result.returncode == 0, output
        assert counts == {'skipped': 3}, output
    for reason in REASONS:
        assert reason in output, output
    # The URL is shown to say which server, its password is not.
    assert 'secret' not in output
    assert 'mysql+pymysql://root:***@127.0.0.1:3306/test' in output


def test_missing_driver_is_named(monkeypatch):
    # As if PyMySQL were not installed: the import fails.
    monkeypatch.setitem(sys.modules, 'pymysql', None)
    reason = servers.connect_error('mysql+pymysql://root@127.0.0.1/test')
    assert reason.startswith('no DB driver installed for mysql+pymysql')
    assert 'pymysql' in reason


def test_working_servers_have_no_reason():
    assert servers.connect_error(
        'mysql+pymysql://root@127.0.0.1:3306/test') is None
    assert servers.rabbit_error(
        'rabbit://guest:guest@127.0.0.1:5672/') is None
