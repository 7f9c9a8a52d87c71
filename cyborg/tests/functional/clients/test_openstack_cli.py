"""The ``openstack accelerator ...`` commands against the service.

The real ``openstack`` executable (python-openstackclient, which carries
the accelerator commands, with python-cyborgclient installed beside it),
run as a user runs it: a clouds.yaml with ``auth_type: none`` pointing at
the in-process service, no identity headers. ``arq bind`` looks the server
up in Nova first, so the stub Nova knows the instance.
"""

import hashlib
import json
import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from cyborg.accelerator.drivers import fake

OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')


class CLI:
    """Runs ``openstack`` against one clouds.yaml."""

    def __init__(self, clouds_yaml):
        self.env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(clouds_yaml),
                        OS_CLOUD='cyborg')
        for name in list(self.env):
            # A developer's own cloud settings must not leak in.
            if name.startswith('OS_') and name not in (
                    'OS_CLIENT_CONFIG_FILE', 'OS_CLOUD'):
                del self.env[name]

    def run(self, *args, check=True):
        proc = subprocess.run([OPENSTACK, *args], env=self.env,
                              capture_output=True, text=True, timeout=120)
        if check:
            assert proc.returncode == 0, (
                'openstack %s failed (%d):\n%s%s' % (
                    ' '.join(args), proc.returncode, proc.stdout,
                    proc.stderr))
        return proc

    def json(self, *args):
        return json.loads(self.run(*args, '-f', 'json').stdout)


@pytest.fixture
def cli(cloud, stub_nova, stub_glance, tmp_path):
    endpoint, rp_uuid, host = cloud
    clouds = tmp_path / 'clouds.yaml'
    clouds.write_text(
        'clouds:\n'
        '  cyborg:\n'
        '    auth_type: none\n'
        '    auth:\n'
        '      endpoint: %s\n'
        '    compute_endpoint_override: %s\n'
        '    image_endpoint_override: %s\n' % (
            endpoint, stub_nova.endpoint, stub_glance.endpoint))
    return CLI(clouds), rp_uuid, host


def _handles_in_use(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            'SELECT count(*) FROM attach_handles WHERE in_use')).scalar()


def test_device_profile_commands(cli):
    cli, _rp, _host = cli
    created = cli.json('accelerator', 'device', 'profile', 'create',
                       '--group', 'resources:FPGA=1,'
                       'trait:CUSTOM_FAKE_DEVICE=required',
                       '--description', 'from the CLI', 'cli-profile')
    assert created['name'] == 'cli-profile'
    listed = cli.json('accelerator', 'device', 'profile', 'list')
    assert [p['name'] for p in listed] == ['cli-profile']
    shown = cli.json('accelerator', 'device', 'profile', 'show',
                     created['uuid'])
    assert shown['groups'] == [{'resources:FPGA': '1',
                                'trait:CUSTOM_FAKE_DEVICE': 'required'}]
    assert shown['description'] == 'from the CLI'

    cli.run('accelerator', 'device', 'profile', 'delete', created['uuid'])
    assert cli.json('accelerator', 'device', 'profile', 'list') == []


def test_accelerator_request_commands(db, cli, stub_nova):
    cli, rp_uuid, host = cli
    cli.run('accelerator', 'device', 'profile', 'create',
            '--group', 'resources:FPGA=1', 'cli-arq-profile')
    arq = cli.json('accelerator', 'arq', 'create', 'cli-arq-profile')
    assert arq['state'] == 'Initial'
    listed = cli.json('accelerator', 'arq', 'list')
    assert [a['uuid'] for a in listed] == [arq['uuid']]

    server = str(uuid.uuid4())
    stub_nova.add_server(server)
    bound = cli.json('accelerator', 'arq', 'bind', arq['uuid'], host,
                     server, rp_uuid)
    # The command shows the ARQ right after the 202: bound or binding.
    assert bound['instance_uuid'] == server
    assert bound['state'] in ('BindStarted', 'Bound')
    # The fake driver binds in one transaction: it is Bound now.
    shown = cli.json('accelerator', 'arq', 'show', arq['uuid'])
    assert (shown['state'], shown['attach_handle_type']) == ('Bound',
                                                            'TEST_PCI')
    assert _handles_in_use(db) == 1

    unbound = cli.json('accelerator', 'arq', 'unbind', arq['uuid'])
    assert (unbound['state'], unbound['instance_uuid']) == ('Unbound', None)
    assert _handles_in_use(db) == 0

    cli.run('accelerator', 'arq', 'delete', arq['uuid'])
    assert cli.json('accelerator', 'arq', 'list') == []
    missing = cli.run('accelerator', 'arq', 'show', arq['uuid'],
                      check=False)
    assert missing.returncode != 0


