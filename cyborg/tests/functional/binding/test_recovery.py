"""Recovery finishes or fails binds nobody works on, safely in parallel."""

import collections
import threading

import pytest

from cyborg.conductor import service as conductor_service
from cyborg import context as cyborg_context
from cyborg.conductor import binding
from cyborg.db import arq_states
from cyborg.db import attach_handles
from cyborg.tests.fixtures import binding as seed


@pytest.fixture
def worker(db, bind_conf, transport):
    worker = conductor_service.Conductor(bind_conf, transport, None).recovery
    yield worker
    worker.binder.close()


@pytest.fixture
def context():
    return cyborg_context.get_admin_context()


def test_expired_lease_is_finished(db, worker, context, stub_nova):
    # A conductor leased the bind, claimed a handle and died.
    deployable = seed.create_deployable(db)
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    arq = arq_states.acquire_bind_lease(context, arq_uuid, 'dead', 30)
    claimed = attach_handles.claim_attach_handle(context, arq['id'],
                                           deployable['deployable_id'])
    seed.set_lease(db, arq_uuid, 'dead', seed.past(1))

    result = worker.run_once(context)

    assert result == {'binds': {arq_uuid: 'Bound'}, 'scrubs': {},
                      'events_sent': 1}
    row = seed.arq(db, arq_uuid)
    assert row['state'] == 'Bound'
    # The handle the dead conductor claimed is reused, not a second one.
    assert row['attach_handle_id'] == claimed['id']
    assert sum(h['in_use'] for h in seed.handles(
        db, deployable['deployable_id'])) == 1
    assert [e['status'] for e in stub_nova.events_by_tag()[arq_uuid]] == [
        'completed']


def test_bind_past_its_timeout_is_failed(db, bind_conf, worker, context,
                                         stub_nova):
    deployable = seed.create_deployable(db)
    [arq_uuid] = seed.seed_binds(
        db, deployable, 1, started_at=seed.past(bind_conf.bind_timeout + 1))
    arq = arq_states.acquire_bind_lease(context, arq_uuid, 'dead', 30)
    attach_handles.claim_attach_handle(context, arq['id'],
                                 deployable['deployable_id'])
    seed.set_lease(db, arq_uuid, 'dead', seed.past(1))

    assert worker.run_once(context)['binds'] == {arq_uuid: 'BindFailed'}

    row = seed.arq(db, arq_uuid)
    assert 'did not finish within [DEFAULT] bind_timeout' in row['bind_error']
    assert row['attach_handle_id'] is None
    assert not any(h['in_use'] for h in seed.handles(
        db, deployable['deployable_id']))
    assert [e['status'] for e in stub_nova.events_by_tag()[arq_uuid]] == [
        'failed']


def test_live_lease_is_left_alone(db, worker, context, stub_nova):
    deployable = seed.create_deployable(db)
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    arq_states.acquire_bind_lease(context, arq_uuid, 'alive', 30)
    assert worker.run_once(context) == {'binds': {}, 'scrubs': {},
                                        'events_sent': 0}
    assert seed.arq(db, arq_uuid)['state'] == 'BindStarted'


def test_lost_cast_is_picked_up_after_a_lease_period(db, bind_conf, worker,
                                                     context, stub_nova):
    # The API committed BindStarted but its bind_arqs cast never arrived.
    deployable = seed.create_deployable(db)
    [fresh] = seed.seed_binds(db, deployable, 1)
    [lost] = seed.seed_binds(
        db, deployable, 1,
        started_at=seed.past(bind_conf.bind_lease_seconds + 1))
    assert worker.run_once(context) == {'binds': {lost: 'Bound'},
                                        'scrubs': {}, 'events_sent': 1}
    assert seed.arq(db, fresh)['state'] == 'BindStarted'


def test_unsent_events_are_delivered(db, worker, context, stub_nova):
    # The outcome was committed but its conductor died before sending.
    deployable = seed.create_deployable(db)
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    arq = arq_states.acquire_bind_lease(context, arq_uuid, 'dead', 30)
    binding.record_outcome(context, arq, arq_states.BIND_FAILED, error='x')
    assert worker.run_once(context)['events_sent'] == 1
    assert worker.run_once(context)['events_sent'] == 0
    assert len(stub_nova.events_by_tag()[arq_uuid]) == 1


def test_two_recoveries_racing(any_db, bind_conf, transport, context,
                               stub_nova):
    # Two conductors scan at the same moment: each bind is run by one of
    # them and each event is sent once.
    deployable = seed.create_deployable(any_db, num_handles=16)
    uuids = seed.seed_binds(any_db, deployable, 20)
    for arq_uuid in uuids:
        seed.set_lease(any_db, arq_uuid, 'dead', seed.past(1))
    workers = [conductor_service.Conductor(bind_conf, transport, None).recovery
               for _ in range(2)]
    start = threading.Barrier(len(workers))
    results = []

    def run(worker):
        own_context = cyborg_context.get_admin_context()
        start.wait()
        results.append(worker.run_once(own_context))

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for worker in workers:
        worker.binder.close()

    ran = collections.Counter(arq_uuid for result in results
                              for arq_uuid, outcome in result['binds'].items()
                              if outcome)
    assert sorted(ran) == sorted(uuids)
    assert set(ran.values()) == {1}
    assert sum(r['events_sent'] for r in results) == len(uuids)
    states = collections.Counter(
        row['state'] for row in seed.arqs(any_db, uuids).values())
    assert states == {'Bound': 16, 'BindFailed': 4}
    by_tag = stub_nova.events_by_tag()
    assert sorted(by_tag) == sorted(uuids)
    assert all(len(events) == 1 for events in by_tag.values())
