"""A host with one device family: a real agent on a fake sysfs tree, a real
conductor and the real Placement, on the fake:// transport.

``family_host`` starts the conductor; ``start_agent`` starts an agent with
the drivers and options a test names (again, to play a restart after a
configuration change). Reports travel the real path: driver discovery,
the agent's reporter, RPC, the conductor's diff, Placement. ARQs are
created and moved to BindStarted in the DB as the API does, then bound by
the conductor over RPC, as after Nova's PATCH.
"""

import json

import pytest
import sqlalchemy as sa

from cyborg.agent import service as agent_service
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg.conductor import service as conductor_service
from cyborg import context as cyborg_context
from cyborg.conductor import placement_sync
from cyborg.db import models
from cyborg.tests.fixtures import agent as agent_fixtures
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import placement as placement_fixture

# The shared fixtures, made visible to the tests of this directory.
bind_conf = seed.bind_conf
stub_glance = seed.stub_glance
stub_nova = seed.stub_nova
transport = seed.transport
sysfs_tree = agent_fixtures.sysfs_tree


class FamilyHost:
    """One compute node: Placement provider, conductor, agent."""

    def __init__(self, engine, conf, transport, placement):
        self.engine = engine
        self.conf = conf
        self.transport = transport
        self.placement = placement
        self.cn_uuid, self.name = placement_fixture.create_compute_node(
            placement)
        # One name for the compute node, the agent's RPC server and Nova's
        # hostname, as in a real deployment.
        conf.set_override('host', self.name)
        conf.set_override('resource_provider_name', self.name, group='agent')
        # Reports are triggered by the tests, not by the clock.
        conf.set_override('periodic_interval', 3600)
        self.conductor = conductor_service.ConductorService(conf, transport,
                                                            placement)
        self.conductor.start()
        self.conductor_api = conductor_rpcapi.ConductorAPI(transport,
                                                           timeout=30)
        self.agent = None

    def start_agent(self, drivers, event_source=None):
        """(Re)start the agent with these drivers (and hot-plug events
        from ``event_source``); wait for its report."""
        self.stop_agent()
        self.conf.set_override('enabled_drivers', drivers, group='agent')
        self.agent = agent_service.AgentService(self.conf, self.transport,
                                                self.placement,
                                                event_source=event_source)
        self.agent.start()
        seed.wait_for(lambda: self.agent.reporter.last_sent_fingerprint,
                      what='the first report of the agent')

    def stop_agent(self):
        if self.agent is not None:
            self.agent.stop()
            self.agent = None

    def report(self):
        """Discover and report now (what the next periodic run does)."""
        return self.agent.reporter.run()

    def deployable_name(self, address):
        return '%s_%s' % (self.name, address)

    def provider_uuid(self, address):
        return placement_sync.provider_uuid(self.deployable_name(address))

    def tree(self):
        """The compute node's children in Placement, by provider name."""
        return placement_fixture.read_provider_tree(self.placement,
                                                    self.cn_uuid)

    def bind(self, address, groups, count=1):
        """ARQs of a new profile with ``groups``, bound on the deployable
        of ``address``; {uuid: ARQ row} once every bind has an outcome."""
        profile = seed.create_device_profile(self.engine, groups)
        uuids = seed.create_arqs(self.engine, profile, count)
        for arq_uuid in uuids:
            seed.start_bind(self.engine, arq_uuid,
                            self.provider_uuid(address), hostname=self.name)
        self.conductor_api.bind_arqs(cyborg_context.get_admin_context(),
                                     uuids)
        return seed.wait_for(lambda: _resolved(self.engine, uuids),
                             what='binds of %s' % ', '.join(uuids))

    def handle_of(self, arq_row):
        """(attach_type, attach_info dict, uuid, missing_since) of the
        handle an ARQ holds."""
        table = models.AttachHandle.__table__
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(
                table.c.id == arq_row['attach_handle_id'])).one()
        return (row.attach_type, json.loads(row.attach_info), row.uuid,
                row.missing_since)

    def stop(self):
        self.stop_agent()
        self.conductor.stop()
        self.conductor.wait()


def _resolved(engine, uuids):
    rows = seed.arqs(engine, uuids)
    if all(row['state'] in ('Bound', 'BindFailed') for row in rows.values()):
        return rows
    return None


@pytest.fixture
def family_host(db, bind_conf, placement_conf, transport, sysfs_tree):
    host = FamilyHost(db, bind_conf,
                      transport, placement_fixture.make_client(placement_conf))
    yield host
    host.stop()