def test_device_and_deployable_commands(cli):
    cli, rp_uuid, host = cli
    [device] = cli.json('accelerator', 'device', 'list')
    assert (device['type'], device['hostname']) == ('FPGA', host)
    shown = cli.json('accelerator', 'device', 'show', device['uuid'])
    assert shown['uuid'] == device['uuid']

    [deployable] = cli.json('accelerator', 'deployable', 'list')
    shown = cli.json('accelerator', 'deployable', 'show',
                     deployable['uuid'])
    assert shown['uuid'] == deployable['uuid']

    cli.run('accelerator', 'device', 'disable', device['uuid'])
    cli.run('accelerator', 'device', 'enable', device['uuid'])


def test_deployable_program_command(cli, stub_glance, bind_conf):
    cli, _rp, _host = cli
    image = stub_glance.add_image(b'cli-bitstream')
    [deployable] = cli.json('accelerator', 'deployable', 'list')

    cli.run('accelerator', 'deployable', 'program', deployable['uuid'],
            image['id'])

    [record] = fake.read_regions(bind_conf.state_path).values()
    assert record['sha256'] == hashlib.sha256(b'cli-bitstream').hexdigest()


def test_device_context_commands(db, cli, stub_nova, bind_conf):
    # cyborg's own plugin (its own entry-point group), beside the
    # accelerator commands of python-openstackclient and
    # python-cyborgclient, through the same executable and clouds.yaml.
    cli, rp_uuid, host = cli
    inline = cli.json('accelerator', 'device', 'context', 'create',
                      '--group', 'resources:FPGA=1,'
                      'trait:CUSTOM_FAKE_DEVICE=required',
                      '--config-data', 'clock_mhz=300',
                      '--config-data', 'note=a=b')
    assert inline['state'] == 'Unbound'
    assert inline['groups'] == [{'resources:FPGA': '1',
                                 'trait:CUSTOM_FAKE_DEVICE': 'required'}]
    assert inline['config_data'] == {'clock_mhz': '300', 'note': 'a=b'}

    cli.run('accelerator', 'device', 'profile', 'create',
            '--group', 'resources:FPGA=1', 'cli-ctx-profile')
    from_profile = cli.json('accelerator', 'device', 'context', 'create',
                            '--device-profile', 'cli-ctx-profile')
    assert from_profile['device_profile_name'] == 'cli-ctx-profile'
    assert from_profile['groups'] == [{'resources:FPGA': '1'}]
    [profile] = cli.json('accelerator', 'device', 'profile', 'list')
    by_uuid = cli.json('accelerator', 'device', 'context', 'create',
                       '--device-profile', profile['uuid'])
    assert by_uuid['device_profile_name'] == 'cli-ctx-profile'

    listed = cli.json('accelerator', 'device', 'context', 'list')
    assert sorted(c['uuid'] for c in listed) == sorted(
        [inline['uuid'], from_profile['uuid'], by_uuid['uuid']])
    long_listed = cli.json('accelerator', 'device', 'context', 'list',
                           '--long')
    assert {c['uuid']: c['config_data'] for c in long_listed}[
        inline['uuid']] == {'clock_mhz': '300', 'note': 'a=b'}
    shown = cli.json('accelerator', 'device', 'context', 'show',
                     inline['uuid'])
    assert shown['uuid'] == inline['uuid']

    # The flow: an ARQ from the context (2.4, openstacksdk's proxy as the
    # CLI's other commands use it), bound: the context is in use.
    arq = _arq_from_context(cli, inline['uuid'])
    server = str(uuid.uuid4())
    stub_nova.add_server(server)
    cli.json('accelerator', 'arq', 'bind', arq, host, server, rp_uuid)
    bound = cli.json('accelerator', 'device', 'context', 'show',
                     inline['uuid'])
    assert (bound['state'], bound['instance_uuid']) == ('Bound', server)
    assert fake.read_prepared(bind_conf.state_path)
    refused = cli.run('accelerator', 'device', 'context', 'delete',
                      inline['uuid'], check=False)
    assert refused.returncode != 0
    assert 'bound to an instance' in refused.stderr

    # The other commands of the namespace still work beside ours.
    assert [d['hostname'] for d in cli.json('accelerator', 'device',
                                            'list')] == [host]

    cli.run('accelerator', 'device', 'context', 'delete',
            from_profile['uuid'], by_uuid['uuid'])
    missing = cli.run('accelerator', 'device', 'context', 'show',
                      from_profile['uuid'], check=False)
    assert missing.returncode != 0
    assert 'could not be found' in missing.stderr
    bad = cli.run('accelerator', 'device', 'context', 'create', '--group',
                  'resources:FPGA=0', check=False)
    assert bad.returncode != 0 and 'amount of FPGA' in bad.stderr
    neither = cli.run('accelerator', 'device', 'context', 'create',
                      check=False)
    assert neither.returncode != 0


