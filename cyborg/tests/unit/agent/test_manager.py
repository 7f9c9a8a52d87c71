"""The agent's RPC endpoint, called through the real agent RPC client."""

import uuid

import pytest

from cyborg.accelerator.drivers import base
from cyborg.accelerator import discovery
from cyborg.accelerator.drivers import fake
from cyborg.accelerator.drivers import nvidia_gpu
from cyborg.agent import manager as agent_manager
from cyborg.agent import programming
from cyborg.agent import rpcapi as agent_rpcapi
from cyborg import context as cyborg_context
from cyborg import exception
from cyborg import rpc
from cyborg.tests.fixtures import sysfs as sysfs_fixture


@pytest.fixture
def serve_agent(conf, rpc_transport):
    """Serve an AgentManager over the given drivers; yield its client."""
    servers = []

    def serve(drivers):
        endpoint = agent_manager.AgentManager(
            drivers, programming.Programmer(conf, drivers))
        server = rpc.get_server(rpc_transport, rpc.AGENT_TOPIC, conf.host,
                                [endpoint])
        server.start()
        servers.append(server)
        return agent_rpcapi.AgentAPI(rpc_transport, timeout=10)

    yield serve
    for server in servers:
        server.stop()
        server.wait()


@pytest.fixture
def context():
    return cyborg_context.get_admin_context()


def test_create_and_remove_mdev(conf, sysfs_tree, serve_agent, context):
    t4, _ = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    agent = serve_agent([fake.FakeDriver(conf),
                         nvidia_gpu.NvidiaGpuDriver(conf)])
    mdev_uuid = str(uuid.uuid4())

    agent.create_mdev(context, 'test-host', t4, 'nvidia-222', mdev_uuid)
    assert sysfs_tree.mdev_type_file(t4, 'nvidia-222',
                                     'create').read_text() == mdev_uuid

    sysfs_tree.add_mdev(t4, 'nvidia-222', mdev_uuid)
    agent.remove_mdev(context, 'test-host', t4, 'nvidia-222', mdev_uuid)
    assert (sysfs_tree.device_dir(t4) / mdev_uuid /
            'remove').read_text() == '1'


def test_mdev_calls_without_an_mdev_driver_fail_clearly(conf, serve_agent,
                                                        context):
    agent = serve_agent([fake.FakeDriver(conf)])

    # The remote error arrives as our own exception class.
    with pytest.raises(exception.InvalidDriver,
                       match='no enabled driver creates mdevs'):
        agent.create_mdev(context, 'test-host', '0000:3b:00.0', 'nvidia-222',
                          str(uuid.uuid4()))


def test_a_refused_mdev_request_comes_back_as_invalid(conf, sysfs_tree,
                                                      serve_agent, context):
    agent = serve_agent([nvidia_gpu.NvidiaGpuDriver(conf)])

    with pytest.raises(exception.Invalid, match='is not a uuid'):
        agent.remove_mdev(context, 'test-host', '0000:3b:00.0', 'nvidia-222',
                          'nope')


def test_program_returns_true_after_programming(conf, serve_agent, context,
                                                stub_glance):
    driver = fake.FakeDriver(conf)
    agent = serve_agent([driver])
    image = stub_glance.add_image(b'bitstream')
    controlpath = driver.discover()[0].controlpath.to_dict()

    assert agent.program(context, 'test-host', controlpath, image['id'],
                         'fake', checksum=image['checksum']) is True
    assert fake.read_regions(conf.state_path)['0000:0c:00.0'][
        'times_programmed'] == 1


def _handle(driver, index=0):
    handle = driver.discover()[0].deployables[0].attach_handles[index]
    return {'uuid': str(uuid.uuid4()), 'attach_type': handle.attach_type,
            'attach_info': handle.info}


def test_prepare_hands_config_data_to_the_driver(conf, serve_agent, context):
    # RPC 1.1: a device context's config data reaches the driver at bind.
    driver = fake.FakeDriver(conf)
    agent = serve_agent([driver])
    controlpath = driver.discover()[0].controlpath.to_dict()
    handle = _handle(driver)

    assert agent.prepare(context, 'test-host', controlpath, handle, 'fake',
                         {'clock_mhz': '300'}) is True
    # Idempotent: a retried bind prepares again, with the same outcome.
    agent.prepare(context, 'test-host', controlpath, handle, 'FAKE',
                  {'clock_mhz': '300'})

    record = fake.read_prepared(conf.state_path)[handle['uuid']]
    assert record == {'config_data': {'clock_mhz': '300'},
                      'attach_info': handle['attach_info'],
                      'controlpath': '0000:0c:00.0', 'times_prepared': 2}


