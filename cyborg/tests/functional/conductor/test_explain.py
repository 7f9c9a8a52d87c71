"""The explain summaries, against the real Placement and a real database.

Hosts are reported as agents report them (``reports.apply_report``, which
also writes their providers into Placement); then the conductor's
Explainer answers for request groups. Each test uses traits of its own:
the Placement is shared by every test of the process.
"""

import uuid

import pytest
import sqlalchemy as sa

from cyborg.accelerator import discovery
from cyborg.clients import placement as placement_client
from cyborg.conductor import explain
from cyborg.conductor import placement_sync
from cyborg.conductor import reports
from cyborg.db import devices
from cyborg.db import models
from cyborg.tests.fixtures import placement as placement_fixture
from cyborg.tests.functional.conductor import builders


class Cloud:
    """A conductor's Placement client, sync and explainer; hosts on it."""

    def __init__(self, conf, db):
        self.db = db
        self.client = placement_fixture.make_client(conf)
        self.sync = placement_sync.PlacementSync(conf, self.client)
        self.explainer = explain.Explainer(self.client)

    def host(self, ctx, devices_of):
        """A new host reporting devices_of(hostname) -> [Device]."""
        cn_uuid, name = placement_fixture.create_compute_node(self.client)
        found = devices_of(name)
        reports.apply_report(ctx, self.sync, self.client, name, name,
                             cn_uuid, discovery.report_to_wire(found),
                             discovery.fingerprint(found))
        return name

    def explain(self, ctx, *groups):
        return self.explainer.explain_groups(ctx, list(groups))

    def deployable(self, name):
        return builders.deployable_row(self.db, name)


@pytest.fixture
def cloud(db, placement_conf):
    return Cloud(placement_conf, db)


def _trait():
    return 'CUSTOM_EXPLAIN_%s' % uuid.uuid4().hex[:12].upper()


def _fpga(host, address, num=2, traits=()):
    return builders.pci_device(host, address, num=num, traits=traits)


def _hold(cloud, name, count):
    """``count`` ARQs holding accelerators of deployable ``name``."""
    row = cloud.deployable(name)
    for _ in range(count):
        builders.add_arq(cloud.db, deployable_id=row.id)


def test_schedulable_lists_the_provider_and_placement_agrees(
        cloud, admin_context):
    trait = _trait()
    host = cloud.host(admin_context,
                      lambda h: [_fpga(h, '0000:3b:00.0', traits=(trait,))])
    _hold(cloud, host + '_0000:3b:00.0', 1)

    [group] = cloud.explain(admin_context, {'resources:FPGA': '1',
                                            'trait:%s' % trait: 'required'})

    assert group['schedulable'] is True
    assert group['summary'] == 'schedulable: 1 of 1 matching providers have room'
    assert group['placement'] == {'candidates': 1, 'error': None}
    [provider] = group['providers']
    assert provider == {
        'provider_uuid': placement_sync.provider_uuid(host + '_0000:3b:00.0'),
        'deployable_uuid': cloud.deployable(host + '_0000:3b:00.0').uuid,
        'deployable_name': host + '_0000:3b:00.0', 'host': host,
        'capacity': 2, 'used': 1, 'reserved': 0, 'free': 1,
        'disabled': False, 'health': 'healthy',
        'scrub': {'scrubbing': 0, 'scrub_failed': 0}, 'missing': False,
        'has_room': True, 'cause': None}
    assert (group['resources'], group['required_traits'],
            group['forbidden_traits']) == ({'FPGA': 1}, [trait], [])


def test_no_provider_has_the_resource_class(cloud, admin_context):
    cloud.host(admin_context, lambda h: [_fpga(h, '0000:3b:00.0')])
    [group] = cloud.explain(admin_context, {'resources:CUSTOM_NOPE': '1'})
    assert group['summary'] == 'no provider has resource class CUSTOM_NOPE'
    assert group['schedulable'] is False and group['providers'] == []
    # Placement does not know the class either: nothing offered.
    assert group['placement']['candidates'] == 0


