"""cyborg-status upgrade check against real databases.

Each check is run on a migrated database of every backend (SQLite,
MariaDB, PostgreSQL) seeded with the rows it looks for, and the command
itself once as an operator runs it (exit code and table).
"""

import datetime
import subprocess
import sys

from oslo_upgradecheck import upgradecheck
from oslo_utils import timeutils
import pytest
import sqlalchemy as sa

from cyborg.agent import rpcapi as agent_rpcapi
from cyborg.cmd import status
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg.db import agent_hosts
from cyborg.db import engine as db_engine
from cyborg.db import migration
from cyborg.db import models
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import database as db_fixture

SUCCESS = upgradecheck.Code.SUCCESS
WARNING = upgradecheck.Code.WARNING
FAILURE = upgradecheck.Code.FAILURE
CURRENT = agent_rpcapi.RPC_API_VERSION
# The revision before agent_hosts.agent_rpc_version.
BEFORE_0006 = '5a7d3c9e1f20'
_ARQ = models.ExtendedAcceleratorRequest.__table__


@pytest.fixture(params=db_fixture.BACKENDS)
def migrated_db(request, tmp_path):
    """A database of each backend, migrated to head as cyborg-dbsync does."""
    with db_fixture.schema_database(request.param, tmp_path,
                                    use_migrations=True) as engine:
        yield engine


@pytest.fixture
def checks(conf):
    return status.Checks(conf)


def _ago(**delta):
    return timeutils.utcnow() - datetime.timedelta(**delta)


def _record_host(context, hostname, agent_rpc_version, last_seen):
    agent_hosts.record_report(context, hostname, hostname, None, 'f' * 64,
                              last_seen, agent_rpc_version=agent_rpc_version)


def test_a_fresh_database_passes(migrated_db, checks):
    assert checks._check_database_at_head().code == SUCCESS
    assert checks._check_no_stale_binds().code == SUCCESS
    assert checks._check_agent_rpc_versions().code == SUCCESS
    assert checks._check_version_caps().code == SUCCESS


def test_binds_stuck_past_recovery_are_named(migrated_db, checks, conf):
    deployable = seed.create_deployable(migrated_db)
    limit = checks.stale_bind_seconds()
    assert limit == (conf.bind_timeout + conf.bind_lease_seconds
                     + conf.conductor.recovery_interval)
    [stuck] = seed.seed_binds(migrated_db, deployable, 1,
                              started_at=_ago(seconds=limit + 60))
    # In progress, within what recovery allows: not stuck.
    seed.seed_binds(migrated_db, deployable, 1,
                    started_at=_ago(seconds=limit - 30))
    # Long ago, but finished: not stuck.
    [bound] = seed.seed_binds(migrated_db, deployable, 1,
                              started_at=_ago(hours=5))
    with migrated_db.begin() as conn:
        conn.execute(sa.update(_ARQ).where(_ARQ.c.uuid == bound)
                     .values(state='Bound'))

    result = checks._check_no_stale_binds()

    assert result.code == WARNING
    assert result.details.startswith(
        '1 accelerator request(s) have been binding (BindStarted) for more '
        'than %d s, longer than recovery lets a bind run: %s (host '
        'test-host, started ' % (limit, stuck))
    assert 'No conductor is recovering binds: start one' in result.details


def test_many_stuck_binds_are_counted_not_all_named(migrated_db, checks):
    deployable = seed.create_deployable(migrated_db)
    uuids = seed.seed_binds(migrated_db, deployable, status.SHOWN + 2,
                            started_at=_ago(hours=1))

    details = checks._check_no_stale_binds().details

    assert details.startswith('%d accelerator' % (status.SHOWN + 2))
    assert ' and 2 more. ' in details
    assert sum(arq_uuid in details for arq_uuid in uuids) == status.SHOWN


def test_hosts_behind_this_release_are_named(migrated_db, checks,
                                             admin_context):
    _record_host(admin_context, 'current-host', CURRENT, _ago(seconds=10))
    _record_host(admin_context, 'old-host', None, _ago(seconds=20))
    _record_host(admin_context, 'older-host', '1.0', _ago(seconds=30))
    # Silent for days: out of service, named but no reason to warn.
    _record_host(admin_context, 'retired-host', None, _ago(days=3))

    result = checks._check_agent_rpc_versions()

    assert result.code == WARNING
    assert result.details.startswith(
        "2 host(s) last reported with an agent RPC API other than this "
        "release's %s: old-host (stated no version, last seen " % CURRENT)
    assert 'older-host (stated 1.0, last seen ' in result.details
    assert 'current-host' not in result.details.split('Not counted')[0]
    assert ('Not counted: 1 host(s) silent for more than 24 hours (out of '
            'service?): retired-host (stated no version' in result.details)

    # The hosts' agents are upgraded: their next heartbeats state CURRENT.
    for hostname in ('old-host', 'older-host'):
        agent_hosts.touch_host(admin_context, hostname, 'f' * 64,
                               agent_rpc_version=CURRENT)
    result = checks._check_agent_rpc_versions()
    assert result.code == SUCCESS
    assert result.details.startswith('Not counted: 1 host(s) silent')


