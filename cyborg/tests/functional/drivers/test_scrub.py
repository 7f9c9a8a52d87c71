"""Each real driver's scrub() on its fake sysfs tree, through the real
privsep daemon and the fake tools: the exact sysfs writes and command
lines, and every way a scrub refuses."""

import os
import uuid

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
from cyborg import exception
from cyborg.privsep import sysfs as privsep_sysfs
from cyborg.tests.fixtures import sysfs as sysfs_fixture
from cyborg.tests.fixtures import sysfs_families as families
from cyborg.tests.fixtures import sysfs_fpga
from cyborg.tests.fixtures import sysfs_health as health_files


def _controlpath(address):
    return discovery.ControlPath('PCI', discovery.pci_address_dict(address))


def _pci_handle(address):
    return {'uuid': str(uuid.uuid4()), 'attach_type': 'PCI',
            'attach_info': discovery.pci_address_dict(address)}


def _reset_file(tree, address):
    """The reset attribute's path as snapshot() names it."""
    return str((tree.device_dir(address) / 'reset').relative_to(tree.root))


# (driver class, build(tree) -> (device address, released function)).
def _nvidia(tree):
    gpu = sysfs_fixture.build_hgx_h100_host(tree)[0]
    return gpu, gpu


def _qat_vf(tree):
    host = families.build_c62x_dual_socket_host(tree, vfs_per_pf=4)
    pf = host.pfs[1]
    return pf, host.vfs[pf][2]


def _nic_vf(tree):
    host = families.build_e810_x710_host(tree)
    pf = host.pfs[2]
    return pf, host.vfs[pf][3]


def _ascend(tree):
    npu = families.build_atlas_800_host(tree).pfs[5]
    return npu, npu


def _nvme(tree):
    ssd = families.build_inspur_nvme_host(tree).pfs[1]
    return ssd, ssd


def _inspur_fpga(tree):
    card = sysfs_fpga.build_inspur_host(tree)
    return card, card


def _intel_fpga_vf(tree):
    pf, vfs = sysfs_fpga.build_pac_n3000_host(tree, vfs=True)
    return pf, vfs[0]


def _xilinx_user_pf(tree):
    mgmt, user = sysfs_fpga.build_alveo_host(tree)['u280']
    return mgmt, user


RESETTING_DRIVERS = {
    'nvidia_gpu': (nvidia_gpu.NvidiaGpuDriver, _nvidia),
    'intel_qat': (intel_qat.IntelQatDriver, _qat_vf),
    'intel_nic': (intel_nic.IntelNicDriver, _nic_vf),
    'huawei_ascend': (huawei_ascend.HuaweiAscendDriver, _ascend),
    'inspur_nvme_ssd': (inspur_nvme_ssd.InspurNvmeSsdDriver, _nvme),
    'inspur_fpga': (inspur_fpga.InspurFpgaDriver, _inspur_fpga),
    'intel_fpga': (intel_fpga.IntelFpgaDriver, _intel_fpga_vf),
    'xilinx_fpga': (xilinx_fpga.XilinxFpgaDriver, _xilinx_user_pf),
    'pci': (pci.PciDriver, _nvme),
}


@pytest.fixture(params=sorted(RESETTING_DRIVERS))
def released(request, conf, sysfs_tree):
    """(driver, controlpath, handle, function) with a reset method on
    every function of the host; FPGA drivers have no scrub_image."""
    driver_class, build = RESETTING_DRIVERS[request.param]
    device_address, function = build(sysfs_tree)
    for path in sysfs_tree.root.glob('bus/pci/devices/*'):
        health_files.add_reset(sysfs_tree, path.name)
    return (driver_class(conf), _controlpath(device_address),
            _pci_handle(function), function)


def test_a_pci_handle_is_reset_through_its_reset_attribute(released,
                                                           sysfs_tree):
    driver, controlpath, handle, function = released
    before = health_files.snapshot(sysfs_tree)

    driver.scrub(controlpath, handle)

    # One write: "1" into the released function's reset, nothing else.
    assert health_files.changed_files(
        before, health_files.snapshot(sysfs_tree)) == {
        _reset_file(sysfs_tree, function): '1'}


