"""The agent's health probes: the fake driver's real health file, the
hysteresis, and what reaches the conductor (over real RPC to a recording
conductor)."""

import pytest

from cyborg.accelerator.drivers import fake
from cyborg.accelerator import discovery
from cyborg.agent import health as agent_health
from cyborg.agent import reporter as agent_reporter
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg import context as cyborg_context
from cyborg import rpc
from cyborg.tests.fixtures import agent as agent_fixture

HOST = 'compute-1.example.org'
ADMIN = cyborg_context.get_admin_context()
CONTROLPATH = {'cpid_type': 'PCI',
               'info': discovery.pci_address_dict(fake.CONTROLPATH_ADDRESS)}


class ProbeRaises(fake.FakeDriver):
    """A driver whose health probe itself breaks."""

    def health(self, device):
        raise OSError('sysfs went away')


@pytest.fixture
def driver(conf):
    return fake.FakeDriver(conf)


@pytest.fixture
def discovered(driver):
    return [(driver, device) for device in driver.discover()]


def _monitor(recovery_probes=3, conductor_api=None):
    return agent_health.HealthMonitor(conductor_api, HOST, recovery_probes)


def _entry(state, reason=''):
    return {'controlpath': CONTROLPATH, 'state': state, 'reason': reason}


def test_a_fault_is_reported_on_the_first_probe(conf, discovered):
    monitor = _monitor()
    for _probe in range(3):
        monitor.probe_round(discovered)
    fake.write_health(conf.state_path, 'failed', 'ECC errors on bank 2')

    assert monitor.probe_round(discovered) == [
        _entry('failed', 'ECC errors on bank 2')]
    # Said once: an unchanged fault is not reported again.
    assert monitor.probe_round(discovered) == []
    assert monitor.snapshot() == [_entry('failed', 'ECC errors on bank 2')]


def test_recovery_needs_the_configured_healthy_probes_in_a_row(
        conf, discovered):
    monitor = _monitor(recovery_probes=3)
    fake.write_health(conf.state_path, 'failed', 'link down')
    assert monitor.probe_round(discovered) == [_entry('failed', 'link down')]

    fake.write_health(conf.state_path, 'healthy')
    assert monitor.probe_round(discovered) == []
    assert monitor.probe_round(discovered) == []
    # A relapse starts the count again.
    fake.write_health(conf.state_path, 'failed', 'link down')
    assert monitor.probe_round(discovered) == []
    fake.write_health(conf.state_path, 'healthy')
    assert [monitor.probe_round(discovered) for _ in range(3)] == [
        [], [], [_entry('healthy')]]
    assert monitor.snapshot() == [_entry('healthy')]


def test_a_new_reason_or_state_is_a_change(conf, discovered):
    monitor = _monitor()
    fake.write_health(conf.state_path, 'degraded', 'link at x8')
    assert monitor.probe_round(discovered) == [
        _entry('degraded', 'link at x8')]
    fake.write_health(conf.state_path, 'degraded', 'link at x4')
    assert monitor.probe_round(discovered) == [
        _entry('degraded', 'link at x4')]
    fake.write_health(conf.state_path, 'failed', 'link at x4')
    assert monitor.probe_round(discovered) == [
        _entry('failed', 'link at x4')]


def test_after_a_start_healthy_is_reported_after_the_recovery_probes(
        discovered):
    # The conductor may hold the device failed from before the restart.
    monitor = _monitor(recovery_probes=2)
    assert monitor.snapshot() == []
    assert monitor.probe_round(discovered) == []
    assert monitor.snapshot() == []
    assert monitor.probe_round(discovered) == [_entry('healthy')]


def test_a_probe_that_raises_is_a_failure_with_the_reason(conf):
    driver = ProbeRaises(conf)
    monitor = _monitor()

    [change] = monitor.probe_round([(driver, d) for d in driver.discover()])

    assert change['state'] == 'failed'
    assert change['reason'] == 'health probe raised OSError: sysfs went away'


def test_an_unreadable_health_file_is_a_failure(conf, discovered):
    fake.write_health(conf.state_path, 'on fire')
    [change] = _monitor().probe_round(discovered)
    assert change['state'] == 'failed'
    assert "'on fire'" in change['reason']


def test_a_device_gone_from_discovery_is_forgotten(conf, discovered):
    monitor = _monitor()
    fake.write_health(conf.state_path, 'failed', 'x')
    monitor.probe_round(discovered)

    assert monitor.probe_round([]) == []
    assert monitor.snapshot() == []


