"""Fixtures of the Keystone tests: a real Keystone, and the whole service
behind keystonemiddleware, configured from a cyborg.conf as deployed.

``keystone`` starts one Keystone per test process (see
``cyborg/tests/fixtures/keystone.py``); where it cannot start, each test
skips saying why, and fails with the reason under CI. ``keystone_cloud``
runs the service of the client tests (API on loopback, conductor, agent
with the fake driver, the real Placement, stub Nova and Glance) with
``auth_strategy = keystone``, once for the package: the tests create what
they change under names of their own and undo what others would trip on.
Every module of the package is in one xdist group, so one worker starts
one Keystone and runs them all.
"""

import contextlib
import uuid

import pytest
import requests

from cyborg.api import app as api_app
from cyborg.clients import placement as placement_client
from cyborg.tests.fixtures import binding
from cyborg.tests.fixtures import cloud as cloud_fixture
from cyborg.tests.fixtures import config as config_fixture
from cyborg.tests.fixtures import database as db_fixture
from cyborg.tests.fixtures import glance as glance_fixture
from cyborg.tests.fixtures import keystone as keystone_fixture
from cyborg.tests.fixtures import loopback
from cyborg.tests.fixtures import nova as nova_fixture
from cyborg.tests.fixtures import processes
from cyborg.tests.fixtures import servers

# Who creates ARQs in each persona's project, so that every persona acts
# on ARQs of its own project.
ARQ_OWNER = {'alpha': 'alpha-member', 'beta': 'beta-member',
             keystone_fixture.SERVICE_PROJECT: keystone_fixture.NOVA}


@pytest.fixture(scope='session')
def keystone(tmp_path_factory):
    """A started Keystone, or skip_or_fail with the reason it did not
    start."""
    try:
        started = keystone_fixture.Keystone(
            tmp_path_factory.mktemp('keystone')).start()
    except keystone_fixture.KeystoneUnavailable as exc:
        reason = 'Keystone could not start: %s' % exc
    else:
        yield started
        started.stop()
        return
    # Outside the except block, so the report shows only the reason.
    servers.skip_or_fail(reason)


