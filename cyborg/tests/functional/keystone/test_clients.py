"""openstacksdk and the ``openstack`` CLI as users run them on a cloud:
password authentication with Keystone, the accelerator service found in
Keystone's catalog (``<api>/v2``, as devstack registers it), policy
applied to the user's token.
"""

import os
import subprocess
import sys
import uuid

import openstack
from openstack import exceptions as sdk_exc
import pytest

from cyborg.tests.fixtures import keystone as keystone_fixture

pytestmark = pytest.mark.xdist_group('keystone')

NOVA = keystone_fixture.NOVA
OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')


def _auth(keystone, persona):
    return {'auth_url': keystone.auth_url, 'username': persona,
            'password': keystone_fixture.PASSWORD,
            'project_name': keystone.personas[persona].project,
            'user_domain_id': 'default', 'project_domain_id': 'default'}


def _sdk(keystone, persona):
    return openstack.connection.Connection(
        auth_type='password', auth=_auth(keystone, persona),
        region_name='RegionOne').accelerator


def test_openstacksdk_finds_the_service_in_the_catalog(keystone_cloud):
    cloud = keystone_cloud
    acc = _sdk(cloud.keystone, 'alpha-member')
    assert cloud.profile_name in [p.name for p in acc.device_profiles()]

    arq = acc.create_accelerator_request(
        device_profile_name=cloud.profile_name)
    assert acc.get_accelerator_request(arq.uuid).state == 'Initial'
    # Made in the project of the user's token.
    assert cloud.arq(arq.uuid)['project_id'] == (
        cloud.keystone.project_ids['alpha'])
    acc.delete_accelerator_request(arq.uuid)
    assert cloud.arq(arq.uuid) is None


def test_openstacksdk_binds_with_novas_service_token(keystone_cloud):
    # openstacksdk on a keystoneauth session that adds Nova's service
    # token, as a service built on openstacksdk would bind.
    cloud = keystone_cloud
    arq = _sdk(cloud.keystone, 'alpha-member').create_accelerator_request(
        device_profile_name=cloud.profile_name)
    instance = str(uuid.uuid4())
    ops = cloud.bind_ops(instance)

    with pytest.raises(sdk_exc.ForbiddenException) as raised:
        _sdk(cloud.keystone, 'alpha-member').patch_accelerator_request(
            arq.uuid, ops)
    assert 'requires a service token' in str(raised.value)

    as_nova = openstack.connection.Connection(
        session=cloud.session('alpha-member', service=NOVA),
        region_name='RegionOne').accelerator
    as_nova.patch_accelerator_request(arq.uuid, ops)
    assert cloud.wait_for_state(arq.uuid, {'Bound'})['instance_uuid'] == (
        instance)
    cloud.release_instance(instance)


def test_openstacksdk_gets_the_policys_answer(keystone_cloud):
    cloud = keystone_cloud
    acc = _sdk(cloud.keystone, 'alpha-reader')
    with pytest.raises(sdk_exc.ForbiddenException) as raised:
        acc.create_accelerator_request(device_profile_name=cloud.profile_name)
    assert 'cyborg:arq:create' in str(raised.value)


def test_the_openstack_cli_with_keystone(keystone_cloud, tmp_path):
    cloud = keystone_cloud
    auth = _auth(cloud.keystone, 'alpha-reader')
    (tmp_path / 'clouds.yaml').write_text(
        'clouds:\n  cyborg:\n    region_name: RegionOne\n    auth:\n'
        + ''.join('      %s: %s\n' % item for item in auth.items()))
    env = {name: value for name, value in os.environ.items()
           if not name.startswith('OS_')}
    env.update(OS_CLIENT_CONFIG_FILE=str(tmp_path / 'clouds.yaml'),
               OS_CLOUD='cyborg')
    proc = subprocess.run(
        [OPENSTACK, 'accelerator', 'device', 'profile', 'list', '-f',
         'value', '-c', 'name'], env=env, capture_output=True, text=True,
        timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert cloud.profile_name in proc.stdout.split()
