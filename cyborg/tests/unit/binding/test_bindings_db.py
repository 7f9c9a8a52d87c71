"""The bind's data access (arq_states, attach_handles, the outbox) against
the real schema (SQLite; key cases on all DBs)."""

import datetime

from oslo_utils import timeutils
import pytest

from cyborg.conductor import binding
from cyborg.db import arq_states
from cyborg.db import attach_handles
from cyborg.db import arqs
from cyborg.db import nova_event_outbox
from cyborg.db import deployables
from cyborg import exception
from cyborg.tests.fixtures import binding as seed


def _lease(context, arq_uuid, owner='me', seconds=30):
    leased = arq_states.acquire_bind_lease(context, arq_uuid, owner, seconds)
    assert leased is not None
    return leased


@pytest.fixture
def deployable(db):
    return seed.create_deployable(db, num_handles=2)


class TestClaim:
    def test_claim_takes_a_free_handle_and_links_the_arq(
            self, db, admin_context, deployable):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        arq = _lease(admin_context, arq_uuid)
        handle = attach_handles.claim_attach_handle(
            admin_context, arq['id'], deployable['deployable_id'],
            bind_seq=arq['bind_seq'], lease_owner='me')
        row = seed.arq(db, arq_uuid)
        assert row['attach_handle_id'] == handle['id']
        assert row['deployable_id'] == deployable['deployable_id']
        in_use = [h['uuid'] for h in seed.handles(
            db, deployable['deployable_id']) if h['in_use']]
        assert in_use == [handle['uuid']]
        assert handle['hostname'] == 'test-host'

    def test_claim_again_returns_the_held_handle(self, db, admin_context,
                                                 deployable):
        # A bind re-run by recovery must not take a second handle.
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        arq = _lease(admin_context, arq_uuid)
        first = attach_handles.claim_attach_handle(admin_context, arq['id'],
                                             deployable['deployable_id'])
        again = attach_handles.claim_attach_handle(admin_context, arq['id'],
                                             deployable['deployable_id'])
        assert again['uuid'] == first['uuid']
        assert sum(h['in_use'] for h in seed.handles(
            db, deployable['deployable_id'])) == 1

    def test_a_missing_handle_is_never_claimed(self, db, admin_context,
                                               deployable):
        # Its function vanished from the host (a VF count lowered): it is
        # kept only for the ARQ that held it.
        first, second = seed.handles(db, deployable['deployable_id'])
        seed.mark_handle_missing(db, first['uuid'])
        uuids = seed.seed_binds(db, deployable, 2)
        arqs = [_lease(admin_context, u) for u in uuids]

        handle = attach_handles.claim_attach_handle(admin_context, arqs[0]['id'],
                                              deployable['deployable_id'])

        assert handle['uuid'] == second['uuid']
        with pytest.raises(exception.NoFreeAttachHandle):
            attach_handles.claim_attach_handle(admin_context, arqs[1]['id'],
                                         deployable['deployable_id'])

    def test_no_free_handle(self, db, admin_context, deployable):
        uuids = seed.seed_binds(db, deployable, 3)
        arqs = [_lease(admin_context, u) for u in uuids]
        for arq in arqs[:2]:
            attach_handles.claim_attach_handle(admin_context, arq['id'],
                                         deployable['deployable_id'])
        with pytest.raises(exception.NoFreeAttachHandle):
            attach_handles.claim_attach_handle(admin_context, arqs[2]['id'],
                                         deployable['deployable_id'])
        assert seed.arq(db, uuids[2])['attach_handle_id'] is None

    @pytest.mark.parametrize('guard', [{'bind_seq': 7},
                                       {'lease_owner': 'someone-else'}])
    def test_claim_refused_when_the_bind_is_not_ours(
            self, db, admin_context, deployable, guard):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        arq = _lease(admin_context, arq_uuid)
        with pytest.raises(exception.BindNotOwned):
            attach_handles.claim_attach_handle(admin_context, arq['id'],
                                         deployable['deployable_id'], **guard)
        assert not any(h['in_use'] for h in seed.handles(
            db, deployable['deployable_id']))

    def test_claim_refused_when_deployable_was_reprogrammed(
            self, db, admin_context, deployable):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        arq = _lease(admin_context, arq_uuid)
        deployables.record_bitstream(
            admin_context, deployable['deployable_id'], 'image-b')
        with pytest.raises(exception.DeployableReprogrammed):
            attach_handles.claim_attach_handle(admin_context, arq['id'],
                                         deployable['deployable_id'],
                                         bitstream_id='image-a')


