"""Applying reports to the DB as a diff, on SQLite, MariaDB and PostgreSQL."""

import json

import pytest
import sqlalchemy as sa

from cyborg.accelerator import discovery
from cyborg.db import agent_hosts
from cyborg.conductor import placement_sync
from cyborg.conductor import reports
from cyborg.db import deployables
from cyborg.db import devices as devices_db
from cyborg.db import host_reports
from cyborg.db import models
from cyborg import exception
from cyborg.tests.functional.conductor import builders

HOST = 'host-a'
CN = '11111111-2222-3333-4444-555555555555'


def apply(ctx, devices, host=HOST, fingerprint=None):
    # As the conductor applies a report: validated, provider uuids named.
    usable = reports.validate_report(host, devices)
    provider_uuids = {dep.name: placement_sync.provider_uuid(dep.name)
                      for device in usable for dep in device.deployables
                      if dep.resource_class}
    return host_reports.apply_report(
        ctx, host, host + '-rpc', CN, usable,
        fingerprint or discovery.fingerprint(devices), provider_uuids)


def test_first_report_creates_every_row(any_db, admin_context):
    device = builders.pci_device(HOST, '0000:3b:00.0', num=2,
                                 traits=('CUSTOM_A', 'CUSTOM_B'),
                                 attributes={'foo': 'bar'})
    outcome = apply(admin_context, [device], fingerprint='fp1')

    name = HOST + '_0000:3b:00.0'
    assert outcome.created == [name]
    dev = builders.rows(any_db, models.Device)
    assert [(d.hostname, d.type, d.status, d.missing_since)
            for d in dev] == [(HOST, 'FPGA', 'enabled', None)]
    cpid = builders.rows(any_db, models.ControlpathID)[0]
    assert json.loads(cpid.cpid_info) == {'domain': '0000', 'bus': '3b',
                                          'device': '00', 'function': '0'}
    dep = builders.deployable_row(any_db, name)
    assert (dep.num_accelerators, dep.resource_class, dep.rp_uuid) == (
        2, 'FPGA', placement_sync.provider_uuid(name))
    assert sorted(t.trait for t in builders.rows(
        any_db, models.DeployableTrait)) == ['CUSTOM_A', 'CUSTOM_B']
    assert sorted((a.key, a.value) for a in builders.rows(
        any_db, models.Attribute)) == [
        ('foo', 'bar'), ('rc', 'FPGA'), ('trait0', 'CUSTOM_A'),
        ('trait1', 'CUSTOM_B')]
    handles = builders.rows(any_db, models.AttachHandle)
    assert len(handles) == 2 and not any(h.in_use for h in handles)
    assert all(h.cpid_id == cpid.id for h in handles)
    host = agent_hosts.get_host(admin_context, HOST)
    assert (host['rpc_host'], host['compute_rp_uuid'],
            host['report_fingerprint']) == (HOST + '-rpc', CN, 'fp1')
    assert host['last_seen_at'] is not None


def test_identical_report_changes_nothing(any_db, admin_context):
    devices = [builders.pci_device(HOST, '0000:3b:00.0', num=3)]
    apply(admin_context, devices)
    before = builders.deployable_row(any_db, HOST + '_0000:3b:00.0')

    outcome = apply(admin_context, devices)

    assert outcome.summary() == {'created': 0, 'updated': 0, 'deleted': 0,
                                 'missing': 0}
    after = builders.deployable_row(any_db, HOST + '_0000:3b:00.0')
    assert (after.id, after.uuid, after.updated_at) == (
        before.id, before.uuid, before.updated_at)


