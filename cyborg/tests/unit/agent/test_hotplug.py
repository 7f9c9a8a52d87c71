"""Hot-plug: bursts of device events become one discovery and report, of
the drivers the events concern (real reporter and drivers, real RPC to a
recording conductor, events from a test source)."""

import threading
import time
import uuid

import pytest

from cyborg.accelerator.drivers import fake
from cyborg.accelerator.drivers import huawei_ascend
from cyborg.accelerator.drivers import inspur_fpga
from cyborg.accelerator.drivers import inspur_nvme_ssd
from cyborg.accelerator.drivers import intel_fpga
from cyborg.accelerator.drivers import intel_nic
from cyborg.accelerator.drivers import intel_qat
from cyborg.accelerator.drivers import nvidia_gpu
from cyborg.accelerator.drivers import pci
from cyborg.accelerator.drivers import xilinx_fpga
from cyborg.accelerator import discovery
from cyborg.agent import hotplug
from cyborg.agent import merge
from cyborg.agent import reporter as agent_reporter
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg.tests.fixtures import agent as agent_fixture
from cyborg.tests.fixtures import sysfs as sysfs_fixture
from cyborg.tests.fixtures import sysfs_families as families
from cyborg.tests.fixtures import sysfs_fpga

GPU = '0000:18:00.0'
NPU = '0000:3d:00.0'
PLUGGED = '0000:0d:00.0'
FAKE_VENDOR = fake.VENDOR[2:].lower()


def _reporter(conf, rpc_transport, drivers):
    return agent_reporter.Reporter(
        conf, drivers, conductor_rpcapi.ConductorAPI(rpc_transport),
        hostname='compute-1.example.org', compute_rp_uuid=str(uuid.uuid4()))


def _runs(conductor):
    return len(conductor.reports) + len(conductor.heartbeats)


def _addresses(report):
    return sorted(discovery.pci_address_str(device['controlpath']['info'])
                  for device in report['report'])


@pytest.fixture
def fake_host(conf, rpc_transport, recording_conductor):
    """A reporter with the fake driver that reported once, and a started
    handler fed by a test source; yields (handler, source)."""
    reporter = _reporter(conf, rpc_transport, [fake.FakeDriver(conf)])
    assert reporter.run() == 'full'
    source = agent_fixture.ManualEventSource()
    handler = hotplug.HotplugHandler(reporter, source, debounce_s=0.3,
                                     max_delay_s=1.5)
    handler.start()
    yield handler, source
    handler.stop()


def _add(address=PLUGGED):
    return hotplug.DeviceEvent('add', 'pci', address, FAKE_VENDOR)


def test_a_burst_of_events_is_one_run_that_reports_the_new_card(
        conf, fake_host, recording_conductor):
    _handler, source = fake_host
    fake.plug_device(conf.state_path, PLUGGED)

    # A card arrives as a function add, a driver bind, and its VFs.
    source.emit(*[_add('0000:0d:00.%d' % fn) for fn in range(8)],
                hotplug.DeviceEvent('bind', 'pci', PLUGGED, FAKE_VENDOR))

    assert agent_fixture.wait_for(lambda: len(recording_conductor.reports)
                                  == 2, 10)
    assert _addresses(recording_conductor.reports[1]) == [
        fake.CONTROLPATH_ADDRESS, PLUGGED]
    # The burst is over: nothing else runs after it.
    time.sleep(1)
    assert _runs(recording_conductor) == 2


def test_a_pulled_card_is_reported_gone(conf, fake_host,
                                        recording_conductor):
    _handler, source = fake_host
    fake.unplug_device(conf.state_path, fake.CONTROLPATH_ADDRESS)

    source.emit(hotplug.DeviceEvent('remove', 'pci',
                                    fake.CONTROLPATH_ADDRESS, FAKE_VENDOR))

    assert agent_fixture.wait_for(lambda: len(recording_conductor.reports)
                                  == 2, 10)
    assert recording_conductor.reports[1]['report'] == []


