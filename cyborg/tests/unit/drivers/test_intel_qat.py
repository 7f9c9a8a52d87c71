"""The Intel QAT driver on a C62x dual-socket host and a 4xxx host: the
report field by field, and bad sysfs input leaving out only its device."""

import logging
import os

import pytest

from cyborg.accelerator.drivers import intel_qat
from cyborg.accelerator import discovery
from cyborg.tests.fixtures import sysfs_families as families


def _discover(conf):
    return intel_qat.IntelQatDriver(conf).discover()


def _address(info):
    return discovery.pci_address_str(info)


def _by_pf(devices):
    return {_address(device.controlpath.info): device for device in devices}


def test_c62x_dual_socket_host_field_by_field(conf, sysfs_tree):
    host = families.build_c62x_dual_socket_host(sysfs_tree)

    devices = _discover(conf)

    assert [_address(d.controlpath.info) for d in devices] == host.pfs
    for device, pf in zip(devices, host.pfs, strict=True):
        assert (device.type, device.vendor, device.model, device.stub,
                device.vendor_board_info) == ('QAT', '8086', '37c8', False,
                                              None)
        assert device.controlpath == discovery.ControlPath(
            'PCI', discovery.pci_address_dict(pf))
        assert device.std_board_info == (
            '{"class_code":"0b4000","product_id":"37c8"}')
        [deployable] = device.deployables
        assert (deployable.name, deployable.num_accelerators,
                deployable.driver_name, deployable.resource_class,
                deployable.attributes) == ('test-host_%s' % pf, 16, 'intel',
                                           'CUSTOM_QAT', {})
        # Gen 2 shows no services in sysfs: model and generation only.
        assert deployable.traits == ['CUSTOM_QAT_C62X', 'CUSTOM_QAT_GEN2']
        assert [(h.attach_type, _address(h.info))
                for h in deployable.attach_handles] == [
            ('PCI', vf) for vf in host.vfs[pf]]
    assert host.vfs[host.pfs[0]][:2] == ['0000:3d:01.0', '0000:3d:01.1']


def test_4xxx_host_traits_name_the_configured_services(conf, sysfs_tree,
                                                       caplog):
    host = families.build_4xxx_host(sysfs_tree)
    crypto, compression, whole, down = host.pfs

    with caplog.at_level(logging.INFO):
        devices = _by_pf(_discover(conf))

    assert sorted(devices) == [crypto, compression, whole]
    deployables = {pf: device.deployables[0]
                   for pf, device in devices.items()}
    assert deployables[crypto].traits == [
        'CUSTOM_QAT_4XXX', 'CUSTOM_QAT_GEN4', 'CUSTOM_QAT_ASYM',
        'CUSTOM_QAT_SYM']
    assert deployables[compression].traits == [
        'CUSTOM_QAT_4XXX', 'CUSTOM_QAT_GEN4', 'CUSTOM_QAT_DC']
    assert [_address(h.info) for h in deployables[crypto].attach_handles] \
        == host.vfs[crypto]
    assert deployables[crypto].num_accelerators == 16
    assert devices[crypto].model == '4940'
    # No VFs enabled: the PF itself is the one accelerator.
    assert deployables[whole].num_accelerators == 1
    assert [_address(h.info) for h in deployables[whole].attach_handles] \
        == [whole]
    assert deployables[whole].traits == [
        'CUSTOM_QAT_4XXX', 'CUSTOM_QAT_GEN4', 'CUSTOM_QAT_DC',
        'CUSTOM_QAT_SYM']
    # The PF brought down, and the DLB (a co-processor, not a QAT) are
    # left out with a line each; DSA and IAA are not co-processors.
    assert caplog.messages == [
        'Not offering Intel co-processor 0000:6d:00.0 (8086:2710): not a '
        'QAT device id this driver knows',
        'Not offering QAT 4XXX %s: qat/state is down' % down]


def test_chained_compression_also_counts_as_compression(conf, sysfs_tree):
    families.add_pf_with_vfs(sysfs_tree, '0000:e8:00.0', '8086', '4942',
                             '4943', families.CLASS_COPROCESSOR, 2)
    families.write_qat_status(sysfs_tree, '0000:e8:00.0', 'up', 'dcc')

    [device] = _discover(conf)

    assert device.deployables[0].traits == [
        'CUSTOM_QAT_401XX', 'CUSTOM_QAT_GEN4', 'CUSTOM_QAT_DC',
        'CUSTOM_QAT_DCC']


