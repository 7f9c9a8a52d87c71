"""Quotas from Keystone unified limits, through oslo.limit, for real.

With ``[quota] driver = unified_limits`` the API reads the limit on
``class:FPGA`` from a real Keystone: a registered limit (every project's
default) and a project limit overriding it. Creates succeed up to that
limit and are then a 403 naming it; a limit changed in Keystone applies to
the next request. With Keystone unreachable, creates are a 503 rather
than going unchecked.
"""

import contextlib
import uuid

import pytest
import requests

from cyborg.db import migration
from cyborg.tests.fixtures import database as db_fixture
from cyborg.tests.fixtures import keystone as keystone_fixture
from cyborg.tests.fixtures import processes

pytestmark = pytest.mark.xdist_group('keystone')

V27 = 'accelerator 2.7'


@pytest.fixture(scope='module')
def limits_service(keystone):
    """A service and endpoint of ours in the catalog, with limits on
    ``class:FPGA``: 2 by default, 3 for project beta. The cyborg service
    user reads limits as a system reader, as Nova's does."""
    api = keystone._admin_api
    name = 'cyborg-limits-%s' % uuid.uuid4().hex[:8]
    service_id = keystone.register_endpoint('accelerator-limits', name,
                                            'http://127.0.0.1:9/v2')
    [endpoint] = api.get('/endpoints?service_id=%s' % service_id
                         ).json()['endpoints']
    reader = {role['name']: role['id']
              for role in api.get('/roles').json()['roles']}['reader']
    api.put('/system/users/%s/roles/%s'
            % (keystone.user_ids[keystone_fixture.CYBORG], reader))
    api.post('/registered_limits', json={'registered_limits': [{
        'service_id': service_id, 'region_id': 'RegionOne',
        'resource_name': 'class:FPGA', 'default_limit': 2}]})
    created = api.post('/limits', json={'limits': [{
        'service_id': service_id, 'region_id': 'RegionOne',
        'project_id': keystone.project_ids['beta'],
        'resource_name': 'class:FPGA', 'resource_limit': 3}]})
    assert created.status_code == 201, created.text
    yield endpoint['id'], created.json()['limits'][0]['id']
    keystone.unregister_service(service_id)


def _oslo_limit_section(keystone, endpoint_id, auth_url=None):
    return {'auth_type': 'password',
            'auth_url': auth_url or keystone.auth_url,
            'username': keystone_fixture.CYBORG,
            'password': keystone_fixture.PASSWORD,
            'user_domain_id': 'default', 'system_scope': 'all',
            'endpoint_id': endpoint_id}


@contextlib.contextmanager
def _api(tmp_path, oslo_limit):
    """A cyborg-api process (noauth) on a new database, its quotas from
    unified limits. A process of its own, as an operator runs it: the
    package's other tests hold this process's database wiring."""
    with db_fixture.empty_database('sqlite', tmp_path) as engine:
        migration.upgrade('head', engine=engine)
        procs = processes.Processes(tmp_path)
        try:
            endpoint = procs.start_api(
                'api-limits', engine.url.render_as_string(hide_password=False),
                sections={'quota': {'driver': 'unified_limits'},
                          'oslo_limit': oslo_limit})
            requests.post(endpoint + '/v2/device_profiles', json=[{
                'name': 'one-fpga', 'groups': [{'resources:FPGA': '1'}]}],
                timeout=30).raise_for_status()
            yield endpoint
        finally:
            procs.stop()


def _create(endpoint, project_id):
    return requests.post(
        endpoint + '/v2/accelerator_requests',
        json={'device_profile_name': 'one-fpga'}, timeout=60,
        headers={'X-Project-Id': project_id, 'X-Roles': 'member'})


def test_creates_stop_at_the_keystone_limit(keystone, limits_service,
                                            tmp_path):
    endpoint_id, beta_limit_id = limits_service
    alpha = keystone.project_ids['alpha']
    beta = keystone.project_ids['beta']
    with _api(tmp_path, _oslo_limit_section(keystone, endpoint_id)) as api:
        # alpha has the registered limit, 2; beta its own, 3.
        assert [_create(api, alpha).status_code for _ in range(3)] == [
            201, 201, 403]
        assert [_create(api, beta).status_code for _ in range(4)] == [
            201, 201, 201, 403]
        refused = _create(api, beta)
        assert refused.headers['OpenStack-Error-Code'] == \
            'cyborg.quota.exceeded'
        assert ('Quota exceeded for class:FPGA: requested 1, but already '
                'used 3 of 3 accelerators.') in refused.text

        usage = requests.get(api + '/v2/quotas/usage', timeout=30, headers={
            'X-Project-Id': beta, 'X-Roles': 'reader',
            'OpenStack-API-Version': V27})
        assert usage.json() == {'usages': [
            {'resource_class': 'FPGA', 'in_use': 3, 'limit': 3}]}

        # Raised in Keystone: the next create sees it (no cache).
        keystone._admin_api.patch('/limits/%s' % beta_limit_id, json={
            'limit': {'resource_limit': 4}})
        assert _create(api, beta).status_code == 201
        assert _create(api, beta).status_code == 403


def test_keystone_unreachable_is_a_503(keystone, limits_service, tmp_path):
    endpoint_id, _ = limits_service
    with _api(tmp_path, _oslo_limit_section(
            keystone, endpoint_id, auth_url='http://127.0.0.1:9/v3')) as api:
        refused = _create(api, keystone.project_ids['alpha'])
        assert refused.status_code == 503, refused.text
        assert refused.headers['OpenStack-Error-Code'] == \
            'cyborg.quota.limits_unavailable'
        listed = requests.get(api + '/v2/accelerator_requests', timeout=30,
                              headers={'X-Roles': 'admin'})
        assert listed.json()['arqs'] == []
