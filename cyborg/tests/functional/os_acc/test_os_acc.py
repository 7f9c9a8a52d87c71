"""os_acc as a compute service uses it, against the real service in-process.

With a flavor naming a device profile and with one naming a device
context (API 2.4); the XML of every attach type against real devices is
in cyborg/tests/functional/families/test_os_acc_every_attach_type.py.
"""

from concurrent import futures
import uuid

import pytest
import sqlalchemy as sa

from cyborg.accelerator.drivers import fake
import os_acc
from os_acc import attach
from os_acc import client as client_module

NOVA_HEADERS = {'X-Project-Id': 'demo-project', 'X-User-Id': 'nova',
                'X-Roles': 'admin', 'X-Service-Roles': 'service'}


@pytest.fixture
def acc(cloud):
    endpoint, rp_uuid, host = cloud
    client = os_acc.AcceleratorClient(endpoint=endpoint,
                                      headers=NOVA_HEADERS)
    return client, rp_uuid, host


def _profile(client, name, groups):
    client.request('POST', '/v2/device_profiles', expect=(201,),
                   json=[{'name': name, 'groups': groups}])
    return {'accel:device_profile': name}


def _handles_in_use(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            'SELECT count(*) FROM attach_handles WHERE in_use')).scalar()


def _instance(host):
    return os_acc.InstanceInfo(uuid=str(uuid.uuid4()), host=host,
                               project_id='demo-project')


def test_acquire_then_release(db, acc):
    client, rp_uuid, host = acc
    specs = _profile(client, 'two-groups', [{'resources:FPGA': '1'},
                                            {'resources:FPGA': '1'}])
    instance = _instance(host)

    attached = os_acc.acquire_accelerators_for_instance(
        [rp_uuid, rp_uuid], specs, instance, client=client)

    assert sorted(a.device_profile_group_id for a in attached) == [0, 1]
    assert all(a.attach_handle_type == 'TEST_PCI' for a in attached)
    assert all(a.device_rp_uuid == rp_uuid for a in attached)
    # The fake driver's handles are test-only: nothing for libvirt.
    assert all(a.hostdev_xml is None for a in attached)
    assert len({a.attach_handle_uuid for a in attached}) == 2
    assert _handles_in_use(db) == 2

    os_acc.release_accelerators_for_instance(instance.uuid, client=client)
    assert _handles_in_use(db) == 0
    # Releasing again is harmless.
    os_acc.release_accelerators_for_instance(instance.uuid, client=client)


def test_acquire_and_release_with_no_identity_against_noauth(db, cloud):
    # Nova against the all-in-one service: no Keystone, so no identity or
    # service-token headers at all; noauth must let its binds through.
    endpoint, rp_uuid, host = cloud
    client = os_acc.AcceleratorClient(endpoint=endpoint)
    specs = _profile(client, 'noauth-nova', [{'resources:FPGA': '1'}])
    instance = os_acc.InstanceInfo(uuid=str(uuid.uuid4()), host=host,
                                   project_id='admin')

    [attached] = os_acc.acquire_accelerators_for_instance(
        [rp_uuid], specs, instance, client=client)

    assert attached.attach_handle_type == 'TEST_PCI'
    assert _handles_in_use(db) == 1
    os_acc.release_accelerators_for_instance(instance.uuid, client=client)
    assert _handles_in_use(db) == 0


def test_concurrent_acquires_from_a_thread_pool(db, acc):
    # Calls are blocking and thread-safe: a compute service runs them in
    # a ThreadPoolExecutor, one instance each.
    client, rp_uuid, host = acc
    specs = _profile(client, 'one-fpga', [{'resources:FPGA': '1'}])
    instances = [_instance(host) for _ in range(6)]
    with futures.ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(
            lambda inst: os_acc.acquire_accelerators_for_instance(
                {0: rp_uuid}, specs, inst, client=client), instances))
    handles = [a.attach_handle_uuid for r in results for a in r]
    assert len(handles) == len(set(handles)) == 6
    with futures.ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda inst: os_acc.release_accelerators_for_instance(
            inst.uuid, client=client), instances))
    assert _handles_in_use(db) == 0


def test_failed_bind_raises_plug_exception_and_cleans_up(db, acc):
    client, rp_uuid, host = acc
    # The bitstream does not exist in (the stub) Glance: the bind fails.
    specs = _profile(client, 'missing-bitstream', [{
        'resources:FPGA': '1',
        'accel:bitstream_id': '6a1f2e4c-7d5b-4c3a-9e8f-0b1a2c3d4e5f'}])
    instance = _instance(host)
    with pytest.raises(os_acc.PlugException, match='failed to bind'):
        os_acc.acquire_accelerators_for_instance(
            [rp_uuid], specs, instance, client=client)
    _, body = client.request(
        'GET', '/v2/accelerator_requests?instance=%s' % instance.uuid)
    assert body['arqs'] == []
    assert _handles_in_use(db) == 0


def test_missing_profile_spec_or_provider_raises_plug_exception(db, acc):
    client, rp_uuid, host = acc
    with pytest.raises(os_acc.PlugException, match='accel:device_profile'):
        os_acc.acquire_accelerators_for_instance([rp_uuid], {},
                                                 _instance(host),
                                                 client=client)
    specs = _profile(client, 'two', [{'resources:FPGA': '1'},
                                     {'resources:FPGA': '1'}])
    instance = _instance(host)
    with pytest.raises(os_acc.PlugException, match='request group 1'):
        os_acc.acquire_accelerators_for_instance({0: rp_uuid}, specs,
                                                 instance, client=client)
    _, body = client.request('GET', '/v2/accelerator_requests')
    assert body['arqs'] == []


