"""Binds of ARQs from device contexts: the config data reaches the driver.

The conductor runs the real bind against the recording agent of
'test-host' (the agent's RPC boundary, RPC 1.1): a context's config data
goes to ``prepare`` once the handle is claimed (after the mdev is
created), with the claimed handle and the deployable's driver; a bind
without config data never calls the agent; a refusal fails the bind and
frees what it held.
"""

from cyborg import exception
from cyborg.tests.fixtures import binding as seed

GROUPS = [{'resources:FPGA': '1'}]


def _context_arqs(engine, deployable, config_data, count=1,
                  attach_type=None):
    context_id, _uuid = seed.create_device_context(engine, GROUPS,
                                                   config_data)
    uuids = seed.create_arqs(engine, None, count, context_id=context_id)
    for arq_uuid in uuids:
        seed.start_bind(engine, arq_uuid, deployable['rp_uuid'])
    return uuids


def _held_handle(engine, deployable, row):
    [handle] = [h for h in seed.handles(engine, deployable['deployable_id'])
                if h['id'] == row['attach_handle_id']]
    return handle


def test_config_data_goes_to_the_driver_with_the_claimed_handle(
        db, conductor, agent, stub_nova):
    deployable = seed.create_deployable(db, rpc_host='test-host')
    [arq_uuid] = _context_arqs(db, deployable, {'clock_mhz': '300'})

    rows = conductor.bind(db, [arq_uuid])

    row = rows[arq_uuid]
    assert row['state'] == 'Bound'
    [call] = agent.calls_of('prepare')
    handle = _held_handle(db, deployable, row)
    assert call['config_data'] == {'clock_mhz': '300'}
    assert call['driver_name'] == 'fake'
    assert call['controlpath'] == deployable['controlpath']
    assert call['attach_handle']['uuid'] == handle['uuid']
    assert call['attach_handle']['attach_type'] == 'TEST_PCI'
    assert [e['status'] for e in stub_nova.events_by_tag()[arq_uuid]] == [
        'completed']


def test_no_config_data_no_agent_call(db, conductor, agent):
    deployable = seed.create_deployable(db, rpc_host='test-host')
    [arq_uuid] = _context_arqs(db, deployable, {})

    rows = conductor.bind(db, [arq_uuid])

    assert rows[arq_uuid]['state'] == 'Bound'
    assert agent.calls == []


def test_an_mdev_is_created_before_the_config_data_is_applied(
        db, conductor, agent):
    deployable = seed.create_deployable(db, attach_type='MDEV',
                                        rpc_host='test-host')
    [arq_uuid] = _context_arqs(db, deployable, {'profile': 'small'})

    rows = conductor.bind(db, [arq_uuid])

    assert rows[arq_uuid]['state'] == 'Bound'
    assert [name for name, _kwargs in agent.calls] == ['create_mdev',
                                                      'prepare']
    handle = _held_handle(db, deployable, rows[arq_uuid])
    assert agent.calls_of('create_mdev')[0]['mdev_uuid'] == handle['uuid']
    assert agent.calls_of('prepare')[0]['attach_handle']['uuid'] == \
        handle['uuid']


def test_a_driver_refusing_the_config_data_fails_the_bind_cleanly(
        db, conductor, agent, stub_nova):
    agent.fail['prepare'] = exception.ConfigDataRefused(
        driver='fake', reason='unknown key clock_mhz')
    deployable = seed.create_deployable(db, attach_type='MDEV',
                                        rpc_host='test-host')
    [arq_uuid] = _context_arqs(db, deployable, {'clock_mhz': '300'})

    rows = conductor.bind(db, [arq_uuid])

    row = rows[arq_uuid]
    assert row['state'] == 'BindFailed'
    assert 'unknown key clock_mhz' in row['bind_error']
    assert row['attach_handle_id'] is None
    assert not any(h['in_use'] for h in seed.handles(
        db, deployable['deployable_id']))
    # The mdev made for the bind is removed again.
    [created] = agent.calls_of('create_mdev')
    [removed] = agent.calls_of('remove_mdev')
    assert removed['mdev_uuid'] == created['mdev_uuid']
    assert [e['status'] for e in stub_nova.events_by_tag()[arq_uuid]] == [
        'failed']


def test_profile_arqs_of_a_batch_still_bind_at_once(db, conductor, agent):
    # A batch mixing ARQs of a context with config data and of a profile:
    # only the former go to the agent.
    deployable = seed.create_deployable(db, rpc_host='test-host')
    [from_context] = _context_arqs(db, deployable, {'k': 'v'})
    [from_profile] = seed.seed_binds(db, deployable, 1)

    rows = conductor.bind(db, [from_context, from_profile])

    assert {row['state'] for row in rows.values()} == {'Bound'}
    [call] = agent.calls_of('prepare')
    assert call['attach_handle']['uuid'] == _held_handle(
        db, deployable, rows[from_context])['uuid']
