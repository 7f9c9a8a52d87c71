"""A conductor and two agents as separate processes converge Placement.

Real everything except hardware: ``cyborg-conductor`` and two
``cyborg-agent`` processes talk over RabbitMQ (a private control exchange
per run), the conductor writes a shared SQLite file, and all three use the
real Placement this test process serves on loopback. Each agent reads a
fake sysfs tree of its own: host A has the fake FPGA and an X710 whose VFs
are whitelisted for the generic PCI driver, host B an HGX H100 box. The
providers Placement ends up with must be what the agents' drivers discover,
and a VF appearing on host A must show up at the next report.
"""

import time
import uuid

from oslo_config import cfg
import pytest
import sqlalchemy as sa

from cyborg.accelerator.drivers import base as drivers_base
from cyborg import conf as cyborg_conf
from cyborg.db import models
from cyborg.tests.fixtures import placement as placement_fixture
from cyborg.tests.fixtures import processes as proc_fixture
from cyborg.tests.fixtures import sysfs as sysfs_fixture

CONVERGE_SECONDS = 90


def _expected_tree(config_file, host):
    """The providers the agent's drivers should lead to, from its config."""
    conf = cfg.ConfigOpts()
    cyborg_conf.register_opts(conf)
    conf(['--config-file', str(config_file)], project='cyborg',
         default_config_files=[], default_config_dirs=[])
    devices = []
    for driver in drivers_base.load_drivers(conf):
        devices.extend(driver.discover())
    tree = {}
    for device in devices:
        for dep in device.deployables:
            tree[dep.name] = {
                'parent': host,
                'inventories': placement_fixture.expected_inventory(
                    dep.resource_class, dep.num_accelerators),
                'traits': sorted({'OWNER_CYBORG', *dep.traits})}
    return tree


def _actual_tree(client, cn_uuid):
    tree = placement_fixture.read_provider_tree(client, cn_uuid)
    for provider in tree.values():
        provider.pop('uuid')
    return tree


def _wait_for(predicate, processes, what):
    deadline = time.monotonic() + CONVERGE_SECONDS
    while time.monotonic() < deadline:
        processes.check_alive()
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail('%s did not happen in %d s\n%s'
                % (what, CONVERGE_SECONDS, processes.logs()))


@proc_fixture.rabbitmq
def test_conductor_and_two_agents_converge(rabbit, tmp_path,
                                           placement_service, placement_conf):
    client = placement_fixture.make_client(placement_conf)
    exchange = 'cyborg-test-%s' % uuid.uuid4().hex[:12]
    db_path = tmp_path / 'cyborg.sqlite'
    _create_schema(db_path)
    common = {
        'transport_url': proc_fixture.TRANSPORT_URL, 'control_exchange': exchange,
        'periodic_interval': 1}
    placement = {'auth_type': 'admin_token',
                 'endpoint': placement_service.endpoint, 'token': 'admin'}

    conductor_conf = proc_fixture.write_config(tmp_path / 'conductor.conf', {
        'DEFAULT': dict(common, host='conductor-%s' % exchange,
                        state_path=tmp_path),
        'database': {'connection': 'sqlite:///%s' % db_path},
        'placement': placement,
        'conductor': {'reconcile_interval': 0}})

    hosts = {}
    for label, drivers, build, extra in (
            ('a', 'fake_driver,pci_driver', sysfs_fixture.build_x710_sriov_host,
             {'pci': {'passthrough_whitelist':
                      '{"vendor_id": "8086", "product_id": "154c"}'}}),
            ('b', 'nvidia_gpu_driver', sysfs_fixture.build_hgx_h100_host, {})):
        cn_uuid, name = placement_fixture.create_compute_node(client)
        sysfs_root = tmp_path / ('sys-%s' % label)
        tree = sysfs_fixture.FakeSysfs(sysfs_root)
        build(tree)
        state = tmp_path / ('state-%s' % label)
        state.mkdir()
        config = proc_fixture.write_config(tmp_path / ('agent-%s.conf' % label), dict({
            'DEFAULT': dict(common, host=name, state_path=state,
                            rpc_response_timeout=20),
            'agent': {'enabled_drivers': drivers,
                      'sysfs_root': sysfs_root,
                      'resource_provider_name': name},
            'placement': placement}, **extra))
        hosts[label] = {'name': name, 'cn_uuid': cn_uuid, 'sysfs': tree,
                        'config': config}

    processes = proc_fixture.Processes(tmp_path)
    try:
        processes.start('conductor', 'cyborg.cmd.conductor', conductor_conf)
        # A call sent before the conductor declared its queue is dropped by
        # RabbitMQ and only times out; start the agents once it listens.
        _wait_for(lambda: 'cyborg-conductor serving as' in processes.log(
            'conductor'), processes, 'the conductor starting')
        for label, host in sorted(hosts.items()):
            processes.start('agent-%s' % label, 'cyborg.cmd.agent',
                            host['config'])

        for label, host in sorted(hosts.items()):
            expected = _expected_tree(host['config'], host['name'])
            _wait_for(lambda h=host, e=expected:
                      _actual_tree(client, h['cn_uuid']) == e, processes,
                      'host %s converging to %s' % (label, sorted(expected)))
            host['expected'] = expected

        # What the drivers found, spelled out: A has the fake FPGA and four
        # VFs, B eight whole GPUs.
        a, b = hosts['a'], hosts['b']
        assert sorted(p['inventories'].popitem()[0] for p in
                      _actual_tree(client, a['cn_uuid']).values()) == [
            'CUSTOM_PCI'] * 4 + ['FPGA']
        assert [list(p['inventories']) for p in _actual_tree(
            client, b['cn_uuid']).values()] == [['PGPU']] * 8

        # A VF appears on host A: its next report adds a provider.
        a['sysfs'].add_vf('0000:3b:00.0', '0000:3b:02.4', 4,
                          sysfs_fixture.INTEL, '154c',
                          sysfs_fixture.CLASS_ETHERNET, driver='iavf')
        expected = _expected_tree(a['config'], a['name'])
        assert len(expected) == len(a['expected']) + 1
        _wait_for(lambda: _actual_tree(client, a['cn_uuid']) == expected,
                  processes, 'the new VF reaching Placement')
        assert _actual_tree(client, b['cn_uuid']) == b['expected']
    finally:
        codes = processes.stop()
    assert codes == {'conductor': 0, 'agent-a': 0, 'agent-b': 0}, \
        processes.logs()



def _create_schema(db_path):
    engine = sa.create_engine('sqlite:///%s' % db_path)
    models.BASE.metadata.create_all(engine)
    engine.dispose()
