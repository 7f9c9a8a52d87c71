"""Scrubs end, one way or the other, within a bounded time.

An in-process conductor (its scrubber and recovery) on the fake://
transport, the agent of 'test-host' played by a recording endpoint. What
is guarded: a scrub whose conductor went away is run by recovery; one
whose agent does not answer is retried, then failed at
``[conductor] scrub_timeout``; a conductor capped below agent RPC 1.2, or
facing an agent that stated an older version, releases the handle
unscrubbed, saying so; a failed bind's handle is scrubbed too.
"""

import datetime
import logging

import oslo_messaging as messaging
import pytest
import sqlalchemy as sa

from cyborg.accelerator import scrub_policy
from cyborg.conductor import service as conductor_service
from cyborg import context as cyborg_context
from cyborg.db import arq_states
from cyborg.db import models
from cyborg import exception
from cyborg import rpc
from cyborg.tests.fixtures import binding as seed

_RELEASE = models.AttachHandleRelease.__table__
_HOST = models.AgentHost.__table__


@pytest.fixture
def context():
    return cyborg_context.get_admin_context()


@pytest.fixture
def conductor(db, bind_conf, transport):
    conductor = conductor_service.Conductor(bind_conf, transport, None)
    yield conductor
    conductor.binder.close()


@pytest.fixture
def agent(transport, rpc_servers):
    agent = seed.RecordingAgent()
    rpc_servers.serve(rpc.AGENT_TOPIC, 'test-host', [agent])
    return agent


def _deployable(db, agent_rpc_version='1.2', num_handles=2):
    deployable = seed.create_deployable(db, rpc_host='test-host',
                                        num_handles=num_handles)
    with db.begin() as conn:
        conn.execute(sa.update(_HOST).where(_HOST.c.hostname == 'test-host')
                     .values(agent_rpc_version=agent_rpc_version))
    return deployable


def _bound_then_deleted(db, context, bind_conf, conductor, deployable):
    """Bind an ARQ, then delete it as the API does; the released handle."""
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    assert conductor.binder.bind_one(context, arq_uuid) == 'Bound'
    released = arq_states.delete(
        context, uuids=[arq_uuid],
        scrub_policy=scrub_policy.ScrubPolicy.from_conf(bind_conf))
    [handle] = released.handles
    assert handle['scrub'] is True
    return handle


def _release(db, release_uuid):
    with db.connect() as conn:
        return conn.execute(sa.select(_RELEASE).where(
            _RELEASE.c.uuid == release_uuid)).mappings().one()


def _handle(db, handle_uuid):
    return {h['uuid']: h for h in seed.handles(db, _deployable_id(
        db, handle_uuid))}[handle_uuid]


def _deployable_id(db, handle_uuid):
    table = models.AttachHandle.__table__
    with db.connect() as conn:
        return conn.execute(sa.select(table.c.deployable_id).where(
            table.c.uuid == handle_uuid)).scalar_one()


def test_the_cast_scrubs_through_the_agent(db, context, bind_conf, conductor,
                                           agent):
    deployable = _deployable(db)
    handle = _bound_then_deleted(db, context, bind_conf, conductor,
                                 deployable)
    assert _handle(db, handle['uuid'])['scrub_state'] == 'scrubbing'

    conductor.manager.arqs_deleted(context, [handle])

    [call] = agent.calls_of('scrub')
    assert call['attach_handle']['uuid'] == handle['uuid']
    assert call['driver_name'] == 'fake'
    assert call['controlpath'] == deployable['controlpath']
    assert _release(db, handle['release_uuid'])['scrub_outcome'] == 'scrubbed'
    assert _handle(db, handle['uuid'])['scrub_state'] is None


def test_a_scrub_whose_conductor_died_is_run_by_recovery(
        db, context, bind_conf, conductor, agent):
    deployable = _deployable(db)
    handle = _bound_then_deleted(db, context, bind_conf, conductor,
                                 deployable)
    # A conductor leased it, then died: the lease is left to lapse.
    with db.begin() as conn:
        conn.execute(sa.update(_RELEASE).where(
            _RELEASE.c.uuid == handle['release_uuid']).values(
            lease_owner='dead:scrub:1', lease_expires_at=seed.past(1)))

    result = conductor.recovery.run_once(context)

    assert result['scrubs'] == {handle['release_uuid']: 'scrubbed'}
    assert len(agent.calls_of('scrub')) == 1
    assert _handle(db, handle['uuid'])['scrub_state'] is None


def test_a_live_lease_is_left_alone(db, context, bind_conf, conductor, agent):
    deployable = _deployable(db)
    handle = _bound_then_deleted(db, context, bind_conf, conductor,
                                 deployable)
    with db.begin() as conn:
        conn.execute(sa.update(_RELEASE).where(
            _RELEASE.c.uuid == handle['release_uuid']).values(
            lease_owner='alive:scrub:1',
            lease_expires_at=seed.past(-60), released_at=seed.past(60)))

    assert conductor.recovery.run_once(context)['scrubs'] == {}
    assert agent.calls_of('scrub') == []


