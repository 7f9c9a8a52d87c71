"""What a host's reports cost in Placement calls and SQL, against the real
Placement: new providers in two calls each plus one per host, heartbeats in
one UPDATE, and the fast path's fallbacks when another writer races it."""

import collections

import pytest
import sqlalchemy as sa

from cyborg.conductor import placement_sync
from cyborg.db import agent_hosts
from cyborg.db import deployables
from cyborg.tests.fixtures import placement as placement_fixture
from cyborg.tests.functional.conductor import builders
from cyborg.tests.functional.conductor import test_placement_sync as base

inv = placement_fixture.expected_inventory
OWNER = 'OWNER_CYBORG'
DEVICES = 8


@pytest.fixture
def conductor(db, placement_conf):
    return base.Conductor(placement_conf)


def eight_devices(hostname):
    return [builders.pci_device(hostname, '0000:%02x:00.0' % (0x10 + i),
                                num=4, traits=('CUSTOM_SCALE_FPGA',))
            for i in range(DEVICES)]


def by_route(calls):
    """Counter of 'METHOD /route' with provider uuids left out."""
    routes = collections.Counter()
    for method, url in calls:
        parts = url.split('?')[0].strip('/').split('/')
        if parts[0] == 'resource_providers' and len(parts) > 1:
            parts[1] = '{uuid}'
        if parts[0] in ('traits', 'resource_classes') and len(parts) > 1:
            parts[1] = '{name}'
        routes['%s /%s' % (method, '/'.join(parts))] += 1
    return routes


def expected_tree(hostname, total=4):
    return {'%s_0000:%02x:00.0' % (hostname, 0x10 + i): {
        'uuid': placement_sync.provider_uuid(
            '%s_0000:%02x:00.0' % (hostname, 0x10 + i)),
        'parent': hostname, 'inventories': inv('FPGA', total),
        'traits': ['CUSTOM_SCALE_FPGA', OWNER]} for i in range(DEVICES)}


def test_new_host_costs_two_calls_per_deployable_and_one_reshape(
        conductor, admin_context):
    first, second = base.new_host(conductor), base.new_host(conductor)
    conductor.http.reset()
    summary = conductor.report(admin_context, first, eight_devices(first[0]))
    assert summary['placement_in_sync'] and summary['providers_written'] == 8
    assert conductor.tree(first) == expected_tree(first[0])

    conductor.http.reset()
    conductor.report(admin_context, second, eight_devices(second[0]))
    routes = by_route(conductor.http.calls)
    # Per deployable: create it, set its traits at the generation the
    # creation answered. Per host: check its compute node, one reshape.
    # The custom trait was ensured for the first host, once per client.
    assert routes == {'POST /resource_providers': DEVICES,
                      'PUT /resource_providers/{uuid}/traits': DEVICES,
                      'GET /resource_providers/{uuid}': 1,
                      'POST /reshaper': 1}
    assert sum(routes.values()) <= 2 * DEVICES + 2
    assert conductor.tree(second) == expected_tree(second[0])

    # Digests were stored: the same report again costs nothing.
    conductor.http.reset()
    conductor.report(admin_context, second, eight_devices(second[0]))
    assert conductor.http.calls == []


def test_a_conductor_racing_the_reshape_converges(db, placement_conf,
                                                  admin_context):
    # Two conductors apply one host's first report; B writes Placement and
    # the digests while A is about to reshape with the generations it got.
    a, b = base.Conductor(placement_conf), base.Conductor(placement_conf)
    host = base.new_host(a)
    devices = eight_devices(host[0])
    raced = []

    def let_b_write_first(method, url, kwargs):
        if method == 'POST' and url == '/reshaper' and not raced:
            raced.append(b.report(admin_context, host, devices))
    a.http.before_request.append(let_b_write_first)

    summary = a.report(admin_context, host, devices)

    assert raced and raced[0]['providers_written'] == DEVICES
    # A's reshape was refused (stale generations); A fell back to reading
    # each provider, found B's state, and lost each digest CAS to B.
    assert summary['placement_in_sync']
    routes = by_route(a.http.calls)
    assert routes['POST /reshaper'] == 1
    assert routes['GET /resource_providers/{uuid}/inventories'] >= DEVICES
    assert a.tree(host) == expected_tree(host[0])
    states = deployables.list_provider_states(admin_context, host[0])
    assert len(states) == DEVICES
    assert all(state.placement_digest for state in states)
    a.http.reset()
    a.report(admin_context, host, devices)
    assert a.http.calls == []


def test_a_provider_changed_between_create_and_reshape_is_rewritten(
        conductor, admin_context):
    # Someone sets an inventory on one new provider between our traits and
    # our reshape: the reshape is refused as a whole and each provider is
    # read and set on its own, ending with what the DB says.
    host = base.new_host(conductor)
    devices = eight_devices(host[0])
    intruder = placement_fixture.make_client(conductor.conf)
    victim = placement_sync.provider_uuid(devices[3].deployables[0].name)
    meddled = []

    def meddle(method, url, kwargs):
        if method == 'POST' and url == '/reshaper' and not meddled:
            generation, _ = intruder.get_inventories(victim)
            intruder.set_inventories(victim, generation,
                                     inv('FPGA', 99))
            meddled.append(victim)
    conductor.http.before_request.append(meddle)

    summary = conductor.report(admin_context, host, devices)

    assert meddled and summary['placement_in_sync']
    assert summary['providers_written'] == DEVICES
    assert conductor.tree(host) == expected_tree(host[0])


def test_heartbeat_is_one_update(any_db, admin_context):
    hostname = 'beating-host'
    agent_hosts.record_report(admin_context, hostname, hostname, None, 'fp',
                              sa.func.now())
    statements = []

    def record(conn, cursor, statement, *args):
        verb = statement.split()[0].upper()
        if verb not in ('BEGIN', 'COMMIT'):  # SQLite's explicit BEGIN
            statements.append(verb)
    sa.event.listen(any_db, 'before_cursor_execute', record)
    try:
        assert agent_hosts.touch_host(admin_context, hostname, 'fp', '1.1')
    finally:
        sa.event.remove(any_db, 'before_cursor_execute', record)
    assert statements == ['UPDATE']
    host = agent_hosts.get_host(admin_context, hostname)
    assert host['agent_rpc_version'] == '1.1'

    # A changed fingerprint still records the heartbeat, and asks for a
    # report; an unknown host asks for one too.
    before = host['last_seen_at']
    assert not agent_hosts.touch_host(admin_context, hostname, 'new', None)
    host = agent_hosts.get_host(admin_context, hostname)
    assert host['agent_rpc_version'] is None
    assert host['last_seen_at'] >= before
    assert host['report_fingerprint'] == 'fp'
    assert not agent_hosts.touch_host(admin_context, 'nobody', 'fp')
