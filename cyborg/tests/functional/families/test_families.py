"""Each device family from a fake host to the real Placement and a bind.

Per family: the agent's report reaches Placement through the conductor
with the right resource class, inventory and traits, and an ARQ asking for
that resource class is bound to an attach handle of the right type.
"""

import json
import shutil

from cyborg.accelerator import discovery
from cyborg.conf import nic_devices
from cyborg import context as cyborg_context
from cyborg.db import arq_states
from cyborg.db import models
from cyborg.tests.fixtures import placement as placement_fixture
from cyborg.tests.fixtures import sysfs_families as families
from cyborg.tests.functional.conductor import builders

inv = placement_fixture.expected_inventory
OWNER = 'OWNER_CYBORG'


def _provider(host, address, rc, total, traits, reserved=0):
    return {'uuid': host.provider_uuid(address), 'parent': host.name,
            'inventories': inv(rc, total, reserved),
            'traits': sorted(traits + [OWNER])}


def _addresses(host, rows):
    return sorted(discovery.pci_address_str(host.handle_of(row)[1])
                  for row in rows.values())


def test_qat_c62x_host(family_host, sysfs_tree):
    qat = families.build_c62x_dual_socket_host(sysfs_tree)
    family_host.start_agent(['intel_qat_driver'])

    assert family_host.tree() == {
        family_host.deployable_name(pf): _provider(
            family_host, pf, 'CUSTOM_QAT', 16,
            ['CUSTOM_QAT_C62X', 'CUSTOM_QAT_GEN2'])
        for pf in qat.pfs}

    # Two accelerators of one group: two different VFs of the one PF
    # Nova's allocation landed on.
    pf = qat.pfs[1]
    rows = family_host.bind(pf, [{'resources:CUSTOM_QAT': '2',
                                  'trait:CUSTOM_QAT_C62X': 'required'}],
                            count=2)
    assert {row['state'] for row in rows.values()} == {'Bound'}
    assert {family_host.handle_of(row)[0] for row in rows.values()} == {
        'PCI'}
    assert _addresses(family_host, rows) == qat.vfs[pf][:2]


def test_qat_4xxx_host_services_select_the_provider(family_host,
                                                    sysfs_tree):
    qat = families.build_4xxx_host(sysfs_tree)
    crypto, compression, whole, _down = qat.pfs
    family_host.start_agent(['intel_qat_driver'])

    gen4 = ['CUSTOM_QAT_4XXX', 'CUSTOM_QAT_GEN4']
    assert family_host.tree() == {
        family_host.deployable_name(crypto): _provider(
            family_host, crypto, 'CUSTOM_QAT', 16,
            gen4 + ['CUSTOM_QAT_ASYM', 'CUSTOM_QAT_SYM']),
        family_host.deployable_name(compression): _provider(
            family_host, compression, 'CUSTOM_QAT', 16,
            gen4 + ['CUSTOM_QAT_DC']),
        family_host.deployable_name(whole): _provider(
            family_host, whole, 'CUSTOM_QAT', 1,
            gen4 + ['CUSTOM_QAT_DC', 'CUSTOM_QAT_SYM']),
    }
    # What Nova's scheduler asks Placement for a compression accelerator.
    candidates = family_host.placement._request(
        'GET', '/allocation_candidates', microversion='1.31',
        params={'resources': 'CUSTOM_QAT:1', 'required': 'CUSTOM_QAT_DC',
                'in_tree': family_host.cn_uuid}).json()
    assert sorted(rp for request in candidates['allocation_requests']
                  for rp in request['allocations']) == sorted(
        family_host.provider_uuid(pf) for pf in (compression, whole))

    rows = family_host.bind(compression, [{'resources:CUSTOM_QAT': '1',
                                           'trait:CUSTOM_QAT_DC':
                                               'required'}])
    [row] = rows.values()
    attach_type, info, _uuid, _missing = family_host.handle_of(row)
    assert (row['state'], attach_type) == ('Bound', 'PCI')
    assert discovery.pci_address_str(info) == qat.vfs[compression][0]
    # The PF offered whole hands out the PF itself.
    [row] = family_host.bind(whole, [{'resources:CUSTOM_QAT': '1'}]).values()
    assert discovery.pci_address_str(family_host.handle_of(row)[1]) == whole


