"""The conductor service over RPC (in-process transport), as agents call it."""

import time
import uuid

import oslo_messaging as messaging
import pytest

from cyborg.accelerator import discovery
from cyborg.conductor import rpcapi
from cyborg.conductor import service as conductor_service
from cyborg.db import agent_hosts
from cyborg.db import models
from cyborg import exception
from cyborg import rpc
from cyborg.tests.fixtures import placement as placement_fixture
from cyborg.tests.functional.conductor import builders


def fake_transport(conf):
    return messaging.get_rpc_transport(
        conf, url='fake:/', allowed_remote_exmods=rpc.ALLOWED_EXMODS)


@pytest.fixture
def transport(placement_conf):
    transport = fake_transport(placement_conf)
    yield transport
    transport.cleanup()


@pytest.fixture
def running_conductor(db, placement_conf, transport):
    client, http = placement_fixture.counting_client(placement_conf)
    conductor = conductor_service.ConductorService(placement_conf, transport,
                                                   client)
    conductor.start()
    yield rpcapi.ConductorAPI(transport, timeout=30), client, http
    conductor.stop()
    conductor.wait()


def test_report_heartbeat_and_status_over_rpc(running_conductor, db,
                                              admin_context):
    api, client, http = running_conductor
    cn_uuid, host = placement_fixture.create_compute_node(client)
    devices = [builders.pci_device(host, '0000:3b:00.0', num=2)]
    fingerprint = discovery.fingerprint(devices)

    # A host never seen wants a full report.
    assert api.heartbeat(admin_context, host, fingerprint) is True
    summary = api.report_data(admin_context, host, 'rpc-' + host, cn_uuid,
                              discovery.report_to_wire(devices), fingerprint)
    assert summary['created'] == 1 and summary['placement_in_sync']
    assert api.heartbeat(admin_context, host, fingerprint) is False
    assert api.heartbeat(admin_context, host, 'changed') is True

    device_uuid = builders.rows(db, models.Device, hostname=host)[0].uuid
    assert api.set_device_status(admin_context, device_uuid,
                                 'maintaining')['status'] == 'maintaining'
    tree = placement_fixture.read_provider_tree(client, cn_uuid)
    assert tree[host + '_0000:3b:00.0']['inventories'] == \
        placement_fixture.expected_inventory('FPGA', 2, reserved=2)


def test_1_0_and_1_1_callers_are_both_served(running_conductor, transport,
                                             admin_context):
    # A rolling upgrade: agents of the previous release (or capped ones)
    # send the 1.0 form, upgraded ones 1.1; the conductor applies both and
    # records what each host's last message stated.
    api, client, _http = running_conductor
    old_api = rpcapi.ConductorAPI(transport, timeout=30, version_cap='1.0')
    old_cn, old_host = placement_fixture.create_compute_node(client)
    new_cn, new_host = placement_fixture.create_compute_node(client)
    for caller, host, cn_uuid in ((old_api, old_host, old_cn),
                                  (api, new_host, new_cn)):
        devices = [builders.pci_device(host, '0000:3b:00.0')]
        fingerprint = discovery.fingerprint(devices)
        summary = caller.report_data(
            admin_context, host, host, cn_uuid,
            discovery.report_to_wire(devices), fingerprint,
            agent_rpc_version='1.1')
        assert summary['created'] == 1
        assert caller.heartbeat(admin_context, host, fingerprint,
                                agent_rpc_version='1.1') is False

    assert agent_hosts.get_host(admin_context, old_host)[
        'agent_rpc_version'] is None
    assert agent_hosts.get_host(admin_context, new_host)[
        'agent_rpc_version'] == '1.1'
    # The old host's agent is upgraded: its next heartbeat says so.
    api.heartbeat(admin_context, old_host, 'fp', agent_rpc_version='1.1')
    assert agent_hosts.get_host(admin_context, old_host)[
        'agent_rpc_version'] == '1.1'
    with pytest.raises(exception.InvalidReport):
        api.heartbeat(admin_context, old_host, 'fp',
                      agent_rpc_version='1.1; DROP TABLE')


