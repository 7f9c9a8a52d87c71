"""Reports applied end to end: DB diff, then the real Placement in line."""

import uuid

import pytest
import sqlalchemy as sa

from cyborg.accelerator import discovery
from cyborg.clients import placement as placement_client
from cyborg.conductor import placement_sync
from cyborg.conductor import reports
from cyborg.db import agent_hosts
from cyborg.db import deployables
from cyborg.db import models
from cyborg import exception
from cyborg.tests.fixtures import placement as placement_fixture
from cyborg.tests.functional.conductor import builders

inv = placement_fixture.expected_inventory
OWNER = 'OWNER_CYBORG'


class Conductor:
    """What one conductor holds: a counting client and its PlacementSync."""

    def __init__(self, conf):
        self.conf = conf
        self.client, self.http = placement_fixture.counting_client(conf)
        self.sync = placement_sync.PlacementSync(conf, self.client)

    def report(self, ctx, host, devices, fingerprint=None):
        cn_name, cn_uuid = host
        return reports.apply_report(
            ctx, self.sync, self.client, cn_name, cn_name, cn_uuid,
            discovery.report_to_wire(devices),
            fingerprint or discovery.fingerprint(devices))

    def tree(self, host):
        return placement_fixture.read_provider_tree(self.client, host[1])


@pytest.fixture
def conductor(db, placement_conf):
    return Conductor(placement_conf)


def new_host(conductor):
    cn_uuid, name = placement_fixture.create_compute_node(conductor.client)
    return name, cn_uuid


def test_two_hosts_converge_to_their_trees(conductor, admin_context):
    host_a, host_b = new_host(conductor), new_host(conductor)
    a = host_a[0]
    conductor.report(admin_context, host_a, [
        builders.pci_device(a, '0000:3b:00.0', num=4,
                            traits=('CUSTOM_FPGA_INTEL',)),
        builders.pci_device(a, '0000:5e:00.0', rc='PGPU',
                            traits=('CUSTOM_NVIDIA_1DB6',),
                            device_type='GPU'),
    ])
    conductor.report(admin_context, host_b, [
        builders.pci_device(host_b[0], '0000:af:00.0', rc='CUSTOM_PCI',
                            traits=('CUSTOM_PCI_PRODUCT_ID_1001',),
                            device_type='GPU')])

    assert conductor.tree(host_a) == {
        a + '_0000:3b:00.0': {
            'uuid': placement_sync.provider_uuid(a + '_0000:3b:00.0'),
            'parent': a, 'inventories': inv('FPGA', 4),
            'traits': ['CUSTOM_FPGA_INTEL', OWNER]},
        a + '_0000:5e:00.0': {
            'uuid': placement_sync.provider_uuid(a + '_0000:5e:00.0'),
            'parent': a, 'inventories': inv('PGPU', 1),
            'traits': ['CUSTOM_NVIDIA_1DB6', OWNER]},
    }
    b_name = host_b[0] + '_0000:af:00.0'
    assert conductor.tree(host_b) == {b_name: {
        'uuid': placement_sync.provider_uuid(b_name), 'parent': host_b[0],
        'inventories': inv('CUSTOM_PCI', 1),
        'traits': ['CUSTOM_PCI_PRODUCT_ID_1001', OWNER]}}


def test_add_change_and_remove_converge(conductor, admin_context):
    host = new_host(conductor)
    h = host[0]
    first = builders.pci_device(h, '0000:3b:00.0', num=2)
    conductor.report(admin_context, host, [first])

    changed = builders.pci_device(h, '0000:3b:00.0', num=3,
                                  traits=('CUSTOM_OTHER',))
    added = builders.pci_device(h, '0000:d8:00.0', rc='CUSTOM_QAT',
                                traits=(), device_type='QAT')
    conductor.report(admin_context, host, [changed, added])
    tree = conductor.tree(host)
    assert tree[h + '_0000:3b:00.0']['inventories'] == inv('FPGA', 3)
    assert tree[h + '_0000:3b:00.0']['traits'] == ['CUSTOM_OTHER', OWNER]
    assert tree[h + '_0000:d8:00.0']['inventories'] == inv('CUSTOM_QAT', 1)
    assert tree[h + '_0000:d8:00.0']['traits'] == [OWNER]

    conductor.report(admin_context, host, [added])
    assert sorted(conductor.tree(host)) == [h + '_0000:d8:00.0']


