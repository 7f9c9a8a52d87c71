"""Device health through the conductor: the DB row, Placement's reserved
inventory (a real Placement), the notification, and bad payloads.

Agents call over the in-process transport, as in test_conductor_rpc.
"""

import threading
import time

from oslo_messaging.notify import _impl_test
import pytest
import sqlalchemy as sa

from cyborg.accelerator import discovery
from cyborg.conductor import rpcapi
from cyborg.conductor import service as conductor_service
from cyborg import context as cyborg_context
from cyborg.db import devices as devices_db
from cyborg.db import engine as db_engine
from cyborg.db import models
from cyborg import notifications
from cyborg.tests.fixtures import placement as placement_fixture
from cyborg.tests.functional.conductor import builders
from cyborg.tests.functional.conductor import test_conductor_rpc

ADDRESS = '0000:3b:00.0'
OTHER_ADDRESS = '0000:5e:00.0'
WAIT_SECONDS = 30
_DEVICES = models.Device.__table__


@pytest.fixture
def recorded_notifications():
    _impl_test.reset()
    yield _impl_test.NOTIFICATIONS
    _impl_test.reset()


@pytest.fixture
def health_conductor(db, placement_conf, recorded_notifications):
    """A started conductor (with oslo.messaging's in-memory notification
    driver) and an agent-side client; yields (api, placement client)."""
    notifications.register_opts(placement_conf)
    placement_conf.set_override('driver', ['test'],
                                group='oslo_messaging_notifications')
    placement_conf.set_override('transport_url', 'fake:/',
                                group='oslo_messaging_notifications')
    transport = test_conductor_rpc.fake_transport(placement_conf)
    client = placement_fixture.make_client(placement_conf)
    conductor = conductor_service.ConductorService(placement_conf, transport,
                                                   client)
    conductor.start()
    yield rpcapi.ConductorAPI(transport, timeout=30), client
    conductor.stop()
    conductor.wait()
    conductor.conductor.notifier.close()
    transport.cleanup()


@pytest.fixture
def host(health_conductor, admin_context):
    """A host whose agent reported two devices: (name, compute node uuid)."""
    api, client = health_conductor
    cn_uuid, name = placement_fixture.create_compute_node(client)
    devices = [builders.pci_device(name, ADDRESS, num=4),
               builders.pci_device(name, OTHER_ADDRESS, num=2)]
    summary = api.report_data(admin_context, name, name, cn_uuid,
                              discovery.report_to_wire(devices), 'fp')
    assert summary['placement_in_sync']
    return name, cn_uuid


def _entry(state, reason='', address=ADDRESS):
    return {'controlpath': {'cpid_type': 'PCI',
                            'info': discovery.pci_address_dict(address)},
            'state': state, 'reason': reason}


def _reserved(client, cn_uuid, name, address=ADDRESS):
    tree = placement_fixture.read_provider_tree(client, cn_uuid)
    return tree['%s_%s' % (name, address)]['inventories']['FPGA']['reserved']


def _device(db, name, address=ADDRESS):
    with db.connect() as conn:
        return conn.execute(
            sa.select(_DEVICES).select_from(_DEVICES.join(
                models.ControlpathID.__table__)).where(
                _DEVICES.c.hostname == name,
                models.ControlpathID.cpid_info == discovery.canonical_json(
                    discovery.pci_address_dict(address)))).mappings().one()


def _wait_for(predicate, what):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail('%s did not happen in %d s' % (what, WAIT_SECONDS))


def _health_events():
    return [message['payload'] for _ctxt, message, _priority, _retry
            in _impl_test.NOTIFICATIONS
            if message['event_type'] == notifications.DEVICE_HEALTH_UPDATE]


