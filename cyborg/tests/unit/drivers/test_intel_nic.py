"""The Intel NIC driver on a host with an E810 and an X710: the report
field by field, upstream's [x710_static] mappings, and bad input."""

import logging
import os

import pytest

from cyborg.accelerator.drivers import intel_nic
from cyborg.accelerator import discovery
from cyborg.conf import nic_devices
from cyborg.tests.fixtures import sysfs_families as families

X710_PORT0, X710_PORT1 = '0000:3b:00.0', '0000:3b:00.1'
E810_PORT0, E810_PORT1 = '0000:b1:00.0', '0000:b1:00.1'


def _configure(conf, group='x710_static', **mappings):
    types = list(conf.nic_devices.enabled_nic_types)
    conf.set_override('enabled_nic_types', types + [group],
                      group='nic_devices')
    nic_devices.register_nic_type_groups(conf)
    for option, value in mappings.items():
        conf.set_override(option, value, group=group)


def _discover(conf):
    return {discovery.pci_address_str(device.controlpath.info): device
            for device in intel_nic.IntelNicDriver(conf).discover()}


def _handles(device):
    return [(h.attach_type, discovery.pci_address_str(h.info),
             h.info.get('physical_network'))
            for h in device.deployables[0].attach_handles]


@pytest.fixture
def host(sysfs_tree):
    return families.build_e810_x710_host(sysfs_tree)


def test_e810_and_x710_with_upstreams_options(conf, host):
    _configure(conf, physical_device_mappings=[
        'physnet1:ens801f0|ens1f0', 'physnet2:ens801f1'],
        function_device_mappings=['GTPv1:ens801f0'],
        ddp_package_mappings=['ICE COMMS Package:ens801f0|ens801f1'])

    devices = _discover(conf)

    # The i210 LOM is an Intel NIC this driver does not offer.
    assert sorted(devices) == [X710_PORT0, X710_PORT1, E810_PORT0,
                               E810_PORT1]
    e810 = devices[E810_PORT0]
    assert (e810.type, e810.vendor, e810.model, e810.stub) == (
        'NIC', '8086', '1592', False)
    assert e810.controlpath == discovery.ControlPath(
        'PCI', discovery.pci_address_dict(E810_PORT0))
    assert e810.std_board_info == (
        '{"class_code":"020000","product_id":"1592"}')
    [deployable] = e810.deployables
    assert (deployable.name, deployable.num_accelerators,
            deployable.driver_name, deployable.resource_class) == (
        'test-host_%s' % E810_PORT0, 4, 'intel', 'CUSTOM_NIC')
    assert deployable.traits == [
        'CUSTOM_NIC_E810', 'CUSTOM_VF', 'CUSTOM_PHYSNET1', 'CUSTOM_GTPV1',
        'CUSTOM_NIC_DDP_ICE_COMMS_PACKAGE']
    assert _handles(e810) == [('PCI', vf, 'physnet1')
                              for vf in host.vfs[E810_PORT0]]
    assert host.vfs[E810_PORT0][0] == '0000:b1:01.0'

    # SR-IOV off: the port itself, on its own physnet.
    port1 = devices[E810_PORT1]
    assert port1.deployables[0].traits == [
        'CUSTOM_NIC_E810', 'CUSTOM_PF', 'CUSTOM_PHYSNET2',
        'CUSTOM_NIC_DDP_ICE_COMMS_PACKAGE']
    assert _handles(port1) == [('PCI', E810_PORT1, 'physnet2')]

    x710 = devices[X710_PORT0]
    assert x710.model == '1572'
    assert x710.deployables[0].traits == ['CUSTOM_NIC_X710', 'CUSTOM_VF',
                                          'CUSTOM_PHYSNET1']
    assert _handles(x710) == [('PCI', '0000:3b:02.0', 'physnet1'),
                              ('PCI', '0000:3b:02.1', 'physnet1')]
    # Not mapped: offered, without a physnet.
    assert devices[X710_PORT1].deployables[0].traits == ['CUSTOM_NIC_X710',
                                                         'CUSTOM_PF']
    assert _handles(devices[X710_PORT1]) == [('PCI', X710_PORT1, None)]