class TestFinishBind:
    def test_bound_queues_a_completed_event(self, db, admin_context,
                                            deployable):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        arq = _lease(admin_context, arq_uuid)
        attach_handles.claim_attach_handle(admin_context, arq['id'],
                                     deployable['deployable_id'])
        result = binding.record_outcome(admin_context, arq, arq_states.BOUND,
                                      lease_owner='me')
        assert result['arq']['state'] == 'Bound'
        assert result['released'] is None
        row = seed.arq(db, arq_uuid)
        assert row['bind_lease_owner'] is None
        [event] = seed.events(db)
        assert (event['arq_uuid'], event['bind_seq'], event['status'],
                event['instance_uuid']) == (arq_uuid, 1, 'completed',
                                            row['instance_uuid'])

    def test_finishing_twice_writes_once(self, db, admin_context,
                                         deployable):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        arq = _lease(admin_context, arq_uuid)
        assert binding.record_outcome(admin_context, arq,
                                    arq_states.BIND_FAILED, error='x')
        assert binding.record_outcome(admin_context, arq,
                                    arq_states.BOUND) is None
        assert seed.arq(db, arq_uuid)['state'] == 'BindFailed'
        assert len(seed.events(db)) == 1

    def test_failed_releases_the_handle(self, db, admin_context,
                                        deployable):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        arq = _lease(admin_context, arq_uuid)
        handle = attach_handles.claim_attach_handle(admin_context, arq['id'],
                                              deployable['deployable_id'])
        result = binding.record_outcome(admin_context, arq,
                                      arq_states.BIND_FAILED, lease_owner='me',
                                      error='agent said no')
        assert result['released']['uuid'] == handle['uuid']
        row = seed.arq(db, arq_uuid)
        assert (row['state'], row['bind_error'], row['attach_handle_id'],
                row['deployable_id']) == ('BindFailed', 'agent said no',
                                          None, None)
        assert not any(h['in_use'] for h in seed.handles(
            db, deployable['deployable_id']))
        assert [e['status'] for e in seed.events(db)] == ['failed']

    def test_lost_lease_writes_nothing(self, db, admin_context, deployable):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        arq = _lease(admin_context, arq_uuid, owner='old', seconds=1)
        later = timeutils.utcnow() + datetime.timedelta(seconds=5)
        assert arq_states.acquire_bind_lease(admin_context, arq_uuid, 'new',
                                           30, now=later)
        assert binding.record_outcome(admin_context, arq, arq_states.BOUND,
                                    lease_owner='old') is None
        assert seed.arq(db, arq_uuid)['state'] == 'BindStarted'
        assert seed.events(db) == []