def test_a_function_without_a_reset_method_fails_the_scrub(released,
                                                           sysfs_tree):
    driver, controlpath, handle, function = released
    (sysfs_tree.device_dir(function) / 'reset').unlink()
    before = health_files.snapshot(sysfs_tree)

    with pytest.raises(exception.ScrubFailed) as caught:
        driver.scrub(controlpath, handle)

    assert str(caught.value) == (
        'Scrubbing %s failed: the kernel offers no reset for it (no %s)'
        % (function, sysfs_tree.root / 'bus' / 'pci' / 'devices' /
           function / 'reset'))
    assert health_files.snapshot(sysfs_tree) == before


def test_a_function_that_is_gone_fails_the_scrub(released, sysfs_tree):
    driver, controlpath, handle, function = released
    health_files.remove(sysfs_tree, function)

    with pytest.raises(exception.ScrubFailed) as caught:
        driver.scrub(controlpath, handle)

    assert str(caught.value) == (
        'Scrubbing %s failed: the PCI function is gone from %s'
        % (function, sysfs_tree.root / 'bus' / 'pci' / 'devices'))


def test_a_handle_that_names_no_function_fails_the_scrub(conf,
                                                         sysfs_tree):
    driver = inspur_nvme_ssd.InspurNvmeSsdDriver(conf)
    handle = {'uuid': 'h1', 'attach_type': 'PCI',
              'attach_info': {'bus': '5e'}}

    with pytest.raises(exception.ScrubFailed) as caught:
        driver.scrub(_controlpath('0000:5e:00.0'), handle)

    assert str(caught.value) == (
        "Scrubbing h1 failed: its attach info {'bus': '5e'} names no PCI "
        'function')


def test_a_handle_of_another_attach_type_fails_the_scrub(conf, sysfs_tree):
    address = families.build_inspur_nvme_host(sysfs_tree).pfs[0]
    handle = dict(_pci_handle(address), attach_type='TEST_PCI')

    with pytest.raises(exception.ScrubFailed) as caught:
        inspur_nvme_ssd.InspurNvmeSsdDriver(conf).scrub(
            _controlpath(address), handle)

    assert str(caught.value) == (
        'Scrubbing %s failed: cannot scrub a TEST_PCI attach handle'
        % address)


# vGPUs ---------------------------------------------------------------------

def _mdev_handle(address, mdev_uuid):
    return {'uuid': mdev_uuid, 'attach_type': 'MDEV',
            'attach_info': dict(discovery.pci_address_dict(address),
                                asked_type='nvidia-222',
                                vgpu_mark='nvidia-222_0')}


def test_an_mdev_is_created_again_with_its_uuid_and_type(conf, sysfs_tree):
    t4, _other = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    mdev_uuid = str(uuid.uuid4())
    before = health_files.snapshot(sysfs_tree)

    nvidia_gpu.NvidiaGpuDriver(conf).scrub(
        _controlpath(t4), _mdev_handle(t4, mdev_uuid))

    # Removed at unbind already: only the create is written.
    create = sysfs_tree.mdev_type_file(t4, 'nvidia-222', 'create')
    assert health_files.changed_files(
        before, health_files.snapshot(sysfs_tree)) == {
        str(create.relative_to(sysfs_tree.root)): mdev_uuid}


def test_an_existing_mdev_is_removed_first(conf, sysfs_tree):
    t4, _other = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    mdev_uuid = str(uuid.uuid4())
    sysfs_tree.add_mdev(t4, 'nvidia-222', mdev_uuid)
    before = health_files.snapshot(sysfs_tree)

    nvidia_gpu.NvidiaGpuDriver(conf).scrub(
        _controlpath(t4), _mdev_handle(t4, mdev_uuid))

    # The fake kernel does not act on the remove, so the mdev is still
    # there and the create is (rightly) skipped as already done.
    remove = sysfs_tree.device_dir(t4) / mdev_uuid / 'remove'
    assert health_files.changed_files(
        before, health_files.snapshot(sysfs_tree)) == {
        str(remove.relative_to(sysfs_tree.root)): '1'}


def test_an_mdev_of_a_type_the_gpu_lacks_fails_the_scrub(conf, sysfs_tree):
    t4, _other = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    handle = _mdev_handle(t4, str(uuid.uuid4()))
    handle['attach_info']['asked_type'] = 'nvidia-999'

    with pytest.raises(exception.ScrubFailed) as caught:
        nvidia_gpu.NvidiaGpuDriver(conf).scrub(_controlpath(t4), handle)

    assert str(caught.value).startswith(
        'Scrubbing mdev %s on %s failed: ' % (handle['uuid'], t4))
    assert 'the device offers no such type' in str(caught.value)