def test_a_heartbeat_in_the_1_0_form_clears_the_version(migrated_db, checks,
                                                        admin_context):
    # An upgraded agent rolled back (or capped again) speaks 1.0 again.
    _record_host(admin_context, 'flapping-host', CURRENT, _ago(seconds=5))
    assert checks._check_agent_rpc_versions().code == SUCCESS

    agent_hosts.touch_host(admin_context, 'flapping-host', 'f' * 64)

    result = checks._check_agent_rpc_versions()
    assert result.code == WARNING
    assert 'flapping-host (stated no version' in result.details


def test_a_schema_behind_head_fails_and_skips_the_rest(tmp_path, conf):
    with db_fixture.empty_database('sqlite', tmp_path) as engine:
        migration.upgrade(BEFORE_0006, engine=engine)
        db_engine.configure_options({'connection': 'sqlite://'})
        reset = db_engine.context_manager.patch_engine(engine)
        try:
            checks = status.Checks(conf)
            schema = checks._check_database_at_head()
            hosts = checks._check_agent_rpc_versions()
            binds = checks._check_no_stale_binds()
        finally:
            reset()
    assert schema.code == FAILURE
    assert schema.details == (
        'Database is at revision %s, the code needs %s: run "cyborg-dbsync '
        'upgrade".' % (BEFORE_0006, migration.head()))
    for result in (hosts, binds):
        assert result.code == WARNING
        assert result.details == 'Not checked: ' + schema.details


@pytest.mark.parametrize('caps, code, words', [
    ({}, SUCCESS, None),
    ({'agent': '1.0'}, WARNING,
     '[upgrade_levels] agent = 1.0: services using this configuration'),
    ({'conductor': '1.0', 'agent': '1.1'}, WARNING,
     '[upgrade_levels] conductor = 1.0, agent = 1.1: services'),
    ({'conductor': '9.0'}, FAILURE,
     "Invalid configuration of [upgrade_levels] conductor: '9.0' is not a "
     "version of the conductor RPC API; this release knows %s."
     % ', '.join(conductor_rpcapi.RPC_VERSIONS)),
])
def test_version_caps(conf, caps, code, words):
    for name, value in caps.items():
        conf.set_override(name, value, group='upgrade_levels')

    result = status.Checks(conf)._check_version_caps()

    assert result.code == code
    if words is None:
        assert result.details is None
    else:
        assert result.details.startswith(words)


def _status(tmp_path, db_path, *extra_lines):
    conf_file = tmp_path / 'cyborg.conf'
    conf_file.write_text('\n'.join((
        '[DEFAULT]', 'state_path = %s' % tmp_path,
        '[database]', 'connection = sqlite:///%s' % db_path) + extra_lines)
        + '\n')
    return subprocess.run(
        [sys.executable, '-m', 'cyborg.cmd.status', '--config-file',
         str(conf_file), 'upgrade', 'check'],
        capture_output=True, text=True, timeout=120)


def test_the_command_as_an_operator_runs_it(tmp_path):
    db_path = tmp_path / 'cyborg.sqlite'
    with db_fixture.empty_database('sqlite', tmp_path) as engine:
        migration.upgrade('head', engine=engine)
        seed.seed_binds(engine, seed.create_deployable(engine), 1,
                        started_at=_ago(hours=2))

    warned = _status(tmp_path, db_path)
    assert warned.returncode == 1, warned.stdout + warned.stderr
    assert 'Check: Binds in progress' in warned.stdout
    assert 'Result: Warning' in warned.stdout
    assert 'Result: Failure' not in warned.stdout

    # A database the previous release's dbsync left: a failure.
    older = tmp_path / 'older.sqlite'
    engine = sa.create_engine('sqlite:///%s' % older)
    migration.upgrade(BEFORE_0006, engine=engine)
    engine.dispose()
    failed = _status(tmp_path, older)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert 'Result: Failure' in failed.stdout
    assert BEFORE_0006 in failed.stdout
