"""Every policy persona on every route, with real Keystone tokens.

The expectation is the table of default rules (CONTRACT.md section g,
declared in cyborg/api/policies/), written out below as the personas that
pass each rule; it is not read from the code under test. Every persona
acts on resources of its own project (ARQs made by its project's member),
so only policy decides: isolation between projects has its own tests.
Binds and deletes by instance carry Nova's service token, as Nova sends
them, so that the service-token check does not decide either.

An allowed request must succeed with the route's own status; a denied one
must be a 403 from the policy check naming the rule.
"""

import collections
import uuid

import pytest

from cyborg.api import routes
from cyborg.tests.fixtures import keystone as keystone_fixture

pytestmark = pytest.mark.xdist_group('keystone')

NOVA = keystone_fixture.NOVA

# Who each persona is, by the one role its user was given (Keystone adds
# the implied ones to its tokens: admin > manager > member > reader).
# Nova's service user holds service and admin in the service project.
PERSONAS = {
    'alpha-admin': 'admin', 'alpha-manager': 'manager',
    'alpha-member': 'member', 'alpha-reader': 'reader',
    'beta-admin': 'admin', 'beta-manager': 'manager',
    'beta-member': 'member', 'beta-reader': 'reader',
    NOVA: 'service user',
}

# The default rules, as the personas that pass them (a project's own
# roles; "admin" is role:admin in any project).
#   rule:project_reader_or_admin
READER_OR_ADMIN = {'admin', 'manager', 'member', 'reader', 'service user'}
#   rule:project_member_or_service
MEMBER_OR_SERVICE = {'admin', 'manager', 'member', 'service user'}
#   rule:project_manager_or_admin
MANAGER_OR_ADMIN = {'admin', 'manager', 'service user'}
#   rule:admin_api
ADMIN = {'admin', 'service user'}

RULES = {
    'cyborg:device_profile:get_all': READER_OR_ADMIN,
    'cyborg:device_profile:get_one': READER_OR_ADMIN,
    'cyborg:device_profile:create': ADMIN,
    'cyborg:device_profile:delete': ADMIN,
    'cyborg:device_profile:explain': ADMIN,
    'cyborg:device_context:get_all': READER_OR_ADMIN,
    'cyborg:device_context:get_one': READER_OR_ADMIN,
    'cyborg:device_context:create': MEMBER_OR_SERVICE,
    'cyborg:device_context:delete': MEMBER_OR_SERVICE,
    'cyborg:device_context:explain': ADMIN,
    'cyborg:arq:get_all': READER_OR_ADMIN,
    'cyborg:arq:get_one': READER_OR_ADMIN,
    'cyborg:arq:create': MEMBER_OR_SERVICE,
    'cyborg:arq:update': MEMBER_OR_SERVICE,
    'cyborg:arq:delete': MEMBER_OR_SERVICE,
    'cyborg:device:get_all': MANAGER_OR_ADMIN,
    'cyborg:device:get_one': MANAGER_OR_ADMIN,
    'cyborg:device:disable': ADMIN,
    'cyborg:device:enable': ADMIN,
    'cyborg:deployable:get_all': MANAGER_OR_ADMIN,
    'cyborg:deployable:get_one': MANAGER_OR_ADMIN,
    'cyborg:deployable:program': ADMIN,
    'cyborg:attribute:get_all': MANAGER_OR_ADMIN,
    'cyborg:attribute:get_one': MANAGER_OR_ADMIN,
    'cyborg:attribute:create': ADMIN,
    'cyborg:attribute:delete': ADMIN,
    'cyborg:attach_handle:list_releases': ADMIN,
    'cyborg:quota:get_usage': READER_OR_ADMIN,
}

# One request on one route: ``send(cloud, persona, things)`` makes what
# it acts on, sends it as the persona and, once it succeeded, undoes what
# would change the other cases; ``status`` is its success status.
Case = collections.namedtuple('Case', 'name method route rule status send')
CASES = []