def test_a_failure_reserves_the_inventory_and_recovery_gives_it_back(
        health_conductor, host, db, admin_context):
    api, client = health_conductor
    name, cn_uuid = host
    assert _reserved(client, cn_uuid, name) == 0

    assert api.report_health(admin_context, name,
                             [_entry('failed', 'AER fatal errors: 3')])
    _wait_for(lambda: _reserved(client, cn_uuid, name) == 4,
              'the failed device being reserved')
    row = _device(db, name)
    assert (row['health'], row['health_reason']) == ('failed',
                                                    'AER fatal errors: 3')
    assert row['health_since'] is not None
    # The neighbour is untouched.
    assert _reserved(client, cn_uuid, name, OTHER_ADDRESS) == 0
    [event] = _health_events()
    assert (event['health'], event['health_reason'],
            event['previous_health'], event['hostname']) == (
        'failed', 'AER fatal errors: 3', 'healthy', name)
    assert event['device_uuid'] == row['uuid']
    assert event['deployables'][0]['num_accelerators'] == 4

    api.report_health(admin_context, name, [_entry('healthy')])
    _wait_for(lambda: _reserved(client, cn_uuid, name) == 0,
              'the recovered device being unreserved')
    row = _device(db, name)
    assert (row['health'], row['health_reason']) == ('healthy', None)
    _wait_for(lambda: len(_health_events()) == 2, 'the recovery event')
    assert _health_events()[1]['previous_health'] == 'failed'


def test_recovery_keeps_what_an_operator_reserved(health_conductor, host, db,
                                                  admin_context):
    api, client = health_conductor
    name, cn_uuid = host
    api.report_health(admin_context, name, [_entry('degraded', 'x8 link')])
    _wait_for(lambda: _reserved(client, cn_uuid, name) == 4, 'reserved')
    api.set_device_status(admin_context, _device(db, name)['uuid'],
                          'maintaining')

    api.report_health(admin_context, name, [_entry('healthy')])
    _wait_for(lambda: _device(db, name)['health'] == 'healthy', 'recovery')
    # Maintenance still holds it.
    assert _reserved(client, cn_uuid, name) == 4


def test_a_full_report_carries_health(health_conductor, host, db,
                                      admin_context):
    # The correction of a lost cast: a report with the failed state.
    api, client = health_conductor
    name, cn_uuid = host
    devices = [builders.pci_device(name, ADDRESS, num=4),
               builders.pci_device(name, OTHER_ADDRESS, num=2)]

    summary = api.report_data(
        admin_context, name, name, cn_uuid,
        discovery.report_to_wire(devices), 'fp2', agent_rpc_version='1.1',
        health=[_entry('failed', 'gone from its driver'),
                _entry('healthy', address=OTHER_ADDRESS)])

    assert summary['health_changed'] == 1 and summary['placement_in_sync']
    assert _reserved(client, cn_uuid, name) == 4
    assert _device(db, name)['health_reason'] == 'gone from its driver'
    assert len(_health_events()) == 1


def test_a_report_without_health_leaves_health_alone(health_conductor, host,
                                                     db, admin_context):
    # A 1.1 agent (or one with probing off) says nothing of health.
    api, client = health_conductor
    name, cn_uuid = host
    api.report_health(admin_context, name, [_entry('failed', 'x')])
    _wait_for(lambda: _reserved(client, cn_uuid, name) == 4, 'reserved')
    devices = [builders.pci_device(name, ADDRESS, num=4)]

    api.report_data(admin_context, name, name, cn_uuid,
                    discovery.report_to_wire(devices), 'fp3')

    assert _device(db, name)['health'] == 'failed'
    assert _reserved(client, cn_uuid, name) == 4


@pytest.mark.parametrize('changes', [
    'failed',
    {'controlpath': {}, 'state': 'failed'},
    [_entry('on fire', 'x')],
    [_entry('FAILED', 'x')],
    [_entry('failed', 12)],
    [{'state': 'failed', 'reason': 'no control path'}],
    [dict(_entry('failed', 'x'), controlpath={'cpid_type': 'PCI',
                                             'info': 'nope'})],
    [dict(_entry('failed', 'x'), controlpath={'cpid_type': 'PCI',
                                             'info': {'bus': 3}})],
    [_entry('failed', 'a device the host does not have',
            address='0000:ff:00.0')],
    [None, 7, []],
])
def test_bad_payloads_are_logged_and_change_nothing(
        health_conductor, host, db, admin_context, changes, caplog):
    api, client = health_conductor
    name, cn_uuid = host
    before = _device(db, name)

    # A call: the conductor served it when this returns.
    api._client.prepare(version='1.2', timeout=30).call(
        admin_context, 'report_health', hostname=name, changes=changes)

    assert _device(db, name) == before
    assert _reserved(client, cn_uuid, name) == 0
    assert _health_events() == []
    assert any('health' in r.getMessage().lower() and r.levelname in (
        'ERROR', 'WARNING') for r in caplog.records)