def test_without_mappings_ports_carry_only_their_kind(conf, host):
    devices = _discover(conf)

    assert {pf: d.deployables[0].traits for pf, d in devices.items()} == {
        X710_PORT0: ['CUSTOM_NIC_X710', 'CUSTOM_VF'],
        X710_PORT1: ['CUSTOM_NIC_X710', 'CUSTOM_PF'],
        E810_PORT0: ['CUSTOM_NIC_E810', 'CUSTOM_VF'],
        E810_PORT1: ['CUSTOM_NIC_E810', 'CUSTOM_PF']}
    assert all('physical_network' not in h.info
               for d in devices.values()
               for h in d.deployables[0].attach_handles)


def test_mappings_of_every_enabled_group_apply(conf, host):
    _configure(conf, 'x710_static',
               physical_device_mappings=['physnet1:ens1f0'])
    _configure(conf, 'e810_static',
               physical_device_mappings=['physnet9:ens801f0'])

    devices = _discover(conf)

    assert _handles(devices[X710_PORT0])[0][2] == 'physnet1'
    assert _handles(devices[E810_PORT0])[0][2] == 'physnet9'


def test_a_bad_entry_is_logged_once_and_the_others_apply(conf, host, caplog):
    _configure(conf, physical_device_mappings=[
        'physnet1', ':ens1f0', 'physnet1:ens1f0|', 'physnet2:ens801f0'])

    with caplog.at_level(logging.ERROR):
        driver = intel_nic.IntelNicDriver(conf)
        devices = {discovery.pci_address_str(d.controlpath.info): d
                   for d in driver.discover()}
        driver.discover()

    assert caplog.messages == [
        "Ignoring [x710_static] physical_device_mappings entry %r: expected "
        "<name>:<interface>|<interface>..." % entry
        for entry in ('physnet1', ':ens1f0', 'physnet1:ens1f0|')]
    assert _handles(devices[E810_PORT0])[0][2] == 'physnet2'
    assert _handles(devices[X710_PORT0])[0][2] is None


def test_a_port_on_two_physnets_is_left_out(conf, host, caplog):
    _configure(conf, physical_device_mappings=[
        'physnet1:ens801f0', 'physnet2:ens801f0|ens801f1'])

    with caplog.at_level(logging.ERROR):
        driver = intel_nic.IntelNicDriver(conf)
        devices = {discovery.pci_address_str(d.controlpath.info)
                   for d in driver.discover()}
        driver.discover()

    assert devices == {X710_PORT0, X710_PORT1, E810_PORT1}
    assert caplog.messages == [
        'Not offering Intel E810 %s: its interfaces ens801f0 map to physnets '
        'physnet1, physnet2 in physical_device_mappings; a port is on one '
        'physnet' % E810_PORT0]


def test_an_unreadable_vf_list_leaves_out_only_that_port(conf, sysfs_tree,
                                                         host, caplog):
    link = sysfs_tree.device_dir(E810_PORT0) / 'virtfn1'
    os.unlink(link)
    os.symlink('../../../bus/pci/slots', link)

    with caplog.at_level(logging.WARNING):
        devices = _discover(conf)

    assert sorted(devices) == [X710_PORT0, X710_PORT1, E810_PORT1]
    [message] = caplog.messages
    assert message.startswith('Skipping PCI device %s: ' % E810_PORT0)
    assert "virtfn1 points to 'slots', not a PCI device" in message


def test_a_missing_id_file_leaves_out_only_that_port(conf, sysfs_tree, host,
                                                     caplog):
    os.unlink(sysfs_tree.device_dir(X710_PORT1) / 'device')

    with caplog.at_level(logging.WARNING):
        devices = _discover(conf)

    assert sorted(devices) == [X710_PORT0, E810_PORT0, E810_PORT1]
    [message] = caplog.messages
    assert message == 'Skipping PCI device %s: %s is missing' % (
        X710_PORT1, sysfs_tree.root / 'bus/pci/devices' / X710_PORT1 /
        'device')


def test_a_vf_of_another_kind_leaves_out_only_that_vf(conf, sysfs_tree,
                                                      host, caplog):
    # An X710 VF id under an E810 port: not a function this port makes.
    odd = host.vfs[E810_PORT0][2]
    sysfs_tree.write(odd, 'device', '0x154c\n')

    with caplog.at_level(logging.WARNING):
        devices = _discover(conf)

    assert [h[1] for h in _handles(devices[E810_PORT0])] == [
        vf for vf in host.vfs[E810_PORT0] if vf != odd]
    assert caplog.messages == [
        'Not offering VF %s of Intel E810 %s: device id 8086:154c is not a '
        'VF id of that device (expected 1889)' % (odd, E810_PORT0)]
