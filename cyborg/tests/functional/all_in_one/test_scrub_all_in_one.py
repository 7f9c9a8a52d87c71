"""Issue 15's "Done when" for scrubbing, on ``cyborg-all-in-one``.

The real command with its defaults (the fake driver, which scrubs and
records each scrub in its state directory; ``[agent] scrub_on_release``
at its default, which covers FPGAs), driven over HTTP as Nova drives it.
A bind, a delete and an immediate re-bind of the same fake device run the
scrub between the two tenants, and the second tenant never gets the
handle being scrubbed; the embedded Placement reserves it meanwhile; a
failed scrub leaves it out of service; admins read all of it on the
release audit route.
"""

import uuid

import requests

from cyborg.accelerator.drivers import fake
from cyborg.clients import placement as placement_client
from cyborg.tests.fixtures import config as config_fixture
from cyborg.tests.functional.all_in_one import service as aio

HEADERS = {'Accept': 'application/json',
           'OpenStack-API-Version': 'accelerator 2.5',
           # As Nova binds and deletes: with a service token.
           'X-Service-Roles': 'service'}
# Devices show their health (and a failed scrub) from 2.6.
V26 = dict(HEADERS, **{'OpenStack-API-Version': 'accelerator 2.6'})


def _json(response):
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def _bind(service, host, rp_uuid, profile):
    api = service.api
    [arq] = _json(requests.post(
        api + '/v2/accelerator_requests',
        json={'device_profile_name': profile}, headers=HEADERS,
        timeout=10))['arqs']
    instance = str(uuid.uuid4())
    _json(requests.patch(api + '/v2/accelerator_requests', json={
        arq['uuid']: [
            {'op': 'add', 'path': '/hostname', 'value': host},
            {'op': 'add', 'path': '/device_rp_uuid', 'value': rp_uuid},
            {'op': 'add', 'path': '/instance_uuid', 'value': instance}]},
        headers=HEADERS, timeout=10))
    bound = service.wait(
        lambda: (lambda a: a if a['state'] in ('Bound', 'BindFailed')
                 else None)(_json(requests.get(
                     api + '/v2/accelerator_requests/%s' % arq['uuid'],
                     headers=HEADERS, timeout=10))),
        'the bind of %s' % arq['uuid'], timeout=60)
    assert bound['state'] == 'Bound', service.log_tail()
    return bound


def _delete_instance(service, instance):
    response = requests.delete(
        service.api + '/v2/accelerator_requests',
        params={'instance': instance}, headers=HEADERS, timeout=10)
    assert response.status_code == 204, response.text


def _releases(service, handle_uuid, **headers):
    return requests.get(
        service.api + '/v2/attach_handles/%s/releases' % handle_uuid,
        headers=dict(HEADERS, **headers), timeout=10)


def _ended(service, handle_uuid, outcome):
    [release] = _releases(service, handle_uuid).json()['releases']
    return release if release['scrub_outcome'] == outcome else None


def _device(service):
    [device] = _json(requests.get(service.api + '/v2/devices', headers=V26,
                                  timeout=10))['devices']
    return device


def test_scrub_between_tenants_in_the_all_in_one(tmp_path):
    state = tmp_path / 'state'
    with aio.running(tmp_path, {'DEFAULT': {'state_path': str(state)}}
                     ) as service:
        conf = config_fixture.make_conf(tmp_path)
        placement_client.configure_noauth(
            conf, 'http://127.0.0.1:%d' % service.placement_port)
        placement = placement_client.PlacementClient.from_conf(conf)

        def reserved():
            return placement.get_inventories(rp_uuid)[1]['FPGA']['reserved']

        [device] = service.wait(
            lambda: requests.get(service.api + '/v2/devices', timeout=5
                                 ).json()['devices'], 'the fake device')
        [deployable] = requests.get(service.api + '/v2/deployables',
                                    timeout=5).json()['deployables']
        host, rp_uuid = device['hostname'], deployable['rp_uuid']
        _json(requests.post(service.api + '/v2/device_profiles', json=[{
            'name': 'fake-fpga', 'groups': [{'resources:FPGA': '1'}]}],
            headers=HEADERS, timeout=10))
        # Slow enough that the re-bind certainly runs mid-scrub.
        fake.slow_scrubs(str(state), 3)

        first = _bind(service, host, rp_uuid, 'fake-fpga')
        dirty = first['attach_handle_uuid']
        _delete_instance(service, first['instance_uuid'])
        second = _bind(service, host, rp_uuid, 'fake-fpga')

        assert second['attach_handle_uuid'] != dirty
        service.wait(lambda: reserved() == 1, 'reserved during the scrub')
        release = service.wait(lambda: _ended(service, dirty, 'scrubbed'),
                               'the scrub', timeout=60)
        [scrub] = fake.read_scrubs(str(state))
        assert scrub['attach_handle_uuid'] == dirty
        assert release['instance_uuid'] == first['instance_uuid']
        assert release['scrub_driver'] == 'fake'
        service.wait(lambda: reserved() == 0, 'reserved after the scrub')

        # A scrub that fails: the handle stays out of service.
        fake.slow_scrubs(str(state), None)
        fake.fail_scrubs(str(state), 'blank image rejected')
        failing = second['attach_handle_uuid']
        _delete_instance(service, second['instance_uuid'])
        release = service.wait(lambda: _ended(service, failing, 'failed'),
                               'the scrub to fail', timeout=60)
        assert 'blank image rejected' in release['scrub_reason']
        # The whole device is out of service, failed, until an operator
        # enables it again.
        service.wait(lambda: reserved() == 16, 'the device reserved')
        assert len(fake.read_scrubs(str(state))) == 1
        shown = _device(service)
        assert shown['health'] == 'failed'
        assert 'blank image rejected' in shown['health_reason']
        assert [d['uuid'] for d in _json(requests.get(
            service.api + '/v2/devices?health=failed', headers=V26,
            timeout=10))['devices']] == [device['uuid']]
        fake.fail_scrubs(str(state), None)
        _json(requests.post(service.api + '/v2/devices/%s/enable'
                            % device['uuid'], headers=V26, timeout=10))
        service.wait(lambda: reserved() == 0, 'the device back in service')
        assert _device(service)['health'] == 'healthy'
        assert _bind(service, host, rp_uuid, 'fake-fpga')

        # The audit route: admins only, well-formed uuids only.
        assert _releases(service, failing,
                         **{'X-Roles': 'member'}).status_code == 403
        assert _releases(service, 'not-a-uuid').status_code == 400
        assert _releases(service, str(uuid.uuid4())).status_code == 404