def test_identical_report_costs_no_placement_call(conductor, admin_context):
    # A steady host must not load Placement: no write, not even a read.
    host = new_host(conductor)
    devices = [builders.pci_device(host[0], '0000:3b:00.0', num=2)]
    summary = conductor.report(admin_context, host, devices)
    assert summary['providers_written'] == 1 and summary['placement_in_sync']
    assert conductor.http.writes

    conductor.http.reset()
    summary = conductor.report(admin_context, host, devices)

    assert conductor.http.calls == []
    assert summary['providers_written'] == 0


def test_resource_class_removed_deletes_the_provider(conductor,
                                                     admin_context):
    host = new_host(conductor)
    conductor.report(admin_context, host,
                     [builders.pci_device(host[0], '0000:3b:00.0')])
    conductor.report(admin_context, host,
                     [builders.pci_device(host[0], '0000:3b:00.0', rc=None)])
    assert conductor.tree(host) == {}


def test_function_id_trait_follows_what_cyborg_programmed(conductor,
                                                         admin_context, db):
    # The driver's function trait stands until cyborg programs the
    # deployable; then the recorded function wins, and a trait set behind
    # our back is replaced, by the sync and by the reconciler alike.
    host = new_host(conductor)
    name = host[0] + '_0000:3b:00.0'
    reported = builders.pci_device(host[0], '0000:3b:00.0', traits=(
        'CUSTOM_FPGA_FUNCTION_ID_FAKE_FACTORY', 'CUSTOM_X'))
    conductor.report(admin_context, host, [reported])
    assert conductor.tree(host)[name]['traits'] == [
        'CUSTOM_FPGA_FUNCTION_ID_FAKE_FACTORY', 'CUSTOM_X', OWNER]

    deployable_id = _deployable_id(db, name)
    assert deployables.record_bitstream(
        admin_context, deployable_id, str(uuid.uuid4()), function_id='abc-1')
    conductor.sync.sync_host(admin_context, host[0])
    assert conductor.tree(host)[name]['traits'] == [
        'CUSTOM_FPGA_FUNCTION_ID_FAKE_ABC_1', 'CUSTOM_X', OWNER]

    rp = placement_sync.provider_uuid(name)
    conductor.client.ensure_traits(['CUSTOM_FPGA_FUNCTION_ID_FAKE_STRAY'])
    generation, _traits = conductor.client.get_provider_traits(rp)
    conductor.client.set_provider_traits(
        rp, generation, ['CUSTOM_FPGA_FUNCTION_ID_FAKE_STRAY', OWNER])
    conductor.sync.reconcile_host(admin_context,
                                  agent_hosts.get_host(admin_context,
                                                       host[0]))
    assert conductor.tree(host)[name]['traits'] == [
        'CUSTOM_FPGA_FUNCTION_ID_FAKE_ABC_1', 'CUSTOM_X', OWNER]


def _deployable_id(engine, name):
    table = models.Deployable.__table__
    with engine.connect() as connection:
        return connection.execute(sa.select(table.c.id).where(
            table.c.name == name)).scalar_one()