def test_an_event_that_changed_nothing_sends_no_report(
        fake_host, recording_conductor):
    _handler, source = fake_host

    # A driver rebinding a function (vfio-pci at an attach) changes
    # nothing discovery sees.
    source.emit(hotplug.DeviceEvent('unbind', 'pci', '0000:00:1f.0',
                                    '8086'))

    assert agent_fixture.wait_for(lambda: recording_conductor.heartbeats, 10)
    assert len(recording_conductor.reports) == 1


def test_a_storm_of_events_does_not_hold_the_report_back(
        conf, fake_host, recording_conductor):
    # Property: a report goes out MAX_DELAY_S after the first event even
    # while events keep coming faster than the debounce.
    _handler, source = fake_host
    fake.plug_device(conf.state_path, PLUGGED)
    storm_over = threading.Event()

    def storm():
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not storm_over.is_set():
            source.emit(_add())
            time.sleep(0.05)

    thread = threading.Thread(target=storm)
    thread.start()
    try:
        assert agent_fixture.wait_for(
            lambda: len(recording_conductor.reports) == 2, 10)
        assert thread.is_alive(), 'the storm ended before the report'
    finally:
        storm_over.set()
        thread.join()


def test_the_handler_survives_a_failing_run(conf, rpc_transport,
                                            recording_conductor):
    driver = FlakyDriver(conf)
    source = agent_fixture.ManualEventSource()
    handler = hotplug.HotplugHandler(
        _reporter(conf, rpc_transport, [driver]), source, debounce_s=0.1)
    handler.start()
    try:
        source.emit(_add())
        assert agent_fixture.wait_for(lambda: driver.calls == 1, 10)

        driver.broken = False
        source.emit(_add())
        assert agent_fixture.wait_for(lambda: recording_conductor.reports,
                                      10)
    finally:
        handler.stop()


class FlakyDriver(fake.FakeDriver):
    """The fake driver, failing to discover while ``broken``."""

    broken = True
    calls = 0

    def discover(self):
        self.calls += 1
        if self.broken:
            raise OSError('the card is resetting')
        return super().discover()


def test_stop_reports_the_events_already_queued(conf, rpc_transport,
                                                recording_conductor):
    source = agent_fixture.ManualEventSource()
    handler = hotplug.HotplugHandler(
        _reporter(conf, rpc_transport, [fake.FakeDriver(conf)]), source,
        debounce_s=30, max_delay_s=30)
    handler.start()
    source.emit(_add())

    handler.stop()

    assert len(recording_conductor.reports) == 1
    # A stopped source passes nothing on.
    source.emit(_add())
    assert len(recording_conductor.reports) == 1


class TestOnlyConcernedDriversRediscover:
    """An event rediscovers the drivers of its vendor; the other drivers'
    last devices are reported as they were, until a periodic run."""

    @pytest.fixture
    def reporter(self, conf, sysfs_tree, rpc_transport, recording_conductor):
        reporter = _reporter(conf, rpc_transport,
                             [nvidia_gpu.NvidiaGpuDriver(conf),
                              huawei_ascend.HuaweiAscendDriver(conf)])
        assert reporter.run() == 'full'
        sysfs_tree.add_pci_device(GPU, families.NVIDIA, '2330', '030200',
                                  driver='nvidia')
        sysfs_tree.add_pci_device(NPU, families.HUAWEI, 'd801',
                                  families.CLASS_PROCESSING_ACCELERATOR)
        return reporter

    def _report_events(self, reporter, *events):
        return hotplug.HotplugHandler(reporter, None).report(list(events))

    def test_an_nvidia_event_rediscovers_only_the_gpus(
            self, reporter, recording_conductor):
        assert self._report_events(reporter, hotplug.DeviceEvent(
            'add', 'pci', GPU, nvidia_gpu.VENDOR_ID)) == 'full'
        assert _addresses(recording_conductor.reports[-1]) == [GPU]

        # The periodic run rediscovers every driver.
        assert reporter.run() == 'full'
        assert _addresses(recording_conductor.reports[-1]) == [GPU, NPU]

    def test_an_event_of_unknown_vendor_rediscovers_every_driver(
            self, reporter, recording_conductor):
        assert self._report_events(reporter, hotplug.DeviceEvent(
            'lost', '')) == 'full'
        assert _addresses(recording_conductor.reports[-1]) == [GPU, NPU]

    def test_a_burst_rediscovers_the_drivers_of_all_its_vendors(
            self, reporter, recording_conductor):
        assert self._report_events(
            reporter,
            hotplug.DeviceEvent('add', 'pci', NPU, huawei_ascend.VENDOR_ID),
            hotplug.DeviceEvent('add', 'pci', GPU,
                                nvidia_gpu.VENDOR_ID)) == 'full'
        assert _addresses(recording_conductor.reports[-1]) == [GPU, NPU]


