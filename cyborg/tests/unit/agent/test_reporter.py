"""The reporter sends a full report only when the host changed or the
conductor asks; otherwise a heartbeat (over real RPC to a recording
conductor)."""

import uuid

import pytest

from cyborg.accelerator.drivers import fake
from cyborg.accelerator.drivers import nvidia_gpu
from cyborg.accelerator import discovery
from cyborg.agent import reporter as agent_reporter
from cyborg.agent import rpcapi as agent_rpcapi
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg import exception
from cyborg import rpc
from cyborg.tests.fixtures import agent as agent_fixture
from cyborg.tests.fixtures import sysfs as sysfs_fixture

COMPUTE_RP = str(uuid.uuid4())


class BrokenDriver(fake.FakeDriver):
    """A driver whose discovery fails until repaired."""

    broken = True

    def discover(self):
        if self.broken:
            raise OSError('lost the device')
        return super().discover()


def _reporter(conf, rpc_transport, drivers):
    return agent_reporter.Reporter(
        conf, drivers, conductor_rpcapi.ConductorAPI(rpc_transport),
        hostname='compute-1.example.org', compute_rp_uuid=COMPUTE_RP)


@pytest.fixture
def fake_reporter(conf, rpc_transport, recording_conductor):
    return _reporter(conf, rpc_transport, [fake.FakeDriver(conf)])


def test_first_run_sends_the_full_report(conf, fake_reporter,
                                         recording_conductor):
    assert fake_reporter.run() == 'full'

    expected = fake.FakeDriver(conf).discover()
    assert recording_conductor.reports == [{
        'hostname': 'compute-1.example.org',
        'rpc_host': 'test-host',
        'compute_rp_uuid': COMPUTE_RP,
        'report': discovery.report_to_wire(expected),
        'fingerprint': discovery.fingerprint(expected),
        'agent_rpc_version': agent_rpcapi.RPC_API_VERSION}]
    assert recording_conductor.heartbeats == []


def test_an_unchanged_host_only_heartbeats(fake_reporter,
                                           recording_conductor):
    fake_reporter.run()

    assert [fake_reporter.run(), fake_reporter.run()] == ['heartbeat',
                                                         'heartbeat']

    fingerprint = recording_conductor.reports[0]['fingerprint']
    assert len(recording_conductor.reports) == 1
    assert recording_conductor.heartbeats == [
        {'hostname': 'compute-1.example.org', 'fingerprint': fingerprint,
         'agent_rpc_version': agent_rpcapi.RPC_API_VERSION}] * 2


def test_the_conductor_can_ask_for_a_full_report(fake_reporter,
                                                 recording_conductor):
    fake_reporter.run()
    recording_conductor.want_full_report = True

    assert fake_reporter.run() == 'full'

    assert len(recording_conductor.heartbeats) == 1
    assert len(recording_conductor.reports) == 2
    assert (recording_conductor.reports[0] == recording_conductor.reports[1])


def test_a_changed_host_sends_a_full_report(conf, sysfs_tree, rpc_transport,
                                            recording_conductor):
    gpus = sysfs_fixture.build_hgx_h100_host(sysfs_tree)
    reporter = _reporter(conf, rpc_transport,
                         [nvidia_gpu.NvidiaGpuDriver(conf)])
    reporter.run()
    # A GPU falls off the bus (its files become unreadable).
    sysfs_tree.write(gpus[0], 'vendor', '0xffff-broken\n')

    assert reporter.run() == 'full'

    first, second = recording_conductor.reports
    assert len(first['report']) == 8 and len(second['report']) == 7
    assert first['fingerprint'] != second['fingerprint']
    assert recording_conductor.heartbeats == []


def test_force_full_reports_an_unchanged_host(fake_reporter,
                                              recording_conductor):
    fake_reporter.run()

    assert fake_reporter.run(force_full=True) == 'full'
    assert len(recording_conductor.reports) == 2


