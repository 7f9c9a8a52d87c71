"""Fixtures of the binding functional tests.

The generic ones (stub Nova and Glance, conf, transport) are defined in
cyborg.tests.fixtures.binding; here: a conductor serving its endpoint on the
fake:// transport, and a recording agent for host 'test-host'.
"""

import uuid

import pytest

from cyborg.conductor import service as conductor_service
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg import context as cyborg_context
from cyborg.db import arq_states
from cyborg import rpc
from cyborg.tests.fixtures import binding as binding_fixtures
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import cloud as cloud_fixture
from cyborg.tests.fixtures import database as db_fixture


# The shared fixtures, made visible to the tests of this directory.
bind_conf = binding_fixtures.bind_conf
rpc_servers = binding_fixtures.rpc_servers
stub_glance = binding_fixtures.stub_glance
stub_nova = binding_fixtures.stub_nova
transport = binding_fixtures.transport
cloud = cloud_fixture.cloud


@pytest.fixture(params=['sqlite', 'mysql'])
def shared_db(request, tmp_path):
    """A database that separate conductor processes can share."""
    with db_fixture.schema_database(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
def rabbit_conf(conf, rabbit):
    """conf on RabbitMQ with a control exchange of this test's own."""
    exchange = 'cyborg-test-%s' % uuid.uuid4().hex[:12]
    # An in-memory transport first: it registers control_exchange.
    seed.fake_transport(conf).cleanup()
    conf.set_override('control_exchange', exchange)
    return conf


class Conductor:
    """A conductor serving its RPC endpoint, and a client to cast/call it."""

    def __init__(self, conf, transport, rpc_servers, placement_client=None):
        self.manager = conductor_service.Conductor(conf, transport,
                                                   placement_client).manager
        rpc_servers.serve(rpc.CONDUCTOR_TOPIC, 'conductor-1',
                          [self.manager])
        self.api = conductor_rpcapi.ConductorAPI(transport, timeout=30)
        self.context = cyborg_context.get_admin_context()

    def bind(self, engine, uuids, timeout=30):
        """Cast bind_arqs; wait until every ARQ has an outcome and its
        event had its delivery attempt (the conductor is then idle)."""
        self.api.bind_arqs(self.context, list(uuids))
        rows = seed.wait_for(
            lambda: _resolved(engine, uuids), timeout=timeout,
            what='binds of %s to finish' % ', '.join(uuids))
        seed.wait_for(lambda: _events_tried(engine, rows), timeout=timeout,
                      what='the events of %s to be tried' % ', '.join(uuids))
        return rows

    def unbind(self, uuids):
        """Unbind as the API does: one transaction freeing the handles,
        then the conductor's host-side cleanup of what was freed."""
        released = arq_states.bind_and_unbind(self.context, {},
                                               list(uuids)).handles
        self.manager.arqs_deleted(self.context, released)
        return released

    def close(self):
        self.manager.binder.close()


def _events_tried(engine, rows):
    tried = {(e['arq_uuid'], e['bind_seq']) for e in seed.events(engine)
             if e['lease_owner'] is None and (
                 e['sent_at'] or e['abandoned_at'] or e['attempts'])}
    return all((row['uuid'], row['bind_seq']) in tried
               for row in rows.values())


def _resolved(engine, uuids):
    rows = seed.arqs(engine, uuids)
    if all(row['state'] in ('Bound', 'BindFailed') for row in rows.values()):
        return rows
    return None


@pytest.fixture
def conductor_placement():
    """The Placement client the conductor gets; a module overrides it."""
    return None


@pytest.fixture
def conductor(db, bind_conf, transport, rpc_servers, conductor_placement):
    conductor = Conductor(bind_conf, transport, rpc_servers,
                          conductor_placement)
    yield conductor
    conductor.close()


@pytest.fixture
def agent(transport, rpc_servers):
    """The recording agent of host 'test-host' (the seeds' hostname)."""
    agent = seed.RecordingAgent()
    rpc_servers.serve(rpc.AGENT_TOPIC, 'test-host', [agent])
    return agent