def case(name, method, route, rule, status):
    def register(send):
        CASES.append(Case(name, method, route, rule, status, send))
        return send
    return register


class Things:
    """What the cases act on, found or made once for the module."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.profile = cloud.create_profile()
        [device] = cloud.call(NOVA, 'GET', '/v2/devices').json()['devices']
        self.device_uuid = device['uuid']
        [deployable] = cloud.call(NOVA, 'GET', '/v2/deployables').json()[
            'deployables']
        self.deployable_uuid = deployable['uuid']
        attributes = cloud.call(NOVA, 'GET', '/v2/attributes').json()[
            'attributes']
        self.deployable_id = attributes[0]['deployable_id']
        self.attribute_uuid = self.create_attribute()
        self.image_uuid = cloud.glance.add_image(b'policy-bitstream')['id']
        self.arqs = {}
        self.contexts = {}
        self._released_handle = None

    def released_handle(self):
        """The uuid of an attach handle that was bound, then released."""
        if self._released_handle is None:
            arq_uuid = self.cloud.create_arq('alpha-admin')
            instance = str(uuid.uuid4())
            resp = self.cloud.call(NOVA, 'PATCH', '/v2/accelerator_requests',
                                   service=NOVA, body={
                                       arq_uuid: self.cloud.bind_ops(
                                           instance)})
            assert resp.status_code == 202, resp.text
            bound = self.cloud.wait_for_state(arq_uuid, {'Bound'})
            self.cloud.release_instance(instance)
            self._released_handle = bound['attach_handle_uuid']
        return self._released_handle

    def create_attribute(self):
        resp = self.cloud.call(NOVA, 'POST', '/v2/attributes', body={
            'deployable_id': self.deployable_id,
            'key': 'k-%s' % uuid.uuid4().hex[:8], 'value': 'v'})
        assert resp.status_code == 201, resp.text
        return resp.json()['uuid']

    def arq(self, persona):
        """An ARQ of the persona's project that stays (for reads)."""
        if persona not in self.arqs:
            self.arqs[persona] = self.cloud.create_arq(persona)
        return self.arqs[persona]

    def context(self, persona):
        """A device context of the persona's project that stays."""
        if persona not in self.contexts:
            self.contexts[persona] = self.cloud.create_context(persona)
        return self.contexts[persona]


# /v2/device_profiles

@case('list profiles', 'GET', '/v2/device_profiles',
      'cyborg:device_profile:get_all', 200)
def _list_profiles(cloud, persona, things):
    return cloud.call(persona, 'GET', '/v2/device_profiles')


@case('show a profile', 'GET', '/v2/device_profiles/{ident}',
      'cyborg:device_profile:get_one', 200)
def _show_profile(cloud, persona, things):
    return cloud.call(persona, 'GET',
                      '/v2/device_profiles/%s' % things.profile['uuid'])


@case('create a profile', 'POST', '/v2/device_profiles',
      'cyborg:device_profile:create', 201)
def _create_profile(cloud, persona, things):
    return cloud.call(persona, 'POST', '/v2/device_profiles', body=[{
        'name': 'policy-%s' % uuid.uuid4().hex[:12],
        'groups': [{'resources:FPGA': '1'}]}])


@case('delete a profile', 'DELETE', '/v2/device_profiles/{ident}',
      'cyborg:device_profile:delete', 204)
def _delete_profile(cloud, persona, things):
    profile = cloud.create_profile()
    return cloud.call(persona, 'DELETE',
                      '/v2/device_profiles/%s' % profile['uuid'])


@case('delete profiles by name', 'DELETE', '/v2/device_profiles',
      'cyborg:device_profile:delete', 204)
def _delete_profiles(cloud, persona, things):
    profile = cloud.create_profile()
    return cloud.call(persona, 'DELETE',
                      '/v2/device_profiles?value=%s' % profile['name'])


@case('explain a profile', 'GET', '/v2/device_profiles/{ident}/explain',
      'cyborg:device_profile:explain', 200)