class TestLeases:
    def test_one_owner_at_a_time(self, db, admin_context, deployable):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        assert arq_states.acquire_bind_lease(admin_context, arq_uuid, 'a', 30)
        assert arq_states.acquire_bind_lease(admin_context, arq_uuid, 'b',
                                           30) is None
        assert arq_states.renew_bind_lease(admin_context, arq_uuid, 'a', 30)
        assert not arq_states.renew_bind_lease(admin_context, arq_uuid, 'b',
                                             30)

    def test_expired_lease_can_be_taken(self, db, admin_context, deployable):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        seed.set_lease(db, arq_uuid, 'dead', seed.past(1))
        taken = arq_states.acquire_bind_lease(admin_context, arq_uuid, 'b', 30)
        assert taken['bind_lease_owner'] == 'b'
        assert not arq_states.renew_bind_lease(admin_context, arq_uuid,
                                             'dead', 30)

    def test_only_bind_started_is_leased(self, db, admin_context,
                                         deployable):
        profile = seed.create_device_profile(db, [{'resources:FPGA': '1'}])
        [arq_uuid] = seed.create_arqs(db, profile, 1)
        assert arq_states.acquire_bind_lease(admin_context, arq_uuid, 'a',
                                           30) is None

    def test_binds_needing_recovery(self, db, admin_context, deployable):
        no_lease, expired, live = seed.seed_binds(db, deployable, 3,
                                                  started_at=seed.past(60))
        [fresh] = seed.seed_binds(db, deployable, 1)
        seed.set_lease(db, expired, 'dead', seed.past(1))
        _lease(admin_context, live)
        profile = seed.create_device_profile(db, [{'resources:FPGA': '1'}])
        seed.create_arqs(db, profile, 1)  # Initial: not a bind
        assert sorted(arqs.list_binds_needing_recovery(
            admin_context, grace_seconds=30)) == sorted([no_lease, expired])
        # Without a grace, a bind nobody took yet is listed at once.
        assert sorted(arqs.list_binds_needing_recovery(
            admin_context)) == sorted([no_lease, expired, fresh])


class TestUnbind:
    def test_unbind_bound_releases_in_the_same_transaction(
            self, db, admin_context, deployable):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        arq = _lease(admin_context, arq_uuid)
        handle = attach_handles.claim_attach_handle(admin_context, arq['id'],
                                              deployable['deployable_id'])
        binding.record_outcome(admin_context, arq, arq_states.BOUND)
        released = arq_states.unbind(admin_context, arq_uuid)
        assert released['uuid'] == handle['uuid']
        assert released['hostname'] == 'test-host'
        row = seed.arq(db, arq_uuid)
        assert (row['state'], row['attach_handle_id'], row['hostname'],
                row['instance_uuid'], row['device_rp_uuid'],
                row['project_id']) == ('Unbound', None, None, None, None,
                                       'project')
        assert not any(h['in_use'] for h in seed.handles(
            db, deployable['deployable_id']))

    def test_repeated_unbind_is_a_no_op(self, db, admin_context, deployable):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        arq_states.unbind(admin_context, arq_uuid)
        before = seed.arq(db, arq_uuid)
        assert arq_states.unbind(admin_context, arq_uuid) is None
        assert seed.arq(db, arq_uuid)['updated_at'] == before['updated_at']

    def test_unbind_initial_is_fine(self, db, admin_context):
        profile = seed.create_device_profile(db, [{'resources:FPGA': '1'}])
        [arq_uuid] = seed.create_arqs(db, profile, 1)
        assert arq_states.unbind(admin_context, arq_uuid) is None
        assert seed.arq(db, arq_uuid)['state'] == 'Unbound'

    def test_unbind_refused_from_deleting(self, db, admin_context):
        profile = seed.create_device_profile(db, [{'resources:FPGA': '1'}])
        [arq_uuid] = seed.create_arqs(db, profile, 1)
        with db.begin() as conn:
            conn.execute(seed._ARQ.update().where(
                seed._ARQ.c.uuid == arq_uuid).values(state='Deleting'))
        with pytest.raises(exception.ARQBadState):
            arq_states.unbind(admin_context, arq_uuid)

    def test_unbind_missing(self, db, admin_context):
        with pytest.raises(exception.ARQNotFound):
            arq_states.unbind(admin_context, 'no-such-arq')

    def test_unbind_during_bind_stops_the_bind(self, db, admin_context,
                                               deployable):
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        arq = _lease(admin_context, arq_uuid)
        attach_handles.claim_attach_handle(admin_context, arq['id'],
                                     deployable['deployable_id'])
        arq_states.unbind(admin_context, arq_uuid)
        with pytest.raises(exception.BindNotOwned):
            attach_handles.claim_attach_handle(admin_context, arq['id'],
                                         deployable['deployable_id'],
                                         lease_owner='me')
        assert binding.record_outcome(admin_context, arq, arq_states.BOUND,
                                    lease_owner='me') is None
        assert seed.arq(db, arq_uuid)['state'] == 'Unbound'
        assert seed.events(db) == []
        assert not any(h['in_use'] for h in seed.handles(
            db, deployable['deployable_id']))


