"""Each real driver's health() on its fake sysfs tree: the shared PCI
rules (pci_health) and the families' own signals, state and reason."""

import pytest

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
from cyborg.tests.fixtures import sysfs as sysfs_fixture
from cyborg.tests.fixtures import sysfs_families as families
from cyborg.tests.fixtures import sysfs_fpga
from cyborg.tests.fixtures import sysfs_health as health_files

HEALTHY = discovery.Health(discovery.HEALTHY)


def _device(driver, address):
    [device] = [d for d in driver.discover()
                if discovery.pci_address_str(d.controlpath.info) == address]
    return device


# One host per driver: (driver class, build(tree) -> the device's address).
def _nvidia(tree):
    return sysfs_fixture.build_hgx_h100_host(tree)[0]


def _qat(tree):
    return families.build_4xxx_host(tree).pfs[0]


def _nic(tree):
    return families.build_e810_x710_host(tree).pfs[0]


def _ascend(tree):
    return families.build_atlas_800_host(tree).pfs[0]


def _nvme(tree):
    return families.build_inspur_nvme_host(tree).pfs[0]


def _intel_fpga(tree):
    return sysfs_fpga.build_pac_n3000_host(tree)[0]


def _xilinx(tree):
    return sysfs_fpga.build_alveo_host(tree)['u250'][0]


def _inspur_fpga(tree):
    card = sysfs_fpga.build_inspur_host(tree)
    # The fixture's card has no host driver; a passed-through one has.
    health_files.bind(tree, card, 'vfio-pci')
    return card


def _pci(tree):
    return families.build_inspur_nvme_host(tree).pfs[0]


DRIVERS = {
    'nvidia_gpu': (nvidia_gpu.NvidiaGpuDriver, _nvidia),
    'intel_qat': (intel_qat.IntelQatDriver, _qat),
    'intel_nic': (intel_nic.IntelNicDriver, _nic),
    'huawei_ascend': (huawei_ascend.HuaweiAscendDriver, _ascend),
    'inspur_nvme_ssd': (inspur_nvme_ssd.InspurNvmeSsdDriver, _nvme),
    'intel_fpga': (intel_fpga.IntelFpgaDriver, _intel_fpga),
    'xilinx_fpga': (xilinx_fpga.XilinxFpgaDriver, _xilinx),
    'inspur_fpga': (inspur_fpga.InspurFpgaDriver, _inspur_fpga),
    'pci': (pci.PciDriver, _pci),
}


@pytest.fixture(params=sorted(DRIVERS))
def probed(request, conf, sysfs_tree):
    """(driver, device, address) of each real driver on a healthy host."""
    conf.set_override('passthrough_whitelist',
                      ['{"vendor_id": "1bd4", "product_id": "0021"}'],
                      group='pci')
    driver_class, build = DRIVERS[request.param]
    address = build(sysfs_tree)
    for function in sysfs_tree.root.glob('bus/pci/devices/*'):
        health_files.make_healthy(sysfs_tree, function.name)
    driver = driver_class(conf)
    return driver, _device(driver, address), address


def test_a_healthy_device_is_healthy(probed):
    driver, device, _address = probed
    assert driver.health(device) == HEALTHY
    # A second probe (with its baselines taken) says the same.
    assert driver.health(device) == HEALTHY


def test_a_fatal_aer_error_fails_the_device(probed, sysfs_tree):
    driver, device, address = probed
    driver.health(device)
    health_files.write_aer(sysfs_tree, address, fatal={'SDES': 1})

    assert driver.health(device) == discovery.Health(
        discovery.FAILED, '%s has had 1 fatal PCIe errors (aer_dev_fatal: '
                          'SDES 1)' % address)


def test_fatal_errors_from_before_the_agent_started_still_fail(
        conf, sysfs_tree):
    address = _nvme(sysfs_tree)
    health_files.make_healthy(sysfs_tree, address)
    health_files.write_aer(sysfs_tree, address, fatal={'DLP': 2})
    driver = inspur_nvme_ssd.InspurNvmeSsdDriver(conf)

    health = driver.health(_device(driver, address))

    assert health.state == discovery.FAILED


def test_rising_non_fatal_errors_degrade_until_they_stop(probed,
                                                         sysfs_tree):
    driver, device, address = probed
    # Counted since boot: what was there at the first probe is the baseline.
    health_files.write_aer(sysfs_tree, address, nonfatal={'UnsupReq': 3})
    assert driver.health(device) == HEALTHY

    health_files.write_aer(sysfs_tree, address,
                           nonfatal={'UnsupReq': 3, 'CmpltTO': 2})
    assert driver.health(device) == discovery.Health(
        discovery.DEGRADED,
        '%s reported 2 new non-fatal PCIe errors (3 -> 5; aer_dev_nonfatal: '
        'CmpltTO 2, UnsupReq 3)' % address)

    assert driver.health(device) == HEALTHY