def _explain_profile(cloud, persona, things):
    return cloud.call(persona, 'GET', '/v2/device_profiles/%s/explain'
                      % things.profile['uuid'],
                      headers={'OpenStack-API-Version': 'accelerator 2.8'})


# /v2/device_contexts (microversion 2.4)

def _call_24(cloud, persona, method, path, body=None):
    return cloud.call(persona, method, path, body=body, headers={
        'OpenStack-API-Version': 'accelerator 2.4'})


@case('list device contexts', 'GET', '/v2/device_contexts',
      'cyborg:device_context:get_all', 200)
def _list_contexts(cloud, persona, things):
    return _call_24(cloud, persona, 'GET', '/v2/device_contexts')


@case('show a device context', 'GET', '/v2/device_contexts/{uuid}',
      'cyborg:device_context:get_one', 200)
def _show_context(cloud, persona, things):
    return _call_24(cloud, persona, 'GET',
                    '/v2/device_contexts/%s' % things.context(persona))


@case('create a device context', 'POST', '/v2/device_contexts',
      'cyborg:device_context:create', 201)
def _create_context(cloud, persona, things):
    resp = _call_24(cloud, persona, 'POST', '/v2/device_contexts',
                    body={'groups': [{'resources:FPGA': '1'}]})
    if resp.status_code == 201:
        _call_24(cloud, NOVA, 'DELETE',
                 '/v2/device_contexts/%s' % resp.json()['uuid'])
    return resp


@case('delete a device context', 'DELETE', '/v2/device_contexts/{uuid}',
      'cyborg:device_context:delete', 204)
def _delete_context(cloud, persona, things):
    return _call_24(cloud, persona, 'DELETE',
                    '/v2/device_contexts/%s' % cloud.create_context(persona))


@case('explain a device context', 'GET',
      '/v2/device_contexts/{uuid}/explain',
      'cyborg:device_context:explain', 200)
def _explain_context(cloud, persona, things):
    return cloud.call(persona, 'GET', '/v2/device_contexts/%s/explain'
                      % things.context(persona),
                      headers={'OpenStack-API-Version': 'accelerator 2.8'})


# /v2/accelerator_requests

@case('list ARQs', 'GET', '/v2/accelerator_requests', 'cyborg:arq:get_all',
      200)
def _list_arqs(cloud, persona, things):
    return cloud.call(persona, 'GET', '/v2/accelerator_requests')


@case('show an ARQ', 'GET', '/v2/accelerator_requests/{uuid}',
      'cyborg:arq:get_one', 200)
def _show_arq(cloud, persona, things):
    return cloud.call(persona, 'GET',
                      '/v2/accelerator_requests/%s' % things.arq(persona))


@case('create ARQs', 'POST', '/v2/accelerator_requests', 'cyborg:arq:create',
      201)
def _create_arqs(cloud, persona, things):
    resp = cloud.call(persona, 'POST', '/v2/accelerator_requests',
                      body={'device_profile_name': cloud.profile_name})
    if resp.status_code == 201:
        for arq in resp.json()['arqs']:
            cloud.call(NOVA, 'DELETE',
                       '/v2/accelerator_requests/%s' % arq['uuid'])
    return resp


def _bind(cloud, persona, path, arq_uuid):
    instance = str(uuid.uuid4())
    resp = cloud.call(persona, 'PATCH', path, service=NOVA,
                      body={arq_uuid: cloud.bind_ops(instance)})
    if resp.status_code == 202:
        # Free the handle for the next binds.
        cloud.wait_for_state(arq_uuid, {'Bound', 'BindFailed'})
        cloud.release_instance(instance)
    return resp


@case('bind ARQs', 'PATCH', '/v2/accelerator_requests', 'cyborg:arq:update',
      202)
def _bind_arqs(cloud, persona, things):
    return _bind(cloud, persona, '/v2/accelerator_requests',
                 cloud.create_arq(persona))


@case('bind an ARQ', 'PATCH', '/v2/accelerator_requests/{uuid}',
      'cyborg:arq:update', 202)
