"""Agent start-up against a real Placement, and a started agent serving RPC
and reporting to a recording conductor."""

import socket
import uuid

import pytest

from cyborg.accelerator.drivers import fake
from cyborg.accelerator import discovery
from cyborg.agent import rpcapi as agent_rpcapi
from cyborg.agent import service as agent_service
from cyborg.clients import placement as placement_client
from cyborg import context as cyborg_context
from cyborg import exception
from cyborg.tests.fixtures import agent as agent_fixture


def _create_compute_node(conf):
    """A root provider with a unique name, as nova-compute makes one."""
    name = 'compute-%s' % uuid.uuid4().hex[:12]
    resp = placement_client.PlacementClient.from_conf(conf)._request(
        'POST', '/resource_providers', json={'name': name})
    assert resp.status_code == 200, resp.text
    return resp.json()


class RecordingSleep:
    """Stands in for time.sleep; runs ``then`` on the first sleep."""

    def __init__(self, then=None):
        self.delays = []
        self._then = then

    def __call__(self, delay):
        self.delays.append(delay)
        if self._then and len(self.delays) == 1:
            self._then()


class TestResolveComputeNodeProvider:
    def test_finds_it_by_resource_provider_name(self, placement_conf):
        provider = _create_compute_node(placement_conf)
        placement_conf.set_override('resource_provider_name',
                                    provider['name'], group='agent')

        found = agent_service.resolve_compute_node_provider(
            placement_conf,
            placement_client.PlacementClient.from_conf(placement_conf))

        assert (found['uuid'], found['name']) == (provider['uuid'],
                                                  provider['name'])

    def test_falls_back_to_the_host_name(self, placement_conf):
        provider = _create_compute_node(placement_conf)
        placement_conf.set_override('resource_provider_name',
                                    'no-such-%s' % uuid.uuid4().hex,
                                    group='agent')
        placement_conf.set_override('host', provider['name'])

        found = agent_service.resolve_compute_node_provider(
            placement_conf,
            placement_client.PlacementClient.from_conf(placement_conf))

        assert found['uuid'] == provider['uuid']

    def test_gives_up_after_bounded_retries_with_backoff(self,
                                                         placement_conf):
        name = 'absent-%s' % uuid.uuid4().hex[:12]
        placement_conf.set_override('resource_provider_name', name,
                                    group='agent')
        placement_conf.set_override('resource_provider_startup_retries', 3,
                                    group='agent')
        sleep = RecordingSleep()

        with pytest.raises(exception.ComputeNodeProviderNotFound) as caught:
            agent_service.resolve_compute_node_provider(
                placement_conf,
                placement_client.PlacementClient.from_conf(placement_conf),
                sleep=sleep)

        assert sleep.delays == [1, 2, 4]
        assert str(caught.value) == (
            'No compute node resource provider named %s or test-host in '
            'Placement after 4 attempt(s); set [agent] resource_provider_name '
            'to the name nova-compute registered for this host.' % name)

    def test_waits_for_a_provider_nova_is_still_creating(self,
                                                         placement_conf):
        name = 'late-%s' % uuid.uuid4().hex[:12]
        placement_conf.set_override('resource_provider_name', name,
                                    group='agent')
        client = placement_client.PlacementClient.from_conf(placement_conf)
        created = []
        sleep = RecordingSleep(then=lambda: created.append(client._request(
            'POST', '/resource_providers', json={'name': name}).json()))

        found = agent_service.resolve_compute_node_provider(
            placement_conf, client, sleep=sleep)

        assert sleep.delays == [1]
        assert found['uuid'] == created[0]['uuid']

    def test_an_unreachable_placement_is_reported_as_such(self, conf):
        with socket.socket() as unused:
            unused.bind(('127.0.0.1', 0))
            port = unused.getsockname()[1]
        placement_client.configure_noauth(conf, 'http://127.0.0.1:%d' % port)
        conf.set_override('resource_provider_startup_retries', 1,
                          group='agent')
        sleep = RecordingSleep()

        with pytest.raises(exception.PlacementUnavailable):
            agent_service.resolve_compute_node_provider(
                conf, placement_client.PlacementClient.from_conf(conf),
                sleep=sleep)
        assert sleep.delays == [1]


