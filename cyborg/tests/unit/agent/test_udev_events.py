"""What the udev listener makes of udev's events, and how a host without
udev is told apart (the listener itself on real netlink events:
cyborg/tests/functional/agent/test_udev_listener.py)."""

from cyborg.agent import hotplug
from cyborg.agent import udev_events

# A GPU's add and a vGPU created on it, in the kernel's formats (as a real
# event heard on a development host has them: PCI_CLASS without its
# leading zero, PCI_ID in upper case; an mdev event names no function).
GPU_ADD = {
    'ACTION': 'add', 'SUBSYSTEM': 'pci', 'DRIVER': '',
    'DEVPATH': '/devices/pci0000:00/0000:00:03.1/0000:41:00.0',
    'PCI_CLASS': '30200', 'PCI_ID': '10DE:20B0',
    'PCI_SUBSYS_ID': '10DE:134F', 'PCI_SLOT_NAME': '0000:41:00.0',
    'MODALIAS': 'pci:v000010DEd000020B0sv000010DEsd0000134Fbc03sc02i00',
    'SEQNUM': '4182'}
MDEV_ADD = {
    'ACTION': 'add', 'SUBSYSTEM': 'mdev', 'DRIVER': 'vfio_mdev',
    'DEVPATH': '/devices/pci0000:00/0000:00:03.1/0000:41:00.0/'
               'b1c7e5a4-0f9c-4f55-8b3f-6c3c2b6f8e11',
    'MDEV_TYPE': 'nvidia-471', 'SEQNUM': '4190'}


def test_a_pci_event_names_its_function_and_vendor():
    assert udev_events.event_from_properties(GPU_ADD) == hotplug.DeviceEvent(
        action='add', subsystem='pci', pci_address='0000:41:00.0',
        vendor_id='10de')


def test_an_mdev_event_is_about_its_parent_function():
    assert udev_events.event_from_properties(
        MDEV_ADD, parent_properties=GPU_ADD) == hotplug.DeviceEvent(
            action='add', subsystem='mdev', pci_address='0000:41:00.0',
            vendor_id='10de')


def test_an_mdev_event_without_its_parent_concerns_every_driver():
    event = udev_events.event_from_properties(dict(MDEV_ADD,
                                                   ACTION='remove'))
    assert event == hotplug.DeviceEvent(action='remove', subsystem='mdev')


def test_other_subsystems_are_not_events_of_discovery():
    assert udev_events.event_from_properties(
        dict(GPU_ADD, SUBSYSTEM='usb')) is None


def test_a_host_without_udevd_has_no_events_and_says_why(tmp_path,
                                                        monkeypatch):
    # The host's /run as a test tree, as [agent] sysfs_root is for /sys.
    control = tmp_path / 'run' / 'udev' / 'control'
    monkeypatch.setattr(udev_events, 'UDEV_CONTROL', str(control))

    source, why = udev_events.open_source()

    assert source is None
    assert why == 'udev is not running on this host (no %s)' % control