def _bind_arq(cloud, persona, things):
    arq_uuid = cloud.create_arq(persona)
    return _bind(cloud, persona, '/v2/accelerator_requests/%s' % arq_uuid,
                 arq_uuid)


@case('delete ARQs by uuid', 'DELETE', '/v2/accelerator_requests',
      'cyborg:arq:delete', 204)
def _delete_arqs(cloud, persona, things):
    return cloud.call(persona, 'DELETE', '/v2/accelerator_requests?arqs=%s'
                      % cloud.create_arq(persona))


@case('delete ARQs by instance', 'DELETE', '/v2/accelerator_requests',
      'cyborg:arq:delete', 204)
def _delete_by_instance(cloud, persona, things):
    return cloud.call(persona, 'DELETE', '/v2/accelerator_requests?instance=%s'
                      % uuid.uuid4(), service=NOVA)


@case('delete an ARQ', 'DELETE', '/v2/accelerator_requests/{uuid}',
      'cyborg:arq:delete', 204)
def _delete_arq(cloud, persona, things):
    return cloud.call(persona, 'DELETE', '/v2/accelerator_requests/%s'
                      % cloud.create_arq(persona))


# /v2/devices

@case('list devices', 'GET', '/v2/devices', 'cyborg:device:get_all', 200)
def _list_devices(cloud, persona, things):
    return cloud.call(persona, 'GET', '/v2/devices')


@case('show a device', 'GET', '/v2/devices/{uuid}', 'cyborg:device:get_one',
      200)
def _show_device(cloud, persona, things):
    return cloud.call(persona, 'GET', '/v2/devices/%s' % things.device_uuid)


@case('disable a device', 'POST', '/v2/devices/{uuid}/disable',
      'cyborg:device:disable', 200)
def _disable_device(cloud, persona, things):
    resp = cloud.call(persona, 'POST',
                      '/v2/devices/%s/disable' % things.device_uuid)
    if resp.status_code == 200:
        cloud.call(NOVA, 'POST', '/v2/devices/%s/enable' % things.device_uuid)
    return resp


@case('enable a device', 'POST', '/v2/devices/{uuid}/enable',
      'cyborg:device:enable', 200)
def _enable_device(cloud, persona, things):
    return cloud.call(persona, 'POST',
                      '/v2/devices/%s/enable' % things.device_uuid)


# /v2/deployables

@case('list deployables', 'GET', '/v2/deployables',
      'cyborg:deployable:get_all', 200)
def _list_deployables(cloud, persona, things):
    return cloud.call(persona, 'GET', '/v2/deployables')


@case('show a deployable', 'GET', '/v2/deployables/{uuid}',
      'cyborg:deployable:get_one', 200)
def _show_deployable(cloud, persona, things):
    return cloud.call(persona, 'GET',
                      '/v2/deployables/%s' % things.deployable_uuid)


def _program_body(things):
    return [{'op': 'replace', 'path': '/program',
             'value': [{'image_uuid': things.image_uuid}]}]


@case('program a deployable', 'PATCH', '/v2/deployables/{uuid}/program',
      'cyborg:deployable:program', 200)
def _program(cloud, persona, things):
    return cloud.call(persona, 'PATCH', '/v2/deployables/%s/program'
                      % things.deployable_uuid, body=_program_body(things))


@case('program a deployable as openstacksdk', 'PATCH',
      '/v2/deployables/{uuid}/program/{same_uuid}',
      'cyborg:deployable:program', 200)
def _program_as_openstacksdk(cloud, persona, things):
    return cloud.call(persona, 'PATCH', '/v2/deployables/%s/program/%s' % (
        things.deployable_uuid, things.deployable_uuid),
        body=_program_body(things))


# /v2/attach_handles (microversion 2.5)

@case('list the releases of an attach handle', 'GET',
      '/v2/attach_handles/{uuid}/releases',
      'cyborg:attach_handle:list_releases', 200)