def test_a_failing_driver_sends_no_report_that_would_drop_devices(
        conf, rpc_transport, recording_conductor):
    broken = BrokenDriver(conf)
    broken.broken = False
    reporter = _reporter(conf, rpc_transport, [fake.FakeDriver(conf), broken])
    reporter.run()
    broken.broken = True

    # The host stays alive on the last fingerprint; no report without the
    # broken driver's devices goes out.
    assert reporter.run() == 'heartbeat'
    assert len(recording_conductor.reports) == 1
    assert recording_conductor.heartbeats[0]['fingerprint'] == (
        recording_conductor.reports[0]['fingerprint'])


def test_a_failing_driver_at_start_sends_nothing(conf, rpc_transport,
                                                 recording_conductor):
    reporter = _reporter(conf, rpc_transport, [BrokenDriver(conf)])

    assert reporter.run() == 'none'
    assert recording_conductor.reports == []
    assert recording_conductor.heartbeats == []


def test_a_refused_report_is_sent_again_next_run(fake_reporter,
                                                 recording_conductor):
    recording_conductor.refuse_reports = True
    assert fake_reporter.run() == 'none'

    recording_conductor.refuse_reports = False
    assert fake_reporter.run() == 'full'
    assert len(recording_conductor.reports) == 1
    assert recording_conductor.heartbeats == []


def test_an_unreachable_conductor_is_survived(conf, rpc_transport):
    # Nobody serves the conductor topic: calls time out.
    reporter = agent_reporter.Reporter(
        conf, [fake.FakeDriver(conf)],
        conductor_rpcapi.ConductorAPI(rpc_transport, timeout=0.2),
        hostname='compute-1', compute_rp_uuid=COMPUTE_RP)

    assert reporter.run() == 'none'
    assert reporter.last_sent_fingerprint is None


# Rolling upgrades: an upgraded agent and a conductor of the previous
# release (conductor RPC 1.0). The recording conductor refuses 1.1
# messages as an old conductor's oslo.messaging dispatcher does.

@pytest.fixture
def old_conductor(rpc_transport):
    conductor = agent_fixture.RecordingConductor(version='1.0')
    server = rpc.get_server(rpc_transport, rpc.CONDUCTOR_TOPIC,
                            'old-conductor', [conductor])
    server.start()
    yield conductor
    server.stop()
    server.wait()


def test_a_capped_agent_reports_to_an_old_conductor_in_the_1_0_form(
        conf, rpc_transport, old_conductor):
    conf.set_override('conductor', '1.0', group='upgrade_levels')
    reporter = agent_reporter.Reporter(
        conf, [fake.FakeDriver(conf)],
        conductor_rpcapi.ConductorAPI.from_conf(conf, rpc_transport),
        hostname='compute-1', compute_rp_uuid=COMPUTE_RP)

    assert [reporter.run(), reporter.run()] == ['full', 'heartbeat']
    # No agent_rpc_version: the 1.0 form has none.
    assert set(old_conductor.reports[0]) == {
        'hostname', 'rpc_host', 'compute_rp_uuid', 'report', 'fingerprint'}
    assert old_conductor.heartbeats == [
        {'hostname': 'compute-1',
         'fingerprint': old_conductor.reports[0]['fingerprint']}]


def test_an_uncapped_agent_is_refused_by_an_old_conductor(
        conf, rpc_transport, old_conductor):
    # Why the cap exists: without it the 1.1 form reaches a 1.0 conductor.
    reporter = _reporter(conf, rpc_transport, [fake.FakeDriver(conf)])

    assert reporter.run() == 'none'
    assert old_conductor.reports == []


@pytest.mark.parametrize('cap', ['1.5', '2.0', '1.O', 'newest', '1'])
def test_a_cap_this_release_does_not_know_is_refused(conf, rpc_transport,
                                                     cap):
    conf.set_override('conductor', cap, group='upgrade_levels')

    with pytest.raises(exception.InvalidConfig) as raised:
        conductor_rpcapi.ConductorAPI.from_conf(conf, rpc_transport)
    assert str(raised.value) == (
        "Invalid configuration of [upgrade_levels] conductor: %r is not a "
        "version of the conductor RPC API; this release knows 1.0, 1.1, "
        "1.2, 1.3, 1.4. Set the version the oldest conductor still running "
        "serves, or leave the option unset." % cap)