def test_a_started_agent_reports_serves_and_stops(
        placement_conf, rpc_transport, recording_conductor, stub_glance):
    provider = _create_compute_node(placement_conf)
    placement_conf.set_override('resource_provider_name', provider['name'],
                                group='agent')
    placement_conf.set_override('periodic_interval', 1)
    agent = agent_service.AgentService(placement_conf, rpc_transport)

    agent.start()
    try:
        # The report at start names the host as the conductor knows it.
        assert recording_conductor.report_received.wait(10)
        [report] = recording_conductor.reports
        assert (report['hostname'], report['rpc_host'],
                report['compute_rp_uuid']) == (provider['name'], 'test-host',
                                               provider['uuid'])
        assert report['report'] == discovery.report_to_wire(
            fake.FakeDriver(placement_conf).discover())

        # It serves the agent RPC API on topic cyborg-agent, server = host.
        image = stub_glance.add_image(b'bitstream')
        controlpath = discovery.Device.from_dict(
            report['report'][0]).controlpath.to_dict()
        assert agent_rpcapi.AgentAPI(rpc_transport, timeout=10).program(
            cyborg_context.get_admin_context(), 'test-host', controlpath,
            image['id'], 'fake', checksum=image['checksum']) is True
        assert fake.read_regions(placement_conf.state_path)

        # Every periodic_interval it checks in; the host did not change.
        assert agent_fixture.wait_for(
            lambda: recording_conductor.heartbeats, 10)
        assert recording_conductor.heartbeats[0]['fingerprint'] == (
            report['fingerprint'])
        assert len(recording_conductor.reports) == 1
    finally:
        agent.stop()

    assert not agent._thread.is_alive()


def test_a_started_agent_probes_health_on_its_own_interval(
        placement_conf, rpc_transport, recording_conductor):
    provider = _create_compute_node(placement_conf)
    placement_conf.set_override('resource_provider_name', provider['name'],
                                group='agent')
    # Discovery runs once in the test's time; health every 0.1 s.
    placement_conf.set_override('periodic_interval', 600)
    placement_conf.set_override('health_interval', 0.1, group='agent')
    placement_conf.set_override('health_recovery_probes', 2, group='agent')
    agent = agent_service.AgentService(placement_conf, rpc_transport)

    agent.start()
    try:
        assert recording_conductor.report_received.wait(10)
        # After the recovery probes the device is reported healthy ...
        assert agent_fixture.wait_for(
            lambda: recording_conductor.health_reports, 10)
        assert recording_conductor.health_reports[0]['changes'][0][
            'state'] == 'healthy'
        # ... and a fault at once, long before the next discovery.
        fake.write_health(placement_conf.state_path, 'failed', 'fan')
        assert agent_fixture.wait_for(
            lambda: len(recording_conductor.health_reports) == 2, 10)
        [change] = recording_conductor.health_reports[1]['changes']
        assert (change['state'], change['reason']) == ('failed', 'fan')
        assert change['controlpath'] == fake.FakeDriver(
            placement_conf).discover()[0].controlpath.to_dict()
    finally:
        agent.stop()
    assert not agent._health_thread.is_alive()


def test_health_interval_0_probes_nothing(placement_conf, rpc_transport,
                                          recording_conductor):
    provider = _create_compute_node(placement_conf)
    placement_conf.set_override('resource_provider_name', provider['name'],
                                group='agent')
    placement_conf.set_override('health_interval', 0, group='agent')
    agent = agent_service.AgentService(placement_conf, rpc_transport)

    agent.start()
    try:
        assert recording_conductor.report_received.wait(10)
        assert agent.health_monitor is None and agent._health_thread is None
        # A report without health: the conductor leaves health alone.
        assert 'health' not in recording_conductor.reports[0]
    finally:
        agent.stop()


def test_start_fails_fast_on_a_bad_driver(conf, rpc_transport):
    conf.set_override('enabled_drivers', ['fake_driver', 'no_such_driver'],
                      group='agent')
    # No Placement is configured: the driver check must come first.
    agent = agent_service.AgentService(conf, rpc_transport)

    with pytest.raises(exception.InvalidDriver, match='no_such_driver'):
        agent.start()
    assert agent._server is None