class TestOutbox:
    @pytest.fixture
    def two_events(self, db, admin_context, deployable):
        uuids = seed.seed_binds(db, deployable, 2)
        for arq_uuid in uuids:
            arq = _lease(admin_context, arq_uuid)
            binding.record_outcome(admin_context, arq, arq_states.BIND_FAILED,
                                 error='x')
        return uuids

    def test_a_leased_event_is_not_claimed_twice(self, db, admin_context,
                                                 two_events):
        first = nova_event_outbox.claim_due_events(admin_context, 'a')
        assert sorted(e['arq_uuid'] for e in first) == sorted(two_events)
        assert nova_event_outbox.claim_due_events(admin_context, 'b') == []
        later = timeutils.utcnow() + datetime.timedelta(minutes=5)
        again = nova_event_outbox.claim_due_events(admin_context, 'b', now=later)
        assert len(again) == 2

    def test_claim_restricted_to_arqs(self, db, admin_context, two_events):
        claimed = nova_event_outbox.claim_due_events(admin_context, 'a',
                                            arq_uuids=two_events[:1])
        assert [e['arq_uuid'] for e in claimed] == two_events[:1]

    def test_mark_sent_needs_the_lease(self, db, admin_context, two_events):
        ids = [e['id'] for e in nova_event_outbox.claim_due_events(admin_context, 'a')]
        assert nova_event_outbox.mark_events_sent(admin_context, 'b', ids) == 0
        assert nova_event_outbox.mark_events_sent(admin_context, 'a', ids) == 2
        assert nova_event_outbox.mark_events_sent(admin_context, 'a', ids) == 0
        later = timeutils.utcnow() + datetime.timedelta(days=1)
        assert nova_event_outbox.claim_due_events(admin_context, 'c', now=later) == []

    def test_renew_needs_the_lease_and_extends_it(self, db, admin_context,
                                                  two_events):
        now = timeutils.utcnow()
        ids = [e['id'] for e in nova_event_outbox.claim_due_events(
            admin_context, 'a', now=now, lease_seconds=5)]
        assert nova_event_outbox.renew_event_leases(
            admin_context, 'b', ids, 60) == 0
        assert nova_event_outbox.renew_event_leases(
            admin_context, 'a', ids, 60) == 2
        # Renewed: not free where the first lease would have ended.
        assert nova_event_outbox.claim_due_events(
            admin_context, 'b', now=now + datetime.timedelta(seconds=30)) == []
        nova_event_outbox.mark_events_sent(admin_context, 'a', ids[:1])
        assert nova_event_outbox.renew_event_leases(
            admin_context, 'a', ids, 60) == 1

    def test_lease_end_is_a_whole_second_not_before_the_lease(self):
        now = datetime.datetime(2026, 1, 1, 12, 0, 0, 600000)
        assert nova_event_outbox._lease_end(now, 2) == datetime.datetime(
            2026, 1, 1, 12, 0, 3)
        assert nova_event_outbox._lease_end(now.replace(microsecond=0), 2) \
            == datetime.datetime(2026, 1, 1, 12, 0, 2)

    def test_reschedule_backs_off_then_abandons(self, db, admin_context,
                                                two_events):
        now = timeutils.utcnow()
        for attempt in (1, 2):
            ids = [e['id'] for e in nova_event_outbox.claim_due_events(
                admin_context, 'a', now=now)]
            assert len(ids) == 2
            abandoned = nova_event_outbox.reschedule_events(
                admin_context, 'a', ids, max_attempts=3, now=now)
            assert abandoned == []
            for event in seed.events(db):
                assert event['attempts'] == attempt
                assert (event['next_attempt_at'] - now).total_seconds() == \
                    pytest.approx(nova_event_outbox.backoff_seconds(attempt), abs=1)
            assert nova_event_outbox.claim_due_events(admin_context, 'a',
                                             now=now) == []
            now = now + datetime.timedelta(minutes=10)
        ids = [e['id'] for e in nova_event_outbox.claim_due_events(
            admin_context, 'a', now=now)]
        abandoned = nova_event_outbox.reschedule_events(admin_context, 'a', ids,
                                               max_attempts=3, now=now)
        assert sorted(e['arq_uuid'] for e in abandoned) == sorted(two_events)
        assert nova_event_outbox.claim_due_events(
            admin_context, 'a', now=now + datetime.timedelta(days=1)) == []

    def test_backoff_grows_and_is_capped(self):
        assert [nova_event_outbox.backoff_seconds(n) for n in (1, 2, 3, 4)] == [
            2, 4, 8, 16]
        assert nova_event_outbox.backoff_seconds(30) == 300

    def test_purge_finished_events(self, db, admin_context, two_events):
        ids = [e['id'] for e in nova_event_outbox.claim_due_events(admin_context, 'a')]
        nova_event_outbox.mark_events_sent(admin_context, 'a', ids[:1])
        later = timeutils.utcnow() + datetime.timedelta(seconds=5)
        assert nova_event_outbox.purge_finished_events(admin_context, later) == 1
        assert [e['id'] for e in seed.events(db)] == ids[1:]