def test_changes_are_updates_in_place(any_db, admin_context):
    name = HOST + '_0000:3b:00.0'
    apply(admin_context, [builders.pci_device(
        HOST, '0000:3b:00.0', num=2, traits=('CUSTOM_A', 'CUSTOM_B'),
        attributes={'keep': '1', 'change': 'old', 'drop': 'x'})])
    before = builders.deployable_row(any_db, name)
    kept_handle = [h for h in builders.rows(any_db, models.AttachHandle)
                   if json.loads(h.attach_info)['function'] == '0'][0]

    changed = builders.pci_device(
        HOST, '0000:3b:00.0', num=3, rc='CUSTOM_ACCEL',
        traits=('CUSTOM_B', 'CUSTOM_C'),
        attributes={'keep': '1', 'change': 'new', 'added': 'y'})
    changed.deployables[0].attach_handles = [
        discovery.AttachHandle('PCI', h.info)
        for h in changed.deployables[0].attach_handles]
    outcome = apply(admin_context, [changed])

    assert outcome.updated == [name] and not outcome.created
    after = builders.deployable_row(any_db, name)
    assert after.id == before.id and after.uuid == before.uuid
    assert (after.num_accelerators, after.resource_class) == (
        3, 'CUSTOM_ACCEL')
    assert sorted(t.trait for t in builders.rows(
        any_db, models.DeployableTrait)) == ['CUSTOM_B', 'CUSTOM_C']
    assert {a.key: a.value for a in builders.rows(
        any_db, models.Attribute)} == {'keep': '1', 'change': 'new',
                                       'added': 'y', 'rc': 'CUSTOM_ACCEL',
                                       'trait0': 'CUSTOM_B',
                                       'trait1': 'CUSTOM_C'}
    handles = builders.rows(any_db, models.AttachHandle)
    assert len(handles) == 3 and {h.attach_type for h in handles} == {'PCI'}
    # The same handle is updated, not replaced: its uuid survives.
    assert kept_handle.uuid in {h.uuid for h in handles}


def test_removed_device_is_deleted_with_all_its_rows(any_db, admin_context):
    keep = builders.pci_device(HOST, '0000:3b:00.0')
    gone = builders.pci_device(HOST, '0000:5e:00.0', num=2,
                               attributes={'a': 'b'})
    apply(admin_context, [keep, gone])

    outcome = apply(admin_context, [keep])

    name = HOST + '_0000:5e:00.0'
    assert outcome.deleted == [name]
    assert outcome.deleted_providers == [placement_sync.provider_uuid(name)]
    assert builders.table_count(any_db, models.Device) == 1
    assert builders.table_count(any_db, models.ControlpathID) == 1
    assert builders.table_count(any_db, models.Deployable) == 1
    assert builders.table_count(any_db, models.AttachHandle) == 1
    # What is left is the kept deployable's rc and trait0.
    assert builders.table_count(any_db, models.Attribute) == 2
    assert builders.table_count(any_db, models.DeployableTrait) == 1


@pytest.mark.parametrize('hold', ['deployable', 'handle'])
def test_held_deployable_goes_missing_then_deleted(any_db, admin_context,
                                                   hold):
    # A device yanked while an instance uses it keeps its rows (and its
    # provider) until the ARQ is gone; only then is it deleted.
    name = HOST + '_0000:5e:00.0'
    keep = builders.pci_device(HOST, '0000:3b:00.0')
    apply(admin_context, [keep, builders.pci_device(HOST, '0000:5e:00.0')])
    dep = builders.deployable_row(any_db, name)
    handle = builders.rows(any_db, models.AttachHandle, deployable_id=dep.id)[0]
    arq = builders.add_arq(
        any_db, deployable_id=dep.id if hold == 'deployable' else None,
        attach_handle_id=handle.id if hold == 'handle' else None)

    outcome = apply(admin_context, [keep])

    assert outcome.missing == [name] and not outcome.deleted
    assert outcome.deleted_providers == []
    dep = builders.deployable_row(any_db, name)
    assert dep.missing_since is not None
    device = builders.rows(any_db, models.Device, id=dep.device_id)[0]
    assert device.missing_since is not None
    assert builders.table_count(any_db, models.AttachHandle) == 2

    # Still held: the next report keeps it (and its first missing time).
    apply(admin_context, [keep])
    assert builders.deployable_row(any_db, name).missing_since == \
        dep.missing_since

    builders.delete_arq(any_db, arq)
    outcome = apply(admin_context, [keep])
    assert outcome.deleted == [name]
    assert builders.deployable_row(any_db, name) is None
    assert builders.table_count(any_db, models.Device) == 1


