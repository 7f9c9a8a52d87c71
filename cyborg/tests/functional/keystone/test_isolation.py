"""Projects do not see or touch each other's ARQs; admins see every one.

Project beta's users, even with Nova's service token along, cannot read,
bind, unbind or delete project alpha's ARQs: to them those ARQs do not
exist (404), and a delete by instance leaves them alone. An admin (of any
project, as the admin_api rule reads) sees both projects' ARQs.
"""

import uuid

import pytest

from cyborg.tests.fixtures import keystone as keystone_fixture

pytestmark = pytest.mark.xdist_group('keystone')

ARQS = '/v2/accelerator_requests'
NOVA = keystone_fixture.NOVA
# beta's users that may act on ARQs at all (a reader is refused by policy
# before any lookup, see test_policy).
OUTSIDERS = ['beta-member', 'beta-manager']


@pytest.fixture
def alpha_arq(keystone_cloud):
    """An ARQ of project alpha bound to an instance: (uuid, instance)."""
    cloud = keystone_cloud
    arq_uuid = cloud.create_arq('alpha-member')
    instance = str(uuid.uuid4())
    resp = cloud.call('alpha-member', 'PATCH', ARQS, service=NOVA,
                      body={arq_uuid: cloud.bind_ops(instance)})
    assert resp.status_code == 202, resp.text
    before = cloud.wait_for_state(arq_uuid, {'Bound'})
    yield arq_uuid, instance
    # Whatever the test tried, project alpha's ARQ is as it was.
    after = cloud.arq(arq_uuid)
    assert after == before
    cloud.release_instance(instance)


@pytest.mark.parametrize('persona', OUTSIDERS)
def test_another_project_does_not_see_the_arq(keystone_cloud, alpha_arq,
                                              persona):
    cloud = keystone_cloud
    arq_uuid, instance = alpha_arq
    resp = cloud.call(persona, 'GET', '%s/%s' % (ARQS, arq_uuid))
    assert resp.status_code == 404, resp.text
    listed = cloud.call(persona, 'GET', ARQS).json()['arqs']
    assert arq_uuid not in [arq['uuid'] for arq in listed]
    resp = cloud.call(persona, 'GET', '%s?instance=%s&bind_state=resolved'
                      % (ARQS, instance))
    assert (resp.status_code, resp.json()) == (200, {'arqs': []})


@pytest.mark.parametrize('persona', OUTSIDERS)
def test_another_project_cannot_bind_or_unbind_the_arq(
        keystone_cloud, alpha_arq, persona):
    cloud = keystone_cloud
    arq_uuid, _instance = alpha_arq
    unbind = [{'op': 'remove', 'path': '/instance_uuid'}]
    for path in (ARQS, '%s/%s' % (ARQS, arq_uuid)):
        resp = cloud.call(persona, 'PATCH', path, service=NOVA,
                          body={arq_uuid: unbind})
        assert resp.status_code == 404, resp.text


def test_another_project_cannot_bind_an_unbound_arq(keystone_cloud):
    cloud = keystone_cloud
    arq_uuid = cloud.create_arq('alpha-member')
    resp = cloud.call('beta-member', 'PATCH', ARQS, service=NOVA,
                      body={arq_uuid: cloud.bind_ops(str(uuid.uuid4()))})
    assert resp.status_code == 404, resp.text
    arq = cloud.arq(arq_uuid)
    assert (arq['state'], arq['instance_uuid']) == ('Initial', None)
    resp = cloud.call('alpha-member', 'DELETE', '%s/%s' % (ARQS, arq_uuid))
    assert resp.status_code == 204, resp.text


@pytest.mark.parametrize('persona', OUTSIDERS)
def test_another_project_cannot_delete_the_arq(keystone_cloud, alpha_arq,
                                               persona):
    cloud = keystone_cloud
    arq_uuid, instance = alpha_arq
    for path in ('%s/%s' % (ARQS, arq_uuid), '%s?arqs=%s' % (ARQS, arq_uuid)):
        resp = cloud.call(persona, 'DELETE', path, service=NOVA)
        assert resp.status_code == 404, resp.text
    # Deleting by instance is idempotent, so a 204, but deletes nothing of
    # another project's (the fixture checks the ARQ is untouched).
    resp = cloud.call(persona, 'DELETE', '%s?instance=%s' % (ARQS, instance),
                      service=NOVA)
    assert resp.status_code == 204, resp.text


@pytest.mark.parametrize('admin', ['alpha-admin', 'beta-admin', NOVA])
def test_an_admin_sees_the_arqs_of_both_projects(keystone_cloud, admin):
    cloud = keystone_cloud
    mine = {project: cloud.create_arq('%s-member' % project)
            for project in ('alpha', 'beta')}
    listed = {arq['uuid']: arq['project_id'] for arq in
              cloud.call(admin, 'GET', ARQS).json()['arqs']}
    for project, arq_uuid in mine.items():
        assert listed[arq_uuid] == cloud.keystone.project_ids[project]
        resp = cloud.call(admin, 'GET', '%s/%s' % (ARQS, arq_uuid))
        assert resp.status_code == 200, resp.text
    for project, arq_uuid in mine.items():
        resp = cloud.call('%s-member' % project, 'DELETE',
                          '%s/%s' % (ARQS, arq_uuid))
        assert resp.status_code == 204, resp.text


def test_each_project_lists_only_its_own_arqs(keystone_cloud):
    cloud = keystone_cloud
    mine = {project: cloud.create_arq('%s-member' % project)
            for project in ('alpha', 'beta')}
    for project in ('alpha', 'beta'):
        listed = cloud.call('%s-reader' % project, 'GET', ARQS).json()['arqs']
        assert mine[project] in [arq['uuid'] for arq in listed]
        assert {arq['project_id'] for arq in listed} == {
            cloud.keystone.project_ids[project]}
    for project, arq_uuid in mine.items():
        cloud.call('%s-member' % project, 'DELETE', '%s/%s' % (ARQS, arq_uuid))
