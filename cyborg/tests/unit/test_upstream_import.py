"""How upstream rows that our schema refuses, or would mislead us, map.

Upstream's schema lets in data ours does not (no unique attribute keys, a
handle claimed by two ARQs, device types no driver reports); each case
maps to something our schema holds and our services handle, or is refused
with nothing written. Rows are made by hand here: the real upstream data
path is covered in the functional import tests.
"""

import datetime
import json

import pytest
import sqlalchemy as sa

from cyborg.conductor import placement_sync
from cyborg.db import device_profiles as profile_db
from cyborg.db import models
from cyborg import upstream_import

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5)
T0 = datetime.datetime(2025, 6, 1, 12, 0, 0)
HANDLE_INFO = '{"bus": "0c", "device": "00", "domain": "0000", "function": "%d"}'


def _uuid(n):
    return '00000000-0000-0000-0000-%012d' % n


def _upstream(arqs=(), handles=None, attributes=None, device_type='FPGA',
              profile_json=None, rp_uuid='rp'):
    """A one-host upstream: a device, a deployable with 2 handles, a profile."""
    name = 'cmp1_0000:0c:00.0'
    handles = handles if handles is not None else [
        {'id': n, 'uuid': _uuid(100 + n), 'deployable_id': 1, 'cpid_id': 1,
         'in_use': False, 'attach_type': 'PCI', 'attach_info': HANDLE_INFO % n,
         'created_at': T0, 'updated_at': None} for n in (1, 2)]
    attributes = attributes if attributes is not None else [
        ('rc', 'FPGA'), ('trait0', 'CUSTOM_FPGA_INTEL')]
    return upstream_import.UpstreamData(tables={
        'devices': [{'id': 1, 'uuid': _uuid(1), 'type': device_type,
                     'vendor': '0x8086', 'model': '0x09c4',
                     'std_board_info': '{}', 'vendor_board_info': '',
                     'hostname': 'cmp1', 'status': 'enabled',
                     'created_at': T0, 'updated_at': None}],
        'controlpath_ids': [{'id': 1, 'uuid': _uuid(2), 'device_id': 1,
                             'cpid_type': 'PCI', 'cpid_info': HANDLE_INFO % 0,
                             'created_at': T0, 'updated_at': None}],
        'device_profiles': [{'id': 1, 'uuid': _uuid(3), 'name': 'dp',
                             'profile_json': profile_json or json.dumps(
                                 {'groups': [{'resources:FPGA': '1'}]}),
                             'description': None, 'created_at': T0,
                             'updated_at': None}],
        'deployables': [{'id': 1, 'uuid': _uuid(4), 'parent_id': None,
                         'root_id': None, 'name': name, 'num_accelerators': 2,
                         'device_id': 1,
                         'rp_uuid': (placement_sync.provider_uuid(name)
                                     if rp_uuid == 'rp' else rp_uuid),
                         'driver_name': 'intel', 'bitstream_id': None,
                         'created_at': T0, 'updated_at': None}],
        'attributes': [{'id': n, 'uuid': _uuid(200 + n), 'deployable_id': 1,
                        'key': key, 'value': value, 'created_at': T0,
                        'updated_at': None}
                       for n, (key, value) in enumerate(attributes, 1)],
        'attach_handles': handles,
        'extended_accelerator_requests': [
            dict({'id': n, 'uuid': _uuid(300 + n), 'project_id': 'p1',
                  'state': 'Initial', 'substate': 'Initial',
                  'device_profile_id': 1, 'device_profile_group_id': 0,
                  'hostname': None, 'device_rp_uuid': None,
                  'instance_uuid': None, 'attach_handle_id': None,
                  'deployable_id': None, 'created_at': T0,
                  'updated_at': None}, **arq)
            for n, arq in enumerate(arqs, 1)],
    })


def _bound(handle, instance):
    return {'state': 'Bound', 'hostname': 'cmp1', 'device_rp_uuid': 'x',
            'instance_uuid': instance, 'attach_handle_id': handle,
            'deployable_id': 1}


def _by_id(rows):
    return {row['id']: row for row in rows}


def test_a_handle_two_arqs_hold_stays_with_the_older():
    # Upstream's claim is not atomic: two instances got function 1.
    mapped = upstream_import.map_upstream(
        _upstream(arqs=[_bound(1, _uuid(901)), _bound(1, _uuid(902))]), NOW)
    older, newer = mapped.tables['extended_accelerator_requests']
    assert (older['state'], older['attach_handle_id']) == ('Bound', 1)
    assert (newer['state'], newer['attach_handle_id']) == ('BindFailed', None)
    assert _uuid(101) in newer['bind_error']
    assert older['uuid'] in newer['bind_error']
    assert _by_id(mapped.tables['attach_handles'])[1]['in_use'] is True


def test_in_use_follows_the_arqs_holding_handles():
    # Upstream left handle 2 marked in use (a lost unbind) and handle 1
    # free although an ARQ holds it.
    handles = [{'id': n, 'uuid': _uuid(100 + n), 'deployable_id': 1,
                'cpid_id': 1, 'in_use': in_use, 'attach_type': 'PCI',
                'attach_info': HANDLE_INFO % n, 'created_at': T0,
                'updated_at': None} for n, in_use in ((1, False), (2, True))]
    mapped = upstream_import.map_upstream(
        _upstream(arqs=[_bound(1, _uuid(901))], handles=handles), NOW)
    assert {h['id']: h['in_use'] for h in mapped.tables['attach_handles']} == {
        1: True, 2: False}
    assert any('imported free' in note for note in mapped.notes)


