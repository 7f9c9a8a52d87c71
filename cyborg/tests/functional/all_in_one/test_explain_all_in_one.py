"""The issue's "done when" for explain, in ``cyborg-all-in-one`` with its
fake FPGA (16 accelerators, trait CUSTOM_FAKE_DEVICE) and its embedded,
real Placement: explain says "schedulable" for a matching profile, "trait
CUSTOM_X is on no provider" for a profile asking for an absent trait,
"all 1 matching providers are full" once 16 ARQs are bound (through the
API, as Nova binds), and "reserved" once the device is disabled.
"""

import uuid

import requests

from cyborg.accelerator.drivers import fake
from cyborg.tests.functional.all_in_one import service as aio

HOST = 'aio-explain-host'
HEADERS = {'Accept': 'application/json',
           'OpenStack-API-Version': 'accelerator 2.8'}
# As Nova binds: with a service token (noauth honours the role header).
NOVA_HEADERS = dict(HEADERS, **{'X-Service-Roles': 'service'})


def _create_profile(api, name, group):
    response = requests.post(api + '/v2/device_profiles',
                             json=[{'name': name, 'groups': [group]}],
                             headers=HEADERS, timeout=10)
    assert response.status_code == 201, response.text


def _explain(api, name):
    response = requests.get(api + '/v2/device_profiles/%s/explain' % name,
                            headers=HEADERS, timeout=30)
    assert response.status_code == 200, response.text
    [group] = response.json()['groups']
    return group


def _bind_all(service, deployable, profile):
    """Create the profile's ARQs and bind them all to one instance."""
    api = service.api
    response = requests.post(api + '/v2/accelerator_requests',
                             json={'device_profile_name': profile},
                             headers=HEADERS, timeout=10)
    assert response.status_code == 201, response.text
    arqs = response.json()['arqs']
    assert len(arqs) == fake.NUM_ACCELERATORS
    instance = str(uuid.uuid4())
    response = requests.patch(api + '/v2/accelerator_requests', json={
        arq['uuid']: [
            {'op': 'add', 'path': '/hostname', 'value': HOST},
            {'op': 'add', 'path': '/device_rp_uuid',
             'value': deployable['rp_uuid']},
            {'op': 'add', 'path': '/instance_uuid', 'value': instance}]
        for arq in arqs}, headers=NOVA_HEADERS, timeout=30)
    assert response.status_code == 202, response.text

    def all_bound():
        found = requests.get(
            api + '/v2/accelerator_requests?instance=%s' % instance,
            headers=HEADERS, timeout=10).json()['arqs']
        states = {arq['state'] for arq in found}
        return states if states <= {'Bound', 'BindFailed'} else None

    assert service.wait(all_bound, 'the binds', timeout=90) == {'Bound'}, (
        service.log_tail())


def test_explain_in_the_all_in_one(tmp_path):
    with aio.running(tmp_path, {
            'DEFAULT': {'host': HOST,
                        'state_path': str(tmp_path / 'state')}}) as service:
        api = service.api
        [deployable] = service.wait(
            lambda: requests.get(api + '/v2/deployables', headers=HEADERS,
                                 timeout=10).json()['deployables'],
            'the fake FPGA to be reported')
        _create_profile(api, 'fake-one', {
            'resources:FPGA': '1',
            'trait:CUSTOM_FAKE_DEVICE': 'required'})
        _create_profile(api, 'absent-trait', {
            'resources:FPGA': '1', 'trait:CUSTOM_X': 'required'})
        _create_profile(api, 'fake-all', {
            'resources:FPGA': str(fake.NUM_ACCELERATORS),
            'trait:CUSTOM_FAKE_DEVICE': 'required'})

        # Placement gets the provider a moment after the DB row.
        matching = service.wait(
            lambda: (lambda g: g if g['schedulable'] else None)(
                _explain(api, 'fake-one')), 'a schedulable profile')
        assert matching['summary'] == (
            'schedulable: 1 of 1 matching providers have room')
        assert matching['placement'] == {'candidates': 1, 'error': None}
        [device] = requests.get(api + '/v2/devices', headers=HEADERS,
                                timeout=10).json()['devices']
        [provider] = matching['providers']
        # The host is the compute node's name, as the device shows it.
        assert (provider['provider_uuid'], provider['host'],
                provider['capacity'], provider['used']) == (
            deployable['rp_uuid'], device['hostname'],
            fake.NUM_ACCELERATORS, 0)

        absent = _explain(api, 'absent-trait')
        assert absent['summary'] == 'trait CUSTOM_X is on no provider'
        assert absent['schedulable'] is False

        _bind_all(service, deployable, 'fake-all')
        full = _explain(api, 'fake-one')
        assert full['summary'] == 'all 1 matching providers are full'
        assert full['schedulable'] is False
        assert full['providers'][0]['used'] == fake.NUM_ACCELERATORS

        response = requests.post(
            api + '/v2/devices/%s/disable' % device['uuid'],
            headers=HEADERS, timeout=30)
        assert response.status_code == 200, response.text
        disabled = _explain(api, 'fake-one')
        assert disabled['summary'] == (
            'all 1 matching providers are reserved (disabled)')
        assert disabled['providers'][0]['reserved'] == fake.NUM_ACCELERATORS
        assert disabled['providers'][0]['disabled'] is True