def test_claims_and_finish_on_every_backend(any_db, admin_context):
    # The CAS paths use FOR UPDATE SKIP LOCKED and RETURNING-free rowcounts;
    # make sure each backend runs them.
    deployable = seed.create_deployable(any_db, num_handles=1)
    first, second = seed.seed_binds(any_db, deployable, 2)
    arq = _lease(admin_context, first)
    attach_handles.claim_attach_handle(admin_context, arq['id'],
                                 deployable['deployable_id'],
                                 bind_seq=arq['bind_seq'], lease_owner='me')
    assert binding.record_outcome(admin_context, arq, arq_states.BOUND,
                                lease_owner='me')
    other = _lease(admin_context, second, owner='you')
    with pytest.raises(exception.NoFreeAttachHandle):
        attach_handles.claim_attach_handle(admin_context, other['id'],
                                     deployable['deployable_id'])
    assert arq_states.unbind(admin_context, first)['uuid'] == \
        deployable['handles'][0]
    events = nova_event_outbox.claim_due_events(admin_context, 'x')
    assert [(e['arq_uuid'], e['status'], e['unconfirmed_sends'])
            for e in events] == [(first, 'completed', 0)]
    # 'x' never closed its lease (as a conductor dying mid-send leaves it):
    # taking the row over counts, on every backend (MySQL evaluates SET
    # left to right).
    later = timeutils.utcnow() + datetime.timedelta(minutes=5)
    events = nova_event_outbox.claim_due_events(admin_context, 'y', now=later)
    assert [e['unconfirmed_sends'] for e in events] == [1]
    assert nova_event_outbox.renew_event_leases(
        admin_context, 'y', [e['id'] for e in events], 5, now=later) == 1
    assert nova_event_outbox.mark_events_sent(admin_context, 'x',
                                     [e['id'] for e in events]) == 0
    assert nova_event_outbox.mark_events_sent(admin_context, 'y',
                                     [e['id'] for e in events]) == 1
