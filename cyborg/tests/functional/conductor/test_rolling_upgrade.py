"""A rolling upgrade over RabbitMQ: N-1 and N services working together.

"N-1" is the real previous code, not a simulation: the commit
:data:`PREVIOUS_RELEASE` (the last one before conductor RPC 1.2) is
exported from this repository's history with ``git archive`` and its
``cyborg-conductor`` or ``cyborg-agent`` runs as a process from that tree.
"N" is this checkout. The database is migrated to this release's head
first, as an upgrade does (``cyborg-dbsync upgrade`` before any service
is restarted), so the old service also runs on the new schema.

* An old agent and a new conductor: conductors are upgraded first and
  need no cap. The old agent's reports are applied and its heartbeats
  recorded (in the 1.1 form: it states its agent RPC version), and a bind
  with config data reaches the old agent's driver through ``prepare``.
* A new agent and an old conductor: the agent is capped with
  ``[upgrade_levels] conductor = 1.1``, as on a compute host upgraded
  before every conductor. Its reports and heartbeats are applied in the
  1.1 form, it probes no health (health reports are 1.2) and a bind with
  config data completes through the old conductor. A second, uncapped new
  agent beside it is refused by the old conductor: the cap (and the
  client's fallback to 1.1 it triggers) is what makes the first one work.
  An explain call (conductor RPC 1.4, no older form) it refuses too:
  ConductorTooOld, the API's 503 ``cyborg.conductor.too_old``.

Where the history is not there (an sdist, a shallow clone) the tests skip,
saying why, and fail under CI, which tests a full clone. When the next
RPC version lands, move :data:`PREVIOUS_RELEASE` to the commit before it.
"""

import io
import pathlib
import subprocess
import tarfile
import time
import uuid

import pytest
import sqlalchemy as sa

from cyborg.accelerator.drivers import fake
from cyborg.agent import rpcapi as agent_rpcapi
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg import context as cyborg_context
from cyborg.db import migration
from cyborg.db import models
from cyborg import exception
from cyborg import rpc
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import placement as placement_fixture
from cyborg.tests.fixtures import processes as proc_fixture
from cyborg.tests.fixtures import servers

# main before conductor RPC 1.2 (device health): conductor 1.1, agent 1.1.
PREVIOUS_RELEASE = '8d425803be4fd6b62934f657f79434a86bd17648'
# The checkout this test file is in (cyborg/tests/functional/conductor/).
REPO = pathlib.Path(__file__).resolve().parents[4]
WAIT_SECONDS = 90
CONFIG_DATA = {'clock_mhz': '300'}

_HOSTS = models.AgentHost.__table__
_DEPLOYABLES = models.Deployable.__table__


@pytest.fixture(scope='module')
def previous_release(tmp_path_factory):
    """The ``cyborg`` package of PREVIOUS_RELEASE, exported to a directory."""
    found = subprocess.run(
        ['git', '-C', str(REPO), 'cat-file', '-e',
         PREVIOUS_RELEASE + '^{commit}'], capture_output=True, text=True)
    if found.returncode != 0:
        servers.skip_or_fail(
            'commit %s (the previous release) is not in the git history at '
            '%s: %s' % (PREVIOUS_RELEASE[:12], REPO,
                        found.stderr.strip() or 'not a git checkout'))
    archive = subprocess.run(
        ['git', '-C', str(REPO), 'archive', '--format=tar', PREVIOUS_RELEASE,
         'cyborg'], capture_output=True, check=True)
    root = tmp_path_factory.mktemp('previous-release')
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        # Our own history, but extraction filters exist only in newer
        # Pythons (3.11.4+, and some 3.8-3.10 patch releases).
        if hasattr(tarfile, 'data_filter'):
            tar.extractall(root, filter='data')
        else:
            tar.extractall(root)
    # The export is the old code indeed: its conductor API is 1.1.
    assert "RPC_API_VERSION = '1.1'" in (
        root / 'cyborg' / 'conductor' / 'rpcapi.py').read_text()
    return root


