"""A conductor killed mid-scrub: the other one finishes its scrubs.

Two ``cyborg-conductor`` processes share one database and a private
RabbitMQ exchange; the agent of the host is played by this test process
(a recording endpoint whose scrubs take seconds). Handles are released
for scrubbing as the API releases them and the conductors are cast
``arqs_deleted``. The conductor running a scrub is killed with SIGKILL:
its lease lapses, the survivor's recovery runs the scrub again, and no
handle stays ``scrubbing``.
"""

import signal
import time
import uuid

import sqlalchemy as sa

from cyborg.accelerator import scrub_policy
from cyborg.conductor import binding
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg import context as cyborg_context
from cyborg.db import arq_states
from cyborg.db import models
from cyborg import rpc
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import processes as multiproc

HANDLES = 4
SCRUB_SECONDS = 3
LEASE_SECONDS = 2
SCRUB_TIMEOUT = 60

_RELEASE = models.AttachHandleRelease.__table__
_HOST = models.AgentHost.__table__


def _conductor_config(tmp_path, name, conf, engine, stub_nova,
                      placement_service):
    return multiproc.conductor_config(
        tmp_path, name, conf, engine, stub_nova, placement_service,
        default={'bind_lease_seconds': LEASE_SECONDS},
        conductor={'recovery_interval': 1, 'reconcile_interval': 0,
                   'agent_rpc_timeout': 20, 'scrub_timeout': SCRUB_TIMEOUT})


def _releases(engine, uuids):
    with engine.connect() as conn:
        return {row['uuid']: row for row in conn.execute(
            sa.select(_RELEASE).where(_RELEASE.c.uuid.in_(uuids)))
            .mappings()}


def _leased_by(engine, uuids):
    return {uuid_: row['lease_owner'].split(':')[0]
            for uuid_, row in _releases(engine, uuids).items()
            if row['scrub_outcome'] == 'pending' and row['lease_owner']}


def _all_finished(engine, uuids):
    rows = _releases(engine, uuids)
    if all(row['scrub_outcome'] != 'pending' for row in rows.values()):
        return rows
    return None


def _release_for_scrubbing(conf, engine, deployable, context):
    """Bind ARQs to every handle, then delete them as the API does."""
    uuids = seed.seed_binds(engine, deployable, HANDLES)
    for arq_uuid in uuids:
        start = binding.start_bind(context, arq_uuid, 'test-binder', 30,
                                   lambda inputs, now: True)
        assert start.outcome == 'Bound'
    released = arq_states.delete(
        context, uuids=uuids,
        scrub_policy=scrub_policy.ScrubPolicy.from_conf(conf)).handles
    assert [h['scrub'] for h in released] == [True] * HANDLES
    return released


@multiproc.rabbitmq
def test_killed_conductor_scrubs_are_finished(shared_db, rabbit_conf,
                                              tmp_path, stub_nova,
                                              placement_service):
    engine = shared_db
    transport = rpc.get_transport(rabbit_conf, url=multiproc.TRANSPORT_URL)
    agent_host = 'scrub-agent-%s' % uuid.uuid4().hex[:8]
    agent = seed.RecordingAgent(delay=SCRUB_SECONDS)
    agent_server = rpc.get_server(transport, rpc.AGENT_TOPIC, agent_host,
                                  [agent])
    agent_server.start()
    processes = multiproc.Processes(tmp_path)
    try:
        processes.start_conductors({
            name: _conductor_config(tmp_path, name, rabbit_conf, engine,
                                    stub_nova, placement_service)
            for name in ('scrub-c1', 'scrub-c2')})
        deployable = seed.create_deployable(
            engine, hostname=agent_host, rpc_host=agent_host,
            num_handles=HANDLES)
        with engine.begin() as conn:
            conn.execute(sa.update(_HOST).where(
                _HOST.c.hostname == agent_host).values(
                agent_rpc_version='1.2'))
        context = cyborg_context.get_admin_context()
        released = _release_for_scrubbing(rabbit_conf, engine, deployable,
                                          context)
        releases = [h['release_uuid'] for h in released]
        # What the API casts after committing the delete.
        conductor_rpcapi.ConductorAPI(transport).arqs_deleted(context,
                                                              released)
        started = time.monotonic()

        # Kill the conductor whose scrub call the agent is running now.
        first_call = seed.wait_for(lambda: agent.calls_of('scrub'),
                                   timeout=30, interval=0.02,
                                   what='a scrub in flight')[0]
        in_flight = {row['attach_handle_uuid']: uuid_ for uuid_, row in
                     _releases(engine, releases).items()}[
            first_call['attach_handle']['uuid']]
        holders = _leased_by(engine, releases)
        assert in_flight in holders, (in_flight, holders, processes.logs())
        victim = holders[in_flight]
        survivor = ({'scrub-c1', 'scrub-c2'} - {victim}).pop()
        dict((n, p) for n, p, _log in processes.started)[victim].send_signal(
            signal.SIGKILL)

        rows = seed.wait_for(
            lambda: _all_finished(engine, releases),
            timeout=SCRUB_TIMEOUT, interval=0.2,
            what=lambda: 'every scrub to end\n%s' % processes.logs())
        # Within the timeout: the survivor took over, nothing failed.
        assert time.monotonic() - started < SCRUB_TIMEOUT
        assert {row['scrub_outcome'] for row in rows.values()} == {
            'scrubbed'}
        assert not any(h['scrub_state'] or h['in_use'] for h in seed.handles(
            engine, deployable['deployable_id']))
        # The victim's scrub was run again by the survivor (scrubs are
        # idempotent), which logged it as recovery.
        scrubbed = [call['attach_handle']['uuid']
                    for call in agent.calls_of('scrub')]
        in_flight_handle = rows[in_flight]['attach_handle_uuid']
        assert scrubbed.count(in_flight_handle) >= 2
        assert set(scrubbed) == {h['uuid'] for h in released}
        assert 'Recovery ran' in processes.log(survivor)
    finally:
        processes.stop()
        agent_server.stop()
        agent_server.wait()
        transport.cleanup()
