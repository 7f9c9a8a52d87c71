"""binding.start_bind: a bind with no remote call is one transaction.

Lease, claim, Bound outcome and Nova event commit together or not at all;
a bind that needs more (an mdev, a full deployable) is left leased for the
step-by-step path, holding whatever it claimed.
"""

import pytest
import sqlalchemy as sa

from cyborg.conductor import binding
from cyborg.db import arq_states
from cyborg.tests.fixtures import binding as seed


def _always(inputs, now):
    return True


@pytest.fixture
def deployable(db):
    return seed.create_deployable(db, num_handles=1)


def _statements(engine):
    seen = []
    sa.event.listen(engine, 'before_cursor_execute',
                    lambda conn, cur, stmt, *a: seen.append(stmt))
    return seen


def test_bind_without_remote_call_is_bound_at_once(db, admin_context,
                                                   deployable):
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    statements = _statements(db)
    start = binding.start_bind(admin_context, arq_uuid, 'me', 30, _always)
    assert start.outcome == arq_states.BOUND
    # One transaction (SQLite: BEGIN IMMEDIATE ... COMMIT is implicit), of
    # six statements: lease, inputs, free handle, take it, Bound with the
    # claim, the event (a round trip each on a server database).
    assert [s for s in statements if s.startswith('BEGIN')] == [
        'BEGIN IMMEDIATE']
    assert [s.split()[0] for s in statements[1:]] == [
        'UPDATE', 'SELECT', 'SELECT', 'UPDATE', 'UPDATE', 'INSERT']
    row = seed.arq(db, arq_uuid)
    [handle] = seed.handles(db, deployable['deployable_id'])
    assert row['state'] == 'Bound' and row['bind_lease_owner'] is None
    assert row['attach_handle_id'] == handle['id'] and handle['in_use']
    assert start.handle['uuid'] == handle['uuid']
    assert start.handle['hostname'] == 'test-host'
    [event] = seed.events(db)
    assert (event['arq_uuid'], event['status'], event['abandoned_at']) == (
        arq_uuid, 'completed', None)


def test_without_nova_the_event_is_recorded_given_up(db, admin_context,
                                                     deployable):
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    binding.start_bind(admin_context, arq_uuid, 'me', 30, _always,
                        nova_enabled=False)
    [event] = seed.events(db)
    assert event['abandoned_at'] and not event['sent_at']


def test_a_leased_bind_is_not_started_twice(db, admin_context, deployable):
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    arq_states.acquire_bind_lease(admin_context, arq_uuid, 'other', 30)
    assert binding.start_bind(admin_context, arq_uuid, 'me', 30,
                               _always) is None
    assert seed.arq(db, arq_uuid)['state'] == 'BindStarted'
    assert not seed.events(db)


def test_bind_needing_remote_work_stays_leased(db, admin_context,
                                               deployable):
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    start = binding.start_bind(admin_context, arq_uuid, 'me', 30,
                                lambda inputs, now: False)
    assert start.outcome is None and start.handle is None
    assert start.inputs.controlpaths  # the slow path may need to program
    row = seed.arq(db, arq_uuid)
    assert (row['state'], row['bind_lease_owner']) == ('BindStarted', 'me')
    assert row['attach_handle_id'] is None


def test_no_free_handle_leaves_the_failure_to_the_caller(db, admin_context,
                                                         deployable):
    first, second = seed.seed_binds(db, deployable, 2)
    assert binding.start_bind(admin_context, first, 'me', 30,
                               _always).outcome == arq_states.BOUND
    start = binding.start_bind(admin_context, second, 'me', 30, _always)
    assert start.outcome is None and start.handle is None
    assert seed.arq(db, second)['state'] == 'BindStarted'