def test_good_entries_beside_bad_ones_are_applied(health_conductor, host, db,
                                                  admin_context):
    api, client = health_conductor
    name, cn_uuid = host

    api._client.prepare(version='1.2', timeout=30).call(
        admin_context, 'report_health', hostname=name,
        changes=[_entry('on fire'), _entry('failed', 'x' * 1000)])

    row = _device(db, name)
    # Cut to the column, not refused: a failure must not go unrecorded.
    assert (row['health'], row['health_reason']) == ('failed', 'x' * 255)
    assert _reserved(client, cn_uuid, name) == 4


def test_an_unknown_host_is_logged_and_ignored(health_conductor, host, db,
                                               admin_context):
    api, _client = health_conductor
    api._client.prepare(version='1.2', timeout=30).call(
        admin_context, 'report_health', hostname='nowhere',
        changes=[_entry('failed', 'x')])
    assert _device(db, host[0])['health'] == 'healthy'


# The compare-and-swap, on every backend.

def _waits_for_a_row_lock(engine):
    """Whether a transaction on this database waits for a row lock."""
    queries = {
        'postgresql': "SELECT count(*) FROM pg_stat_activity WHERE "
                      "wait_event_type = 'Lock' AND "
                      "datname = current_database()",
        # The second recorder's UPDATE still running: it can only be
        # waiting for the first's row lock. (innodb_trx's 'LOCK WAIT' was
        # not reliably shown for it on MariaDB 10.11.)
        'mysql': "SELECT count(*) FROM information_schema.processlist "
                 "WHERE db = DATABASE() AND info LIKE 'UPDATE devices%%'",
    }
    query = queries.get(engine.dialect.name)
    if query is None:
        # SQLite: the second writer waits for the write lock at BEGIN.
        return True
    with engine.connect() as conn:
        return conn.execute(sa.text(query)).scalar() > 0


def test_a_conductor_that_read_before_another_recorded_does_not_record_again(
        any_db):
    # Two conductors apply the same change (a cast and a full report): the
    # second read "healthy" before the first committed "failed"; its write
    # must find the row changed and not record (nor notify) it again.
    with any_db.begin() as conn:
        device_id = conn.execute(sa.insert(_DEVICES).values(
            uuid='d0d0d0d0-0000-4000-8000-000000000000', type='FPGA',
            vendor='v', model='m', hostname='h')).inserted_primary_key[0]
        conn.execute(sa.insert(models.ControlpathID.__table__).values(
            uuid='c0d0d0d0-0000-4000-8000-000000000000', device_id=device_id,
            cpid_type='PCI', cpid_info=discovery.canonical_json(
                discovery.pci_address_dict(ADDRESS))))
    controlpath = _entry('failed')['controlpath']
    second = []

    def record_second():
        second.append(devices_db.set_health(
            cyborg_context.get_admin_context(), 'h', controlpath, 'failed',
            'fatal'))

    first_context = cyborg_context.get_admin_context()
    with db_engine.write_transaction(first_context):
        first = devices_db.set_health(first_context, 'h', controlpath,
                                      'failed', 'fatal')
        thread = threading.Thread(target=record_second)
        thread.start()
        _wait_for(lambda: _waits_for_a_row_lock(any_db),
                  'the second recorder to wait for the first')
    thread.join(WAIT_SECONDS)

    assert first['previous_health'] == 'healthy'
    assert second == [None]
    # A different change still goes through.
    assert devices_db.set_health(
        cyborg_context.get_admin_context(), 'h', controlpath, 'failed',
        'other')['previous_health_reason'] == 'fatal'
