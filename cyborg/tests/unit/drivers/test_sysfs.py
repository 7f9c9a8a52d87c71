"""The sysfs scanner: what it reads from real-looking trees, how it copes
with broken files, and mdev create/remove against the tree."""

import logging
import os
import uuid

import pytest

from cyborg.accelerator.drivers import sysfs
from cyborg import exception
from cyborg.tests.fixtures import sysfs as sysfs_fixture

# Fixed, not random: xdist workers must collect the same test ids.
SOME_UUID = '2b8a8e80-7f4c-4a43-9d4e-5b0c3c1f6a11'


def _by_address(tree):
    return {function.address: function
            for function in sysfs.Sysfs(tree.root).pci_functions()}


def test_reads_ids_of_every_function_of_an_hgx_host(sysfs_tree):
    gpus = sysfs_fixture.build_hgx_h100_host(sysfs_tree)

    functions = _by_address(sysfs_tree)

    # 8 GPUs, their 8 switch ports, 4 NVSwitches and 2 NICs.
    assert len(functions) == 22
    assert list(functions) == sorted(functions)
    assert functions[gpus[0]] == sysfs.PciFunction(
        address='0000:18:00.0', vendor_id='10de', product_id='2330',
        class_code='030200', subsystem_vendor_id='10de',
        subsystem_device_id='16c1', physfn=None, virtfns=(), netdevs=())
    assert functions['0000:05:00.0'].class_code == '068000'
    assert functions['0000:c1:00.0'].netdevs == ('eno1',)


def test_reads_sriov_links_and_netdevs(sysfs_tree):
    pf0, pf1, vfs = sysfs_fixture.build_x710_sriov_host(sysfs_tree)

    functions = _by_address(sysfs_tree)

    assert functions[pf0].virtfns == tuple(vfs)
    assert functions[pf0].netdevs == ('ens1f0',)
    assert not functions[pf0].is_virtual_function
    assert functions[pf1].virtfns == ()
    assert [functions[vf].physfn for vf in vfs] == [pf0] * 4
    assert all(functions[vf].is_virtual_function for vf in vfs)
    assert functions[vfs[0]].product_id == '154c'