def test_an_unanswered_scrub_is_retried_then_failed_at_the_timeout(
        db, context, bind_conf, conductor, caplog):
    # No agent serves 'test-host'.
    bind_conf.set_override('agent_rpc_timeout', 1, group='conductor')
    deployable = _deployable(db)
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    assert conductor.binder.bind_one(context, arq_uuid) == 'Bound'
    [handle] = arq_states.delete(
        context, uuids=[arq_uuid],
        scrub_policy=scrub_policy.ScrubPolicy.from_conf(bind_conf)).handles

    assert conductor.scrubber.scrub(context, handle['release_uuid']) is None
    pending = _release(db, handle['release_uuid'])
    assert pending['scrub_outcome'] == 'pending'
    assert pending['lease_owner'] is None  # recovery may retry at once

    # Past [conductor] scrub_timeout from the release: failed, not stuck.
    with db.begin() as conn:
        conn.execute(sa.update(_RELEASE).where(
            _RELEASE.c.uuid == handle['release_uuid']).values(
            released_at=seed.past(bind_conf.conductor.scrub_timeout + 1)))
    with caplog.at_level(logging.ERROR, logger='cyborg.conductor.scrubbing'):
        result = conductor.recovery.run_once(context)

    assert result['scrubs'] == {handle['release_uuid']: 'failed'}
    failed = _release(db, handle['release_uuid'])
    assert 'scrub_timeout' in failed['scrub_reason']
    assert _handle(db, handle['uuid'])['scrub_state'] == 'scrub_failed'
    assert 'Device %s failed' % deployable['device_id'] in caplog.text


def test_a_driver_failure_fails_the_scrub(db, context, bind_conf, conductor,
                                         agent):
    agent.fail['scrub'] = exception.ScrubFailed(target='f1',
                                                reason='reset refused')
    deployable = _deployable(db)
    handle = _bound_then_deleted(db, context, bind_conf, conductor,
                                 deployable)

    assert conductor.scrubber.scrub(context,
                                    handle['release_uuid']) == 'failed'

    release = _release(db, handle['release_uuid'])
    assert release['scrub_reason'] == 'Scrubbing f1 failed: reset refused'
    assert _handle(db, handle['uuid'])['scrub_state'] == 'scrub_failed'
    # Out of service: the other handle is claimed, then none is free.
    [a, b] = seed.seed_binds(db, deployable, 2)
    outcomes = conductor.binder.bind_batch(context, [a, b])
    assert sorted(outcomes.values()) == ['BindFailed', 'Bound']


@pytest.mark.parametrize('cap, stated, why', [
    ('1.1', '1.2', '[upgrade_levels] agent caps this conductor below agent '
                   'RPC 1.2, which scrub needs'),
    (None, '1.1', 'the agent of host test-host serves agent RPC 1.1, scrub '
                  'needs 1.2'),
    (None, None, 'the agent of host test-host serves agent RPC 1.0, scrub '
                 'needs 1.2'),
])
def test_an_agent_too_old_for_scrub_gets_no_call(
        db, context, bind_conf, transport, rpc_servers, caplog, cap, stated,
        why):
    if cap:
        bind_conf.set_override('agent', cap, group='upgrade_levels')
    old_agent = seed.RecordingAgent()
    old_agent.target = messaging.Target(version='1.1')
    rpc_servers.serve(rpc.AGENT_TOPIC, 'test-host', [old_agent])
    conductor = conductor_service.Conductor(bind_conf, transport, None)
    try:
        deployable = _deployable(db, agent_rpc_version=stated)
        handle = _bound_then_deleted(db, context, bind_conf, conductor,
                                     deployable)
        with caplog.at_level(logging.WARNING,
                             logger='cyborg.conductor.scrubbing'):
            conductor.manager.arqs_deleted(context, [handle])
    finally:
        conductor.binder.close()

    assert old_agent.calls_of('scrub') == []
    release = _release(db, handle['release_uuid'])
    assert (release['scrub_outcome'], release['scrub_reason']) == (
        'skipped', why)
    assert _handle(db, handle['uuid'])['scrub_state'] is None
    assert 'Releasing attach handle %s unscrubbed: %s' % (
        handle['uuid'], why) in caplog.text


def test_a_failed_binds_handle_is_scrubbed(db, context, bind_conf, conductor,
                                           agent):
    # The mdev the bind needs cannot be made: the bind fails after its
    # claim, and the handle it claimed is scrubbed before reuse.
    agent.fail['create_mdev'] = exception.MdevOperationFailed(
        action='create', uuid='u', mdev_type='nvidia-35', address='a',
        reason='no room')
    deployable = seed.create_deployable(db, rpc_host='test-host',
                                        attach_type='MDEV', num_handles=1)
    with db.begin() as conn:
        conn.execute(sa.update(_HOST).values(agent_rpc_version='1.2'))
    [arq_uuid] = seed.seed_binds(db, deployable, 1)

    assert conductor.binder.bind_one(context, arq_uuid) == 'BindFailed'

    [call] = agent.calls_of('scrub')
    [row] = seed.handles(db, deployable['deployable_id'])
    assert call['attach_handle']['uuid'] == row['uuid']
    assert row['scrub_state'] is None and not row['in_use']
    with db.connect() as conn:
        [release] = conn.execute(sa.select(_RELEASE)).mappings().all()
    assert release['scrub_outcome'] == 'scrubbed'
    assert release['released_at'] <= release['finished_at']
    assert release['finished_at'] - release['released_at'] < (
        datetime.timedelta(seconds=30))