# FPGAs with a blank image --------------------------------------------------

@pytest.fixture
def blank_image(tmp_path):
    path = tmp_path / 'blank.gbs'
    path.write_bytes(b'AFU:' + b'0' * 32)
    return str(path)


def test_intel_loads_its_blank_image_on_the_pf(conf, sysfs_tree,
                                               fake_fpgaconf, blank_image):
    pf, vfs = sysfs_fpga.build_pac_n3000_host(sysfs_tree, vfs=True)
    health_files.add_reset(sysfs_tree, vfs[0])
    conf.set_override('scrub_image', blank_image, group='intel_fpga')
    before = health_files.snapshot(sysfs_tree)

    intel_fpga.IntelFpgaDriver(conf).scrub(_controlpath(pf),
                                           _pci_handle(vfs[0]))

    assert fake_fpgaconf.calls() == [
        ['--bus', '0xb2', '--device', '0x00', '--function', '0x0',
         blank_image]]
    # Programmed, not reset.
    assert health_files.snapshot(sysfs_tree) == before


def test_xilinx_loads_its_blank_xclbin_through_the_management_pf(
        conf, sysfs_tree, fake_xbmgmt, tmp_path):
    mgmt, user = sysfs_fpga.build_alveo_host(sysfs_tree)['u250']
    xclbin = tmp_path / 'verify.xclbin'
    xclbin.write_bytes(b'xclbin2\0' + b'\0' * 64)
    conf.set_override('scrub_image', str(xclbin), group='xilinx_fpga')

    xilinx_fpga.XilinxFpgaDriver(conf).scrub(_controlpath(mgmt),
                                             _pci_handle(user))

    assert fake_xbmgmt.calls() == [
        ['program', '--device', mgmt, '--user', str(xclbin), '--force']]


def test_a_blank_image_that_fails_to_load_fails_the_scrub(
        conf, sysfs_tree, fake_fpgaconf, blank_image):
    pf, _vfs = sysfs_fpga.build_pac_n3000_host(sysfs_tree)
    health_files.add_reset(sysfs_tree, pf)
    conf.set_override('scrub_image', blank_image, group='intel_fpga')
    fake_fpgaconf.set_mode('fail')
    before = health_files.snapshot(sysfs_tree)

    with pytest.raises(exception.ScrubFailed) as caught:
        intel_fpga.IntelFpgaDriver(conf).scrub(_controlpath(pf),
                                               _pci_handle(pf))

    assert str(caught.value) == (
        'Scrubbing %s failed: loading the blank image %s: Programming %s '
        'failed: fpgaconf (%s) exited with status 2: Error: the card '
        'refused the image' % (pf, blank_image, pf, fake_fpgaconf.path))
    # No fallback to a reset: the operator asked for the image.
    assert health_files.snapshot(sysfs_tree) == before


def test_a_missing_blank_image_fails_the_scrub(conf, sysfs_tree,
                                               fake_fpgaconf, tmp_path):
    pf, _vfs = sysfs_fpga.build_pac_n3000_host(sysfs_tree)
    missing = str(tmp_path / 'nowhere.gbs')
    conf.set_override('scrub_image', missing, group='intel_fpga')

    with pytest.raises(exception.ScrubFailed) as caught:
        intel_fpga.IntelFpgaDriver(conf).scrub(_controlpath(pf),
                                               _pci_handle(pf))

    assert 'loading the blank image %s' % missing in str(caught.value)
    assert fake_fpgaconf.calls() == []


# The privileged entry point ------------------------------------------------

@pytest.mark.parametrize('relative', [
    'bus/pci/devices/0000:01:00.0/remove',
    'bus/pci/devices/0000:01:00.0/../0000:02:00.0/reset',
    'bus/pci/reset',
    'class/net/eth0/reset',
])
def test_the_daemon_writes_nothing_but_a_functions_reset(sysfs_tree,
                                                         relative):
    path = os.path.join(str(sysfs_tree.root), relative)
    before = health_files.snapshot(sysfs_tree)

    with pytest.raises(ValueError):
        privsep_sysfs.write_pci_reset(path)

    assert health_files.snapshot(sysfs_tree) == before