class KeystoneCloud:
    """The running service, and requests to it as the personas make them.

    ``call`` sends a request with a persona's token from a keystoneauth
    session; with ``service`` naming another persona its token goes along
    as ``X-Service-Token``, as Nova's ``[service_user]`` sends it.
    """

    def __init__(self, keystone, endpoint, rp_uuid, host, nova, glance,
                 config_file, transport):
        self.keystone = keystone
        self.endpoint = endpoint
        self.rp_uuid = rp_uuid
        self.host = host
        self.nova = nova
        self.glance = glance
        self.config_file = config_file
        self.transport = transport
        # A device profile every test may make ARQs from.
        self.profile_name = None
        self._sessions = {}

    def session(self, persona, service=None):
        key = (persona, service)
        if key not in self._sessions:
            self._sessions[key] = self.keystone.persona_session(
                persona, service=service)
        return self._sessions[key]

    def call(self, persona, method, path, service=None, body=None,
             headers=None):
        """The response to a request sent with the persona's token."""
        return self.session(persona, service).request(
            self.endpoint + path, method, json=body,
            headers=headers or {}, raise_exc=False)

    def call_with_token(self, token, method, path, service_token=None,
                        headers=None, body=None):
        """The response to a request carrying exactly these tokens."""
        headers = dict(headers or {})
        if token is not None:
            headers['X-Auth-Token'] = token
        if service_token is not None:
            headers['X-Service-Token'] = service_token
        return requests.request(method, self.endpoint + path,
                                headers=headers, json=body, timeout=30)

    # Things to act on

    def create_profile(self, persona='alpha-admin'):
        name = 'ks-%s' % uuid.uuid4().hex[:12]
        resp = self.call(persona, 'POST', '/v2/device_profiles', body=[{
            'name': name, 'groups': [{'resources:FPGA': '1'}]}])
        assert resp.status_code == 201, resp.text
        return resp.json()

    def create_arq(self, persona):
        """A new ARQ (Initial) in the persona's project; its uuid."""
        owner = ARQ_OWNER[self.keystone.personas[persona].project]
        resp = self.call(owner, 'POST', '/v2/accelerator_requests',
                         body={'device_profile_name': self.profile_name})
        assert resp.status_code == 201, resp.text
        [arq] = resp.json()['arqs']
        return arq['uuid']

    def create_context(self, persona):
        """A new device context (2.4) in the persona's project; its uuid."""
        owner = ARQ_OWNER[self.keystone.personas[persona].project]
        resp = self.call(owner, 'POST', '/v2/device_contexts',
                         body={'groups': [{'resources:FPGA': '1'}]},
                         headers={'OpenStack-API-Version': 'accelerator 2.4'})
        assert resp.status_code == 201, resp.text
        return resp.json()['uuid']

    def bind_ops(self, instance_uuid):
        """The ops of a bind to the fake deployable, as Nova sends them."""
        return [{'op': 'add', 'path': '/hostname', 'value': self.host},
                {'op': 'add', 'path': '/device_rp_uuid',
                 'value': self.rp_uuid},
                {'op': 'add', 'path': '/instance_uuid',
                 'value': instance_uuid}]

    def arq(self, arq_uuid):
        """The ARQ as an admin (Nova's service user) sees it; None if gone."""
        resp = self.call(keystone_fixture.NOVA, 'GET',
                         '/v2/accelerator_requests/%s' % arq_uuid)
        if resp.status_code == 404:
            return None
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait_for_state(self, arq_uuid, states):
        """The ARQ once its state is one of ``states``."""
        return binding.wait_for(
            lambda: (lambda arq: arq if arq and arq['state'] in states
                     else None)(self.arq(arq_uuid)),
            what='ARQ %s in %s' % (arq_uuid, states))

    @contextlib.contextmanager
    def another_api(self, tmp_path, sections):
        """A second API application on the same database and conductor,
        configured by our cyborg.conf and a second file holding
        ``sections`` ({section: {option: value}}); yields its endpoint."""
        extra = processes.write_config(tmp_path / 'extra.conf', sections)
        conf = config_fixture.make_conf(
            tmp_path, config_files=[self.config_file, extra])
        server = loopback.LoopbackServer(
            api_app.build_app(conf, self.transport), 'cyborg-api-2').start()
        try:
            yield server.endpoint
        finally:
            server.stop()

    def release_instance(self, instance_uuid):
        """Delete the instance's ARQs as Nova does when it goes away."""
        resp = self.call(keystone_fixture.NOVA, 'DELETE',
                         '/v2/accelerator_requests?instance=%s'
                         % instance_uuid, service=keystone_fixture.NOVA)
        assert resp.status_code == 204, resp.text


@pytest.fixture(scope='package')
def keystone_cloud(keystone, placement_service, tmp_path_factory):
    """The service behind keystonemiddleware (a KeystoneCloud), listed in
    Keystone's catalog as the ``accelerator`` service."""
    tmp_path = tmp_path_factory.mktemp('keystone-cloud')
    # The two sections devstack writes for an API behind Keystone.
    config_file = processes.write_config(tmp_path / 'cyborg.conf', {
        'DEFAULT': {'auth_strategy': 'keystone'},
        'keystone_authtoken': keystone.authtoken_section(),
    })
    conf = config_fixture.make_conf(tmp_path, config_files=[config_file])
    nova = nova_fixture.StubNova().start()
    glance = glance_fixture.StubGlance().start()
    binding.configure_binds(conf, nova, glance)
    placement_client.configure_noauth(conf, placement_service.endpoint)
    transport = binding.fake_transport(conf)
    try:
        with db_fixture.schema_database('sqlite', tmp_path) as engine, \
                cloud_fixture.running(engine, conf, conf, transport) as (
                    endpoint, rp_uuid, host):
            service_id = keystone.register_endpoint(
                'accelerator', 'cyborg', endpoint + '/v2')
            cloud = KeystoneCloud(keystone, endpoint, rp_uuid, host, nova,
                                  glance, config_file, transport)
            cloud.profile_name = cloud.create_profile()['name']
            try:
                yield cloud
            finally:
                keystone.unregister_service(service_id)
    finally:
        transport.cleanup()
        glance.stop()
        nova.stop()

