"""What Nova does to get accelerators for an instance, end to end.

In one process: the API application on a loopback port, a conductor
(its RPC endpoint, recovery running) and an agent with the
fake driver on the fake:// transport, the real Placement, and a stub Nova
receiving the external events. Nova's side is played with plain HTTP
calls, in the order Nova makes them.
"""

import uuid

import pytest
import requests
import sqlalchemy as sa

from cyborg.tests.fixtures import binding as seed

NOVA_HEADERS = {
    'Content-Type': 'application/json', 'Accept': 'application/json',
    'X-Project-Id': 'demo-project', 'X-User-Id': 'nova',
    'X-Roles': 'admin', 'X-Service-Roles': 'service',
    'OpenStack-API-Version': 'accelerator 2.0',
}


def test_nova_flow(db, cloud, stub_nova):
    endpoint, rp_uuid, host = cloud
    session = requests.Session()
    session.headers.update(NOVA_HEADERS)
    instance = str(uuid.uuid4())

    resp = session.post(endpoint + '/v2/device_profiles', json=[{
        'name': 'two-by-two', 'groups': [{'resources:FPGA': '2'},
                                         {'resources:FPGA': '2'}]}])
    assert resp.status_code == 201, resp.text

    resp = session.post(endpoint + '/v2/accelerator_requests',
                        json={'device_profile_name': 'two-by-two'})
    assert resp.status_code == 201, resp.text
    arqs = resp.json()['arqs']
    assert sorted(a['device_profile_group_id'] for a in arqs) == [0, 0, 1, 1]
    uuids = sorted(a['uuid'] for a in arqs)

    resp = session.patch(endpoint + '/v2/accelerator_requests', json={
        arq_uuid: [{'op': 'add', 'path': '/hostname', 'value': host},
                   {'op': 'add', 'path': '/device_rp_uuid',
                    'value': rp_uuid},
                   {'op': 'add', 'path': '/instance_uuid',
                    'value': instance}]
        for arq_uuid in uuids})
    assert resp.status_code == 202, resp.text

    # Nova waits for one accelerator-request-bound event per ARQ.
    events = seed.wait_for(lambda: len(stub_nova.events()) >= 4 and
                           stub_nova.events(), what='4 events')
    assert sorted(e['tag'] for e in events) == uuids
    assert {(e['name'], e['server_uuid'], e['status']) for e in events} == {
        ('accelerator-request-bound', instance, 'completed')}

    resp = session.get(endpoint + '/v2/accelerator_requests',
                       params={'instance': instance,
                               'bind_state': 'resolved'})
    assert resp.status_code == 200, resp.text
    bound = resp.json()['arqs']
    assert sorted(a['uuid'] for a in bound) == uuids
    assert {a['state'] for a in bound} == {'Bound'}
    assert {a['attach_handle_type'] for a in bound} == {'TEST_PCI'}
    assert len({a['attach_handle_uuid'] for a in bound}) == 4
    assert all(set(a['attach_handle_info']) >= {'domain', 'bus', 'device',
                                                'function'}
               for a in bound)
    assert {a['hostname'] for a in bound} == {host}

    resp = session.delete(endpoint + '/v2/accelerator_requests',
                          params={'instance': instance})
    assert resp.status_code == 204, resp.text
    assert seed.arqs(db, uuids) == {}
    with db.connect() as conn:
        in_use = conn.execute(sa.text(
            'SELECT count(*) FROM attach_handles WHERE in_use')).scalar()
    assert in_use == 0


def _bind_patch(session, endpoint, host, rp_uuid, arq_uuids):
    instance = str(uuid.uuid4())
    return session.patch(endpoint + '/v2/accelerator_requests', json={
        arq_uuid: [{'op': 'add', 'path': '/hostname', 'value': host},
                   {'op': 'add', 'path': '/device_rp_uuid',
                    'value': rp_uuid},
                   {'op': 'add', 'path': '/instance_uuid',
                    'value': instance}]
        for arq_uuid in arq_uuids})


@pytest.fixture
def bind_wait(bind_conf):
    bind_conf.set_override('bind_wait_seconds', 10, group='api')


def test_the_202_of_a_bind_comes_once_it_is_bound(db, bind_wait, cloud,
                                                  stub_nova):
    # [api] bind_wait_seconds: the PATCH waits for the conductor's answer
    # for binds that need no agent, so Nova's first read sees Bound.
    endpoint, rp_uuid, host = cloud
    session = requests.Session()
    session.headers.update(NOVA_HEADERS)
    profile = seed.create_device_profile(db, [{'resources:FPGA': '1'}])
    uuids = seed.create_arqs(db, profile, 2)

    resp = _bind_patch(session, endpoint, host, rp_uuid, uuids)
    assert resp.status_code == 202, resp.text
    assert {row['state'] for row in seed.arqs(db, uuids).values()} == {
        'Bound'}