@pytest.fixture
def fpga_limit(bind_conf):
    """Every project may hold 2 FPGAs (set before the service starts)."""
    bind_conf.set_override('default_limits', {'FPGA': '2'}, group='quota')


def test_quota_usage_command(fpga_limit, cli):
    # Our plugin's command beside python-openstackclient's ARQ commands,
    # which get the API's 403 when the limit is reached.
    cli, _rp, _host = cli
    assert cli.json('accelerator', 'quota', 'usage', 'show') == [
        {'Resource Class': 'FPGA', 'In Use': 0, 'Limit': 2}]
    cli.run('accelerator', 'device', 'profile', 'create',
            '--group', 'resources:FPGA=1', 'cli-quota-profile')
    for _ in range(2):
        cli.json('accelerator', 'arq', 'create', 'cli-quota-profile')
    refused = cli.run('accelerator', 'arq', 'create', 'cli-quota-profile',
                      check=False)
    assert refused.returncode != 0
    assert 'Quota exceeded for class:FPGA' in refused.stderr

    assert cli.json('accelerator', 'quota', 'usage', 'show',
                    '--project', 'admin') == [
        {'Resource Class': 'FPGA', 'In Use': 2, 'Limit': 2}]
    assert cli.json('accelerator', 'quota', 'usage', 'show',
                    '--project', 'elsewhere') == [
        {'Resource Class': 'FPGA', 'In Use': 0, 'Limit': 2}]
    bad = cli.run('accelerator', 'quota', 'usage', 'show', '--project',
                  'no spaces', check=False)
    assert bad.returncode != 0
    assert 'HTTP 400' in bad.stderr and 'project_id must be' in bad.stderr


def _arq_from_context(cli, context_uuid):
    """An ARQ made from the context, through the CLI's own SDK connection
    (no ``openstack accelerator arq create`` option names a context)."""
    script = (
        'import json, openstack; '
        'acc = openstack.connect().accelerator; '
        'print(acc.post("/accelerator_requests", json={'
        '"device_context_uuid": %r}, microversion="2.4").json()'
        '["arqs"][0]["uuid"])' % context_uuid)
    proc = subprocess.run([sys.executable, '-c', script], env=cli.env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def test_explain_commands(cli):
    # cyborg's plugin again: explain by profile name and by context uuid,
    # through the real executable, against the real Placement.
    cli, rp_uuid, host = cli
    cli.run('accelerator', 'device', 'profile', 'create', '--group',
            'resources:FPGA=1,trait:CUSTOM_FAKE_DEVICE=required',
            'cli-explain')
    [group] = cli.json('accelerator', 'device', 'profile', 'explain',
                       'cli-explain')
    assert group['summary'] == (
        'schedulable: 1 of 1 matching providers have room')
    assert group['schedulable'] is True
    assert group['placement_candidates'] == 1
    assert group['required_traits'] == ['CUSTOM_FAKE_DEVICE']

    [provider] = cli.json('accelerator', 'device', 'profile', 'explain',
                          'cli-explain', '--providers')
    assert (provider['provider_uuid'], provider['host'],
            provider['capacity'], provider['used'],
            provider['has_room']) == (rp_uuid, host, fake.NUM_ACCELERATORS,
                                      0, True)

    context = cli.json('accelerator', 'device', 'context', 'create',
                       '--group', 'resources:FPGA=1,'
                       'trait:CUSTOM_ABSENT=required')
    [group] = cli.json('accelerator', 'device', 'context', 'explain',
                       context['uuid'])
    assert group['summary'] == 'trait CUSTOM_ABSENT is on no provider'

    missing = cli.run('accelerator', 'device', 'profile', 'explain',
                      'no-such-profile', check=False)
    assert missing.returncode != 0
    assert 'HTTP 404' in missing.stderr