class Cloud:
    """A migrated database, Placement, a private exchange, processes."""

    def __init__(self, tmp_path, placement_service, conf):
        self.tmp_path = tmp_path
        self.client = placement_fixture.make_client(conf)
        self.exchange = 'cyborg-test-%s' % uuid.uuid4().hex[:12]
        # This process's side (the API's bind_arqs cast): an in-memory
        # transport first registers control_exchange.
        seed.fake_transport(conf).cleanup()
        conf.set_override('control_exchange', self.exchange)
        self.conf = conf
        self.db_path = tmp_path / 'cyborg.sqlite'
        self.engine = sa.create_engine('sqlite:///%s' % self.db_path)
        migration.upgrade('head', engine=self.engine)
        self.processes = proc_fixture.Processes(tmp_path)
        self.placement = {'auth_type': 'admin_token', 'token': 'admin',
                          'endpoint': placement_service.endpoint}

    def _common(self, name, state_path):
        return {'transport_url': proc_fixture.TRANSPORT_URL,
                'control_exchange': self.exchange, 'host': name,
                'state_path': state_path, 'periodic_interval': 1,
                'rpc_response_timeout': 20}

    def start_conductor(self, code_root=None):
        config = proc_fixture.write_config(
            self.tmp_path / 'conductor.conf', {
                'DEFAULT': self._common('conductor-' + self.exchange,
                                        self.tmp_path),
                'database': {'connection': 'sqlite:///%s' % self.db_path},
                'placement': self.placement,
                'conductor': {'reconcile_interval': 0,
                              'recovery_interval': 1}})
        self.processes.start('conductor', 'cyborg.cmd.conductor', config,
                             code_root=code_root)
        # A call sent before the conductor declared its queue is dropped.
        self.wait_for(lambda: 'cyborg-conductor serving as' in
                      self.processes.log('conductor'),
                      'the conductor starting')

    def start_agent(self, label, code_root=None, conductor_cap=None):
        """An agent with the fake driver on a new compute node; its name
        and state path."""
        _cn_uuid, name = placement_fixture.create_compute_node(self.client)
        state = self.tmp_path / ('state-%s' % label)
        state.mkdir()
        sections = {
            'DEFAULT': self._common(name, state),
            'agent': {'enabled_drivers': 'fake_driver',
                      'resource_provider_name': name},
            'placement': self.placement}
        if conductor_cap:
            sections['upgrade_levels'] = {'conductor': conductor_cap}
        config = proc_fixture.write_config(
            self.tmp_path / ('agent-%s.conf' % label), sections)
        self.processes.start('agent-%s' % label, 'cyborg.cmd.agent', config,
                             code_root=code_root)
        return name, state

    def wait_for(self, predicate, what):
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            self.processes.check_alive()
            value = predicate()
            if value:
                return value
            time.sleep(0.3)
        pytest.fail('%s did not happen in %d s\n%s'
                    % (what, WAIT_SECONDS, self.processes.logs()))

    def host(self, name):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(_HOSTS).where(
                _HOSTS.c.hostname == name)).mappings().first()

    def deployable(self, name):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(_DEPLOYABLES).where(
                _DEPLOYABLES.c.name == '%s_FakeDevice' % name)
            ).mappings().first()

    def close(self):
        codes = self.processes.stop()
        self.engine.dispose()
        return codes


@pytest.fixture
def cloud(rabbit, tmp_path, placement_service, placement_conf):
    cloud = Cloud(tmp_path, placement_service, placement_conf)
    yield cloud
    cloud.close()


def _assert_reports_and_heartbeats(cloud, name):
    """The host's report was applied and its heartbeats are recorded; the
    agent_hosts row."""
    cloud.wait_for(lambda: cloud.deployable(name),
                   'the report of %s being applied' % name)
    first = cloud.wait_for(lambda: cloud.host(name), 'host %s recorded' % name)
    # Heartbeats (every second) move last_seen_at on.
    cloud.wait_for(lambda: cloud.host(name)['last_seen_at'] >
                   first['last_seen_at'], 'a heartbeat from %s' % name)
    return cloud.host(name)