def test_reconcile_heals_deleted_provider_and_inventory(conductor,
                                                        admin_context):
    host = new_host(conductor)
    h = host[0]
    conductor.report(admin_context, host, [
        builders.pci_device(h, '0000:3b:00.0', num=2),
        builders.pci_device(h, '0000:5e:00.0', num=5)])
    expected = conductor.tree(host)
    client = conductor.client
    client.delete_provider(placement_sync.provider_uuid(h + '_0000:3b:00.0'))
    other = placement_sync.provider_uuid(h + '_0000:5e:00.0')
    assert client._request('DELETE', '/resource_providers/%s/inventories'
                           % other).status_code == 204
    # A provider of ours no deployable wants (left by a failed delete).
    orphan = str(uuid.uuid4())
    client.create_provider(orphan, 'orphan-%s' % orphan, host[1])
    client.set_provider_traits(orphan, 0, [OWNER])
    # A provider someone else made under the compute node is not ours.
    foreign = str(uuid.uuid4())
    client.create_provider(foreign, 'foreign-%s' % foreign, host[1])

    # The digests still say "in sync": a report alone would not notice.
    conductor.report(admin_context, host, [
        builders.pci_device(h, '0000:3b:00.0', num=2),
        builders.pci_device(h, '0000:5e:00.0', num=5)])
    assert h + '_0000:3b:00.0' not in conductor.tree(host)

    results = conductor.sync.reconcile(admin_context)

    healed = conductor.tree(host)
    assert sorted(results[h].written + results[h].unchanged) == sorted(
        expected)
    assert healed.pop('foreign-%s' % foreign)['traits'] == []
    assert healed == expected
    assert client.get_provider(orphan) is None

    # Nothing left to heal: a second pass reads but does not write.
    conductor.http.reset()
    conductor.sync.reconcile(admin_context)
    assert conductor.http.writes == []


def test_generation_conflict_is_retried_and_converges(conductor,
                                                      admin_context):
    host = new_host(conductor)
    name = host[0] + '_0000:3b:00.0'
    conductor.report(admin_context, host,
                     [builders.pci_device(host[0], '0000:3b:00.0', num=2)])
    rp = placement_sync.provider_uuid(name)
    # Someone else (another conductor, an operator) writes the provider
    # between our read and our write, once.
    intruder = placement_fixture.make_client(conductor.conf)
    bumped = []

    def bump_generation(method, url, kwargs):
        if method == 'PUT' and url.endswith('/inventories') and not bumped:
            bumped.append(url)
            # Placement keeps the generation when the traits set is the
            # same: add one and take it away again.
            generation, traits = intruder.get_provider_traits(rp)
            intruder.ensure_traits(['CUSTOM_INTRUDER'])
            generation = intruder.set_provider_traits(
                rp, generation, traits + ['CUSTOM_INTRUDER'])
            intruder.set_provider_traits(rp, generation, traits)
    conductor.http.before_request.append(bump_generation)
    conductor.http.reset()

    conductor.report(admin_context, host,
                     [builders.pci_device(host[0], '0000:3b:00.0', num=6)])

    assert bumped
    inventory_puts = [c for c in conductor.http.calls
                      if c == ('PUT', '/resource_providers/%s/inventories'
                               % rp)]
    assert len(inventory_puts) == 2
    assert conductor.tree(host)[name]['inventories'] == inv('FPGA', 6)


def test_held_deployable_keeps_its_provider_until_released(conductor, db,
                                                           admin_context):
    host = new_host(conductor)
    h = host[0]
    keep = builders.pci_device(h, '0000:3b:00.0')
    conductor.report(admin_context, host,
                     [keep, builders.pci_device(h, '0000:5e:00.0', num=2)])
    name = h + '_0000:5e:00.0'
    arq = builders.add_arq(db, deployable_id=builders.deployable_row(
        db, name).id)
    consumer = allocate(conductor.client, placement_sync.provider_uuid(name))

    summary = conductor.report(admin_context, host, [keep])

    assert summary['missing'] == 1 and summary['placement_in_sync']
    assert builders.deployable_row(db, name).missing_since is not None
    # Kept with its allocation, but nothing new may be scheduled on it.
    assert conductor.tree(host)[name]['inventories'] == inv('FPGA', 2, 2)

    # The instance goes: Nova drops the allocation, cyborg the ARQ.
    conductor.client._request('DELETE', '/allocations/%s' % consumer)
    builders.delete_arq(db, arq)
    conductor.report(admin_context, host, [keep], fingerprint='again')
    assert builders.deployable_row(db, name) is None
    assert sorted(conductor.tree(host)) == [h + '_0000:3b:00.0']