def test_intel_nic_host(family_host, sysfs_tree):
    nics = families.build_e810_x710_host(sysfs_tree)
    conf = family_host.conf
    conf.set_override('enabled_nic_types', ['x710_static'],
                      group='nic_devices')
    nic_devices.register_nic_type_groups(conf)
    conf.set_override('physical_device_mappings',
                      ['physnet1:ens801f0|ens1f0'], group='x710_static')
    conf.set_override('ddp_package_mappings',
                      ['ICE COMMS Package:ens801f0'], group='x710_static')
    family_host.start_agent(['intel_nic_driver'])

    e810, x710 = '0000:b1:00.0', '0000:3b:00.0'
    tree = family_host.tree()
    assert sorted(tree) == sorted(family_host.deployable_name(pf)
                                  for pf in nics.pfs)
    assert tree[family_host.deployable_name(e810)] == _provider(
        family_host, e810, 'CUSTOM_NIC', 4,
        ['CUSTOM_NIC_E810', 'CUSTOM_VF', 'CUSTOM_PHYSNET1',
         'CUSTOM_NIC_DDP_ICE_COMMS_PACKAGE'])
    assert tree[family_host.deployable_name(x710)] == _provider(
        family_host, x710, 'CUSTOM_NIC', 2,
        ['CUSTOM_NIC_X710', 'CUSTOM_VF', 'CUSTOM_PHYSNET1'])
    assert tree[family_host.deployable_name('0000:b1:00.1')] == _provider(
        family_host, '0000:b1:00.1', 'CUSTOM_NIC', 1,
        ['CUSTOM_NIC_E810', 'CUSTOM_PF'])

    [row] = family_host.bind(e810, [{'resources:CUSTOM_NIC': '1',
                                     'trait:CUSTOM_PHYSNET1': 'required'}]
                             ).values()
    attach_type, info, _uuid, _missing = family_host.handle_of(row)
    assert (row['state'], attach_type) == ('Bound', 'PCI')
    assert info == dict(discovery.pci_address_dict(nics.vfs[e810][0]),
                        physical_network='physnet1')


def test_huawei_ascend_host(family_host, sysfs_tree):
    npus = families.build_atlas_800_host(sysfs_tree)
    family_host.start_agent(['huawei_ascend_driver'])

    assert family_host.tree() == {
        family_host.deployable_name(npu): _provider(
            family_host, npu, 'CUSTOM_NPU', 1,
            ['CUSTOM_NPU_HUAWEI', 'CUSTOM_NPU_ASCEND_910'])
        for npu in npus.pfs}

    [row] = family_host.bind(npus.pfs[6], [
        {'resources:CUSTOM_NPU': '1',
         'trait:CUSTOM_NPU_ASCEND_910': 'required'}]).values()
    attach_type, info, _uuid, _missing = family_host.handle_of(row)
    assert (row['state'], attach_type) == ('Bound', 'PCI')
    assert discovery.pci_address_str(info) == npus.pfs[6]


def test_inspur_nvme_host(family_host, sysfs_tree):
    ssds = families.build_inspur_nvme_host(sysfs_tree)
    family_host.start_agent(['inspur_nvme_ssd_driver'])

    assert family_host.tree() == {
        family_host.deployable_name(ssd): _provider(
            family_host, ssd, 'CUSTOM_SSD', 1,
            ['CUSTOM_SSD_INSPUR', 'CUSTOM_SSD_PRODUCT_ID_0021'])
        for ssd in ssds.pfs}

    [row] = family_host.bind(ssds.pfs[1], [
        {'resources:CUSTOM_SSD': '1'}]).values()
    attach_type, info, _uuid, _missing = family_host.handle_of(row)
    assert (row['state'], attach_type) == ('Bound', 'PCI')
    assert discovery.pci_address_str(info) == ssds.pfs[1]


