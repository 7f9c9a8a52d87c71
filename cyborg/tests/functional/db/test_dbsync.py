"""cyborg-dbsync as an operator runs it: real process, real databases."""

import subprocess
import sys

import pytest
import sqlalchemy as sa

from cyborg.db import migration
from cyborg.tests.fixtures import database as db_fixture


def _dbsync(tmp_path, connection, *args, config=True):
    argv = [sys.executable, '-m', 'cyborg.cmd.dbsync']
    if config:
        conf_file = tmp_path / 'cyborg.conf'
        conf_file.write_text('[DEFAULT]\nstate_path = %s\n[database]\n'
                             'connection = %s\n' % (tmp_path, connection))
        argv += ['--config-file', str(conf_file)]
    return subprocess.run(argv + list(args), capture_output=True, text=True,
                          timeout=120)


def _assert_one_line_error(result):
    assert result.returncode != 0
    assert 'Traceback' not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize('database_type', db_fixture.BACKENDS)
def test_upgrade_creates_schema_and_twice_is_noop(database_type, tmp_path):
    if database_type == 'sqlite':
        url = 'sqlite:///%s' % (tmp_path / 'cyborg.sqlite')
        context = db_fixture.empty_database('sqlite', tmp_path)
    else:
        context = db_fixture.server_database(database_type)
    with context as target:
        url = url if database_type == 'sqlite' else str(target.render_as_string(
            hide_password=False))
        first = _dbsync(tmp_path, url, 'upgrade')
        assert first.returncode == 0, first.stderr
        engine = sa.create_engine(url)
        try:
            assert migration.version(engine=engine) == migration.head()
            tables = sorted(sa.inspect(engine).get_table_names())
            assert 'extended_accelerator_requests' in tables

            second = _dbsync(tmp_path, url, 'upgrade')
            assert second.returncode == 0, second.stderr
            assert sorted(sa.inspect(engine).get_table_names()) == tables

            version = _dbsync(tmp_path, url, 'version')
            # Log lines may precede it; the revision is the last line.
            assert version.stdout.strip().splitlines()[-1] == migration.head()
        finally:
            engine.dispose()


def test_unreachable_database_is_one_line(tmp_path):
    # Port 9 (discard) on loopback: nothing listens there.
    result = _dbsync(tmp_path, 'mysql+pymysql://root@127.0.0.1:9/cyborg',
                     'upgrade')
    line = _assert_one_line_error(result)
    assert line.startswith('dbsync.py: error:') or 'error:' in line
    assert '127.0.0.1' in line or 'connect' in line.lower()


def test_unknown_driver_url_is_one_line(tmp_path):
    result = _dbsync(tmp_path, 'nosuchdb://x/y', 'upgrade')
    assert 'nosuchdb' in _assert_one_line_error(result)


def test_unknown_revision_is_one_line(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'cyborg.sqlite')
    result = _dbsync(tmp_path, url, 'upgrade', '--revision', 'deadbeef')
    assert 'deadbeef' in _assert_one_line_error(result)


def test_missing_config_file_is_one_line(tmp_path):
    result = _dbsync(tmp_path, None, '--config-file',
                     str(tmp_path / 'absent.conf'), 'upgrade', config=False)
    assert 'absent.conf' in _assert_one_line_error(result)
