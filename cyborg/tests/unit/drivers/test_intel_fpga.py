"""The Intel FPGA driver on real-looking hosts: PAC Arria 10 under the old
intel-fpga driver (with and without VFs), N3000 and D5005 under DFL, an
unbound card (stub), and a host where an X710 NIC must be left alone."""

import json

from cyborg.accelerator.drivers import intel_fpga
from cyborg.tests.fixtures import sysfs_fpga

NLB0 = sysfs_fpga.NLB0_AFU_ID.upper()


def _pci(address):
    domain, bus, rest = address.split(':')
    device, function = rest.split('.')
    return {'domain': domain, 'bus': bus, 'device': device,
            'function': function}


def _handles(deployable):
    return [(h.attach_type, h.info) for h in deployable.attach_handles]


def test_pac_arria10_under_the_intel_fpga_driver(conf, sysfs_tree):
    pf, _vfs = sysfs_fpga.build_pac_arria10_host(sysfs_tree)

    [device] = intel_fpga.IntelFpgaDriver(conf).discover()

    assert (device.type, device.vendor, device.model, device.stub) == (
        'FPGA', '8086', '09c4', False)
    assert device.controlpath.info == _pci(pf)
    [deployable] = device.deployables
    assert deployable.name == 'test-host_%s' % pf
    assert deployable.driver_name == 'intel'
    assert deployable.resource_class == 'FPGA'
    assert deployable.num_accelerators == 1
    assert deployable.traits == [
        'CUSTOM_FPGA_INTEL', 'CUSTOM_FPGA_INTEL_PAC_ARRIA10',
        'CUSTOM_FPGA_REGION_INTEL_CE48969398F05F33946D560708BE108A',
        'CUSTOM_FPGA_FUNCTION_ID_INTEL_%s' % NLB0]
    assert _handles(deployable) == [('PCI', _pci(pf))]
    assert json.loads(device.vendor_board_info) == {
        'layout': 'intel-fpga', 'fme': 'intel-fpga-fme.0',
        'ports': ['intel-fpga-port.0']}


def test_pac_arria10_with_a_vf_offers_the_vf(conf, sysfs_tree):
    pf, vfs = sysfs_fpga.build_pac_arria10_host(sysfs_tree, vfs=True)

    devices = intel_fpga.IntelFpgaDriver(conf).discover()

    # The VF (8086:09c5) is no card of its own: it is the PF's accelerator.
    [device] = devices
    [deployable] = device.deployables
    assert deployable.num_accelerators == 1
    assert _handles(deployable) == [('PCI', _pci(vfs[0]))]
    # The port moved to the VF; its function is still reported.
    assert 'CUSTOM_FPGA_FUNCTION_ID_INTEL_%s' % NLB0 in deployable.traits


def test_n3000_under_dfl_and_its_nics(conf, sysfs_tree):
    pf, _vfs = sysfs_fpga.build_pac_n3000_host(sysfs_tree)

    [device] = intel_fpga.IntelFpgaDriver(conf).discover()

    assert device.model == '0b30'
    [deployable] = device.deployables
    assert deployable.traits == [
        'CUSTOM_FPGA_INTEL', 'CUSTOM_FPGA_INTEL_PAC_N3000',
        'CUSTOM_FPGA_REGION_INTEL_%s'
        % sysfs_fpga.N3000_INTERFACE_ID.upper(),
        'CUSTOM_FPGA_FUNCTION_ID_INTEL_%s' % NLB0]
    assert _handles(deployable) == [('PCI', _pci(pf))]
    assert json.loads(device.vendor_board_info) == {
        'layout': 'dfl', 'fme': 'dfl-fme.0', 'ports': ['dfl-port.0'],
        'dfl_features': ['0x12', '0xe']}


def test_n3000_with_its_port_released_to_a_vf(conf, sysfs_tree):
    _pf, vfs = sysfs_fpga.build_pac_n3000_host(sysfs_tree, vfs=True)

    [device] = intel_fpga.IntelFpgaDriver(conf).discover()

    [deployable] = device.deployables
    assert _handles(deployable) == [('PCI', _pci(vfs[0]))]
    assert deployable.traits[-1] == 'CUSTOM_FPGA_FUNCTION_ID_INTEL_%s' % NLB0


def test_an_unbound_d5005_is_a_stub(conf, sysfs_tree):
    card, unbound = sysfs_fpga.build_pac_d5005_host(sysfs_tree)

    devices = intel_fpga.IntelFpgaDriver(conf).discover()

    by_address = {d.controlpath.info['bus']: d for d in devices}
    assert by_address['3b'].stub is False
    assert by_address['3b'].deployables[0].traits[:2] == [
        'CUSTOM_FPGA_INTEL', 'CUSTOM_FPGA_INTEL_PAC_D5005']
    assert by_address['d8'].stub is True
    assert by_address['d8'].deployables == []


def test_the_dfl_compat_id_wins_over_the_old_interface_id(conf, sysfs_tree):
    pf, _vfs = sysfs_fpga.build_pac_n3000_host(sysfs_tree)
    # Kernels with fpga_region compat_id: it is the one to trust.
    [compat] = sysfs_tree.root.glob('devices/**/region1/compat_id')
    compat.write_text('00112233445566778899aabbccddeeff\n')

    [device] = intel_fpga.IntelFpgaDriver(conf).discover()

    assert ('CUSTOM_FPGA_REGION_INTEL_00112233445566778899AABBCCDDEEFF'
            in device.deployables[0].traits)


def test_a_malformed_afu_id_drops_only_the_function_trait(conf, sysfs_tree,
                                                          caplog):
    pf, _vfs = sysfs_fpga.build_pac_n3000_host(sysfs_tree)
    sysfs_fpga.port_afu_id_path(sysfs_tree, pf).write_text('garbage\n')

    [device] = intel_fpga.IntelFpgaDriver(conf).discover()

    traits = device.deployables[0].traits
    assert not [t for t in traits if 'FUNCTION_ID' in t]
    assert 'CUSTOM_FPGA_INTEL_PAC_N3000' in traits
    assert "'garbage' is not a 128-bit hex id" in caplog.text


def test_an_x710_next_to_an_fpga_is_not_an_fpga(conf, sysfs_tree):
    fpga, nic_functions = sysfs_fpga.build_fpga_and_nic_host(sysfs_tree)

    devices = intel_fpga.IntelFpgaDriver(conf).discover()

    assert [d.controlpath.info for d in devices] == [_pci(fpga)]
    handles = [h.info for h in devices[0].deployables[0].attach_handles]
    assert not any(info in [_pci(a) for a in nic_functions]
                   for info in handles)


def test_loaded_bitstream_follows_the_ports_afu_id(conf, sysfs_tree):
    pf, _vfs = sysfs_fpga.build_pac_n3000_host(sysfs_tree)
    driver = intel_fpga.IntelFpgaDriver(conf)
    [device] = driver.discover()

    assert driver.loaded_bitstream(device.controlpath) == (
        sysfs_fpga.NLB0_AFU_ID)
    sysfs_fpga.port_afu_id_path(sysfs_tree, pf).write_text(
        '0123456789abcdef0123456789abcdef\n')
    assert driver.loaded_bitstream(device.controlpath) == (
        '0123456789abcdef0123456789abcdef')
