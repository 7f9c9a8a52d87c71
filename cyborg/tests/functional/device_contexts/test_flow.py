"""A device context's whole life in the in-process service.

The API on a loopback port, a conductor, an agent with the fake driver,
the real Placement. Played as Nova plays it: contexts inline and from a
profile, their request groups (``os_acc.parse_device_context``) asked of
Placement, ARQs from the context, the bind, Bound with the config data the
fake driver recorded for the very handle the ARQ holds, the delete by
instance, Released, and gone after the grace period (404 at once, the row
purged by the conductor). And an unused context that expires by itself.
"""

import time
import uuid

import pytest
import requests
import sqlalchemy as sa

import os_acc
from cyborg.accelerator.drivers import fake
from cyborg.clients import placement as placement_client
from cyborg.db import models
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.functional.device_contexts import conftest

NOVA = {'Content-Type': 'application/json', 'Accept': 'application/json',
        'X-Project-Id': 'demo-project', 'X-User-Id': 'nova',
        'X-Roles': 'admin', 'X-Service-Roles': 'service',
        'OpenStack-API-Version': 'accelerator 2.4'}


@pytest.fixture
def nova():
    session = requests.Session()
    session.headers.update(NOVA)
    return session


def _context_row(engine, context_uuid):
    return seed.device_context(engine, context_uuid)


def _bind(nova, api, arqs, host, rp_uuid, instance):
    resp = nova.patch(api + '/v2/accelerator_requests', json={
        arq['uuid']: [
            {'op': 'add', 'path': '/hostname', 'value': host},
            {'op': 'add', 'path': '/device_rp_uuid', 'value': rp_uuid},
            {'op': 'add', 'path': '/instance_uuid', 'value': instance}]
        for arq in arqs})
    assert resp.status_code == 202, resp.text
    # Nova waits for the event, then reads the resolved ARQs.
    return seed.wait_for(lambda: _resolved(nova, api, instance),
                         what='the binds of %s' % instance)


def _resolved(nova, api, instance):
    resp = nova.get(api + '/v2/accelerator_requests', params={
        'instance': instance, 'bind_state': 'resolved'})
    return resp.json()['arqs'] if resp.status_code == 200 else None