def test_rc_and_trait_attributes_become_columns_and_rows():
    mapped = upstream_import.map_upstream(_upstream(attributes=[
        ('traits1', 'CUSTOM_FAKE_DEVICE'), ('rc', 'FPGA'),
        ('trait0', 'CUSTOM_FPGA_INTEL'), ('RC', 'GPU'), ('trait0', 'X'),
        ('firmware', '1.2')]), NOW)
    [deployable] = mapped.tables['deployables']
    assert deployable['resource_class'] == 'FPGA'
    assert mapped.traits == {1: ['CUSTOM_FAKE_DEVICE', 'CUSTOM_FPGA_INTEL']}
    # Keys repeated on one deployable (case-blind, as MariaDB compares
    # them): the first row is kept.
    assert [(a['key'], a['value']) for a in mapped.tables['attributes']] == [
        ('traits1', 'CUSTOM_FAKE_DEVICE'), ('rc', 'FPGA'),
        ('trait0', 'CUSTOM_FPGA_INTEL'), ('firmware', '1.2')]
    assert any('2 attribute row(s)' in note for note in mapped.notes)


def test_a_deployable_without_provider_uuid_gets_its_name_derived_one():
    mapped = upstream_import.map_upstream(_upstream(rp_uuid=None), NOW)
    [deployable] = mapped.tables['deployables']
    assert deployable['rp_uuid'] == placement_sync.provider_uuid(deployable['name'])


@pytest.mark.parametrize('upstream_type, ours', [('NVME', 'SSD'),
                                                 ('MDEV', 'GPU'),
                                                 ('QAT', 'QAT')])
def test_device_types_we_lack_are_mapped(upstream_type, ours):
    mapped = upstream_import.map_upstream(
        _upstream(device_type=upstream_type), NOW)
    assert mapped.tables['devices'][0]['type'] == ours
    assert ours in models.DEVICE_TYPES


def test_bind_bookkeeping_of_imported_arqs():
    mapped = upstream_import.map_upstream(_upstream(arqs=[
        {}, _bound(1, _uuid(901)),
        dict(_bound(None, _uuid(902)), state='BindStarted')]), NOW)
    initial, bound, started = mapped.tables['extended_accelerator_requests']
    assert (initial['bind_seq'], initial['bind_started_at']) == (0, None)
    assert (bound['bind_seq'], bound['bind_started_at']) == (1, None)
    # Recovery counts its deadline from here.
    assert (started['bind_seq'], started['bind_started_at']) == (1, NOW)


def test_a_profile_without_groups_is_refused():
    with pytest.raises(upstream_import.ImportRefused, match='profile dp'):
        upstream_import.map_upstream(
            _upstream(profile_json='{"groups": "resources:FPGA"}'), NOW)


def _count(engine, model):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(
            model.__table__)).scalar()


def test_rows_claims_traits_and_hosts_written(db, admin_context):
    data = _upstream(arqs=[_bound(1, _uuid(901)), {},
                           dict(_bound(None, _uuid(902)),
                                state='BindStarted')])
    summary = upstream_import.import_upstream(admin_context, data,
                                          {'cmp1': _uuid(999)}, now=NOW)
    assert summary.counts['extended_accelerator_requests'] == (3, 0)
    with db.connect() as conn:
        assert conn.execute(sa.select(models.InstanceClaim.instance_uuid)
                            .order_by(models.InstanceClaim.instance_uuid)
                            ).scalars().all() == [_uuid(901), _uuid(902)]
        host = conn.execute(sa.select(models.AgentHost)).one()
        assert (host.hostname, host.rpc_host, host.compute_rp_uuid,
                host.report_fingerprint) == ('cmp1', 'cmp1', _uuid(999), None)
        assert conn.execute(sa.select(models.DeployableTrait.trait)
                            ).scalars().all() == ['CUSTOM_FPGA_INTEL']
        # Ids kept: what the API shows as device_id is upstream's.
        assert conn.execute(sa.select(models.Deployable.device_id)
                            ).scalar() == 1
    # A later run: nothing copied, and nothing reported as changed (the
    # restarted bind's start time is ours, not upstream's).
    again = upstream_import.import_upstream(
        admin_context, data, {'cmp1': _uuid(999)},
        now=NOW + datetime.timedelta(hours=1))
    assert again.inserted == 0 and again.notes == []


def test_a_profile_name_taken_here_refuses_everything(db, admin_context):
    profile_db.create_device_profile(admin_context, 'dp',
                                     [{'resources:FPGA': '1'}])
    with pytest.raises(upstream_import.ImportRefused,
                       match="device_profiles named 'dp' exists here"):
        upstream_import.import_upstream(admin_context, _upstream(), now=NOW)
    # One transaction: the devices before the profiles were not kept.
    assert _count(db, models.Device) == 0
    assert _count(db, models.DeviceProfile) == 1


def test_an_id_held_by_another_row_refuses(db, admin_context):
    data = _upstream()
    upstream_import.import_upstream(admin_context, data, now=NOW)
    data.tables['devices'][0]['uuid'] = _uuid(77)
    with pytest.raises(upstream_import.ImportRefused,
                       match='devices row 1 .* is held here by another row'):
        upstream_import.import_upstream(admin_context, data, now=NOW)


def test_rows_changed_upstream_since_are_reported_not_updated(db,
                                                              admin_context):
    data = _upstream()
    upstream_import.import_upstream(admin_context, data, now=NOW)
    data.tables['device_profiles'][0]['description'] = 'edited upstream'
    summary = upstream_import.import_upstream(admin_context, data, now=NOW)
    assert summary.inserted == 0
    assert summary.notes == [
        "1 device_profiles row(s) imported before differ from upstream's now "
        "(changed on either side since); they were left as they are here"]
    with db.connect() as conn:
        assert conn.execute(sa.select(models.DeviceProfile.description)
                            ).scalar() is None