def test_a_link_trained_below_its_width_degrades(probed, sysfs_tree):
    driver, device, address = probed
    health_files.write_link(sysfs_tree, address, width=8)

    assert driver.health(device) == discovery.Health(
        discovery.DEGRADED, '%s PCIe link trained at 16 GT/s x8, below its '
                            'capability of 16 GT/s x16' % address)


def test_a_link_trained_below_its_speed_degrades(conf, sysfs_tree):
    address = _nvme(sysfs_tree)
    health_files.make_healthy(sysfs_tree, address)
    health_files.write_link(sysfs_tree, address, speed=health_files.GEN1,
                            width=4, max_width=4)
    driver = inspur_nvme_ssd.InspurNvmeSsdDriver(conf)

    assert driver.health(_device(driver, address)) == discovery.Health(
        discovery.DEGRADED, '%s PCIe link trained at 2.5 GT/s x4, below its '
                            'capability of 16 GT/s x4' % address)


def test_an_idle_nvidia_gpu_at_a_low_link_speed_is_healthy(conf,
                                                           sysfs_tree):
    # NVIDIA GPUs drop their link to 2.5 GT/s when idle: not a fault.
    address = _nvidia(sysfs_tree)
    health_files.make_healthy(sysfs_tree, address)
    health_files.write_link(sysfs_tree, address, speed=health_files.GEN1)
    driver = nvidia_gpu.NvidiaGpuDriver(conf)

    assert driver.health(_device(driver, address)) == HEALTHY


def test_a_card_in_a_slower_slot_is_not_degraded(conf, sysfs_tree):
    address = _nvme(sysfs_tree)
    health_files.make_healthy(sysfs_tree, address)
    # A Gen4 x4 drive in a Gen3 x4 slot trains at Gen3: all it can do.
    health_files.write_link(sysfs_tree, address, speed=health_files.GEN3,
                            width=4, max_width=4)
    health_files.place_behind_port(sysfs_tree, address, '0000:5d:00.0',
                                   health_files.GEN3, 4)
    driver = inspur_nvme_ssd.InspurNvmeSsdDriver(conf)

    assert driver.health(_device(driver, address)) == HEALTHY


def test_an_unknown_link_speed_is_not_compared(conf, sysfs_tree):
    address = _nvme(sysfs_tree)
    health_files.make_healthy(sysfs_tree, address)
    health_files.write_link(sysfs_tree, address, speed='Unknown', width=0)
    driver = inspur_nvme_ssd.InspurNvmeSsdDriver(conf)

    assert driver.health(_device(driver, address)) == HEALTHY


def test_an_unbound_device_fails(probed, sysfs_tree):
    driver, device, address = probed
    driver.health(device)
    health_files.unbind(sysfs_tree, address)

    health = driver.health(device)

    assert health.state == discovery.FAILED
    assert health.reason.startswith(address)
    assert 'driver' in health.reason


@pytest.mark.parametrize('name,address_of,expected', [
    ('nvidia_gpu', _nvidia, 'nvidia or vfio-pci'),
    ('intel_qat', _qat, '4xxx or vfio-pci'),
    ('intel_nic', _nic, 'i40e or vfio-pci'),
    ('inspur_nvme_ssd', _nvme, 'nvme or vfio-pci'),
    ('intel_fpga', _intel_fpga, 'dfl-pci or intel-fpga-pci or vfio-pci'),
    ('xilinx_fpga', _xilinx, 'vfio-pci or xclmgmt'),
])
def test_a_device_taken_by_another_driver_fails(conf, sysfs_tree, name,
                                                address_of, expected):
    driver_class, _build = DRIVERS[name]
    address = address_of(sysfs_tree)
    driver = driver_class(conf)
    device = _device(driver, address)
    health_files.bind(sysfs_tree, address, 'pci-stub')

    assert driver.health(device) == discovery.Health(
        discovery.FAILED, '%s is bound to pci-stub, not %s'
                          % (address, expected))

    # Handed to a guest: bound to vfio-pci, which is fine.
    health_files.bind(sysfs_tree, address, 'vfio-pci')
    assert driver.health(device) == HEALTHY