def _list_releases(cloud, persona, things):
    return cloud.call(persona, 'GET', '/v2/attach_handles/%s/releases'
                      % things.released_handle(),
                      headers={'OpenStack-API-Version': 'accelerator 2.5'})


# /v2/attributes

@case('list attributes', 'GET', '/v2/attributes',
      'cyborg:attribute:get_all', 200)
def _list_attributes(cloud, persona, things):
    return cloud.call(persona, 'GET', '/v2/attributes')


@case('show an attribute', 'GET', '/v2/attributes/{uuid}',
      'cyborg:attribute:get_one', 200)
def _show_attribute(cloud, persona, things):
    return cloud.call(persona, 'GET',
                      '/v2/attributes/%s' % things.attribute_uuid)


@case('create an attribute', 'POST', '/v2/attributes',
      'cyborg:attribute:create', 201)
def _create_attribute(cloud, persona, things):
    return cloud.call(persona, 'POST', '/v2/attributes', body={
        'deployable_id': things.deployable_id,
        'key': 'policy-%s' % uuid.uuid4().hex[:8], 'value': 'v'})


@case('delete an attribute', 'DELETE', '/v2/attributes/{uuid}',
      'cyborg:attribute:delete', 204)
def _delete_attribute(cloud, persona, things):
    return cloud.call(persona, 'DELETE',
                      '/v2/attributes/%s' % things.create_attribute())


# /v2/quotas (microversion 2.7)

V27 = {'OpenStack-API-Version': 'accelerator 2.7'}


@case('show quota usage', 'GET', '/v2/quotas/usage',
      'cyborg:quota:get_usage', 200)
def _show_usage(cloud, persona, things):
    return cloud.call(persona, 'GET', '/v2/quotas/usage', headers=V27)


# Version documents: public, for every persona too.

@case('root version document', 'GET', '/', None, 200)
def _root(cloud, persona, things):
    return cloud.call(persona, 'GET', '/')


@case('v2 version document', 'GET', '/v2', None, 200)
def _v2(cloud, persona, things):
    return cloud.call(persona, 'GET', '/v2')


@pytest.fixture(scope='module')
def things(keystone_cloud):
    return Things(keystone_cloud)


def test_every_route_has_a_case():
    """The matrix below covers the route table: a new route needs a case."""
    table = {(row.method, row.path) for row in routes.ROUTES}
    covered = {(each.method, each.route) for each in CASES}
    assert table == covered


def test_every_rule_has_an_expectation():
    assert set(RULES) == {each.rule for each in CASES} - {None}


@pytest.mark.parametrize('persona', list(PERSONAS))
@pytest.mark.parametrize('each', CASES, ids=[each.name for each in CASES])
def test_policy(keystone_cloud, things, each, persona):
    resp = each.send(keystone_cloud, persona, things)
    allowed = each.rule is None or PERSONAS[persona] in RULES[each.rule]
    if allowed:
        assert resp.status_code == each.status, resp.text
    else:
        assert resp.status_code == 403, resp.text
        assert resp.headers['OpenStack-Error-Code'] == 'cyborg.policy.denied'
        assert each.rule in resp.json()['error_message']


@pytest.mark.parametrize('persona', list(PERSONAS))
def test_only_admins_see_another_projects_usage(keystone_cloud, persona):
    # The target of cyborg:quota:get_usage is the project asked about:
    # beta's usage is for beta's readers and for admins of any project.
    beta = keystone_cloud.keystone.project_ids['beta']
    resp = keystone_cloud.call(persona, 'GET',
                               '/v2/quotas/usage?project_id=%s' % beta,
                               headers=V27)
    role = PERSONAS[persona]
    own = keystone_cloud.keystone.personas[persona].project == 'beta'
    if role in ADMIN or (own and role in READER_OR_ADMIN):
        assert resp.status_code == 200, resp.text
        assert 'usages' in resp.json()
    else:
        assert resp.status_code == 403, resp.text
        assert resp.headers['OpenStack-Error-Code'] == 'cyborg.policy.denied'