def test_stub_devices_and_drivers_without_health_are_not_probed(
        conf, driver):
    class NoHealth(fake.FakeDriver.__bases__[0]):
        def discover(self):
            return driver.discover()
    fake.write_health(conf.state_path, 'failed', 'x')
    [device] = driver.discover()
    device.stub = True

    monitor = _monitor()
    assert monitor.probe_round([(driver, device)]) == []
    assert monitor.probe_round([(NoHealth(conf), d)
                                for d in driver.discover()]) == []
    assert monitor.snapshot() == []


# Over RPC

@pytest.fixture
def conductor_api(rpc_transport):
    return conductor_rpcapi.ConductorAPI(rpc_transport)


def test_a_change_is_cast_to_the_conductor_at_once(
        conf, discovered, conductor_api, recording_conductor):
    monitor = _monitor(conductor_api=conductor_api)
    fake.write_health(conf.state_path, 'failed', 'fan stopped')

    assert monitor.run_once(discovered)
    assert recording_conductor.health_received.wait(10)
    assert recording_conductor.health_reports == [
        {'hostname': HOST, 'changes': [_entry('failed', 'fan stopped')]}]


def test_the_full_report_carries_health_and_a_change_makes_one(
        conf, driver, conductor_api, recording_conductor):
    monitor = _monitor(conductor_api=conductor_api)
    reporter = agent_reporter.Reporter(
        conf, [driver], conductor_api, hostname=HOST,
        compute_rp_uuid='c0c0c0c0-0000-4000-8000-000000000000',
        health_monitor=monitor)
    assert reporter.run() == 'full'
    # Nothing probed yet: the report says nothing of health.
    assert recording_conductor.reports[0]['health'] == []
    assert reporter.run() == 'heartbeat'

    fake.write_health(conf.state_path, 'failed', 'fan stopped')
    monitor.probe_round(reporter.last_discovery)

    # The cast may be lost: the next run sends the state in full.
    assert reporter.run() == 'full'
    assert recording_conductor.reports[1]['health'] == [
        _entry('failed', 'fan stopped')]
    assert reporter.run() == 'heartbeat'
    # And the recovery likewise.
    fake.write_health(conf.state_path, 'healthy')
    for _probe in range(3):
        monitor.probe_round(reporter.last_discovery)
    assert reporter.run() == 'full'
    assert recording_conductor.reports[2]['health'] == [_entry('healthy')]
    assert reporter.run() == 'heartbeat'


def test_devices_known_healthy_cost_no_second_full_report(
        driver, conductor_api, recording_conductor, conf):
    # An agent's start: its devices turn from unknown to healthy.
    monitor = _monitor(recovery_probes=1, conductor_api=conductor_api)
    reporter = agent_reporter.Reporter(
        conf, [driver], conductor_api, hostname=HOST,
        compute_rp_uuid='c0c0c0c0-0000-4000-8000-000000000000',
        health_monitor=monitor)
    assert reporter.run() == 'full'

    assert monitor.probe_round(reporter.last_discovery) == [
        _entry('healthy')]
    assert reporter.run() == 'heartbeat'
    # The fingerprint of a healthy host is the one it had without health.
    assert reporter.last_sent_fingerprint == discovery.fingerprint(
        driver.discover())


@pytest.fixture
def conductor_1_1(rpc_transport):
    conductor = agent_fixture.RecordingConductor(version='1.1')
    server = rpc.get_server(rpc_transport, rpc.CONDUCTOR_TOPIC,
                            'conductor-1-1', [conductor])
    server.start()
    yield conductor
    server.stop()
    server.wait()


def test_an_agent_capped_at_1_1_sends_no_health(conf, rpc_transport,
                                                conductor_1_1):
    conf.set_override('conductor', '1.1', group='upgrade_levels')
    api = conductor_rpcapi.ConductorAPI.from_conf(conf, rpc_transport)
    assert not api.can_report_health

    assert api.report_health(ADMIN, HOST, [_entry('failed', 'x')]) is False
    api.report_data(ADMIN, HOST, 'rpc-host', 'cn', [], 'fp',
                    agent_rpc_version='1.1', health=[_entry('failed', 'x')])
    # The 1.1 form: a conductor of the previous release took it.
    assert set(conductor_1_1.reports[0]) == {
        'hostname', 'rpc_host', 'compute_rp_uuid', 'report', 'fingerprint',
        'agent_rpc_version'}
    assert conductor_1_1.health_reports == []


def test_an_uncapped_report_with_health_is_refused_by_a_1_1_conductor(
        rpc_transport, conductor_api, conductor_1_1):
    # Why the cap exists: the 1.2 form does not reach a 1.1 conductor.
    with pytest.raises(Exception, match='does not support RPC version 1.2'):
        conductor_api.report_data(ADMIN, HOST, 'rpc-host', 'cn', [], 'fp',
                                  agent_rpc_version='1.1', health=[])
    assert conductor_1_1.reports == []
