"""Binds under faults, short: what bench/chaos.py measures, asserted.

The deployment of ``bench/chaos.py`` (2 API processes under gunicorn, 2
``cyborg-conductor`` processes, a ``cyborg-agent`` with the fake driver's
16 handles, MariaDB, RabbitMQ behind a TCP proxy, a real Placement process
and the stub Nova, answering in 0.3 s) takes 60 binds from 8 client
threads while a random conductor is SIGKILLed (and started again) every
2 s, or as soon after as both serve, RabbitMQ is cut for 5 s and
Placement killed for 5 s. Then no handle was held twice, every ARQ
resolved within the recovery bound, Nova got every outcome exactly once
(or a counted unconfirmed send more), each within 15 s of its commit, and
Placement matches the DB after a reconcile pass.

RabbitMQ is the suite's, on a vhost of the test's own where rabbitmqctl
can make one (another checkout's conductors would take messages from the
shared vhost: see ``chaos_deployment.private_vhost``).

Leases and intervals are shortened (bind lease 3 s, recovery every 1 s,
reconcile every 5 s) so it fits the suite; the Nova event lease and
delivery interval keep their defaults, which the 15 s bound is about.
"""

import pytest

from cyborg.tests.fixtures import chaos_deployment
from cyborg.tests.fixtures import chaos_run
from cyborg.tests.fixtures import database as db_fixture
from cyborg.tests.fixtures import processes as multiproc

BINDS = 60
CLIENTS = 8
KILL_EVERY = 2
OUTAGE = 5
BIND_TIMEOUT = 30
# A bind must resolve by its timeout plus a recovery pass; the rest is
# slack for two busy cores.
RESOLVE_BOUND = BIND_TIMEOUT + 15


@pytest.fixture
def mysql_db(tmp_path):
    with db_fixture.schema_database('mysql', tmp_path) as engine:
        yield engine


@multiproc.rabbitmq
def test_binds_hold_under_conductor_kills_and_outages(mysql_db, rabbit,
                                                      tmp_path):
    deployment = chaos_deployment.ChaosDeployment(
        tmp_path / 'chaos',
        mysql_db.url.render_as_string(hide_password=False),
        chaos_deployment.private_vhost(multiproc.TRANSPORT_URL,
                                       'cyborg_chaos_test'),
        conductor_options={'recovery_interval': 1, 'reconcile_interval': 5},
        default_options={'bind_lease_seconds': 3,
                         'bind_timeout': BIND_TIMEOUT},
        nova_delay=0.3)
    try:
        deployment.start()
        results = chaos_run.run(deployment, mysql_db, BINDS, CLIENTS,
                                RESOLVE_BOUND, KILL_EVERY, OUTAGE, seed=1)
    finally:
        deployment.stop()
    report = chaos_run.as_json_lines(results)
    run, checks = results[0], {r['check']: r for r in results[1:]}

    assert run['binds'] >= BINDS and run['client_failures'] == 0, report
    # A conductor always serves, so binds fail only by bad luck (a bind
    # timing out), not as a rule.
    assert run['states'].get('Bound', 0) >= 0.9 * run['binds'], report
    # A kill waits for both conductors to serve; a loaded machine starts
    # one in up to 20 s, so a short run may get only one.
    assert run['conductor_kills'] >= 1, report
    assert [f['fault'] for f in run['faults']] == [
        'rabbitmq-down', 'placement-down', 'placement-up'], report
    for name in ('double_booked_handles', 'unresolved_arqs',
                 'leaked_handles', 'lost_events', 'duplicate_events',
                 'stray_events', 'event_latency_s', 'placement_drift'):
        assert checks[name]['ok'], '%s failed:\n%s\n%s' % (
            name, report, deployment.logs())
    assert checks['lost_events']['outcomes'] >= BINDS, report
    assert checks['placement_drift']['reconciled_after_run'], report