def test_mixed_host_with_the_generic_driver_too(family_host, sysfs_tree,
                                                db):
    # Before the merge rule the conductor refused this host's report: the
    # GPU was reported by two drivers at one control path.
    mixed = families.build_mixed_host(sysfs_tree)
    family_host.conf.set_override(
        'passthrough_whitelist',
        ['{"vendor_id": "10de"}', '{"vendor_id": "8086"}',
         '{"vendor_id": "19e5"}', '{"vendor_id": "1bd4"}'], group='pci')
    family_host.start_agent(['pci_driver', 'nvidia_gpu_driver',
                             'intel_qat_driver', 'intel_nic_driver',
                             'huawei_ascend_driver',
                             'inspur_nvme_ssd_driver'])

    tree = family_host.tree()
    assert {name: sorted(provider['inventories'].items())[0][0:2]
            for name, provider in tree.items()} == {
        family_host.deployable_name(mixed.gpu): ('PGPU', inv('PGPU', 1)[
            'PGPU']),
        family_host.deployable_name(mixed.qat): ('CUSTOM_QAT', inv(
            'CUSTOM_QAT', 4)['CUSTOM_QAT']),
        family_host.deployable_name(mixed.nic): ('CUSTOM_NIC', inv(
            'CUSTOM_NIC', 2)['CUSTOM_NIC']),
        family_host.deployable_name(mixed.npu): ('CUSTOM_NPU', inv(
            'CUSTOM_NPU', 1)['CUSTOM_NPU']),
        family_host.deployable_name(mixed.ssd): ('CUSTOM_SSD', inv(
            'CUSTOM_SSD', 1)['CUSTOM_SSD']),
    }
    assert sorted((row.type, row.vendor) for row in builders.rows(
        db, models.Device, hostname=family_host.name)) == [
        ('AICHIP', '19e5'), ('GPU', '10de'), ('NIC', '8086'),
        ('QAT', '8086'), ('SSD', '1bd4')]


def test_generic_driver_devices_carry_their_class_type(family_host,
                                                       sysfs_tree, db):
    families.build_mixed_host(sysfs_tree)
    sysfs_tree.add_pci_device('0000:00:05.0', '1af4', '1043', '078000')
    family_host.conf.set_override(
        'passthrough_whitelist',
        ['{"vendor_id": "19e5"}', '{"vendor_id": "1bd4"}',
         '{"vendor_id": "1af4"}', '{"product_id": "4941"}'], group='pci')
    family_host.start_agent(['pci_driver'])

    assert sorted((row.type, row.model) for row in builders.rows(
        db, models.Device, hostname=family_host.name)) == [
        ('AICHIP', 'd801'), ('PCI', '1043'), ('QAT', '4941'),
        ('QAT', '4941'), ('QAT', '4941'), ('QAT', '4941'), ('SSD', '0021')]
    assert {provider['inventories'].popitem()[0]
            for provider in family_host.tree().values()} == {'CUSTOM_PCI'}


