"""The NVIDIA driver on real-looking hosts: whole GPUs, vGPUs, SR-IOV VFs,
configuration mistakes, and mdev create/remove."""

import logging
import uuid

import pytest

from cyborg.accelerator.drivers import nvidia_gpu
from cyborg.conf import gpu_devices
from cyborg.tests.fixtures import sysfs as sysfs_fixture


def _configure_vgpus(conf, **addresses_by_type):
    """enabled_vgpu_types and [vgpu_<type>] device_addresses at once.

    Keyword names use '_' for '-': nvidia_222=['0000:3b:00.0'].
    """
    types = {name.replace('_', '-'): value
             for name, value in addresses_by_type.items()}
    conf.set_override('enabled_vgpu_types', list(types), group='gpu_devices')
    gpu_devices.register_vgpu_type_groups(conf)
    for vgpu_type, addresses in types.items():
        conf.set_override('device_addresses', addresses,
                          group='vgpu_%s' % vgpu_type)


def _summary(devices):
    """{address: (resource class, accelerators, traits)}."""
    return {
        device.deployables[0].name.split('_', 1)[1]: (
            device.deployables[0].resource_class,
            device.deployables[0].num_accelerators,
            device.deployables[0].traits)
        for device in devices}


def test_every_gpu_of_an_hgx_host_is_a_pgpu(conf, sysfs_tree):
    gpus = sysfs_fixture.build_hgx_h100_host(sysfs_tree)

    devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    # NVSwitches (NVIDIA, class 0680), switch ports and NICs are no GPUs.
    assert _summary(devices) == {
        gpu: ('PGPU', 1, ['OWNER_CYBORG', 'CUSTOM_NVIDIA_2330'])
        for gpu in gpus}
    device = devices[0]
    assert (device.type, device.vendor, device.model) == ('GPU', '10de',
                                                          '2330')
    deployable = device.deployables[0]
    assert deployable.name == 'test-host_0000:18:00.0'
    assert deployable.driver_name == 'NVIDIA'
    assert [h.to_dict() for h in deployable.attach_handles] == [
        {'attach_type': 'PCI',
         'info': {'domain': '0000', 'bus': '18', 'device': '00',
                  'function': '0'}}]


def test_a_listed_t4_is_offered_as_vgpus(conf, sysfs_tree):
    t4, other_t4 = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    _configure_vgpus(conf, nvidia_222=[t4])

    devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    # The Matrox VGA of the BMC is not NVIDIA's; the unlisted T4 is whole.
    assert _summary(devices) == {
        t4: ('VGPU', 16, ['OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8_T4_1B']),
        other_t4: ('PGPU', 1, ['OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8']),
    }
    handles = devices[0].deployables[0].attach_handles
    assert handles[0].to_dict() == {
        'attach_type': 'MDEV',
        'info': {'domain': '0000', 'bus': '3b', 'device': '00',
                 'function': '0', 'asked_type': 'nvidia-222',
                 'vgpu_mark': 'nvidia-222_0'}}
    assert [h.info['vgpu_mark'] for h in handles] == [
        'nvidia-222_%d' % n for n in range(16)]


def test_mdevs_already_made_still_count(conf, sysfs_tree):
    t4, _ = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    for _ in range(3):
        sysfs_tree.add_mdev(t4, 'nvidia-227', str(uuid.uuid4()))
    _configure_vgpus(conf, nvidia_227=[t4])

    [device, _] = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    # 1 still available + 3 made: the deployable does not shrink as
    # instances take vGPUs.
    assert device.deployables[0].num_accelerators == 4
    assert device.deployables[0].traits[1] == 'CUSTOM_NVIDIA_1EB8_T4_4A'


def test_each_gpu_its_own_type(conf, sysfs_tree):
    t4, other_t4 = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    _configure_vgpus(conf, nvidia_222=[t4.upper()], nvidia_230=[other_t4])

    devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    assert _summary(devices) == {
        t4: ('VGPU', 16, ['OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8_T4_1B']),
        other_t4: ('VGPU', 16, ['OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8_T4_1Q']),
    }