def test_missing_deployable_that_comes_back_is_cleared(any_db, admin_context):
    name = HOST + '_0000:5e:00.0'
    back = builders.pci_device(HOST, '0000:5e:00.0')
    apply(admin_context, [back])
    dep = builders.deployable_row(any_db, name)
    builders.add_arq(any_db, deployable_id=dep.id)
    apply(admin_context, [])
    assert builders.deployable_row(any_db, name).missing_since is not None

    outcome = apply(admin_context, [back])

    assert outcome.updated == [name]
    dep = builders.deployable_row(any_db, name)
    assert dep.missing_since is None
    assert builders.rows(any_db, models.Device)[0].missing_since is None


def test_held_handle_of_present_deployable_is_kept(any_db, admin_context):
    device = builders.pci_device(HOST, '0000:3b:00.0', num=2)
    apply(admin_context, [device])
    handles = builders.rows(any_db, models.AttachHandle)
    claimed = [h for h in handles
               if json.loads(h.attach_info)['function'] == '1'][0]
    with any_db.begin() as conn:
        table = models.AttachHandle.__table__
        conn.execute(sa.update(table).where(table.c.id == claimed.id)
                     .values(in_use=True))

    shrunk = builders.pci_device(HOST, '0000:3b:00.0', num=1)
    apply(admin_context, [shrunk])

    remaining = {h.id: h for h in builders.rows(any_db, models.AttachHandle)}
    assert claimed.id in remaining and len(remaining) == 2
    assert builders.deployable_row(
        any_db, HOST + '_0000:3b:00.0').num_accelerators == 1
    # Kept for its holder, marked so that no bind claims it again.
    assert remaining[claimed.id].missing_since is not None
    assert [h.missing_since for h in remaining.values()
            if h.id != claimed.id] == [None]


def test_missing_handle_is_deleted_once_released_or_cleared_if_back(
        any_db, admin_context):
    two, one = (builders.pci_device(HOST, '0000:3b:00.0', num=n)
                for n in (2, 1))
    apply(admin_context, [two])
    vf1 = [h for h in builders.rows(any_db, models.AttachHandle)
           if json.loads(h.attach_info)['function'] == '1'][0]
    arq = builders.add_arq(any_db, attach_handle_id=vf1.id)
    apply(admin_context, [one])
    missing_since = builders.rows(any_db, models.AttachHandle,
                                  id=vf1.id)[0].missing_since
    assert missing_since is not None

    # Still held and still gone: kept, first missing time unchanged.
    apply(admin_context, [one], fingerprint='again')
    assert builders.rows(any_db, models.AttachHandle,
                         id=vf1.id)[0].missing_since == missing_since

    # Back in the report: the same row, usable again.
    outcome = apply(admin_context, [two])
    assert outcome.updated == [HOST + '_0000:3b:00.0']
    assert builders.rows(any_db, models.AttachHandle,
                         id=vf1.id)[0].missing_since is None

    # Gone again, then released: the next report deletes it.
    apply(admin_context, [one])
    builders.delete_arq(any_db, arq)
    apply(admin_context, [one], fingerprint='released')
    assert builders.rows(any_db, models.AttachHandle, id=vf1.id) == []
    assert builders.table_count(any_db, models.AttachHandle) == 1


def _nic_device(physnets, vf_indexes=None):
    """A PF deployable with one VF handle per physnet label given."""
    vf_indexes = vf_indexes or list(range(len(physnets)))
    handles = [discovery.AttachHandle(
        'PCI', dict(discovery.pci_address_dict('0000:3b:02.%d' % index),
                    **({'physical_network': physnet} if physnet else {})))
        for index, physnet in zip(vf_indexes, physnets, strict=True)]
    return builders.pci_device(HOST, '0000:3b:00.0', num=len(physnets),
                               handles=handles, device_type='NIC',
                               rc='CUSTOM_NIC')


def test_a_changed_label_updates_the_handle_in_place(any_db, admin_context):
    # A physnet is how a VF is used, not which VF it is: changing the
    # mapping must not make a second handle for a VF a guest holds.
    apply(admin_context, [_nic_device(['physnet1', 'physnet1'])])
    before = {h.uuid: h for h in builders.rows(any_db, models.AttachHandle)}
    held = sorted(before.values(), key=lambda h: h.id)[0]
    builders.add_arq(any_db, attach_handle_id=held.id)

    outcome = apply(admin_context, [_nic_device(['physnet2', 'physnet2'])])

    after = {h.uuid: h for h in builders.rows(any_db, models.AttachHandle)}
    assert set(after) == set(before)
    assert outcome.updated == [HOST + '_0000:3b:00.0']
    assert {json.loads(h.attach_info)['physical_network']
            for h in after.values()} == {'physnet2'}
    assert all(h.missing_since is None for h in after.values())

    # Unmapped: the label goes, the handles stay.
    apply(admin_context, [_nic_device([None, None])])
    assert {h.uuid: 'physical_network' in json.loads(h.attach_info)
            for h in builders.rows(any_db, models.AttachHandle)} == {
        uuid: False for uuid in before}