def test_trait_reasons(cloud, admin_context):
    fpga_trait, gpu_trait, absent = _trait(), _trait(), _trait()
    cloud.host(admin_context, lambda h: [
        _fpga(h, '0000:3b:00.0', traits=(fpga_trait,)),
        builders.pci_device(h, '0000:5e:00.0', rc='PGPU',
                            traits=(gpu_trait,), device_type='GPU')])

    absent_group, other_class, not_together = cloud.explain(
        admin_context,
        {'resources:FPGA': '1', 'trait:%s' % absent: 'required'},
        {'resources:FPGA': '1', 'trait:%s' % gpu_trait: 'required'},
        {'resources:PGPU': '1', 'trait:%s' % gpu_trait: 'required',
         'trait:%s' % fpga_trait: 'required'})

    assert absent_group['summary'] == 'trait %s is on no provider' % absent
    assert absent_group['placement'] == {'candidates': 0, 'error': None}
    assert other_class['summary'] == (
        'trait %s is on no provider of resource class FPGA' % gpu_trait)
    assert not_together['summary'] == (
        'trait %s is on no provider of resource class PGPU' % fpga_trait)
    assert not any(g['schedulable'] for g in (absent_group, other_class,
                                              not_together))


def test_forbidden_traits(cloud, admin_context):
    kind, red, blue = _trait(), _trait(), _trait()
    cloud.host(admin_context, lambda h: [
        _fpga(h, '0000:3b:00.0', traits=(kind, red)),
        _fpga(h, '0000:5e:00.0', traits=(kind, red, blue))])

    every_one, together, one_left = cloud.explain(
        admin_context,
        {'resources:FPGA': '1', 'trait:%s' % kind: 'required',
         'trait:%s' % red: 'forbidden'},
        {'resources:FPGA': '1', 'trait:%s' % kind: 'required',
         'trait:%s' % blue: 'forbidden', 'trait:%s' % red: 'forbidden'},
        {'resources:FPGA': '1', 'trait:%s' % kind: 'required',
         'trait:%s' % blue: 'forbidden'})

    assert every_one['summary'] == (
        'every provider of resource class FPGA has forbidden trait %s' % red)
    assert every_one['schedulable'] is False
    assert 'has forbidden trait %s' % red in together['summary']
    # Placement applies the forbidden trait as we do: one candidate.
    assert one_left['schedulable'] is True
    assert one_left['placement']['candidates'] == 1
    assert [p['deployable_name'][-12:] for p in one_left['providers']] == [
        '0000:3b:00.0']


def test_full_then_mixed_causes(cloud, admin_context):
    kind = _trait()
    host = cloud.host(admin_context, lambda h: [
        _fpga(h, '0000:3b:00.0', num=1, traits=(kind,)),
        _fpga(h, '0000:5e:00.0', num=2, traits=(kind,))])
    group = {'resources:FPGA': '1', 'trait:%s' % kind: 'required'}
    _hold(cloud, host + '_0000:3b:00.0', 1)
    _hold(cloud, host + '_0000:5e:00.0', 2)

    [full] = cloud.explain(admin_context, group)
    assert full['summary'] == 'all 2 matching providers are full'
    assert full['schedulable'] is False
    # Placement saw no allocation (no Nova here): it would still offer both.
    assert full['placement']['candidates'] == 2

    device = cloud.deployable(host + '_0000:5e:00.0').device_id
    device_uuid = builders.rows(cloud.db, models.Device, id=device)[0].uuid
    cloud.sync.set_device_status(admin_context, device_uuid, 'maintaining')
    [mixed] = cloud.explain(admin_context, group)
    assert mixed['summary'] == (
        'none of 2 matching providers has room: 1 full, 1 disabled')
    [disabled] = [p for p in mixed['providers'] if p['disabled']]
    assert (disabled['reserved'], disabled['cause']) == (2, 'disabled')


@pytest.mark.parametrize('make_unusable, words', [
    ('disable', 'reserved (disabled)'),
    ('unhealthy', 'reserved (unhealthy)'),
    ('scrubbing', 'reserved (scrubbing)'),
    ('scrub_failed', 'reserved (scrub failed)'),
    ('missing', 'reserved (missing)'),
])
def test_each_reserved_cause(cloud, admin_context, make_unusable, words):
    kind = _trait()
    host = cloud.host(admin_context, lambda h: [
        _fpga(h, '0000:3b:00.0', num=1, traits=(kind,))])
    name = host + '_0000:3b:00.0'
    row = cloud.deployable(name)
    tables = {'dev': models.Device.__table__,
              'dep': models.Deployable.__table__,
              'ah': models.AttachHandle.__table__}
    with cloud.db.begin() as conn:
        if make_unusable == 'disable':
            conn.execute(sa.update(tables['dev']).where(
                tables['dev'].c.id == row.device_id).values(
                status='maintaining'))
        elif make_unusable == 'unhealthy':
            conn.execute(sa.update(tables['dev']).where(
                tables['dev'].c.id == row.device_id).values(
                health=discovery.FAILED, health_reason='test'))
        elif make_unusable in ('scrubbing', 'scrub_failed'):
            conn.execute(sa.update(tables['ah']).where(
                tables['ah'].c.deployable_id == row.id).values(
                scrub_state=make_unusable))
        else:
            conn.execute(sa.update(tables['dep']).where(
                tables['dep'].c.id == row.id).values(
                missing_since=sa.func.now()))

    [group] = cloud.explain(admin_context, {'resources:FPGA': '1',
                                            'trait:%s' % kind: 'required'})

    assert group['summary'] == 'all 1 matching providers are %s' % words
    [provider] = group['providers']
    assert provider['reserved'] == 1 and provider['has_room'] is False