def test_unknown_coprocessor_is_logged_once_not_every_discovery(
        conf, sysfs_tree, caplog):
    families.build_4xxx_host(sysfs_tree)
    driver = intel_qat.IntelQatDriver(conf)

    with caplog.at_level(logging.INFO):
        driver.discover()
        driver.discover()

    assert len([m for m in caplog.messages if '8086:2710' in m]) == 1


def test_discovery_is_stable(conf, sysfs_tree):
    # The agent fingerprints reports; an unchanged host must give the same.
    families.build_c62x_dual_socket_host(sysfs_tree)
    driver = intel_qat.IntelQatDriver(conf)

    assert discovery.fingerprint(driver.discover()) == \
        discovery.fingerprint(driver.discover())


def _break_missing_cfg_services(tree, host):
    os.unlink(tree.device_dir(host.pfs[0]) / 'qat' / 'cfg_services')
    return host.pfs[0], 'qat/cfg_services is missing'


def _break_bad_state(tree, host):
    tree.write(host.pfs[0], 'qat/state', 'resetting\n')
    return host.pfs[0], "qat/state is malformed ('resetting')"


def _break_bad_services(tree, host):
    tree.write(host.pfs[0], 'qat/cfg_services', 'sym;;asym\n')
    return host.pfs[0], "qat/cfg_services is malformed ('sym;;asym')"


def _break_vf_list(tree, host):
    # A virtfn link that does not lead to a PCI function: the VF list of
    # that PF cannot be read.
    link = tree.device_dir(host.pfs[0]) / 'virtfn3'
    os.unlink(link)
    os.symlink('../../not-a-device', link)
    return host.pfs[0], "virtfn3 points to 'not-a-device'"


@pytest.mark.parametrize('breaker', [_break_missing_cfg_services,
                                     _break_bad_state, _break_bad_services,
                                     _break_vf_list])
def test_bad_input_leaves_out_only_its_pf(conf, sysfs_tree, caplog,
                                          breaker):
    host = families.build_4xxx_host(sysfs_tree)
    broken, problem = breaker(sysfs_tree, host)

    with caplog.at_level(logging.WARNING):
        devices = _by_pf(_discover(conf))

    assert sorted(devices) == [pf for pf in host.pfs[:3] if pf != broken]
    [message] = caplog.messages
    assert broken in message and problem in message


def test_an_unreadable_vf_leaves_out_only_that_vf(conf, sysfs_tree, caplog):
    host = families.build_c62x_dual_socket_host(sysfs_tree)
    pf = host.pfs[1]
    bad_vf = host.vfs[pf][5]
    sysfs_tree.write(bad_vf, 'device', '0x37c9 \x00garbage\n')

    with caplog.at_level(logging.WARNING):
        devices = _by_pf(_discover(conf))

    handles = [_address(h.info)
               for h in devices[pf].deployables[0].attach_handles]
    assert handles == [vf for vf in host.vfs[pf] if vf != bad_vf]
    assert devices[pf].deployables[0].num_accelerators == 15
    assert devices[host.pfs[0]].deployables[0].num_accelerators == 16
    [message] = caplog.messages
    assert message.startswith('Skipping PCI device %s: ' % bad_vf)


def test_a_vf_with_an_unknown_id_leaves_out_only_that_vf(conf, sysfs_tree,
                                                         caplog):
    host = families.build_c62x_dual_socket_host(sysfs_tree, vfs_per_pf=4)
    pf = host.pfs[0]
    sysfs_tree.write(host.vfs[pf][0], 'device', '0x4941\n')

    with caplog.at_level(logging.WARNING):
        devices = _by_pf(_discover(conf))

    assert devices[pf].deployables[0].num_accelerators == 3
    assert caplog.messages == [
        'Not offering VF %s of QAT C62X %s: device id 8086:4941 is not a VF '
        'id of that device (expected 37c9)' % (host.vfs[pf][0], pf)]


def test_a_pf_none_of_whose_vfs_can_be_offered_is_left_out(
        conf, sysfs_tree, caplog):
    host = families.build_c62x_dual_socket_host(sysfs_tree, vfs_per_pf=2)
    pf = host.pfs[0]
    for vf in host.vfs[pf]:
        sysfs_tree.write(vf, 'device', '0x0443\n')

    with caplog.at_level(logging.WARNING):
        devices = _by_pf(_discover(conf))

    assert sorted(devices) == [host.pfs[1]]
    assert caplog.messages[-1] == (
        'Not offering QAT C62X %s: it has 2 VFs enabled and none of them '
        'can be offered' % pf)