def test_a_family_without_a_known_driver_name_fails_only_when_unbound(
        conf, sysfs_tree):
    address = _ascend(sysfs_tree)
    driver = huawei_ascend.HuaweiAscendDriver(conf)
    device = _device(driver, address)
    assert driver.health(device) == HEALTHY

    health_files.bind(sysfs_tree, address, 'vfio-pci')
    assert driver.health(device) == HEALTHY

    health_files.unbind(sysfs_tree, address)
    assert driver.health(device) == discovery.Health(
        discovery.FAILED, '%s is no longer bound to a driver (it was bound '
                          'to vfio-pci)' % address)


def test_a_device_gone_from_sysfs_fails(probed, sysfs_tree):
    driver, device, address = probed
    health_files.remove(sysfs_tree, address)

    assert driver.health(device) == discovery.Health(
        discovery.FAILED, 'PCI function %s is gone' % address)


def test_a_vf_gone_or_failing_fails_its_pf(conf, sysfs_tree):
    host = families.build_4xxx_host(sysfs_tree)
    pf = host.pfs[0]
    first_vf, second_vf = host.vfs[pf][:2]
    driver = intel_qat.IntelQatDriver(conf)
    device = _device(driver, pf)
    health_files.write_aer(sysfs_tree, second_vf, fatal={'MalfTLP': 1})
    health_files.remove(sysfs_tree, first_vf)

    assert driver.health(device) == discovery.Health(
        discovery.FAILED,
        'PCI function %s is gone; %s has had 1 fatal PCIe errors '
        '(aer_dev_fatal: MalfTLP 1)' % (first_vf, second_vf))


@pytest.mark.parametrize('name,content,reason', [
    ('aer_dev_fatal', 'garbage\n',
     "is malformed (line 'garbage'): expected \"<error> <count>\""),
    ('aer_dev_nonfatal', 'DLP 0\n', 'has no TOTAL_ERR_NONFATAL line'),
    ('max_link_speed', 'fast\n', "is malformed ('fast'): expected a speed "
                                 'such as "16.0 GT/s PCIe"'),
    ('current_link_width', 'x16\n', "is malformed ('x16'): expected a "
                                    'lane count'),
])
def test_a_malformed_attribute_fails_with_the_file_named(
        conf, sysfs_tree, name, content, reason):
    address = _nvme(sysfs_tree)
    health_files.make_healthy(sysfs_tree, address)
    (sysfs_tree.device_dir(address) / name).write_text(content)
    driver = inspur_nvme_ssd.InspurNvmeSsdDriver(conf)

    health = driver.health(_device(driver, address))

    assert health == discovery.Health(
        discovery.FAILED, '%s %s' % (sysfs_tree.root / 'bus' / 'pci' /
                                     'devices' / address / name, reason))


def test_an_unreadable_attribute_fails_instead_of_raising(conf, sysfs_tree):
    address = _nvme(sysfs_tree)
    health_files.make_healthy(sysfs_tree, address)
    fatal = sysfs_tree.device_dir(address) / 'aer_dev_fatal'
    fatal.unlink()
    fatal.mkdir()  # reading it raises IsADirectoryError
    driver = inspur_nvme_ssd.InspurNvmeSsdDriver(conf)

    health = driver.health(_device(driver, address))

    assert health.state == discovery.FAILED
    assert health.reason.startswith(
        '%s cannot be read: ' % (sysfs_tree.root / 'bus' / 'pci' /
                                 'devices' / address / 'aer_dev_fatal'))


def test_a_device_without_aer_or_link_attributes_is_healthy(conf,
                                                            sysfs_tree):
    # Not every function shows them (no AER capability, old kernels).
    address = _nvme(sysfs_tree)
    driver = inspur_nvme_ssd.InspurNvmeSsdDriver(conf)

    assert driver.health(_device(driver, address)) == HEALTHY


# Family signals ------------------------------------------------------------

def test_a_qat_device_that_is_down_fails(conf, sysfs_tree):
    pf = _qat(sysfs_tree)
    driver = intel_qat.IntelQatDriver(conf)
    device = _device(driver, pf)
    families.write_qat_status(sysfs_tree, pf, state='down')

    assert driver.health(device) == discovery.Health(
        discovery.FAILED, 'QAT %s is down (qat/state)' % pf)


def test_a_qat_state_that_cannot_be_read_fails(conf, sysfs_tree):
    pf = _qat(sysfs_tree)
    driver = intel_qat.IntelQatDriver(conf)
    device = _device(driver, pf)
    families.write_qat_status(sysfs_tree, pf, state='resetting')

    health = driver.health(device)

    assert health.state == discovery.FAILED
    assert "qat/state is malformed ('resetting')" in health.reason


