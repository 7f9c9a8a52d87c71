"""The real clients against the real ``cyborg-all-in-one`` process.

The command run as the README runs it (only the ports moved, so tests can
run side by side): openstacksdk, with nothing but the endpoint (no
identity headers, no token, no service token), creates, lists, shows,
binds, unbinds and deletes device profiles and ARQs; the ``openstack``
CLI lists and deletes them.
"""

import json
import os
import subprocess
import time
import uuid

import openstack
import requests

from cyborg.tests.functional.all_in_one import service as aio


def test_openstacksdk_and_the_cli_against_the_all_in_one(tmp_path):
    with aio.running(tmp_path, {
            'DEFAULT': {'state_path': str(tmp_path / 'state')}}) as service:
        api = service.api
        deployable = service.wait(
            lambda: requests.get(api + '/v2/deployables', timeout=5
                                 ).json()['deployables'][0],
            'the all-in-one to come up')
        host = requests.get(api + '/v2/devices', timeout=5).json()[
            'devices'][0]['hostname']
        acc = openstack.connection.Connection(
            auth_type='none', auth={'endpoint': api}).accelerator

        profile = acc.create_device_profile(
            name='aio-fpga', groups=[{'resources:FPGA': '1',
                                      'trait:CUSTOM_FAKE_DEVICE':
                                          'required'}])
        assert acc.get_device_profile(profile.uuid).name == 'aio-fpga'
        arq = acc.create_accelerator_request(device_profile_name='aio-fpga')
        assert [a.uuid for a in acc.accelerator_requests()] == [arq.uuid]

        acc.patch_accelerator_request(arq.uuid, [
            {'op': 'add', 'path': '/hostname', 'value': host},
            {'op': 'add', 'path': '/device_rp_uuid',
             'value': deployable['rp_uuid']},
            {'op': 'add', 'path': '/instance_uuid',
             'value': str(uuid.uuid4())}])
        deadline = time.monotonic() + 30
        while acc.get_accelerator_request(arq.uuid).state == 'BindStarted':
            assert time.monotonic() < deadline, service.log_tail(4000)
            time.sleep(0.1)
        bound = acc.get_accelerator_request(arq.uuid)
        assert (bound.state, bound.attach_handle_type) == ('Bound',
                                                           'TEST_PCI')

        acc.patch_accelerator_request(arq.uuid, [
            {'op': 'remove', 'path': '/hostname'},
            {'op': 'remove', 'path': '/instance_uuid'},
            {'op': 'remove', 'path': '/device_rp_uuid'}])
        assert acc.get_accelerator_request(arq.uuid).state == 'Unbound'

        cli = _cli(tmp_path, api)
        listed = json.loads(cli('accelerator', 'arq', 'list', '-f', 'json'))
        assert [a['uuid'] for a in listed] == [arq.uuid]
        cli('accelerator', 'arq', 'delete', arq.uuid)
        assert list(acc.accelerator_requests()) == []
        cli('accelerator', 'device', 'profile', 'delete', profile.uuid)
        assert list(acc.device_profiles()) == []


def _cli(tmp_path, api):
    clouds = tmp_path / 'clouds.yaml'
    clouds.write_text('clouds:\n  aio:\n    auth_type: none\n    auth:\n'
                      '      endpoint: %s\n' % api)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith('OS_')}
    env.update(OS_CLIENT_CONFIG_FILE=str(clouds), OS_CLOUD='aio')

    def run(*args):
        proc = subprocess.run([os.path.join(aio.BIN, 'openstack'), *args],
                              env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout
    return run
