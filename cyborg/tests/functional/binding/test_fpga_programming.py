"""FPGA programming during binds and by an admin, end to end.

The agent is the real one (AgentManager, its Programmer and the fake
driver) on the fake:// transport, downloading from a stub Glance; the
function-id trait moves on a provider of the real Placement.
"""

import uuid

import pytest

from cyborg.accelerator.drivers import fake
from cyborg.agent import manager as agent_manager
from cyborg.agent import programming as agent_programming
from cyborg.conductor import service as conductor_service
from cyborg import context as cyborg_context
from cyborg import exception
from cyborg import rpc
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import placement as placement_fixture

REGION = fake.CONTROLPATH_ADDRESS
OTHER_TRAIT = 'CUSTOM_FAKE_DEVICE'


@pytest.fixture
def placement(placement_conf):
    return placement_fixture.make_client(placement_conf)


@pytest.fixture
def provider(placement):
    """A deployable provider under a new compute node, with an old
    function trait that binds must replace."""
    root_uuid, name = placement_fixture.create_compute_node(placement)
    rp_uuid = str(uuid.uuid4())
    placement.create_provider(rp_uuid, '%s_FakeDevice' % name, root_uuid)
    stale = 'CUSTOM_FPGA_FUNCTION_ID_FAKE_OLD'
    placement.ensure_traits([OTHER_TRAIT, stale])
    generation, _traits = placement.get_provider_traits(rp_uuid)
    placement.set_provider_traits(rp_uuid, generation, [OTHER_TRAIT, stale])
    return rp_uuid


@pytest.fixture
def deployable(db, provider):
    return seed.create_deployable(db, rp_uuid=provider, driver_name='fake',
                                  address=REGION)


@pytest.fixture
def fake_agent(bind_conf, rpc_servers):
    """The real agent endpoint with the fake driver, serving 'test-host'."""
    driver = fake.FakeDriver(bind_conf)
    programmer = agent_programming.Programmer(bind_conf, [driver])
    endpoint = agent_manager.AgentManager([driver], programmer)
    rpc_servers.serve(rpc.AGENT_TOPIC, 'test-host', [endpoint])
    return endpoint


@pytest.fixture
def conductor_placement(placement):
    return placement


def _times_programmed(conf):
    return fake.read_regions(conf.state_path).get(REGION, {}).get(
        'times_programmed', 0)


def _function_traits(placement, rp_uuid):
    _gen, traits = placement.get_provider_traits(rp_uuid)
    assert OTHER_TRAIT in traits
    return sorted(t for t in traits if t.startswith('CUSTOM_FPGA_FUNCTION'))


def _bind_group(db, conductor, deployable, group, count=1):
    uuids = seed.seed_binds(db, deployable, count, groups=[
        dict({'resources:FPGA': '1'}, **group)])
    return uuids, conductor.bind(db, uuids)


def test_program_once_then_reuse(db, bind_conf, conductor, fake_agent,
                                 stub_glance, placement, deployable):
    image = stub_glance.add_image(b'bitstream one',
                                  properties={'accel:function_id': 'fn-1'})
    group = {'accel:bitstream_id': image['id']}
    [first], rows = _bind_group(db, conductor, deployable, group)
    assert rows[first]['state'] == 'Bound'
    assert _times_programmed(bind_conf) == 1
    assert seed.deployable_row(db, deployable)['bitstream_id'] == image['id']
    assert _function_traits(placement, deployable['rp_uuid']) == [
        'CUSTOM_FPGA_FUNCTION_ID_FAKE_FN_1']

    [second], rows = _bind_group(db, conductor, deployable, group)
    assert rows[second]['state'] == 'Bound'
    assert _times_programmed(bind_conf) == 1
    assert stub_glance.downloads_of(image['id']) == 1


def test_function_id_reprograms_only_a_free_deployable(
        db, bind_conf, conductor, fake_agent, stub_glance, placement,
        deployable):
    one = stub_glance.add_image(b'one', properties={'accel:function_id':
                                                    'fn-1'})
    two = stub_glance.add_image(b'two', properties={'accel:function_id':
                                                    'fn-2'})
    [first], _rows = _bind_group(db, conductor, deployable,
                                 {'accel:bitstream_id': one['id']})
    # Reprogramming would pull the region from under the bound ARQ.
    [refused], rows = _bind_group(db, conductor, deployable,
                                  {'accel:function_id': 'fn-2'})
    assert rows[refused]['state'] == 'BindFailed'
    assert 'cannot be reprogrammed' in rows[refused]['bind_error']
    assert _times_programmed(bind_conf) == 1

    conductor.unbind([first])
    [second], rows = _bind_group(db, conductor, deployable,
                                 {'accel:function_id': 'fn-2'})
    assert rows[second]['state'] == 'Bound'
    assert _times_programmed(bind_conf) == 2
    assert seed.deployable_row(db, deployable)['bitstream_id'] == two['id']
    assert _function_traits(placement, deployable['rp_uuid']) == [
        'CUSTOM_FPGA_FUNCTION_ID_FAKE_FN_2']


