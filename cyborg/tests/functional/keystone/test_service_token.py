"""The service token: what only Nova may do needs Nova's X-Service-Token.

Nova acts with the user's token and, with ``[service_user]
send_service_user_token``, adds its own service user's token as
``X-Service-Token`` (keystoneauth's ServiceTokenAuthWrapper, which these
tests use too). Binding, unbinding, deleting by instance and deleting a
bound ARQ need it; everything else a project member may do alone. The
bind goes all the way: the real conductor binds the ARQ and tells (stub)
Nova.
"""

import uuid

import pytest

from cyborg.tests.fixtures import binding
from cyborg.tests.fixtures import keystone as keystone_fixture

pytestmark = pytest.mark.xdist_group('keystone')

ARQS = '/v2/accelerator_requests'
MEMBER = 'alpha-member'
NOVA = keystone_fixture.NOVA


def _bound_arq(cloud):
    """An ARQ of project alpha that Nova bound to a new instance."""
    arq_uuid = cloud.create_arq(MEMBER)
    instance = str(uuid.uuid4())
    resp = cloud.call(MEMBER, 'PATCH', ARQS, service=NOVA,
                      body={arq_uuid: cloud.bind_ops(instance)})
    assert resp.status_code == 202, resp.text
    cloud.wait_for_state(arq_uuid, {'Bound'})
    return arq_uuid, instance


def _refused_for_want_of_a_service_token(resp):
    assert resp.status_code == 403, resp.text
    assert resp.headers['OpenStack-Error-Code'] in (
        'cyborg.service_token_required', 'cyborg.forbidden'), resp.headers
    assert 'service token' in resp.text


def test_bind_needs_novas_service_token(keystone_cloud):
    cloud = keystone_cloud
    arq_uuid = cloud.create_arq(MEMBER)
    instance = str(uuid.uuid4())
    patch = {arq_uuid: cloud.bind_ops(instance)}

    _refused_for_want_of_a_service_token(
        cloud.call(MEMBER, 'PATCH', ARQS, body=patch))
    assert cloud.arq(arq_uuid)['state'] == 'Initial'

    resp = cloud.call(MEMBER, 'PATCH', ARQS, service=NOVA, body=patch)
    assert resp.status_code == 202, resp.text
    bound = cloud.wait_for_state(arq_uuid, {'Bound', 'BindFailed'})
    assert (bound['state'], bound['instance_uuid'], bound['hostname']) == (
        'Bound', instance, cloud.host)
    # The member sees its bound ARQ, as Nova reads it back to attach it.
    resp = cloud.call(MEMBER, 'GET', '%s?instance=%s&bind_state=resolved'
                      % (ARQS, instance))
    [arq] = resp.json()['arqs']
    assert arq['attach_handle_type'] == 'TEST_PCI'
    # And Nova was told, with the event it waits for (sent once Bound is
    # committed, so possibly a moment after the ARQ reads Bound).
    [event] = binding.wait_for(lambda: cloud.nova.events_by_tag().get(
        arq_uuid), what='the bound event for Nova')
    assert (event['name'], event['server_uuid'], event['status']) == (
        'accelerator-request-bound', instance, 'completed')
    cloud.release_instance(instance)


def test_bind_of_one_arq_by_uuid_needs_novas_service_token(keystone_cloud):
    # PATCH /v2/accelerator_requests/{uuid}: what openstacksdk sends.
    cloud = keystone_cloud
    arq_uuid = cloud.create_arq(MEMBER)
    instance = str(uuid.uuid4())
    path = '%s/%s' % (ARQS, arq_uuid)
    patch = {arq_uuid: cloud.bind_ops(instance)}

    _refused_for_want_of_a_service_token(
        cloud.call(MEMBER, 'PATCH', path, body=patch))
    resp = cloud.call(MEMBER, 'PATCH', path, service=NOVA, body=patch)
    assert resp.status_code == 202, resp.text
    assert cloud.wait_for_state(arq_uuid, {'Bound'})['instance_uuid'] == (
        instance)
    cloud.release_instance(instance)


def test_unbind_needs_novas_service_token(keystone_cloud):
    cloud = keystone_cloud
    arq_uuid, instance = _bound_arq(cloud)
    unbind = {arq_uuid: [{'op': 'remove', 'path': '/hostname'},
                         {'op': 'remove', 'path': '/device_rp_uuid'},
                         {'op': 'remove', 'path': '/instance_uuid'}]}

    _refused_for_want_of_a_service_token(
        cloud.call(MEMBER, 'PATCH', ARQS, body=unbind))
    assert cloud.arq(arq_uuid)['state'] == 'Bound'

    resp = cloud.call(MEMBER, 'PATCH', ARQS, service=NOVA, body=unbind)
    assert resp.status_code == 202, resp.text
    arq = cloud.arq(arq_uuid)
    assert (arq['state'], arq['instance_uuid']) == ('Unbound', None)
    resp = cloud.call(MEMBER, 'DELETE', '%s/%s' % (ARQS, arq_uuid))
    assert resp.status_code == 204, resp.text