def allocate(client, rp_uuid, rc='FPGA'):
    """Allocate one unit of the provider to a new consumer, as Nova does."""
    consumer = str(uuid.uuid4())
    resp = client._request(
        'PUT', '/allocations/%s' % consumer, microversion='1.28',
        json={'allocations': {rp_uuid: {'resources': {rc: 1}}},
              'project_id': str(uuid.uuid4()), 'user_id': str(uuid.uuid4()),
              'consumer_generation': None})
    assert resp.status_code == 204, resp.text
    return consumer


def test_provider_with_allocations_is_kept_then_reconciled(conductor,
                                                           admin_context):
    host = new_host(conductor)
    h = host[0]
    gone = builders.pci_device(h, '0000:5e:00.0', num=2)
    conductor.report(admin_context, host, [gone])
    rp = placement_sync.provider_uuid(h + '_0000:5e:00.0')
    consumer = allocate(conductor.client, rp)

    conductor.report(admin_context, host, [])
    assert conductor.client.get_provider(rp) is not None

    conductor.client._request('DELETE', '/allocations/%s' % consumer)
    conductor.sync.reconcile(admin_context)
    assert conductor.client.get_provider(rp) is None


def test_disable_and_enable_device(conductor, db, admin_context):
    host = new_host(conductor)
    name = host[0] + '_0000:3b:00.0'
    conductor.report(admin_context, host,
                     [builders.pci_device(host[0], '0000:3b:00.0', num=3)])
    device_uuid = builders.rows(db, models.Device, hostname=host[0])[0].uuid

    assert conductor.sync.set_device_status(
        admin_context, device_uuid, 'maintaining') == {
            'uuid': device_uuid, 'status': 'maintaining'}
    assert conductor.tree(host)[name]['inventories'] == inv('FPGA', 3, 3)

    conductor.sync.set_device_status(admin_context, device_uuid, 'enabled')
    assert conductor.tree(host)[name]['inventories'] == inv('FPGA', 3, 0)

    with pytest.raises(exception.DeviceNotFound):
        conductor.sync.set_device_status(admin_context, str(uuid.uuid4()),
                                         'enabled')


def _bad_report_cases(host, other_host):
    h = host[0]
    return {
        'duplicate names': (host, [
            builders.pci_device(h, '0000:3b:00.0', name=h + '_dup'),
            builders.pci_device(h, '0000:5e:00.0', name=h + '_dup')],
            exception.InvalidReport),
        'name owned by another host': (host, [builders.pci_device(
            h, '0000:3b:00.0', name=other_host[0] + '_0000:3b:00.0')],
            exception.InvalidReport),
        'unknown compute node': (('no-such-node-%s' % uuid.uuid4().hex,
                                  str(uuid.uuid4())),
                                 [builders.pci_device(h, '0000:d8:00.0')],
                                 exception.UnknownHost),
        'compute node of another name': ((h, other_host[1]),
                                         [builders.pci_device(
                                             h, '0000:d8:00.0')],
                                         exception.UnknownHost),
    }


@pytest.mark.parametrize('case', ['duplicate names',
                                  'name owned by another host',
                                  'unknown compute node',
                                  'compute node of another name'])
def test_bad_reports_write_nothing(conductor, db, admin_context, case):
    host, other = new_host(conductor), new_host(conductor)
    conductor.report(admin_context, other,
                     [builders.pci_device(other[0], '0000:3b:00.0')])
    devices_before = builders.table_count(db, models.Device)
    target, devices, error = _bad_report_cases(host, other)[case]
    conductor.http.reset()

    with pytest.raises(error):
        conductor.report(admin_context, target, devices)

    assert builders.table_count(db, models.Device) == devices_before
    assert agent_hosts.get_host(admin_context, target[0]) is None
    assert conductor.http.writes == []
    assert conductor.tree(host) == {}