def test_orders_vfs_by_index_not_by_name(sysfs_tree):
    # virtfn10 sorts before virtfn2 as text; the VF order must not.
    pf = '0000:5e:00.0'
    sysfs_tree.add_pci_device(pf, '8086', '1572', '020000')
    vfs = ['0000:5e:%02x.%d' % (2 + index // 8, index % 8)
           for index in range(12)]
    for index, vf in enumerate(vfs):
        sysfs_tree.add_vf(pf, vf, index, '8086', '154c', '020000')

    assert _by_address(sysfs_tree)[pf].virtfns == tuple(vfs)


@pytest.mark.parametrize('filename,content,problem', [
    ('vendor', '0xZZZZ\n', "is malformed ('0xZZZZ')"),
    ('device', '\n', "is malformed ('')"),
    ('class', '0x0302\n', "is malformed ('0x0302')"),
    ('subsystem_device', 'nvidia\n', "is malformed ('nvidia')"),
])
def test_a_malformed_file_skips_only_its_device(sysfs_tree, caplog,
                                                filename, content, problem):
    gpus = sysfs_fixture.build_hgx_h100_host(sysfs_tree)
    sysfs_tree.write(gpus[3], filename, content)

    with caplog.at_level(logging.WARNING):
        functions = _by_address(sysfs_tree)

    assert gpus[3] not in functions
    assert set(gpus) - {gpus[3]} <= set(functions)
    assert len(functions) == 21
    path = sysfs_tree.root / 'bus/pci/devices' / gpus[3] / filename
    assert [r.getMessage() for r in caplog.records] == [
        'Skipping PCI device %s: %s %s: expected 0x and %d hex digits'
        % (gpus[3], path, problem, 6 if filename == 'class' else 4)]


def test_a_missing_file_skips_only_its_device(sysfs_tree, caplog):
    gpus = sysfs_fixture.build_hgx_h100_host(sysfs_tree)
    os.unlink(sysfs_tree.device_dir(gpus[0]) / 'class')

    with caplog.at_level(logging.WARNING):
        functions = _by_address(sysfs_tree)

    assert gpus[0] not in functions and gpus[1] in functions
    assert caplog.messages == ['Skipping PCI device %s: %s is missing' % (
        gpus[0], sysfs_tree.root / 'bus/pci/devices' / gpus[0] / 'class')]


def test_absent_subsystem_ids_are_none(sysfs_tree):
    sysfs_tree.add_pci_device('0000:00:02.0', '8086', '3e92', '030000')
    os.unlink(sysfs_tree.device_dir('0000:00:02.0') / 'subsystem_vendor')

    function = _by_address(sysfs_tree)['0000:00:02.0']

    assert function.subsystem_vendor_id is None
    assert function.subsystem_device_id == '0000'


def test_an_entry_that_is_no_address_is_skipped(sysfs_tree, caplog):
    sysfs_tree.add_pci_device('0000:00:02.0', '8086', '3e92', '030000')
    (sysfs_tree.root / 'bus/pci/devices/stray').mkdir()

    with caplog.at_level(logging.WARNING):
        functions = _by_address(sysfs_tree)

    assert list(functions) == ['0000:00:02.0']
    assert caplog.messages == ['Skipping %s: not a PCI address'
                               % (sysfs_tree.root / 'bus/pci/devices/stray')]


def test_a_host_without_pci_sysfs_reports_nothing(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert sysfs.Sysfs(tmp_path / 'nothing').pci_functions() == []
    assert 'does not exist' in caplog.messages[0]


def test_reads_mdev_types_and_counts_existing_mdevs(sysfs_tree):
    t4, _ = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    made = [str(uuid.uuid4()), str(uuid.uuid4())]
    for mdev_uuid in made:
        sysfs_tree.add_mdev(t4, 'nvidia-222', mdev_uuid)
    reader = sysfs.Sysfs(sysfs_tree.root)

    mdev_type = reader.read_mdev_type(t4, 'nvidia-222')

    assert reader.mdev_type_ids(t4) == ['nvidia-%d' % n
                                        for n in range(222, 231)]
    assert mdev_type == sysfs.MdevType(
        type_id='nvidia-222', name='GRID T4-1B', available_instances=14,
        existing_mdevs=tuple(sorted(made)))
    assert mdev_type.capacity == 16
    assert reader.read_mdev_type(t4, 'nvidia-999') is None


def test_malformed_mdev_type_file_names_the_file(sysfs_tree):
    t4, _ = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    sysfs_tree.mdev_type_file(t4, 'nvidia-222',
                              'available_instances').write_text('lots\n')

    with pytest.raises(sysfs.MalformedSysfsFile) as caught:
        sysfs.Sysfs(sysfs_tree.root).read_mdev_type(t4, 'nvidia-222')

    assert str(caught.value) == (
        "%s/available_instances is malformed ('lots'): expected a count"
        % (sysfs_tree.root / 'bus/pci/devices' / t4 /
           'mdev_supported_types/nvidia-222'))


class TestMdevs:
    """create/remove write the kernel's files and are idempotent."""

    @pytest.fixture
    def t4(self, sysfs_tree):
        return sysfs_fixture.build_t4_vgpu_host(sysfs_tree)[0]

    def test_create_writes_the_uuid_to_create(self, sysfs_tree, t4):
        mdev_uuid = str(uuid.uuid4())

        sysfs.Sysfs(sysfs_tree.root).create_mdev(t4, 'nvidia-223', mdev_uuid)

        create = sysfs_tree.mdev_type_file(t4, 'nvidia-223', 'create')
        assert create.read_text() == mdev_uuid

    def test_create_of_an_existing_mdev_writes_nothing(self, sysfs_tree, t4):
        mdev_uuid = str(uuid.uuid4())
        sysfs_tree.add_mdev(t4, 'nvidia-223', mdev_uuid)

        sysfs.Sysfs(sysfs_tree.root).create_mdev(t4, 'nvidia-223',
                                                 mdev_uuid.upper())

        assert sysfs_tree.mdev_type_file(t4, 'nvidia-223',
                                         'create').read_text() == ''

    def test_create_of_a_type_not_offered_fails(self, sysfs_tree, t4):
        with pytest.raises(exception.MdevOperationFailed,
                           match='the device offers no such type'):
            sysfs.Sysfs(sysfs_tree.root).create_mdev(t4, 'nvidia-999',
                                                     str(uuid.uuid4()))

    def test_remove_writes_1_to_remove(self, sysfs_tree, t4):
        mdev_uuid = str(uuid.uuid4())
        sysfs_tree.add_mdev(t4, 'nvidia-223', mdev_uuid)

        sysfs.Sysfs(sysfs_tree.root).remove_mdev(t4, 'nvidia-223', mdev_uuid)

        remove = sysfs_tree.device_dir(t4) / mdev_uuid / 'remove'
        assert remove.read_text() == '1'

    def test_remove_of_a_gone_mdev_succeeds(self, sysfs_tree, t4):
        gone = str(uuid.uuid4())

        # A retried unbind: no error, and nothing written on the way.
        sysfs.Sysfs(sysfs_tree.root).remove_mdev(t4, 'nvidia-223', gone)

        assert not (sysfs_tree.device_dir(t4) / gone).exists()

    @pytest.mark.parametrize('address,mdev_type,mdev_uuid', [
        ('0000:3b:00', 'nvidia-222', SOME_UUID),
        ('0000:3b:00.0', '../../../../tmp', SOME_UUID),
        ('0000:3b:00.0', 'nvidia-222\n', SOME_UUID),
        ('0000:3b:00.0', 'nvidia-222', 'not-a-uuid'),
    ])
    def test_refuses_input_that_is_no_valid_path(self, sysfs_tree, t4,
                                                 address, mdev_type,
                                                 mdev_uuid):
        reader = sysfs.Sysfs(sysfs_tree.root)
        for operation in (reader.create_mdev, reader.remove_mdev):
            with pytest.raises(exception.Invalid):
                operation(address, mdev_type, mdev_uuid)
