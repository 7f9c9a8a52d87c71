"""The real udev listener: an event the kernel sends for a real PCI device
of this machine reaches the hot-plug handler, which reports the fake card
plugged in meanwhile.

The kernel announces a device again when ``add`` is written to its sysfs
``uevent`` file (what ``udevadm trigger`` does at every boot); the test
does that to a PCI bridge of this machine, which changes nothing on it.
Where udevd runs, the listener hears udevd's events, as the agent does;
where it does not, the kernel's own (the agent itself falls back to
periodic discovery there, see test_a_host_without_udevd...).

MAY SKIP, and is the one hot-plug test allowed to: where this machine
cannot deliver device events to a test - no PCI device in /sys, a
read-only or unwritable ``uevent`` (not root, a container), a netlink
socket that cannot be opened, or kernel events that never reach this
network namespace (a container); the skip says which.
"""

import logging
import os
import uuid

import pytest
import pyudev

from cyborg.accelerator.drivers import fake
from cyborg.accelerator import discovery
from cyborg.agent import hotplug
from cyborg.agent import reporter as agent_reporter
from cyborg.agent import service as agent_service
from cyborg.agent import udev_events
from cyborg.clients import placement as placement_client
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg.tests.fixtures import agent as agent_fixture

PCI_DEVICES = '/sys/bus/pci/devices'
PLUGGED = '0000:0d:00.0'


def _a_bridge():
    """A PCI function of this machine to announce again: a bridge if there
    is one (class 06), else the first function; None without PCI."""
    try:
        addresses = sorted(os.listdir(PCI_DEVICES))
    except OSError:
        return None
    for address in addresses:
        try:
            with open(os.path.join(PCI_DEVICES, address, 'class')) as f:
                if f.read().strip().startswith('0x06'):
                    return address
        except OSError:
            continue
    return addresses[0] if addresses else None


def _netlink_source():
    return 'udev' if os.path.exists(udev_events.UDEV_CONTROL) else 'kernel'


def _heard(probe, address):
    """Whether the bare pyudev monitor ``probe`` heard an add of
    ``address``."""
    while True:
        device = probe.poll(timeout=0)
        if device is None:
            return False
        if device.action == 'add' and device.sys_name == address:
            return True


def test_the_real_listener_hears_the_kernel_and_reports(
        conf, rpc_transport, recording_conductor):
    address = _a_bridge()
    if address is None:
        pytest.skip('no PCI device in %s on this machine' % PCI_DEVICES)
    uevent = os.path.join(PCI_DEVICES, address, 'uevent')
    if not os.access(uevent, os.W_OK):
        pytest.skip('cannot write %s (not root, or a read-only /sys)'
                    % uevent)
    netlink_source = _netlink_source()
    try:
        source = udev_events.UdevEventSource(netlink_source)
        # A bare monitor beside ours tells "no events reach this machine's
        # network namespace" (skip) from "our listener lost it" (fail).
        probe = pyudev.Monitor.from_netlink(pyudev.Context(),
                                            source=netlink_source)
        probe.filter_by('pci')
        probe.start()
    except (udev_events.UdevUnavailable, ImportError, OSError) as exc:
        pytest.skip(str(exc))
    reporter = agent_reporter.Reporter(
        conf, [fake.FakeDriver(conf)],
        conductor_rpcapi.ConductorAPI(rpc_transport),
        hostname='compute-1.example.org', compute_rp_uuid=str(uuid.uuid4()))
    assert reporter.run() == 'full'
    handler = hotplug.HotplugHandler(reporter, source, debounce_s=0.2)
    handler.start()
    try:
        fake.plug_device(conf.state_path, PLUGGED)
        with open(uevent, 'w') as announce:
            announce.write('add')

        reported = agent_fixture.wait_for(
            lambda: len(recording_conductor.reports) == 2, 10)
        if not reported and not _heard(probe, address):
            pytest.skip('%s netlink events do not reach this machine '
                        '(a container?)' % netlink_source)
    finally:
        handler.stop()

    assert reported, 'the probe heard the add of %s, the listener did not' \
        % address
    assert sorted(discovery.pci_address_str(d['controlpath']['info'])
                  for d in recording_conductor.reports[1]['report']) == [
        fake.CONTROLPATH_ADDRESS, PLUGGED]


def test_a_host_without_udevd_says_so_once_and_polls(
        placement_conf, rpc_transport, recording_conductor, stub_glance,
        tmp_path, monkeypatch, caplog):
    # The host's /run as a test tree, as [agent] sysfs_root is for /sys.
    monkeypatch.setattr(udev_events, 'UDEV_CONTROL',
                        str(tmp_path / 'no-udev' / 'control'))
    placement_conf.set_override('hotplug', True, group='agent')
    agent = _started_agent(placement_conf, rpc_transport, caplog)
    try:
        assert agent.hotplug is None
        # Still discovering and reporting, every periodic_interval.
        assert agent_fixture.wait_for(
            lambda: recording_conductor.heartbeats, 10)
    finally:
        agent.stop()

    said = [record for record in caplog.records
            if 'hot-plug' in record.getMessage().lower()]
    assert [(r.levelno, r.getMessage()) for r in said] == [
        (logging.WARNING,
         'No hot-plug events: udev is not running on this host (no %s); '
         'devices that come or go are found by discovery every 1 s'
         % udev_events.UDEV_CONTROL)]


def test_hotplug_off_is_said_once_and_takes_no_events(
        placement_conf, rpc_transport, recording_conductor, stub_glance,
        caplog):
    placement_conf.set_override('hotplug', False, group='agent')
    source = agent_fixture.ManualEventSource()
    agent = _started_agent(placement_conf, rpc_transport, caplog,
                           event_source=source)
    try:
        assert agent.hotplug is None
        assert not source.listening
    finally:
        agent.stop()

    said = [record.getMessage() for record in caplog.records
            if 'hot-plug' in record.getMessage().lower()]
    assert said == ['Hot-plug is off ([agent] hotplug); devices that come '
                    'or go are found by discovery every 1 s']


def _started_agent(conf, rpc_transport, caplog, event_source=None):
    # A compute node provider of its own, as nova-compute makes one.
    name = 'compute-%s' % uuid.uuid4().hex[:12]
    placement_client.PlacementClient.from_conf(conf).create_provider(
        str(uuid.uuid4()), name, None)
    conf.set_override('resource_provider_name', name, group='agent')
    conf.set_override('periodic_interval', 1)
    caplog.set_level(logging.INFO)
    agent = agent_service.AgentService(conf, rpc_transport,
                                       event_source=event_source)
    agent.start()
    return agent

