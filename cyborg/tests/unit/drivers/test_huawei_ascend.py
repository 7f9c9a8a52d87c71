"""The Huawei Ascend driver on an Atlas 800 (eight 910s) and an inference
host (310P and 310s): the report field by field, and bad input."""

import logging
import os

from cyborg.accelerator.drivers import huawei_ascend
from cyborg.accelerator import discovery
from cyborg.tests.fixtures import sysfs_families as families


def _discover(conf):
    return huawei_ascend.HuaweiAscendDriver(conf).discover()


def _address(device):
    return discovery.pci_address_str(device.controlpath.info)


def test_atlas_800_field_by_field(conf, sysfs_tree):
    host = families.build_atlas_800_host(sysfs_tree)

    devices = _discover(conf)

    # The root ports and the Hi1822 NIC are Huawei devices too.
    assert [_address(d) for d in devices] == host.pfs
    for device, npu in zip(devices, host.pfs, strict=True):
        assert (device.type, device.vendor, device.model, device.stub) == (
            'AICHIP', '19e5', 'd801', False)
        assert device.controlpath == discovery.ControlPath(
            'PCI', discovery.pci_address_dict(npu))
        assert device.std_board_info == (
            '{"class_code":"120000","product_id":"d801"}')
        [deployable] = device.deployables
        assert (deployable.name, deployable.num_accelerators,
                deployable.driver_name, deployable.resource_class) == (
            'test-host_%s' % npu, 1, 'huawei', 'CUSTOM_NPU')
        assert deployable.traits == ['CUSTOM_NPU_HUAWEI',
                                     'CUSTOM_NPU_ASCEND_910']
        assert [h.to_dict() for h in deployable.attach_handles] == [
            {'attach_type': 'PCI', 'info': discovery.pci_address_dict(npu)}]


def test_inference_cards_name_their_model(conf, sysfs_tree):
    host = families.build_atlas_300i_host(sysfs_tree)

    devices = _discover(conf)

    assert [(_address(d), d.deployables[0].traits[1]) for d in devices] == [
        (host.pfs[0], 'CUSTOM_NPU_ASCEND_310P')] + [
        (npu, 'CUSTOM_NPU_ASCEND_310') for npu in host.pfs[1:]]


def test_an_unknown_ascend_id_is_left_out_and_logged_once(conf, sysfs_tree,
                                                         caplog):
    host = families.build_atlas_800_host(sysfs_tree)
    sysfs_tree.write(host.pfs[3], 'device', '0xd803\n')
    driver = huawei_ascend.HuaweiAscendDriver(conf)

    with caplog.at_level(logging.INFO):
        devices = driver.discover()
        driver.discover()

    assert [_address(d) for d in devices] == [
        npu for npu in host.pfs if npu != host.pfs[3]]
    assert caplog.messages == [
        'Not offering Huawei processing accelerator %s (19e5:d803): not an '
        'Ascend device id this driver knows' % host.pfs[3]]


def test_a_missing_file_leaves_out_only_that_chip(conf, sysfs_tree, caplog):
    host = families.build_atlas_800_host(sysfs_tree)
    os.unlink(sysfs_tree.device_dir(host.pfs[5]) / 'class')

    with caplog.at_level(logging.WARNING):
        devices = _discover(conf)

    assert len(devices) == 7
    assert host.pfs[5] not in [_address(d) for d in devices]
    [message] = caplog.messages
    assert message.startswith('Skipping PCI device %s: ' % host.pfs[5])
    assert message.endswith('class is missing')


def test_sriov_functions_are_not_offered(conf, sysfs_tree, caplog):
    pf, vf = '0000:c1:00.0', '0000:c1:00.1'
    sysfs_tree.add_pci_device(pf, '19e5', 'd802', '120000')
    sysfs_tree.add_vf(pf, vf, 0, '19e5', 'd802', '120000')

    with caplog.at_level(logging.INFO):
        assert _discover(conf) == []

    assert caplog.messages == [
        'Not offering Ascend 910B %s: it has 1 SR-IOV VFs enabled' % pf,
        'Not offering Ascend 910B %s: it is an SR-IOV VF' % vf]