def _bind_with_config_data(cloud, name, conductor_cap=None):
    """Bind an ARQ of a device context with config data on the host's fake
    FPGA, as the API would; the ARQ's row once resolved."""
    deployable = cloud.deployable(name)
    context_id, _uuid = seed.create_device_context(
        cloud.engine, [{'resources:FPGA': '1'}], CONFIG_DATA)
    [arq_uuid] = seed.create_arqs(cloud.engine, None, 1,
                                  context_id=context_id)
    seed.start_bind(cloud.engine, arq_uuid, deployable['rp_uuid'],
                    hostname=name)
    transport = rpc.get_transport(cloud.conf, url=proc_fixture.TRANSPORT_URL)
    try:
        conductor_rpcapi.ConductorAPI(
            transport, version_cap=conductor_cap).bind_arqs(
            cyborg_context.get_admin_context(), [arq_uuid])
        row = cloud.wait_for(
            lambda: _resolved(cloud.engine, arq_uuid),
            'the bind of %s' % arq_uuid)
    finally:
        transport.cleanup()
    return row


def _resolved(engine, arq_uuid):
    row = seed.arq(engine, arq_uuid)
    return row if row['state'] in ('Bound', 'BindFailed') else None


def _prepared_handles(state):
    """{handle uuid: config data} the agent's fake driver was given."""
    return {handle_uuid: record['config_data'] for handle_uuid, record in
            fake.read_prepared(str(state)).items()}


def _held_handle(cloud, name, row):
    [handle] = [h['uuid'] for h in seed.handles(
        cloud.engine, cloud.deployable(name)['id'])
        if h['id'] == row['attach_handle_id']]
    return handle


@proc_fixture.rabbitmq
def test_an_old_agent_works_with_a_new_conductor(cloud, previous_release):
    cloud.start_conductor()
    name, state = cloud.start_agent('old', code_root=previous_release)

    host = _assert_reports_and_heartbeats(cloud, name)
    # The old agent spoke conductor RPC 1.1, stating its agent RPC version.
    assert host['agent_rpc_version'] == '1.1'

    row = _bind_with_config_data(cloud, name)
    assert (row['state'], row['bind_error']) == ('Bound', None)
    # The config data reached the old agent's driver, for the bound handle.
    assert _prepared_handles(state) == {
        _held_handle(cloud, name, row): CONFIG_DATA}
    cloud.processes.check_alive()


@proc_fixture.rabbitmq
def test_a_capped_new_agent_works_with_an_old_conductor(cloud,
                                                        previous_release):
    cloud.start_conductor(code_root=previous_release)
    name, state = cloud.start_agent('capped', conductor_cap='1.1')
    uncapped, _state = cloud.start_agent('uncapped')

    host = _assert_reports_and_heartbeats(cloud, name)
    # The 1.1 form states the agent RPC version this agent serves.
    assert host['agent_rpc_version'] == agent_rpcapi.RPC_API_VERSION
    # Health reports would be 1.2: the capped agent does not probe.
    assert 'Not probing device health: [upgrade_levels] conductor caps' in \
        cloud.processes.log('agent-capped')

    row = _bind_with_config_data(cloud, name, conductor_cap='1.1')
    assert (row['state'], row['bind_error']) == ('Bound', None)
    assert _prepared_handles(state) == {
        _held_handle(cloud, name, row): CONFIG_DATA}

    # Without the cap, the 1.2 form is refused by the old conductor: the
    # uncapped agent's reports never land.
    cloud.wait_for(lambda: 'UnsupportedVersion' in cloud.processes.log(
        'agent-uncapped'), 'the old conductor refusing the uncapped agent')
    assert cloud.host(uncapped) is None
    assert cloud.deployable(uncapped) is None

    # Explain (RPC 1.4) has no older form: the old conductor's refusal,
    # across RabbitMQ, is ConductorTooOld (the API's 503 too_old).
    transport = rpc.get_transport(cloud.conf, url=proc_fixture.TRANSPORT_URL)
    try:
        with pytest.raises(exception.ConductorTooOld,
                           match='a conductor answered'):
            conductor_rpcapi.ConductorAPI(transport, timeout=20).explain_groups(
                cyborg_context.get_admin_context(), [{'resources:FPGA': '1'}])
    finally:
        transport.cleanup()