def test_deployable_moving_to_another_device(any_db, admin_context):
    apply(admin_context, [builders.pci_device(HOST, '0000:3b:00.0',
                                              name='host-a_card')])
    old = builders.deployable_row(any_db, 'host-a_card')

    outcome = apply(admin_context, [builders.pci_device(
        HOST, '0000:af:00.0', name='host-a_card')])

    new = builders.deployable_row(any_db, 'host-a_card')
    assert outcome.updated == ['host-a_card'] and new.id == old.id
    assert new.device_id != old.device_id
    assert builders.table_count(any_db, models.Device) == 1
    cpid = builders.rows(any_db, models.ControlpathID)[0]
    assert {h.cpid_id for h in builders.rows(any_db, models.AttachHandle)} \
        == {cpid.id}


def test_stub_devices_are_ignored(any_db, admin_context):
    apply(admin_context, [builders.pci_device(HOST, '0000:3b:00.0',
                                              stub=True, device_type='BAD')])
    assert builders.table_count(any_db, models.Device) == 0


def _bad_reports():
    dup = [builders.pci_device(HOST, '0000:3b:00.0', name='dup'),
           builders.pci_device(HOST, '0000:5e:00.0', name='dup')]
    negative = builders.pci_device(HOST, '0000:3b:00.0')
    negative.deployables[0].num_accelerators = -1
    bad_attach = builders.pci_device(HOST, '0000:3b:00.0')
    bad_attach.deployables[0].attach_handles[0].attach_type = 'USB'
    bad_rc = builders.pci_device(HOST, '0000:3b:00.0', rc='lower case')
    return {
        'duplicate names': dup,
        'unknown device type': [builders.pci_device(
            HOST, '0000:3b:00.0', device_type='TPU')],
        'unknown attach type': [bad_attach],
        'negative count': [negative],
        'bad resource class': [bad_rc],
        'same function twice, labelled apart': [
            _nic_device(['physnet1', 'physnet2'], vf_indexes=[0, 0])],
        'same control path twice': [
            builders.pci_device(HOST, '0000:3b:00.0', name='x'),
            builders.pci_device(HOST, '0000:3b:00.0', name='y')],
    }


@pytest.mark.parametrize('case', sorted(_bad_reports()))
def test_bad_report_is_rejected_with_nothing_written(any_db, admin_context,
                                                     case):
    good = [builders.pci_device(HOST, '0000:d8:00.0')]
    apply(admin_context, good, fingerprint='good')

    with pytest.raises(exception.InvalidReport):
        apply(admin_context, good + _bad_reports()[case], fingerprint='bad')

    assert builders.table_count(any_db, models.Device) == 1
    assert builders.table_count(any_db, models.Deployable) == 1
    assert agent_hosts.get_host(admin_context,
                                 HOST)['report_fingerprint'] == 'good'


def test_name_owned_by_another_host_is_rejected(any_db, admin_context):
    apply(admin_context, [builders.pci_device('host-b', '0000:3b:00.0',
                                               name='shared')],
          host='host-b')

    with pytest.raises(exception.InvalidReport, match='host-b'):
        apply(admin_context, [builders.pci_device(HOST, '0000:3b:00.0',
                                                  name='shared')])

    assert builders.table_count(any_db, models.Device, hostname=HOST) == 0
    assert agent_hosts.get_host(admin_context, HOST) is None