def test_delete_by_instance_needs_novas_service_token(keystone_cloud):
    cloud = keystone_cloud
    arq_uuid, instance = _bound_arq(cloud)
    path = '%s?instance=%s' % (ARQS, instance)

    _refused_for_want_of_a_service_token(cloud.call(MEMBER, 'DELETE', path))
    assert cloud.arq(arq_uuid)['state'] == 'Bound'

    resp = cloud.call(MEMBER, 'DELETE', path, service=NOVA)
    assert resp.status_code == 204, resp.text
    assert cloud.arq(arq_uuid) is None


@pytest.mark.parametrize('path', ['{arqs}/{uuid}', '{arqs}?arqs={uuid}'])
def test_deleting_a_bound_arq_needs_novas_service_token(keystone_cloud,
                                                        path):
    cloud = keystone_cloud
    arq_uuid, _instance = _bound_arq(cloud)
    path = path.format(arqs=ARQS, uuid=arq_uuid)

    _refused_for_want_of_a_service_token(cloud.call(MEMBER, 'DELETE', path))
    assert cloud.arq(arq_uuid)['state'] == 'Bound'

    resp = cloud.call(MEMBER, 'DELETE', path, service=NOVA)
    assert resp.status_code == 204, resp.text
    assert cloud.arq(arq_uuid) is None


def test_deleting_an_unbound_arq_needs_no_service_token(keystone_cloud):
    cloud = keystone_cloud
    arq_uuid = cloud.create_arq(MEMBER)
    resp = cloud.call(MEMBER, 'DELETE', '%s/%s' % (ARQS, arq_uuid))
    assert resp.status_code == 204, resp.text
    assert cloud.arq(arq_uuid) is None


@pytest.mark.parametrize('service', ['alpha-member', 'alpha-admin'])
def test_a_token_without_the_service_role_is_no_service_token(
        keystone_cloud, service):
    # keystonemiddleware refuses the request outright
    # ([keystone_authtoken] service_token_roles_required, which cyborg
    # sets): even an admin's token is not Nova's.
    cloud = keystone_cloud
    arq_uuid = cloud.create_arq(MEMBER)
    resp = cloud.call(MEMBER, 'PATCH', ARQS, service=service,
                      body={arq_uuid: cloud.bind_ops(str(uuid.uuid4()))})
    assert resp.status_code == 401, resp.text
    assert cloud.arq(arq_uuid)['state'] == 'Initial'


def test_a_forged_service_roles_header_is_no_service_token(keystone_cloud):
    cloud = keystone_cloud
    arq_uuid = cloud.create_arq(MEMBER)
    resp = cloud.call(MEMBER, 'PATCH', ARQS,
                      headers={'X-Service-Roles': 'service'},
                      body={arq_uuid: cloud.bind_ops(str(uuid.uuid4()))})
    _refused_for_want_of_a_service_token(resp)
    assert cloud.arq(arq_uuid)['state'] == 'Initial'


def test_a_bad_service_token_is_401(keystone_cloud):
    cloud = keystone_cloud
    arq_uuid = cloud.create_arq(MEMBER)
    resp = cloud.call_with_token(
        cloud.keystone.token(MEMBER), 'PATCH', ARQS,
        service_token='not-a-token',
        body={arq_uuid: cloud.bind_ops(str(uuid.uuid4()))})
    assert resp.status_code == 401, resp.text
    assert cloud.arq(arq_uuid)['state'] == 'Initial'


def test_nova_binds_with_a_user_token_that_expired_meanwhile(keystone_cloud):
    """Why Nova sends a service token: a boot may outlast the user's
    token, and keystonemiddleware accepts an expired user token that
    comes with a valid service token."""
    cloud = keystone_cloud
    arq_uuid = cloud.create_arq(MEMBER)
    token, expires_at = cloud.keystone.short_lived_token(MEMBER, 2)
    cloud.keystone.wait_until(expires_at)
    patch = {arq_uuid: cloud.bind_ops(str(uuid.uuid4()))}

    resp = cloud.call_with_token(token, 'PATCH', ARQS, body=patch)
    assert resp.status_code == 401, resp.text

    resp = cloud.call_with_token(token, 'PATCH', ARQS, body=patch,
                                 service_token=cloud.keystone.token(NOVA))
    assert resp.status_code == 202, resp.text
    bound = cloud.wait_for_state(arq_uuid, {'Bound'})
    # Done in the user's project, as Nova asked.
    assert bound['project_id'] == cloud.keystone.project_ids['alpha']
    cloud.release_instance(bound['instance_uuid'])