def test_placement_without_candidates_although_we_have_room(
        cloud, admin_context):
    # Nova allocated in Placement, its ARQs are not made yet: we see room,
    # Placement offers nothing, and the summary says so.
    kind = _trait()
    host = cloud.host(admin_context, lambda h: [
        _fpga(h, '0000:3b:00.0', num=1, traits=(kind,))])
    rp = placement_sync.provider_uuid(host + '_0000:3b:00.0')
    consumer = str(uuid.uuid4())
    resp = cloud.client._request(
        'PUT', '/allocations/%s' % consumer, microversion='1.28',
        json={'allocations': {rp: {'resources': {'FPGA': 1}}},
              'project_id': str(uuid.uuid4()),
              'user_id': str(uuid.uuid4()), 'consumer_generation': None})
    assert resp.status_code == 204, resp.text
    try:
        [group] = cloud.explain(admin_context, {
            'resources:FPGA': '1', 'trait:%s' % kind: 'required'})
    finally:
        cloud.client._request('DELETE', '/allocations/%s' % consumer)
    assert group['summary'] == ('Placement offers no candidate although 1 '
                                'matching providers have room')
    assert group['schedulable'] is False


def test_multi_group_profile(cloud, admin_context):
    kind = _trait()
    cloud.host(admin_context, lambda h: [
        _fpga(h, '0000:3b:00.0', traits=(kind,)),
        builders.pci_device(h, '0000:5e:00.0', rc='PGPU', traits=(kind,),
                            device_type='GPU')])

    groups = cloud.explain(
        admin_context,
        {'resources:FPGA': '1', 'trait:%s' % kind: 'required'},
        {'resources:PGPU': '2', 'trait:%s' % kind: 'required'},
        {'resources:FPGA': '1', 'resources:PGPU': '1'})

    assert [g['group_id'] for g in groups] == [0, 1, 2]
    assert [g['schedulable'] for g in groups] == [True, False, False]
    # One PGPU, two asked: too little room is "full".
    assert groups[1]['summary'] == 'all 1 matching providers are full'
    assert groups[2]['summary'] == (
        'no provider has all of the resource classes FPGA, PGPU')


def test_placement_down_still_shows_our_providers(cloud, admin_context,
                                                  conf, tmp_path):
    kind = _trait()
    cloud.host(admin_context, lambda h: [
        _fpga(h, '0000:3b:00.0', traits=(kind,))])
    # A client of a Placement that is not there: a closed local port.
    from cyborg.tests.functional.all_in_one import service as aio
    placement_client.configure_noauth(
        conf, 'http://127.0.0.1:%d' % aio.free_port())
    blind = explain.Explainer(placement_client.PlacementClient.from_conf(conf))

    [group] = blind.explain_groups(admin_context, [
        {'resources:FPGA': '1', 'trait:%s' % kind: 'required'}])

    assert len(group['providers']) == 1
    assert group['placement']['candidates'] is None
    assert 'Placement could not be reached' in group['placement']['error']
    assert group['summary'].startswith('Placement could not be asked')
    assert group['summary'].endswith('1 of 1 matching providers have room')
    assert group['schedulable'] is False


def test_a_device_health_update_is_read(cloud, admin_context):
    # devices.set_health (what an agent's probe records) makes it unhealthy.
    kind = _trait()
    host = cloud.host(admin_context, lambda h: [
        _fpga(h, '0000:3b:00.0', num=1, traits=(kind,))])
    cpid = discovery.pci_address_dict('0000:3b:00.0')
    devices.set_health(admin_context, host, {'cpid_type': 'PCI',
                                             'info': cpid},
                       discovery.DEGRADED, 'slow link')
    [group] = cloud.explain(admin_context, {'resources:FPGA': '1',
                                            'trait:%s' % kind: 'required'})
    assert group['providers'][0]['health'] == 'degraded'
    assert group['summary'] == 'all 1 matching providers are reserved (unhealthy)'