def test_domain_errors_reach_the_caller_as_themselves(running_conductor,
                                                      admin_context):
    api, client, _http = running_conductor
    cn_uuid, host = placement_fixture.create_compute_node(client)
    dup = [builders.pci_device(host, '0000:3b:00.0', name='d'),
           builders.pci_device(host, '0000:5e:00.0', name='d')]

    with pytest.raises(exception.InvalidReport):
        api.report_data(admin_context, host, host, cn_uuid,
                        discovery.report_to_wire(dup), 'fp')
    with pytest.raises(exception.InvalidReport):
        api.report_data(admin_context, host, host, cn_uuid,
                        [{'type': 'FPGA'}], 'fp')
    with pytest.raises(exception.UnknownHost):
        api.report_data(admin_context, 'nowhere', 'nowhere',
                        str(uuid.uuid4()), [], 'fp')
    with pytest.raises(exception.DeviceNotFound):
        api.set_device_status(admin_context, str(uuid.uuid4()), 'enabled')


def test_reconcile_runs_at_start(db, placement_conf, admin_context):
    # A conductor starting after Placement lost providers puts them back.
    client, _http = placement_fixture.counting_client(placement_conf)
    transport = fake_transport(placement_conf)
    first = conductor_service.ConductorService(placement_conf, transport,
                                               client)
    first.start()
    api = rpcapi.ConductorAPI(transport, timeout=30)
    cn_uuid, host = placement_fixture.create_compute_node(client)
    devices = [builders.pci_device(host, '0000:3b:00.0')]
    api.report_data(admin_context, host, host, cn_uuid,
                    discovery.report_to_wire(devices),
                    discovery.fingerprint(devices))
    first.stop()
    first.wait()
    before = placement_fixture.read_provider_tree(client, cn_uuid)
    client.delete_provider(before[host + '_0000:3b:00.0']['uuid'])

    second = conductor_service.ConductorService(placement_conf, transport,
                                                client)
    second.start()
    try:
        deadline = time.monotonic() + 20
        while (not placement_fixture.read_provider_tree(client, cn_uuid)
               and time.monotonic() < deadline):
            time.sleep(0.2)
        assert placement_fixture.read_provider_tree(client,
                                                    cn_uuid) == before
    finally:
        second.stop()
        second.wait()
        transport.cleanup()


def test_explain_groups_over_rpc(running_conductor, db, admin_context):
    api, client, _http = running_conductor
    cn_uuid, host = placement_fixture.create_compute_node(client)
    trait = 'CUSTOM_RPC_EXPLAIN_%s' % uuid.uuid4().hex[:8].upper()
    devices = [builders.pci_device(host, '0000:3b:00.0', num=2,
                                   traits=(trait,))]
    api.report_data(admin_context, host, host, cn_uuid,
                    discovery.report_to_wire(devices),
                    discovery.fingerprint(devices))

    [group] = api.explain_groups(admin_context, [
        {'resources:FPGA': '1', 'trait:%s' % trait: 'required'}])

    assert group['summary'] == (
        'schedulable: 1 of 1 matching providers have room')
    assert group['placement'] == {'candidates': 1, 'error': None}


class _Conductor13:
    """A conductor of the previous release: RPC 1.3, no explain_groups."""

    target = messaging.Target(version='1.3')

    def heartbeat(self, context, hostname, fingerprint,
                  agent_rpc_version=None):
        return False


def test_explain_needs_a_1_4_conductor(transport, placement_conf,
                                       admin_context):
    # Capped below 1.4: nothing is sent. Answered by a 1.3 conductor: its
    # dispatcher's refusal. Both are ConductorTooOld (the API's 503).
    rpc.register_client_opts(placement_conf)
    capped = rpcapi.ConductorAPI(transport, timeout=5, version_cap='1.3')
    with pytest.raises(exception.ConductorTooOld, match='caps this service'):
        capped.explain_groups(admin_context, [{'resources:FPGA': '1'}])

    server = rpc.get_server(transport, rpc.CONDUCTOR_TOPIC, 'old-conductor',
                            [_Conductor13()])
    server.start()
    try:
        api = rpcapi.ConductorAPI(transport, timeout=10)
        with pytest.raises(exception.ConductorTooOld,
                           match='a conductor answered'):
            api.explain_groups(admin_context, [{'resources:FPGA': '1'}])
    finally:
        server.stop()
        server.wait()
