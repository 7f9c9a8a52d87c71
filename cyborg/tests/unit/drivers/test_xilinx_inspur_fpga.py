"""The Xilinx and Inspur FPGA drivers on real-looking hosts."""

from cyborg.accelerator.drivers import inspur_fpga
from cyborg.accelerator.drivers import xilinx_fpga
from cyborg.tests.fixtures import sysfs_fpga


def _pci(address):
    domain, bus, rest = address.split(':')
    device, function = rest.split('.')
    return {'domain': domain, 'bus': bus, 'device': device,
            'function': function}


def test_alveo_management_and_user_functions_are_one_deployable(
        conf, sysfs_tree):
    cards = sysfs_fpga.build_alveo_host(sysfs_tree)

    devices = xilinx_fpga.XilinxFpgaDriver(conf).discover()

    # The Mellanox NIC is no Xilinx accelerator.
    assert [d.model for d in devices] == ['5004', '500c']
    for device, (name, product) in zip(
            devices, (('u250', 'ALVEO_U250'), ('u280', 'ALVEO_U280')),
            strict=True):
        mgmt, user = cards[name]
        assert (device.type, device.vendor) == ('FPGA', '10ee')
        assert device.controlpath.info == _pci(mgmt)
        [deployable] = device.deployables
        assert deployable.name == 'test-host_%s' % mgmt
        assert deployable.driver_name == 'XILINX'
        assert deployable.resource_class == 'FPGA'
        assert deployable.num_accelerators == 1
        assert deployable.traits == [
            'CUSTOM_FPGA_XILINX',
            'CUSTOM_FPGA_PRODUCT_ID_%s' % device.model.upper(),
            'CUSTOM_FPGA_XILINX_%s' % product]
        assert [(h.attach_type, h.info) for h in
                deployable.attach_handles] == [('PCI', _pci(mgmt)),
                                               ('PCI', _pci(user))]


def test_inspur_takes_only_its_fpga_accelerators(conf, sysfs_tree):
    card = sysfs_fpga.build_inspur_host(sysfs_tree)

    devices = inspur_fpga.InspurFpgaDriver(conf).discover()

    # Not the Inspur NVMe SSD, not the Xilinx accelerators next to it.
    [device] = devices
    assert (device.type, device.vendor, device.model) == ('FPGA', '1bd4',
                                                          '0081')
    [deployable] = device.deployables
    assert deployable.name == 'test-host_%s' % card
    assert deployable.driver_name == 'INSPUR'
    assert (deployable.resource_class, deployable.num_accelerators) == (
        'FPGA', 1)
    assert deployable.traits == ['CUSTOM_FPGA_INSPUR',
                                 'CUSTOM_FPGA_PRODUCT_ID_0081']
    assert [(h.attach_type, h.info) for h in deployable.attach_handles] == [
        ('PCI', _pci(card))]


def test_no_fpga_driver_takes_another_vendors_card(conf, sysfs_tree):
    sysfs_fpga.build_alveo_host(sysfs_tree)
    sysfs_fpga.build_pac_arria10_host(sysfs_tree)

    assert inspur_fpga.InspurFpgaDriver(conf).discover() == []
    assert {d.vendor for d in
            xilinx_fpga.XilinxFpgaDriver(conf).discover()} == {'10ee'}