def test_unknown_profile_raises_plug_exception(acc):
    client, rp_uuid, host = acc
    with pytest.raises(os_acc.PlugException, match='404'):
        os_acc.acquire_accelerators_for_instance(
            [rp_uuid], {'accel:device_profile': 'nope'}, _instance(host),
            client=client)


def test_release_against_an_unreachable_api_raises_unplug_exception():
    # Port 9 on loopback: nothing listens there.
    client = os_acc.AcceleratorClient(endpoint='http://127.0.0.1:9',
                                      headers=NOVA_HEADERS, timeout=2)
    with pytest.raises(os_acc.UnplugException):
        os_acc.release_accelerators_for_instance(str(uuid.uuid4()),
                                                 client=client)


def test_hostdev_xml_for_pci_and_mdev_handles():
    pci = attach.AttachedAccelerator(
        arq_uuid='a', device_profile_group_id=0, device_rp_uuid='r',
        attach_handle_type='PCI', attach_handle_uuid='h',
        attach_handle_info={'domain': '0000', 'bus': '3b', 'device': '00',
                            'function': '1'})
    assert pci.hostdev_xml == (
        "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
        "<address domain='0x0000' bus='0x3b' slot='0x00' function='0x1'/>"
        "</source></hostdev>")
    mdev = attach.AttachedAccelerator(
        arq_uuid='a', device_profile_group_id=0, device_rp_uuid='r',
        attach_handle_type='MDEV',
        attach_handle_uuid='4b20d080-1b54-4048-85b3-a6a62d165c01',
        attach_handle_info={'domain': '0000', 'bus': '3b', 'device': '00',
                            'function': '0', 'asked_type': 'nvidia-222',
                            'vgpu_mark': 'nvidia-222_0'})
    assert "type='mdev'" in mdev.hostdev_xml
    assert "uuid='4b20d080-1b54-4048-85b3-a6a62d165c01'" in mdev.hostdev_xml


def test_client_needs_exactly_one_of_endpoint_or_adapter():
    with pytest.raises(ValueError):
        client_module.AcceleratorClient()


def _context(client, groups, config_data=None):
    _, created = client.request(
        'POST', '/v2/device_contexts', expect=(201,), microversion='2.4',
        json={'groups': groups, 'config_data': config_data or {}})
    return created['uuid']


def test_acquire_by_device_context_from_a_thread_pool(db, acc, bind_conf):
    # The seed's pattern: submitted to a ThreadPoolExecutor, the result
    # (or the PlugException) read from the future.
    client, rp_uuid, host = acc
    context_uuid = _context(client, [{'resources:FPGA': '1'}],
                            {'clock_mhz': '250'})
    instance = _instance(host)
    with futures.ThreadPoolExecutor(max_workers=2) as executor:
        future = executor.submit(
            os_acc.acquire_accelerators_for_instance, [rp_uuid],
            {'accel:device_context': context_uuid}, instance, client=client)
        [attached] = future.result()

    assert attached.config_data == {'clock_mhz': '250'}
    assert attached.attach_handle_type == 'TEST_PCI'
    prepared = fake.read_prepared(bind_conf.state_path)
    assert prepared[attached.attach_handle_uuid]['config_data'] == {
        'clock_mhz': '250'}
    _, shown = client.request('GET', '/v2/device_contexts/%s' % context_uuid,
                              microversion='2.4')
    assert shown['device_context']['instance_uuid'] == instance.uuid

    # The context is the instance's: another instance cannot have it.
    with futures.ThreadPoolExecutor(max_workers=1) as executor:
        future = executor.submit(
            os_acc.acquire_accelerators_for_instance, [rp_uuid],
            {'accel:device_context': context_uuid}, _instance(host),
            client=client)
        with pytest.raises(os_acc.PlugException, match='409'):
            future.result()

    with futures.ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(os_acc.release_accelerators_for_instance,
                        instance.uuid, client=client).result()
    assert _handles_in_use(db) == 0
    _, shown = client.request('GET', '/v2/device_contexts/%s' % context_uuid,
                              microversion='2.4')
    assert shown['device_context']['state'] == 'Released'


def test_a_failed_bind_of_a_context_raises_plug_exception(db, acc):
    client, rp_uuid, host = acc
    context_uuid = _context(client, [{'resources:FPGA': '1'}],
                            {fake.REFUSE_KEY: 'yes'})
    instance = _instance(host)
    with pytest.raises(os_acc.PlugException, match='failed to bind'):
        os_acc.acquire_accelerators_for_instance(
            [rp_uuid], {'accel:device_context': context_uuid}, instance,
            client=client)
    # Its ARQs were deleted again, and nothing is held.
    _, body = client.request(
        'GET', '/v2/accelerator_requests?instance=%s' % instance.uuid)
    assert body['arqs'] == []
    assert _handles_in_use(db) == 0


def test_an_unknown_context_raises_plug_exception(acc):
    client, rp_uuid, host = acc
    with pytest.raises(os_acc.PlugException, match='404'):
        os_acc.acquire_accelerators_for_instance(
            [rp_uuid], {'accel:device_context': str(uuid.uuid4())},
            _instance(host), client=client)