def _candidates(placement, params):
    resp = placement._request('GET', '/allocation_candidates',
                              microversion='1.34', params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()['allocation_requests']


def test_a_context_from_creation_to_gone(db, short_grace, cloud, nova,
                                         placement_conf, stub_nova):
    api, rp_uuid, host = cloud
    resp = nova.post(api + '/v2/device_profiles', json=[{
        'name': 'fake-fpga', 'groups': [{
            'resources:FPGA': '1', 'trait:CUSTOM_FAKE_DEVICE': 'required'}]}])
    assert resp.status_code == 201, resp.text

    inline = nova.post(api + '/v2/device_contexts', json={
        'groups': [{'resources:FPGA': '2',
                    'trait:CUSTOM_FAKE_DEVICE': 'required'}],
        'config_data': {'clock_mhz': '300', 'region0.mode': 'fast'}})
    assert inline.status_code == 201, inline.text
    inline = inline.json()
    from_profile = nova.post(api + '/v2/device_contexts', json={
        'device_profile_name': 'fake-fpga', 'config_data': {'mode': 'b'}})
    assert from_profile.status_code == 201, from_profile.text
    from_profile = from_profile.json()
    assert from_profile['groups'] == [{
        'resources:FPGA': '1', 'trait:CUSTOM_FAKE_DEVICE': 'required'}]

    # The scheduler: the context's groups, as Nova reads a profile's, asked
    # of Placement; the fake FPGA's provider is the candidate.
    shown = nova.get(api + '/v2/device_contexts/%s' % inline['uuid']).json()
    [group] = os_acc.parse_device_context(shown)
    assert (group.requester_id, group.resources, group.required_traits) == (
        'device_profile_0', {'FPGA': 2}, ('CUSTOM_FAKE_DEVICE',))
    placement = placement_client.PlacementClient.from_conf(placement_conf)
    compute_node = placement.find_provider_by_name(host)
    # (The agent's report may still be on its way to Placement.)
    [request] = seed.wait_for(lambda: _candidates(
        placement, group.placement_query(in_tree=compute_node['uuid'])),
        what='allocation candidates for the context')
    assert request['mappings'] == {'_device_profile_0': [rp_uuid]}

    # ARQs from the context, one per accelerator, and their bind.
    created = nova.post(api + '/v2/accelerator_requests',
                        json={'device_context_uuid': inline['uuid']})
    assert created.status_code == 201, created.text
    arqs = created.json()['arqs']
    assert [a['device_profile_group_id'] for a in arqs] == [0, 0]
    instance = str(uuid.uuid4())
    bound = _bind(nova, api, arqs, host, rp_uuid, instance)

    assert {a['state'] for a in bound} == {'Bound'}
    assert {a['device_context_uuid'] for a in bound} == {inline['uuid']}
    assert bound[0]['config_data'] == {'clock_mhz': '300',
                                       'region0.mode': 'fast'}
    # The fake driver was handed the config data for exactly the handles
    # the two ARQs hold.
    prepared = fake.read_prepared(short_grace.state_path)
    assert sorted(prepared) == sorted(a['attach_handle_uuid'] for a in bound)
    for arq in bound:
        record = prepared[arq['attach_handle_uuid']]
        assert record['config_data'] == {'clock_mhz': '300',
                                         'region0.mode': 'fast'}
        assert record['attach_info'] == arq['attach_handle_info']
    context = nova.get(api + '/v2/device_contexts/%s'
                       % inline['uuid']).json()['device_context']
    assert (context['state'], context['instance_uuid'],
            context['expires_at']) == ('Bound', instance, None)
    # The events are sent just after Bound is committed: wait for them.
    by_tag = seed.wait_for(
        lambda: (lambda t: t if all(a['uuid'] in t for a in bound) else None)(
            stub_nova.events_by_tag()), timeout=10, what='the bound events')
    assert [e['status'] for a in bound for e in by_tag[a['uuid']]] == [
        'completed', 'completed']

    # The context made from the profile serves another instance.
    other = str(uuid.uuid4())
    created = nova.post(api + '/v2/accelerator_requests',
                        json={'device_context_uuid': from_profile['uuid']})
    [other_arq] = _bind(nova, api, created.json()['arqs'], host, rp_uuid,
                        other)
    assert other_arq['state'] == 'Bound'
    assert fake.read_prepared(short_grace.state_path)[
        other_arq['attach_handle_uuid']]['config_data'] == {'mode': 'b'}

    # The instance is deleted: Nova deletes its ARQs.
    resp = nova.delete(api + '/v2/accelerator_requests',
                       params={'instance': instance})
    assert resp.status_code == 204, resp.text
    context = nova.get(api + '/v2/device_contexts/%s'
                       % inline['uuid']).json()['device_context']
    assert context['state'] == 'Released'
    assert context['expires_at'] is not None
    released_at = time.monotonic()

    # Gone once the grace period is over: for the API at once, and its row
    # purged by the conductor's periodic pass.
    seed.wait_for(lambda: nova.get(api + '/v2/device_contexts/%s' % inline[
        'uuid']).status_code == 404, timeout=30, interval=0.1,
        what='the released context to expire')
    assert time.monotonic() - released_at >= conftest.RELEASE_GRACE - 1
    seed.wait_for(lambda: _context_row(db, inline['uuid']) is None,
                  timeout=30, what='the conductor to purge the context')
    assert inline['uuid'] not in [c['uuid'] for c in nova.get(
        api + '/v2/device_contexts').json()['device_contexts']]
    # The other instance's context lives on, Bound.
    assert nova.get(api + '/v2/device_contexts/%s' % from_profile[
        'uuid']).json()['device_context']['state'] == 'Bound'


def test_an_unused_context_expires(db, short_expiry, cloud, nova):
    api, _rp_uuid, _host = cloud
    created = nova.post(api + '/v2/device_contexts', json={
        'groups': [{'resources:FPGA': '1'}]}).json()
    assert created['expires_at'] is not None

    seed.wait_for(lambda: nova.get(api + '/v2/device_contexts/%s' % created[
        'uuid']).status_code == 404, timeout=30, interval=0.1,
        what='the unused context to expire')
    resp = nova.post(api + '/v2/accelerator_requests',
                     json={'device_context_uuid': created['uuid']})
    assert resp.status_code == 404, resp.text
    seed.wait_for(lambda: _context_row(db, created['uuid']) is None,
                  timeout=30, what='the conductor to purge the context')
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(
            models.DeviceContext.__table__)).scalar() == 0


def test_a_driver_refusing_the_config_data_fails_the_bind(
        db, cloud, nova, stub_nova):
    api, rp_uuid, host = cloud
    created = nova.post(api + '/v2/device_contexts', json={
        'groups': [{'resources:FPGA': '1'}],
        'config_data': {fake.REFUSE_KEY: 'please'}}).json()
    arqs = nova.post(api + '/v2/accelerator_requests', json={
        'device_context_uuid': created['uuid']}).json()['arqs']
    instance = str(uuid.uuid4())

    [failed] = _bind(nova, api, arqs, host, rp_uuid, instance)

    assert failed['state'] == 'BindFailed'
    assert failed['attach_handle_uuid'] is None
    row = seed.arq(db, failed['uuid'])
    assert 'fake.refuse asks the fake driver to refuse' in row['bind_error']
    # The event is sent just after BindFailed is committed: wait for it.
    events = seed.wait_for(
        lambda: stub_nova.events_by_tag().get(failed['uuid']), timeout=10,
        what='the failed event')
    assert [e['status'] for e in events] == ['failed']