def test_statement_count_does_not_grow_with_the_host(any_db, admin_context):
    # The diff loads and writes per table, never per row: a host with 31
    # devices costs as many statements as a host with 2 (each report adds
    # one device, removes one and changes the others).
    def count_statements(host, size):
        statements = []

        def record(conn, cursor, statement, *args):
            statements.append(statement)
        sa.event.listen(any_db, 'before_cursor_execute', record)
        try:
            first = [builders.pci_device(host, '0000:%02x:00.0' % i, num=4,
                                         attributes={'k': 'v'})
                     for i in range(size + 1)]
            apply(admin_context, first, host=host)
            changed = [builders.pci_device(host, '0000:%02x:00.0' % i,
                                           num=3, traits=('CUSTOM_Z',),
                                           attributes={'k': 'w'})
                       for i in range(1, size + 2)]
            apply(admin_context, changed, host=host)
        finally:
            sa.event.remove(any_db, 'before_cursor_execute', record)
        return len(statements)

    assert count_statements('small', 1) == count_statements('large', 30)


def test_heartbeat_and_forgotten_fingerprint(any_db, admin_context):
    assert agent_hosts.touch_host(admin_context, HOST, 'fp') is False
    apply(admin_context, [], fingerprint='fp')
    assert agent_hosts.touch_host(admin_context, HOST, 'fp') is True
    assert agent_hosts.touch_host(admin_context, HOST, 'other') is False

    assert not agent_hosts.forget_fingerprint(admin_context, HOST, 'other')
    assert agent_hosts.forget_fingerprint(admin_context, HOST, 'fp')
    assert agent_hosts.touch_host(admin_context, HOST, 'fp') is False


def test_digest_is_compare_and_swap(any_db, admin_context):
    apply(admin_context, [builders.pci_device(HOST, '0000:3b:00.0')])
    state, = deployables.list_provider_states(admin_context, HOST)
    assert state.placement_digest is None

    assert deployables.set_placement_digest(admin_context,
                                             state.deployable_id, None, 'd1')
    assert not deployables.set_placement_digest(
        admin_context, state.deployable_id, None, 'd2')
    state, = deployables.list_provider_states(admin_context, HOST)
    assert state.placement_digest == 'd1'
    assert state.traits == ('CUSTOM_FAKE',)
    assert (state.device_status, state.missing) == ('enabled', False)


def test_set_device_status(any_db, admin_context):
    apply(admin_context, [builders.pci_device(HOST, '0000:3b:00.0')])
    device = builders.rows(any_db, models.Device)[0]

    result = devices_db.set_status(admin_context, device.uuid,
                                            'maintaining')

    assert result['hostname'] == HOST and result['status'] == 'maintaining'
    assert builders.rows(any_db, models.Device)[0].status == 'maintaining'
    with pytest.raises(exception.DeviceNotFound):
        devices_db.set_status(admin_context, 'nope', 'enabled')
    with pytest.raises(exception.Invalid):
        devices_db.set_status(admin_context, device.uuid, 'broken')


def test_outcome_names_the_devices_that_came_and_went(any_db, admin_context):
    # What device.create.end / device.delete.end are made of: a device
    # kept as missing for its ARQ is not gone yet.
    keep = builders.pci_device(HOST, '0000:3b:00.0')
    held = builders.pci_device(HOST, '0000:5e:00.0', num=2)
    outcome = apply(admin_context, [keep, held])
    created = {d['uuid']: d for d in outcome.devices_created}
    assert {d.uuid for d in builders.rows(any_db, models.Device)} == set(
        created)
    name = HOST + '_0000:5e:00.0'
    dep = builders.deployable_row(any_db, name)
    device = created[builders.rows(any_db, models.Device,
                                   id=dep.device_id)[0].uuid]
    assert (device['hostname'], device['type'], device['status']) == (
        HOST, 'FPGA', 'enabled')
    assert [(d['uuid'], d['name'], d['rp_uuid'], d['num_accelerators'])
            for d in device['deployables']] == [
        (dep.uuid, name, placement_sync.provider_uuid(name), 2)]
    assert outcome.summary() == {'created': 2, 'updated': 0, 'deleted': 0,
                                 'missing': 0}

    arq = builders.add_arq(any_db, deployable_id=dep.id)
    outcome = apply(admin_context, [keep])
    assert (outcome.devices_created, outcome.devices_deleted) == ([], [])

    builders.delete_arq(any_db, arq)
    outcome = apply(admin_context, [keep])
    [gone] = outcome.devices_deleted
    assert gone['uuid'] == device['uuid']
    assert [d['uuid'] for d in gone['deployables']] == [dep.uuid]
    assert outcome.devices_created == []
