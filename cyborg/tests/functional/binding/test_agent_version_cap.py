"""Binds while agents of the previous release still run: the agent RPC cap.

The conductor here is capped with ``[upgrade_levels] agent = 1.0``, as an
operator sets it on upgraded conductors while agents serving only agent
RPC 1.0 remain. The agent of 'test-host' is the recording agent serving
1.0 alone, so oslo.messaging's dispatcher refuses anything newer, as a
1.0 agent's would. Binds that need only 1.0 calls (none, or an mdev) must
keep working; a bind carrying config data, which only ``prepare`` (1.1)
can deliver, must end BindFailed with the reason at once, never stuck in
BindStarted and never half done.
"""

import oslo_messaging as messaging
import pytest

from cyborg.tests.fixtures import binding as seed

GROUPS = [{'resources:FPGA': '1'}]
CAPPED_REASON = (
    'Config data of a device context (agent RPC prepare) needs agent RPC '
    'API 1.1, but [upgrade_levels] agent caps this conductor at 1.0: raise '
    'or remove the cap once every agent serves 1.1')


@pytest.fixture
def bind_conf(bind_conf):
    """The binding tests' conf, capped at agent RPC 1.0."""
    bind_conf.set_override('agent', '1.0', group='upgrade_levels')
    return bind_conf


@pytest.fixture
def old_agent(transport, rpc_servers):
    """The agent of 'test-host' as the previous release: RPC 1.0 only."""
    agent = seed.RecordingAgent()
    agent.target = messaging.Target(version='1.0')
    rpc_servers.serve('cyborg-agent', 'test-host', [agent])
    return agent


def _context_arqs(engine, deployable, config_data):
    context_id, _uuid = seed.create_device_context(engine, GROUPS,
                                                   config_data)
    uuids = seed.create_arqs(engine, None, 1, context_id=context_id)
    seed.start_bind(engine, uuids[0], deployable['rp_uuid'])
    return uuids


def test_a_bind_with_config_data_fails_at_once_with_the_reason(
        db, conductor, old_agent, stub_nova):
    deployable = seed.create_deployable(db, attach_type='MDEV',
                                        rpc_host='test-host')
    [arq_uuid] = _context_arqs(db, deployable, {'clock_mhz': '300'})

    rows = conductor.bind(db, [arq_uuid])

    row = rows[arq_uuid]
    assert row['state'] == 'BindFailed'
    assert row['bind_error'] == CAPPED_REASON
    # Refused before anything was done on the host or claimed.
    assert old_agent.calls == []
    assert row['attach_handle_id'] is None
    assert not any(h['in_use'] for h in seed.handles(
        db, deployable['deployable_id']))
    assert [e['status'] for e in stub_nova.events_by_tag()[arq_uuid]] == [
        'failed']


def test_binds_needing_only_1_0_calls_still_bind(db, conductor, old_agent):
    pci = seed.create_deployable(db, rpc_host='test-host')
    mdev = seed.create_deployable(db, attach_type='MDEV',
                                  address='0000:0d:00.0')
    [no_config] = _context_arqs(db, pci, {})
    [with_mdev] = seed.seed_binds(db, mdev, 1)

    rows = conductor.bind(db, [no_config, with_mdev])

    assert {u: row['state'] for u, row in rows.items()} == {
        no_config: 'Bound', with_mdev: 'Bound'}
    # The mdev went to the 1.0 agent, as the capped conductor sends it.
    [created] = old_agent.calls_of('create_mdev')
    assert created['mdev_uuid'] in {h['uuid'] for h in seed.handles(
        db, mdev['deployable_id']) if h['in_use']}
