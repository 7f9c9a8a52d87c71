"""A conductor killed mid-bind: the other one finishes its binds.

Two ``cyborg-conductor`` processes share one database and a private
RabbitMQ exchange. The agent of the host is played by this test process (a
recording endpoint on RabbitMQ whose mdev creation takes seconds, so binds
are slow); Nova is the stub. With binds in flight on both conductors, one
is killed with SIGKILL: its leases run out, the survivor's recovery takes
the binds over, and every ARQ ends Bound within bind_timeout with exactly
one event sent to Nova.
"""

import collections
import signal
import time
import uuid


from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg import context as cyborg_context
from cyborg import rpc
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import processes as multiproc

INSTANCES = 6
ARQS_PER_INSTANCE = 2
MDEV_SECONDS = 3
BIND_TIMEOUT = 40
LEASE_SECONDS = 2


def _conductor_config(tmp_path, name, conf, engine, stub_nova,
                      placement_service):
    return multiproc.conductor_config(
        tmp_path, name, conf, engine, stub_nova, placement_service,
        default={'bind_timeout': BIND_TIMEOUT,
                 'bind_lease_seconds': LEASE_SECONDS},
        conductor={'recovery_interval': 1, 'reconcile_interval': 0,
                   'agent_rpc_timeout': 20})


def _lease_holders(engine, uuids):
    return {row['bind_lease_owner'].split(':')[0]
            for row in seed.arqs(engine, uuids).values()
            if row['state'] == 'BindStarted' and row['bind_lease_owner']}


def _all_resolved(engine, uuids):
    rows = seed.arqs(engine, uuids)
    if all(row['state'] in ('Bound', 'BindFailed') for row in rows.values()):
        return rows
    return None


@multiproc.rabbitmq
def test_killed_conductor_binds_are_finished(shared_db, rabbit_conf,
                                             tmp_path, stub_nova,
                                             placement_service):
    engine = shared_db
    transport = rpc.get_transport(rabbit_conf, url=multiproc.TRANSPORT_URL)
    agent_host = 'crash-agent-%s' % uuid.uuid4().hex[:8]
    agent = seed.RecordingAgent(delay=MDEV_SECONDS)
    agent_server = rpc.get_server(transport, rpc.AGENT_TOPIC, agent_host,
                                  [agent])
    agent_server.start()
    processes = multiproc.Processes(tmp_path)
    try:
        processes.start_conductors({
            name: _conductor_config(tmp_path, name, rabbit_conf, engine,
                                    stub_nova, placement_service)
            for name in ('crash-c1', 'crash-c2')})

        deployable = seed.create_deployable(
            engine, hostname=agent_host, attach_type='MDEV', num_handles=16)
        instances = collections.defaultdict(list)
        api = conductor_rpcapi.ConductorAPI(transport)
        context = cyborg_context.get_admin_context()
        for _ in range(INSTANCES):
            instance = str(uuid.uuid4())
            instances[instance] = seed.seed_binds(
                engine, deployable, ARQS_PER_INSTANCE, instance_uuid=instance)
            # What the API does after committing BindStarted.
            api.bind_arqs(context, instances[instance])
        uuids = [u for batch in instances.values() for u in batch]
        started = time.monotonic()

        # Kill a conductor while it holds binds in flight.
        holders = seed.wait_for(lambda: _lease_holders(engine, uuids),
                                timeout=30, interval=0.02,
                                what='binds in flight')
        victim = 'crash-c1' if 'crash-c1' in holders else 'crash-c2'
        survivor = ({'crash-c1', 'crash-c2'} - {victim}).pop()
        dict((n, p) for n, p, _log in processes.started)[victim].send_signal(
            signal.SIGKILL)
        in_flight = [u for u, row in seed.arqs(engine, uuids).items()
                     if (row['bind_lease_owner'] or '').startswith(victim)]
        assert in_flight, 'the victim held no bind when killed'

        rows = seed.wait_for(
            lambda: _all_resolved(engine, uuids), timeout=BIND_TIMEOUT + 15,
            interval=0.2,
            what=lambda: 'every bind to end\n%s' % processes.logs())
        assert time.monotonic() - started < BIND_TIMEOUT
        assert {row['state'] for row in rows.values()} == {'Bound'}
        held = [row['attach_handle_id'] for row in rows.values()]
        assert len(set(held)) == len(held)
        # The survivor took over the victim's binds and asked for their
        # mdevs again (the agent's create_mdev is idempotent).
        assert all(rows[u]['state'] == 'Bound' for u in in_flight)

        # Every instance got one completed event per ARQ, once.
        seed.wait_for(lambda: len(stub_nova.accepted_events()) >= len(uuids),
                      timeout=20,
                      what=lambda: 'the events\n%s' % processes.logs())
        time.sleep(1.5)  # a duplicate would come with the next recovery
        by_tag = stub_nova.events_by_tag()
        assert sorted(by_tag) == sorted(uuids)
        for instance, batch in instances.items():
            for arq_uuid in batch:
                [event] = by_tag[arq_uuid]
                assert (event['server_uuid'], event['status']) == (
                    instance, 'completed')
        assert 'Recovery finished' in processes.log(survivor)
    finally:
        processes.stop()
        agent_server.stop()
        agent_server.wait()
        transport.cleanup()