def test_a_type_the_gpu_does_not_offer_leaves_only_it_out(conf, sysfs_tree,
                                                          caplog):
    t4, other_t4 = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    _configure_vgpus(conf, nvidia_999=[t4])

    with caplog.at_level(logging.WARNING):
        devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    assert list(_summary(devices)) == [other_t4]
    assert caplog.messages == [
        'Not offering GPU %s: [vgpu_nvidia-999] device_addresses lists it '
        'for vGPU type nvidia-999, which it does not offer (it offers: %s)'
        % (t4, ', '.join('nvidia-%d' % n for n in range(222, 231)))]


def test_an_address_under_two_types_leaves_only_it_out(conf, sysfs_tree,
                                                       caplog):
    t4, other_t4 = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    _configure_vgpus(conf, nvidia_222=[t4], nvidia_223=[t4])

    with caplog.at_level(logging.WARNING):
        devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    assert list(_summary(devices)) == [other_t4]
    assert caplog.messages == [
        'Not offering GPU %s: it is listed in [vgpu_nvidia-222] '
        'device_addresses and [vgpu_nvidia-223] device_addresses; a GPU '
        'offers one vGPU type' % t4]


@pytest.mark.parametrize('bad_address', ['3b:00.0', '0000:3b:00', 'gpu0'])
def test_a_malformed_address_is_logged_and_the_rest_applies(
        conf, sysfs_tree, caplog, bad_address):
    t4, other_t4 = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    _configure_vgpus(conf, nvidia_222=[bad_address, other_t4])

    with caplog.at_level(logging.WARNING):
        devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    assert _summary(devices) == {
        t4: ('PGPU', 1, ['OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8']),
        other_t4: ('VGPU', 16, ['OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8_T4_1B']),
    }
    assert caplog.messages == [
        "Ignoring %r in [vgpu_nvidia-222] device_addresses: not a PCI "
        "address (dddd:bb:ss.f)" % bad_address]


def test_an_address_that_is_no_gpu_here_is_logged(conf, sysfs_tree, caplog):
    t4, other_t4 = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    # The Matrox VGA: a display controller, but not NVIDIA's.
    _configure_vgpus(conf, nvidia_222=['0000:03:00.0', t4])

    with caplog.at_level(logging.WARNING):
        devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    assert len(devices) == 2
    assert caplog.messages == [
        '[vgpu_nvidia-222] device_addresses lists 0000:03:00.0, which is not '
        'an NVIDIA GPU on this host']


def test_an_empty_type_is_logged(conf, sysfs_tree, caplog):
    sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    _configure_vgpus(conf, nvidia_222=[])

    with caplog.at_level(logging.WARNING):
        devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    assert [s[0] for s in _summary(devices).values()] == ['PGPU', 'PGPU']
    assert caplog.messages == ['[vgpu_nvidia-222] device_addresses is empty: '
                               'no GPU offers vGPU type nvidia-222']


def test_a_malformed_mdev_type_file_leaves_only_its_gpu_out(conf, sysfs_tree,
                                                           caplog):
    t4, other_t4 = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    sysfs_tree.mdev_type_file(t4, 'nvidia-222',
                              'available_instances').write_text('-1\n')
    _configure_vgpus(conf, nvidia_222=[t4, other_t4])

    with caplog.at_level(logging.WARNING):
        devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    assert list(_summary(devices)) == [other_t4]
    [message] = caplog.messages
    assert message.startswith('Not offering GPU %s for [vgpu_nvidia-222] '
                              'device_addresses: ' % t4)
    assert message.endswith("%s/mdev_supported_types/nvidia-222/"
                            "available_instances is malformed ('-1'): "
                            "expected a count" % t4)