def test_placement_outage_is_healed_by_the_next_full_report(
        conductor, db, placement_conf, admin_context):
    host = new_host(conductor)
    devices = [builders.pci_device(host[0], '0000:3b:00.0')]
    conductor.report(admin_context, host, [], fingerprint='empty')
    # The same conductor, but Placement went away after the compute node
    # was verified.
    down_conf = placement_conf
    endpoint = down_conf.placement.endpoint
    placement_client.configure_noauth(down_conf, 'http://127.0.0.1:9')
    down = Conductor(down_conf)
    placement_client.configure_noauth(placement_conf, endpoint)

    summary = down.report(admin_context, host, devices, fingerprint='fp')

    assert summary['placement_in_sync'] is False
    assert builders.deployable_row(db, host[0] + '_0000:3b:00.0') is not None
    # The agent's next heartbeat is answered "send a full report".
    assert agent_hosts.touch_host(admin_context, host[0], 'fp') is False

    summary = conductor.report(admin_context, host, devices,
                               fingerprint='fp')
    assert summary['placement_in_sync'] and summary['providers_written'] == 1
    assert list(conductor.tree(host)) == [host[0] + '_0000:3b:00.0']
    assert agent_hosts.touch_host(admin_context, host[0], 'fp') is True



def test_reconcile_rebuilds_a_wiped_placement_from_the_db(
        conductor, admin_context, db):
    # The DB is the truth: with every provider, custom trait and custom
    # resource class we made gone from Placement (trait and class names of
    # this test only: the Placement is shared), one reconcile pass puts
    # back providers, inventories and traits, the function-id trait of a
    # programmed FPGA and a device in maintenance's reservation included.
    host_a, host_b = new_host(conductor), new_host(conductor)
    a, b = host_a[0], host_b[0]
    conductor.report(admin_context, host_a, [
        builders.pci_device(a, '0000:3b:00.0', num=4,
                            traits=('CUSTOM_WIPE_FPGA',)),
        builders.pci_device(a, '0000:5e:00.0', rc='CUSTOM_WIPE_QAT',
                            traits=('CUSTOM_WIPE_GEN4',), device_type='QAT'),
    ])
    conductor.report(admin_context, host_b, [
        builders.pci_device(b, '0000:af:00.0', num=2,
                            traits=('CUSTOM_WIPE_FPGA',))])
    fpga = a + '_0000:3b:00.0'
    assert deployables.record_bitstream(
        admin_context, _deployable_id(db, fpga), str(uuid.uuid4()),
        function_id='wipe-me')
    conductor.sync.sync_host(admin_context, a)
    [device] = [d for d in builders.rows(db, models.Device)
                if d.hostname == b]
    conductor.sync.set_device_status(admin_context, device.uuid,
                                     'maintaining')
    before = {host: conductor.tree(host) for host in (host_a, host_b)}
    assert before[host_a][fpga]['traits'] == [
        'CUSTOM_FPGA_FUNCTION_ID_FAKE_WIPE_ME', 'CUSTOM_WIPE_FPGA', OWNER]
    assert before[host_b][b + '_0000:af:00.0']['inventories'] == inv(
        'FPGA', 2, reserved=2)

    _wipe_what_we_own(conductor.client, conductor.http, [host_a, host_b])
    assert all(conductor.tree(host) == {} for host in (host_a, host_b))

    conductor.sync.reconcile(admin_context)

    assert {host: conductor.tree(host)
            for host in (host_a, host_b)} == before


def _wipe_what_we_own(client, http, hosts):
    """Delete our providers, then the custom traits and classes they used."""
    traits, classes = set(), set()
    for _name, cn_uuid in hosts:
        for provider in client.get_providers_in_tree(
                cn_uuid, required_traits=[OWNER]):
            _generation, provider_traits = client.get_provider_traits(
                provider['uuid'])
            traits.update(t for t in provider_traits
                          if t.startswith('CUSTOM_'))
            classes.update(c for c in client.get_inventories(
                provider['uuid'])[1] if c.startswith('CUSTOM_'))
            client.delete_provider(provider['uuid'])
    for url in (['/traits/%s' % trait for trait in sorted(traits)] +
                ['/resource_classes/%s' % rc for rc in sorted(classes)]):
        resp = http.request(url, 'DELETE', raise_exc=False,
                            microversion=placement_client.MICROVERSION)
        assert resp.status_code == 204, (url, resp.text)
