"""privsep.init hands the agent's [cyborg_privsep] options to oslo.privsep,
which reads only the global cfg.CONF the agent does not parse."""

from oslo_config import cfg
import pytest

from cyborg import privsep
from cyborg.tests.fixtures import config as config_fixture

SECTION = privsep.CONFIG_SECTION


@pytest.fixture
def global_privsep_conf():
    # The session's daemon may have narrowed the capabilities: put back
    # what was there, whatever the test set.
    before = {name: cfg.CONF[SECTION][name]
              for name in ('helper_command', 'capabilities', 'user')}
    yield cfg.CONF[SECTION]
    for name, value in before.items():
        cfg.CONF.set_override(name, value, group=SECTION)


def _conf(tmp_path, **sections):
    path = tmp_path / 'cyborg.conf'
    path.write_text(''.join(
        '[%s]\n%s\n' % (section, '\n'.join('%s = %s' % item
                                           for item in options.items()))
        for section, options in sections.items()))
    conf = config_fixture.make_conf(tmp_path)
    conf(['--config-file', str(path)], project='cyborg')
    return conf, str(path)


def test_the_helper_reads_the_agents_config_files(tmp_path,
                                                  global_privsep_conf):
    conf, path = _conf(tmp_path, DEFAULT={'debug': 'true'})

    privsep.init(conf)

    assert global_privsep_conf.helper_command == (
        'sudo privsep-helper --config-file %s' % path)
    assert sorted(global_privsep_conf.capabilities) == sorted(
        privsep.CAPABILITIES)


def test_configured_values_win(tmp_path, global_privsep_conf):
    conf, _path = _conf(tmp_path, cyborg_privsep={
        'helper_command': 'sudo cyborg-rootwrap privsep-helper',
        'capabilities': 'CAP_DAC_OVERRIDE', 'user': 'cyborg'})

    privsep.init(conf)

    assert global_privsep_conf.helper_command == (
        'sudo cyborg-rootwrap privsep-helper')
    assert global_privsep_conf.capabilities == [privsep.CAPABILITIES[0]]
    assert global_privsep_conf.user == 'cyborg'