def test_vf_count_lowered_under_a_bound_vf(family_host, sysfs_tree, db):
    qat = families.build_c62x_dual_socket_host(sysfs_tree, vfs_per_pf=4)
    pf = qat.pfs[0]
    family_host.start_agent(['intel_qat_driver'])
    rows = family_host.bind(pf, [{'resources:CUSTOM_QAT': '3'}], count=3)
    held = {discovery.pci_address_str(family_host.handle_of(row)[1]): uuid
            for uuid, row in rows.items()}
    assert sorted(held) == qat.vfs[pf][:3]

    # The operator lowers sriov_numvfs to 2: VF 2 is gone while a guest
    # holds it, VF 3 was free.
    families.set_vf_count(sysfs_tree, pf, '8086', '37c9',
                          families.CLASS_COPROCESSOR, 2, first_offset=8)
    assert family_host.report() == 'full'

    name = family_host.deployable_name(pf)
    assert family_host.tree()[name]['inventories'] == inv('CUSTOM_QAT', 2)
    vf2_arq = held[qat.vfs[pf][2]]
    _type, _info, handle_uuid, missing = family_host.handle_of(rows[vf2_arq])
    assert missing is not None
    # Nothing free is left: the missing VF is not handed out again.
    [row] = family_host.bind(pf, [{'resources:CUSTOM_QAT': '1'}]).values()
    assert row['state'] == 'BindFailed'
    assert 'No free accelerator left' in row['bind_error']

    # Its guest goes away (Nova deletes its ARQs, which frees the handle);
    # the next report drops the handle.
    arq_states.delete(cyborg_context.get_admin_context(), uuids=[vf2_arq])
    assert family_host.report() == 'heartbeat'
    assert family_host.agent.reporter.run(force_full=True) == 'full'
    handles = builders.rows(db, models.AttachHandle)
    assert handle_uuid not in {h.uuid for h in handles}
    assert sorted(discovery.pci_address_str(
        json.loads(h.attach_info)) for h in handles
        if h.deployable_id == builders.deployable_row(db, name).id) == \
        qat.vfs[pf][:2]


def test_a_physnet_change_moves_traits_and_handles(family_host,
                                                   sysfs_tree, db):
    nics = families.build_e810_x710_host(sysfs_tree)
    e810 = '0000:b1:00.0'
    conf = family_host.conf
    conf.set_override('enabled_nic_types', ['x710_static'],
                      group='nic_devices')
    nic_devices.register_nic_type_groups(conf)
    conf.set_override('physical_device_mappings', ['physnet1:ens801f0'],
                      group='x710_static')
    family_host.start_agent(['intel_nic_driver'])
    [row] = family_host.bind(e810, [{'resources:CUSTOM_NIC': '1'}]).values()
    _type, info, handle_uuid, _missing = family_host.handle_of(row)
    assert info['physical_network'] == 'physnet1'

    # The operator moves the port to physnet2 and restarts the agent.
    conf.set_override('physical_device_mappings', ['physnet2:ens801f0'],
                      group='x710_static')
    family_host.start_agent(['intel_nic_driver'])

    name = family_host.deployable_name(e810)
    assert family_host.tree()[name]['traits'] == [
        'CUSTOM_NIC_E810', 'CUSTOM_PHYSNET2', 'CUSTOM_VF', OWNER]
    # The held VF is the same handle, now labelled physnet2; no second
    # handle for it appeared.
    _type, info, same_uuid, missing = family_host.handle_of(
        builders.rows(db, models.ExtendedAcceleratorRequest,
                      uuid=row['uuid'])[0]._mapping)
    assert (same_uuid, missing, info['physical_network']) == (
        handle_uuid, None, 'physnet2')
    dep_id = builders.deployable_row(db, name).id
    handles = builders.rows(db, models.AttachHandle, deployable_id=dep_id)
    assert len(handles) == len(nics.vfs[e810])


def test_an_npu_gone_under_a_bound_arq_stays_reserved(family_host,
                                                      sysfs_tree, db):
    npus = families.build_atlas_800_host(sysfs_tree)
    family_host.start_agent(['huawei_ascend_driver'])
    gone = npus.pfs[2]
    [row] = family_host.bind(gone, [{'resources:CUSTOM_NPU': '1'}]).values()
    assert row['state'] == 'Bound'

    # The chip falls off the bus (a hot-unplug, a dead card).
    (sysfs_tree.root / 'bus' / 'pci' / 'devices' / gone).unlink()
    shutil.rmtree(sysfs_tree.device_dir(gone))
    assert family_host.report() == 'full'

    tree = family_host.tree()
    name = family_host.deployable_name(gone)
    # Kept for its guest, with nothing left to schedule on it.
    assert tree[name]['inventories'] == inv('CUSTOM_NPU', 1, reserved=1)
    assert builders.deployable_row(db, name).missing_since is not None
    assert len(tree) == 8