def test_a_malformed_sysfs_file_leaves_only_its_gpu_out(conf, sysfs_tree,
                                                        caplog):
    gpus = sysfs_fixture.build_hgx_h100_host(sysfs_tree)
    sysfs_tree.write(gpus[5], 'vendor', 'NVIDIA\n')

    with caplog.at_level(logging.WARNING):
        devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    assert list(_summary(devices)) == gpus[:5] + gpus[6:]
    [message] = caplog.messages
    assert message.startswith('Skipping PCI device %s: ' % gpus[5])
    assert '/vendor is malformed' in message


class TestSriovGpu:
    """VFs of a GPU look like GPUs by their ids; they are never whole GPUs."""

    @pytest.fixture
    def a100(self, sysfs_tree):
        return sysfs_fixture.build_gpu_sriov_host(sysfs_tree)

    @pytest.mark.parametrize('filter_vfs', [False, True])
    def test_without_vgpus_only_the_pf_is_a_gpu(self, conf, a100,
                                                filter_vfs):
        pf, _vfs = a100
        conf.set_override('filter_sriov_vfs', filter_vfs,
                          group='gpu_devices')

        devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

        assert _summary(devices) == {
            pf: ('PGPU', 1, ['OWNER_CYBORG', 'CUSTOM_NVIDIA_20B5'])}

    def test_vfs_listed_under_a_type_carry_vgpus(self, conf, a100, caplog):
        pf, vfs = a100
        _configure_vgpus(conf, nvidia_699=vfs)

        with caplog.at_level(logging.INFO):
            devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

        # The PF is not offered whole while its VFs serve vGPUs.
        assert _summary(devices) == {
            vf: ('VGPU', 1, ['OWNER_CYBORG', 'CUSTOM_NVIDIA_20B5_A100D_20C'])
            for vf in vfs}
        assert ('Not offering GPU %s whole: its SR-IOV VFs carry vGPUs'
                % pf) in caplog.messages

    def test_filter_sriov_vfs_wins_over_listed_vfs(self, conf, a100, caplog):
        pf, vfs = a100
        conf.set_override('filter_sriov_vfs', True, group='gpu_devices')
        _configure_vgpus(conf, nvidia_699=vfs[:1])

        with caplog.at_level(logging.WARNING):
            devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

        assert list(_summary(devices)) == [pf]
        assert caplog.messages == [
            'Not offering GPU %s: it is an SR-IOV VF and [gpu_devices] '
            'filter_sriov_vfs skips VFs, but it is listed in '
            '[vgpu_nvidia-699] device_addresses' % vfs[0]]


def test_creates_and_removes_mdevs_in_sysfs(conf, sysfs_tree):
    t4, _ = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    driver = nvidia_gpu.NvidiaGpuDriver(conf)
    mdev_uuid = str(uuid.uuid4())

    driver.create_mdev(t4, 'nvidia-222', mdev_uuid)
    assert sysfs_tree.mdev_type_file(t4, 'nvidia-222',
                                     'create').read_text() == mdev_uuid

    sysfs_tree.add_mdev(t4, 'nvidia-222', mdev_uuid)
    driver.remove_mdev(t4, 'nvidia-222', mdev_uuid)
    assert (sysfs_tree.device_dir(t4) / mdev_uuid /
            'remove').read_text() == '1'


def test_a_gpu_busy_with_another_type_is_not_offered(conf, sysfs_tree,
                                                     caplog):
    t4, other_t4 = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    # A T4 runs one type at a time: with a 1Q vGPU made, no 1B is left.
    sysfs_tree.add_mdev(t4, 'nvidia-230', str(uuid.uuid4()))
    sysfs_tree.mdev_type_file(t4, 'nvidia-222',
                              'available_instances').write_text('0\n')
    _configure_vgpus(conf, nvidia_222=[t4, other_t4])

    with caplog.at_level(logging.WARNING):
        devices = nvidia_gpu.NvidiaGpuDriver(conf).discover()

    assert list(_summary(devices)) == [other_t4]
    assert caplog.messages == [
        'Not offering GPU %s for [vgpu_nvidia-222] device_addresses: it has '
        'no room for vGPU type nvidia-222 (is another type in use on it?)'
        % t4]
