"""Nova's flow on QAT offered one provider per PF with N accelerators.

The QAT driver makes one Placement provider per physical function with as
many units as VFs, where upstream made one provider per VF. This plays
what Nova does, in its order, against the real API, conductor, agent and
Placement, to show that shape serves it: the scheduler's candidates, the
allocation, ARQs from the device profile, the bind PATCH, the bound ARQs'
attach handles (two different VFs of the PF), and the delete.
"""

import uuid

import pytest
import requests

from cyborg.api import app as api_app
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import loopback
from cyborg.tests.fixtures import sysfs_families as families

NOVA_HEADERS = {
    'Content-Type': 'application/json', 'Accept': 'application/json',
    'X-Project-Id': 'demo-project', 'X-User-Id': 'nova',
    'X-Roles': 'admin', 'X-Service-Roles': 'service',
    'OpenStack-API-Version': 'accelerator 2.0',
}


@pytest.fixture
def api(family_host):
    server = loopback.LoopbackServer(
        api_app.build_app(family_host.conf, family_host.transport),
        'cyborg-api').start()
    yield server.endpoint
    server.stop()


def test_nova_flow_on_a_qat_pf(family_host, sysfs_tree, api, stub_nova):
    qat = families.build_4xxx_host(sysfs_tree)
    crypto = qat.pfs[0]
    family_host.start_agent(['intel_qat_driver'])
    placement = family_host.placement
    nova = requests.Session()
    nova.headers.update(NOVA_HEADERS)
    instance = str(uuid.uuid4())

    resp = nova.post(api + '/v2/device_profiles', json=[{
        'name': 'qat-crypto', 'groups': [{
            'resources:CUSTOM_QAT': '2',
            'trait:CUSTOM_QAT_SYM': 'required'}]}])
    assert resp.status_code == 201, resp.text

    # The scheduler: candidates for the profile's group on this host, and
    # the allocation of the one chosen for the instance.
    candidates = placement._request(
        'GET', '/allocation_candidates', microversion='1.33',
        params={'resources1': 'CUSTOM_QAT:2', 'required1': 'CUSTOM_QAT_SYM',
                'in_tree1': family_host.cn_uuid})
    assert candidates.status_code == 200, candidates.text
    [request] = candidates.json()['allocation_requests']
    assert request['allocations'] == {
        family_host.provider_uuid(crypto): {'resources': {'CUSTOM_QAT': 2}}}
    resp = placement._request('PUT', '/allocations/%s' % instance,
                              microversion='1.31', json=dict(
                                  request, consumer_generation=None,
                                  project_id='demo-project',
                                  user_id='nova'))
    assert resp.status_code == 204, resp.text

    resp = nova.post(api + '/v2/accelerator_requests',
                     json={'device_profile_name': 'qat-crypto'})
    assert resp.status_code == 201, resp.text
    uuids = sorted(arq['uuid'] for arq in resp.json()['arqs'])
    assert len(uuids) == 2

    # One provider per request group: both ARQs name the PF's provider.
    resp = nova.patch(api + '/v2/accelerator_requests', json={
        arq_uuid: [
            {'op': 'add', 'path': '/hostname', 'value': family_host.name},
            {'op': 'add', 'path': '/device_rp_uuid',
             'value': family_host.provider_uuid(crypto)},
            {'op': 'add', 'path': '/instance_uuid', 'value': instance}]
        for arq_uuid in uuids})
    assert resp.status_code == 202, resp.text
    events = seed.wait_for(lambda: len(stub_nova.events()) >= 2 and
                           stub_nova.events(), what='2 events')
    assert {(e['tag'], e['status']) for e in events} == {
        (arq_uuid, 'completed') for arq_uuid in uuids}

    resp = nova.get(api + '/v2/accelerator_requests',
                    params={'instance': instance, 'bind_state': 'resolved'})
    assert resp.status_code == 200, resp.text
    bound = resp.json()['arqs']
    assert {a['attach_handle_type'] for a in bound} == {'PCI'}
    vfs = sorted('%(domain)s:%(bus)s:%(device)s.%(function)s'
                 % a['attach_handle_info'] for a in bound)
    assert vfs == qat.vfs[crypto][:2]

    resp = nova.delete(api + '/v2/accelerator_requests',
                       params={'instance': instance})
    assert resp.status_code == 204, resp.text
    assert seed.arqs(family_host.engine, uuids) == {}
    resp = placement._request('DELETE', '/allocations/%s' % instance)
    assert resp.status_code == 204, resp.text
