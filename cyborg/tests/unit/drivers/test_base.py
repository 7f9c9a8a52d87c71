"""Loading the enabled drivers through stevedore, and refusing bad ones."""

import logging
import pathlib

import pytest
from stevedore import extension

from cyborg.accelerator import discovery
from cyborg.accelerator.drivers import base
from cyborg.accelerator.drivers import fake
from cyborg.accelerator.drivers import nvidia_gpu
from cyborg.conf import agent as agent_conf
from cyborg import exception


class ExplodingDriver(base.Driver):
    """A driver whose start fails, as one missing its hardware tools may."""

    def __init__(self, conf):
        raise RuntimeError('nvidia-smi not found')

    def discover(self):
        return []


@pytest.fixture
def extra_plugins(tmp_path, monkeypatch):
    """Install entry points into cyborg.accelerator.driver for one test."""
    def install(**entry_points):
        dist = tmp_path / 'test_plugins-1.0.dist-info'
        dist.mkdir()
        (dist / 'METADATA').write_text('Name: test-plugins\nVersion: 1.0\n')
        (dist / 'entry_points.txt').write_text(
            '[%s]\n%s\n' % (base.NAMESPACE, '\n'.join(
                '%s = %s' % item for item in entry_points.items())))
        monkeypatch.syspath_prepend(str(tmp_path))
        # stevedore caches each namespace's entry points for the process.
        monkeypatch.setattr(extension.ExtensionManager, 'ENTRY_POINT_CACHE',
                            {})
    return install


def test_loads_the_enabled_drivers_in_order_with_conf(conf):
    conf.set_override('enabled_drivers', ['nvidia_gpu_driver', 'fake_driver'],
                      group='agent')

    drivers = base.load_drivers(conf)

    assert [type(d) for d in drivers] == [nvidia_gpu.NvidiaGpuDriver,
                                          fake.FakeDriver]
    assert all(d.conf is conf for d in drivers)


def test_a_driver_listed_twice_is_loaded_once(conf, caplog):
    conf.set_override('enabled_drivers', ['fake_driver', 'fake_driver'],
                      group='agent')

    with caplog.at_level(logging.WARNING):
        drivers = base.load_drivers(conf)

    assert len(drivers) == 1
    assert caplog.messages == ['Driver fake_driver is listed twice in '
                               '[agent] enabled_drivers; loading it once.']


def test_an_unknown_driver_is_refused_with_the_installed_ones(conf):
    conf.set_override('enabled_drivers', ['fake_driver', 'intel_fgpa_driver'],
                      group='agent')

    with pytest.raises(exception.InvalidDriver) as caught:
        base.load_drivers(conf)

    installed = base.available_driver_names()
    assert {'fake_driver', 'intel_fpga_driver', 'nvidia_gpu_driver',
            'pci_driver'} <= set(installed)
    assert str(caught.value) == (
        'Accelerator driver intel_fgpa_driver cannot be loaded: no such '
        'driver in namespace cyborg.accelerator.driver (installed: '
        '%s)' % ', '.join(installed))


def test_every_installed_driver_is_documented():
    # Operators choose [agent] enabled_drivers from the admin guide's table
    # and the option's help: a driver missing there is one they never find.
    guide = (pathlib.Path(__file__).parents[4] / 'doc' / 'source' / 'admin' /
             'drivers' / 'index.rst').read_text()
    [option] = [opt for opt in agent_conf.opts
                if opt.name == 'enabled_drivers']
    for name in base.available_driver_names():
        assert '   * - ``%s``' % name in guide, name
        assert name in option.help, name


@pytest.mark.parametrize('target,reason', [
    ('cyborg_no_such_module:Driver',
     "ModuleNotFoundError: No module named 'cyborg_no_such_module'"),
    ('cyborg.tests.unit.drivers.test_base:ExplodingDriver',
     'RuntimeError: nvidia-smi not found'),
    ('collections:UserList', 'UserList is not a cyborg accelerator driver'),
])
def test_a_broken_driver_is_refused_with_its_cause(conf, extra_plugins,
                                                   target, reason):
    extra_plugins(broken_driver=target)
    conf.set_override('enabled_drivers', ['broken_driver'], group='agent')

    with pytest.raises(exception.InvalidDriver) as caught:
        base.load_drivers(conf)

    assert str(caught.value) == ('Accelerator driver broken_driver cannot be '
                                 'loaded: %s' % reason)


def test_health_accepts_only_known_states_and_round_trips():
    failed = discovery.Health(discovery.FAILED, 'AER fatal errors: 2')
    assert discovery.Health.from_dict(failed.to_dict()) == failed
    assert discovery.Health(discovery.HEALTHY).reason == ''
    with pytest.raises(ValueError, match='broken'):
        discovery.Health('broken')