def test_programming_failure_fails_the_bind(db, bind_conf, conductor,
                                           fake_agent, stub_glance,
                                           stub_nova, deployable):
    image = stub_glance.add_image(fake.FAIL_MARKER + b' please')
    [arq_uuid], rows = _bind_group(db, conductor, deployable,
                                   {'accel:bitstream_id': image['id']})
    assert rows[arq_uuid]['state'] == 'BindFailed'
    assert 'asks the fake driver to fail' in rows[arq_uuid]['bind_error']
    assert rows[arq_uuid]['attach_handle_id'] is None
    assert seed.deployable_row(db, deployable)['bitstream_id'] is None
    assert [e['status'] for e in stub_nova.events()] == ['failed']


def test_checksum_mismatch_fails_the_bind_and_programs_nothing(
        db, bind_conf, conductor, fake_agent, stub_glance, stub_nova,
        deployable):
    image = stub_glance.add_image(b'the bitstream Glance hashed')
    # What the store serves no longer matches the recorded os_hash_value.
    stub_glance.data[image['id']] = b'the bitstream, damaged in storage'
    [arq_uuid], rows = _bind_group(db, conductor, deployable,
                                   {'accel:bitstream_id': image['id']})
    assert rows[arq_uuid]['state'] == 'BindFailed'
    assert 'does not match its recorded checksum' in rows[arq_uuid][
        'bind_error']
    assert rows[arq_uuid]['attach_handle_id'] is None
    assert not any(h['in_use'] for h in seed.handles(
        db, deployable['deployable_id']))
    assert _times_programmed(bind_conf) == 0
    assert seed.deployable_row(db, deployable)['bitstream_id'] is None
    assert [e['status'] for e in stub_nova.events()] == ['failed']


def test_admin_programming(db, bind_conf, conductor, fake_agent,
                           stub_glance, placement, deployable):
    image = stub_glance.add_image(b'admin', properties={'accel:function_id':
                                                        'fn-9'})
    [arq_uuid], _rows = _bind_group(db, conductor, deployable, {})
    with pytest.raises(exception.DeployableInUse):
        conductor.api.program_deployable(conductor.context,
                                         deployable['deployable_uuid'],
                                         image['id'])
    conductor.unbind([arq_uuid])

    result = conductor.api.program_deployable(
        conductor.context, deployable['deployable_uuid'], image['id'])

    assert result['uuid'] == deployable['deployable_uuid']
    assert result['bitstream_id'] == image['id']
    assert _times_programmed(bind_conf) == 1
    assert _function_traits(placement, deployable['rp_uuid']) == [
        'CUSTOM_FPGA_FUNCTION_ID_FAKE_FN_9']
    with pytest.raises(exception.ImageNotFound):
        conductor.api.program_deployable(
            conductor.context, deployable['deployable_uuid'],
            str(uuid.uuid4()))


def test_program_rpc_sent_once_for_one_bitstream(
        db, bind_conf, transport, rpc_servers, stub_glance, placement,
        deployable):
    # What the conductor asks the agent, seen at the agent's RPC boundary.
    agent = seed.RecordingAgent()
    rpc_servers.serve(rpc.AGENT_TOPIC, 'test-host', [agent])
    manager = conductor_service.Conductor(bind_conf, transport, placement).manager
    image = stub_glance.add_image(b'bits')
    uuids = seed.seed_binds(db, deployable, 2, groups=[
        {'resources:FPGA': '1', 'accel:bitstream_id': image['id']}])
    context = cyborg_context.get_admin_context()
    for arq_uuid in uuids:
        manager.bind_arqs(context, [arq_uuid])
    manager.binder.close()
    assert {row['state'] for row in seed.arqs(db, uuids).values()} == {
        'Bound'}
    assert agent.calls_of('program') == [{
        'controlpath': deployable['controlpath'],
        'image_uuid': image['id'], 'driver_name': 'fake',
        'checksum': image['os_hash_value'], 'checksum_algo': 'sha512'}]
    # The image names no function: old function traits are just removed.
    assert _function_traits(placement, deployable['rp_uuid']) == []