def test_prepare_by_a_driver_without_config_data_is_refused(
        conf, sysfs_tree, serve_agent, context):
    sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    agent = serve_agent([fake.FakeDriver(conf),
                         nvidia_gpu.NvidiaGpuDriver(conf)])
    controlpath = {'cpid_type': 'PCI', 'info': {
        'domain': '0000', 'bus': '3b', 'device': '00', 'function': '0'}}
    handle = {'uuid': str(uuid.uuid4()), 'attach_type': 'PCI',
              'attach_info': controlpath['info']}

    with pytest.raises(exception.ConfigDataRefused,
                       match='NVIDIA cannot take the config data.*takes no'):
        agent.prepare(context, 'test-host', controlpath, handle, 'NVIDIA',
                      {'a': 'b'})
    with pytest.raises(exception.InvalidDriver, match='no enabled driver'):
        agent.prepare(context, 'test-host', controlpath, handle, 'xilinx',
                      {'a': 'b'})
    with pytest.raises(exception.Invalid, match='is not a control path'):
        agent.prepare(context, 'test-host', {'nope': 1}, handle, 'fake',
                      {'a': 'b'})
    assert fake.read_prepared(conf.state_path) == {}


def test_config_data_the_fake_driver_refuses(conf, serve_agent, context):
    driver = fake.FakeDriver(conf)
    agent = serve_agent([driver])
    controlpath = driver.discover()[0].controlpath.to_dict()

    with pytest.raises(exception.ConfigDataRefused, match='fake.refuse'):
        agent.prepare(context, 'test-host', controlpath, _handle(driver),
                      'fake', {fake.REFUSE_KEY: 'yes'})
    assert fake.read_prepared(conf.state_path) == {}


class _DriverThatCannotScrub(base.Driver):
    """A driver without the Scrubbable capability."""

    driver_name = 'plain'

    def discover(self):
        return []


def test_scrub_runs_the_drivers_scrub(conf, serve_agent, context):
    # RPC 1.2: a released handle is cleaned by its driver.
    driver = fake.FakeDriver(conf)
    agent = serve_agent([driver])
    controlpath = driver.discover()[0].controlpath.to_dict()
    handle = _handle(driver)

    assert agent.scrub(context, 'test-host', controlpath, handle,
                       'FAKE') == {'scrubbed': True, 'reason': None}

    [record] = fake.read_scrubs(conf.state_path)
    assert (record['attach_handle_uuid'], record['attach_info'],
            record['controlpath']) == (handle['uuid'], handle['attach_info'],
                                       '0000:0c:00.0')


def test_scrub_failures_and_drivers_that_cannot_scrub(conf, serve_agent,
                                                      context):
    driver = fake.FakeDriver(conf)
    agent = serve_agent([driver, _DriverThatCannotScrub(conf)])
    controlpath = driver.discover()[0].controlpath.to_dict()
    handle = _handle(driver)

    assert agent.scrub(context, 'test-host', controlpath, handle,
                       'plain') == {
        'scrubbed': False, 'reason': 'no enabled plain driver can scrub'}
    fake.fail_scrubs(conf.state_path, 'region stuck')
    with pytest.raises(exception.ScrubFailed, match='region stuck'):
        agent.scrub(context, 'test-host', controlpath, handle, 'fake')
    with pytest.raises(exception.InvalidDriver, match='no enabled driver'):
        agent.scrub(context, 'test-host', controlpath, handle, 'xilinx')
    assert fake.read_scrubs(conf.state_path) == []


def test_scrub_of_a_region_forgets_what_was_programmed_there(
        conf, serve_agent, context):
    # A blank image replaced the tenant's: the next bind of that image
    # must program it again, not trust the agent's record.
    driver = fake.FakeDriver(conf)
    programmer = programming.Programmer(conf, [driver])
    controlpath = driver.discover()[0].controlpath
    region = discovery.canonical_json(controlpath.to_dict())
    programmer.records.put(region, {'image_uuid': str(uuid.uuid4()),
                                    'driver_name': 'fake',
                                    'loaded_bitstream': None})
    endpoint = agent_manager.AgentManager([driver], programmer)

    assert endpoint.scrub(context, controlpath.to_dict(), _handle(driver),
                          'fake') == {'scrubbed': True, 'reason': None}

    assert programmer.records.get(region) is None
    assert len(fake.read_scrubs(conf.state_path)) == 1