def test_which_drivers_an_event_concerns(conf, sysfs_tree):
    gpu_driver = nvidia_gpu.NvidiaGpuDriver(conf)
    sysfs_tree.add_pci_device(GPU, families.NVIDIA, '2330', '030200')
    gpus = gpu_driver.discover()

    def event(vendor, address='0000:99:00.0'):
        return hotplug.DeviceEvent('add', 'pci', address, vendor)

    assert hotplug.concerns(gpu_driver, event('10de'), [])
    assert not hotplug.concerns(gpu_driver, event('8086'), gpus)
    assert hotplug.concerns(gpu_driver, event(None), [])
    # A function the driver reported, whatever vendor the event says.
    assert hotplug.concerns(gpu_driver, event('8086', GPU), gpus)
    # Drivers that do not say which vendors they read: every event.
    for driver in (fake.FakeDriver(conf), pci.PciDriver(conf)):
        assert hotplug.concerns(driver, event('8086'), [])


VENDOR_DRIVERS = [nvidia_gpu.NvidiaGpuDriver, intel_fpga.IntelFpgaDriver,
                  xilinx_fpga.XilinxFpgaDriver, inspur_fpga.InspurFpgaDriver,
                  intel_qat.IntelQatDriver, intel_nic.IntelNicDriver,
                  huawei_ascend.HuaweiAscendDriver,
                  inspur_nvme_ssd.InspurNvmeSsdDriver]
HOSTS = {
    'mixed': families.build_mixed_host,
    'gpu_sriov': sysfs_fixture.build_gpu_sriov_host,
    'pac_n3000_vfs': lambda tree: sysfs_fpga.build_pac_n3000_host(
        tree, vfs=True),
    'alveo': sysfs_fpga.build_alveo_host,
    'inspur_fpga': sysfs_fpga.build_inspur_host,
    'c62x': families.build_c62x_dual_socket_host,
    'e810_x710': families.build_e810_x710_host,
}


@pytest.mark.parametrize('build', HOSTS.values(), ids=HOSTS.keys())
def test_every_vendor_driver_reports_only_the_vendors_it_declares(
        conf, tmp_path, build):
    # Property: an event of another vendor cannot change what a driver
    # reports, so skipping it on such an event loses nothing.
    tree = sysfs_fixture.FakeSysfs(tmp_path / 'sys')
    build(tree)
    conf.set_override('sysfs_root', str(tree.root), group='agent')
    reported = 0
    for driver in (cls(conf) for cls in VENDOR_DRIVERS):
        assert driver.pci_vendor_ids, type(driver).__name__
        for device in driver.discover():
            for address in merge.pci_functions_of(device):
                vendor = (tree.device_dir(address) / 'vendor').read_text()
                assert vendor.strip()[2:] in driver.pci_vendor_ids, (
                    type(driver).__name__, address)
                reported += 1
    assert reported
