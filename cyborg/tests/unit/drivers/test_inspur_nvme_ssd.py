"""The Inspur NVMe driver: only Inspur's NVMe controllers, whole."""

import logging

from cyborg.accelerator.drivers import inspur_nvme_ssd
from cyborg.accelerator import discovery
from cyborg.tests.fixtures import sysfs_families as families


def _discover(conf):
    return inspur_nvme_ssd.InspurNvmeSsdDriver(conf).discover()


def test_inspur_nvme_host_field_by_field(conf, sysfs_tree):
    host = families.build_inspur_nvme_host(sysfs_tree)

    devices = _discover(conf)

    # Not the Inspur RAID controller, not the Samsung NVMe boot drive.
    assert [discovery.pci_address_str(d.controlpath.info)
            for d in devices] == host.pfs
    for device, ssd in zip(devices, host.pfs, strict=True):
        assert (device.type, device.vendor, device.model, device.stub) == (
            'SSD', '1bd4', '0021', False)
        assert device.std_board_info == (
            '{"class_code":"010802","product_id":"0021"}')
        [deployable] = device.deployables
        assert (deployable.name, deployable.num_accelerators,
                deployable.driver_name, deployable.resource_class) == (
            'test-host_%s' % ssd, 1, 'INSPUR', 'CUSTOM_SSD')
        assert deployable.traits == ['CUSTOM_SSD_INSPUR',
                                     'CUSTOM_SSD_PRODUCT_ID_0021']
        assert [h.to_dict() for h in deployable.attach_handles] == [
            {'attach_type': 'PCI', 'info': discovery.pci_address_dict(ssd)}]


def test_a_malformed_class_leaves_out_only_that_drive(conf, sysfs_tree,
                                                      caplog):
    host = families.build_inspur_nvme_host(sysfs_tree)
    sysfs_tree.write(host.pfs[0], 'class', 'nvme\n')

    with caplog.at_level(logging.WARNING):
        devices = _discover(conf)

    assert [discovery.pci_address_str(d.controlpath.info)
            for d in devices] == host.pfs[1:]
    [message] = caplog.messages
    assert message.startswith('Skipping PCI device %s: ' % host.pfs[0])


def test_a_drive_with_vfs_is_not_offered(conf, sysfs_tree, caplog):
    pf, vf = '0000:5e:00.0', '0000:5e:00.1'
    sysfs_tree.add_pci_device(pf, '1bd4', '0021', '010802')
    sysfs_tree.add_vf(pf, vf, 0, '1bd4', '0021', '010802')

    with caplog.at_level(logging.INFO):
        assert _discover(conf) == []

    assert caplog.messages == [
        'Not offering Inspur NVMe %s: it is an SR-IOV PF with VFs enabled'
        % pf,
        'Not offering Inspur NVMe %s: it is an SR-IOV VF' % vf]