@pytest.mark.parametrize('register,state', [
    ('catfatal_errors', discovery.FAILED),
    ('nonfatal_errors', discovery.DEGRADED),
    ('fme_errors', discovery.DEGRADED),
    ('pcie0_errors', discovery.DEGRADED),
    ('pcie1_errors', discovery.DEGRADED),
])
def test_an_fme_error_register_names_itself(conf, sysfs_tree, register,
                                            state):
    pf = _intel_fpga(sysfs_tree)
    health_files.write_fme_errors(sysfs_tree, pf)
    driver = intel_fpga.IntelFpgaDriver(conf)
    device = _device(driver, pf)
    assert driver.health(device) == HEALTHY

    health_files.write_fme_errors(sysfs_tree, pf, **{register: 0x40})

    assert driver.health(device) == discovery.Health(
        state, 'FPGA management engine of %s reports errors in %s: 0x40'
               % (pf, register))


def test_an_injected_fme_error_is_not_a_fault(conf, sysfs_tree):
    pf = _intel_fpga(sysfs_tree)
    health_files.write_fme_errors(sysfs_tree, pf, inject_errors=0x1)
    driver = intel_fpga.IntelFpgaDriver(conf)

    assert driver.health(_device(driver, pf)) == HEALTHY


def test_the_fme_errors_of_opaes_driver_are_read(conf, sysfs_tree):
    pf, _vfs = sysfs_fpga.build_pac_arria10_host(sysfs_tree)
    [fme] = sysfs_tree.device_dir(pf).glob(
        'fpga/intel-fpga-dev.*/intel-fpga-fme.*')
    (fme / 'errors' / 'fme-errors').mkdir(parents=True)
    (fme / 'errors' / 'fme-errors' / 'errors').write_text('0x2\n')
    (fme / 'errors' / 'catfatal_errors').write_text('0x0\n')
    driver = intel_fpga.IntelFpgaDriver(conf)

    assert driver.health(_device(driver, pf)) == discovery.Health(
        discovery.DEGRADED, 'FPGA management engine of %s reports errors '
                            'in fme-errors/errors: 0x2' % pf)


def test_a_malformed_fme_register_fails(conf, sysfs_tree):
    pf = _intel_fpga(sysfs_tree)
    health_files.write_fme_errors(sysfs_tree, pf)
    [errors] = sysfs_tree.device_dir(pf).glob(
        'fpga_region/region*/dfl-fme.*/errors')
    (errors / 'pcie0_errors').write_text('none\n')
    driver = intel_fpga.IntelFpgaDriver(conf)

    health = driver.health(_device(driver, pf))

    assert health.state == discovery.FAILED
    assert health.reason.endswith(
        "pcie0_errors is malformed ('none'): expected 0x and hex digits")


def test_every_problem_is_in_the_reason_worst_first(conf, sysfs_tree):
    pf = _intel_fpga(sysfs_tree)
    health_files.make_healthy(sysfs_tree, pf)
    health_files.write_fme_errors(sysfs_tree, pf, pcie0_errors=0x1)
    health_files.write_link(sysfs_tree, pf, width=4)
    health_files.bind(sysfs_tree, pf, 'pci-stub')
    driver = intel_fpga.IntelFpgaDriver(conf)

    health = driver.health(_device(driver, pf))

    assert health.state == discovery.FAILED
    assert health.reason.split('; ') == [
        '%s is bound to pci-stub, not dfl-pci or intel-fpga-pci or '
        'vfio-pci' % pf,
        '%s PCIe link trained at 16 GT/s x4, below its capability of '
        '16 GT/s x16' % pf,
        'FPGA management engine of %s reports errors in pcie0_errors: 0x1'
        % pf]


def test_a_function_bound_after_the_first_probe_fails_when_it_loses_it(
        conf, sysfs_tree):
    card = sysfs_fpga.build_inspur_host(sysfs_tree)
    driver = inspur_fpga.InspurFpgaDriver(conf)
    device = _device(driver, card)
    # Unbound (no host driver) at first: nothing to lose yet.
    assert driver.health(device) == HEALTHY

    health_files.bind(sysfs_tree, card, 'vfio-pci')
    assert driver.health(device) == HEALTHY
    health_files.unbind(sysfs_tree, card)

    assert driver.health(device) == discovery.Health(
        discovery.FAILED, '%s is no longer bound to a driver (it was bound '
                          'to vfio-pci)' % card)
