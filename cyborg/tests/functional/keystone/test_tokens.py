"""Token validation by keystonemiddleware in front of the API, with a real
Keystone issuing, expiring and revoking the tokens.
"""

import pytest
import requests

from cyborg.tests.fixtures import keystone as keystone_fixture

pytestmark = pytest.mark.xdist_group('keystone')

PROFILES = '/v2/device_profiles'


@pytest.mark.parametrize('path', ['/', '/v2', '/healthcheck'])
def test_public_routes_need_no_token(keystone_cloud, path):
    resp = keystone_cloud.call_with_token(None, 'GET', path)
    assert resp.status_code == 200, resp.text


def test_no_token_is_401_and_says_where_to_get_one(keystone_cloud):
    resp = keystone_cloud.call_with_token(None, 'GET', PROFILES)
    assert resp.status_code == 401, resp.text
    assert resp.headers['WWW-Authenticate'] == (
        'Keystone uri="%s"' % keystone_cloud.keystone.endpoint)


def test_identity_headers_without_a_token_are_401(keystone_cloud):
    # What noauth would honour is nothing without a token here.
    resp = keystone_cloud.call_with_token(None, 'GET', PROFILES, headers={
        'X-Roles': 'admin', 'X-Project-Id': 'admin', 'X-User-Id': 'admin',
        'X-Service-Roles': 'service'})
    assert resp.status_code == 401, resp.text


@pytest.mark.parametrize('token', [
    'not-a-token',
    # Fernet-shaped, but not made with this Keystone's keys.
    'gAAAAABnAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'])
def test_a_bad_token_is_401(keystone_cloud, token):
    resp = keystone_cloud.call_with_token(token, 'GET', PROFILES)
    assert resp.status_code == 401, resp.text


def test_a_valid_token_passes(keystone_cloud):
    token = keystone_cloud.keystone.token('alpha-reader')
    resp = keystone_cloud.call_with_token(token, 'GET', PROFILES)
    assert resp.status_code == 200, resp.text
    assert keystone_cloud.profile_name in [
        profile['name'] for profile in resp.json()['device_profiles']]


def test_forged_identity_headers_are_replaced_by_the_tokens(keystone_cloud):
    # A reader claiming admin, and a service token's roles, in headers:
    # keystonemiddleware drops them and sets what the token says.
    token = keystone_cloud.keystone.token('alpha-reader')
    resp = keystone_cloud.call_with_token(
        token, 'POST', PROFILES,
        headers={'X-Roles': 'admin', 'X-Service-Roles': 'service,admin',
                 'X-Project-Id': keystone_cloud.keystone.project_ids['beta']},
        body=[{'name': 'forged', 'groups': [{'resources:FPGA': '1'}]}])
    assert resp.status_code == 403, resp.text
    assert resp.headers['OpenStack-Error-Code'] == 'cyborg.policy.denied'


@pytest.mark.parametrize('scope', ['system', 'domain'])
def test_tokens_not_scoped_to_a_project_are_refused(keystone_cloud, scope):
    # Every rule is project-scoped: the cloud admin's system token and a
    # domain admin's token, both holding the admin role, may not use the
    # API, nor see every project's ARQs as a project admin does.
    keystone = keystone_cloud.keystone
    token = (keystone.system_token() if scope == 'system'
             else keystone.domain_token('admin'))
    for path in (PROFILES, '/v2/accelerator_requests'):
        resp = keystone_cloud.call_with_token(token, 'GET', path)
        assert resp.status_code == 403, resp.text
        assert resp.headers['OpenStack-Error-Code'] == 'cyborg.policy.denied'


def test_an_expired_token_is_401(keystone_cloud):
    keystone = keystone_cloud.keystone
    used, expires_at = keystone.short_lived_token('alpha-member', 3)
    unseen, _ = keystone.short_lived_token('alpha-member', 3)
    # Valid until then, and keystonemiddleware has it in its cache now.
    resp = keystone_cloud.call_with_token(used, 'GET', PROFILES)
    assert resp.status_code == 200, resp.text

    keystone.wait_until(expires_at)

    # Expired in the cache, and expired when Keystone is asked.
    for token in (used, unseen):
        resp = keystone_cloud.call_with_token(token, 'GET', PROFILES)
        assert resp.status_code == 401, resp.text


def test_a_revoked_token_is_401(keystone_cloud):
    keystone = keystone_cloud.keystone
    token = keystone.token('alpha-member')
    keystone.revoke(token)
    resp = keystone_cloud.call_with_token(token, 'GET', PROFILES)
    assert resp.status_code == 401, resp.text
    # The persona itself is fine: a new token works.
    resp = keystone_cloud.call_with_token(keystone.token('alpha-member'),
                                          'GET', PROFILES)
    assert resp.status_code == 200, resp.text


def test_access_rules_of_an_application_credential_are_enforced(
        keystone_cloud):
    """A credential may be limited to some requests to some services
    (Keystone's access rules); keystonemiddleware checks them against
    ``[keystone_authtoken] service_type``, which must name our service."""
    keystone = keystone_cloud.keystone
    token, _expires = keystone.application_credential_token(
        'alpha-member', access_rules=[
            {'service': 'accelerator', 'method': 'GET',
             'path': '/v2/device_profiles'}])
    resp = keystone_cloud.call_with_token(token, 'GET', PROFILES)
    assert resp.status_code == 200, resp.text
    resp = keystone_cloud.call_with_token(token, 'GET',
                                          '/v2/accelerator_requests')
    assert resp.status_code == 401, resp.text


def test_a_token_revoked_after_use_is_401_once_no_longer_cached(
        keystone_cloud, tmp_path):
    # keystonemiddleware remembers a validated token for
    # [keystone_authtoken] token_cache_time seconds (300 by default), so a
    # revocation reaches a token in use within that time; with the cache
    # off, at once.
    keystone = keystone_cloud.keystone
    token = keystone.token('alpha-member')
    with keystone_cloud.another_api(tmp_path, {
            'keystone_authtoken': {'token_cache_time': -1}}) as endpoint:
        url = endpoint + PROFILES
        headers = {'X-Auth-Token': token}
        assert requests.get(url, headers=headers).status_code == 200
        keystone.revoke(token)
        resp = requests.get(url, headers=headers)
        assert resp.status_code == 401, resp.text


def test_tokens_of_a_user_keystone_disabled_are_401(keystone_cloud):
    # Disabling a user revokes its tokens in Keystone.
    keystone = keystone_cloud.keystone
    name = keystone.create_user('alpha', 'member')
    token = keystone.token(name)
    keystone.set_user_enabled(name, False)
    resp = keystone_cloud.call_with_token(token, 'GET', PROFILES)
    assert resp.status_code == 401, resp.text


def test_the_personas_tokens_hold_keystones_implied_roles(keystone):
    """What every policy test relies on: Keystone expands implied roles."""
    expected = {
        'alpha-admin': {'admin', 'manager', 'member', 'reader'},
        'alpha-manager': {'manager', 'member', 'reader'},
        'alpha-member': {'member', 'reader'},
        'alpha-reader': {'reader'},
        keystone_fixture.NOVA: {'service', 'admin', 'manager', 'member',
                                'reader'},
    }
    for name, roles in expected.items():
        assert keystone.token_roles(name) == roles, name
