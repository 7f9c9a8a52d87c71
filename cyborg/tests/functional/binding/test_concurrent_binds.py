"""Concurrent binds never share a handle, and each tells Nova exactly once."""

import collections
import threading

from cyborg.conductor import service as conductor_service
from cyborg import context as cyborg_context
from cyborg.tests.fixtures import binding as seed

BINDS = 50
HANDLES = 16
CONDUCTORS = 5


def test_50_binds_on_16_handles(any_db, bind_conf, transport, stub_nova):
    # Five conductors (each its own endpoint, Binder and thread pool) get 50
    # bind casts at once, one ARQ each, all for one 16-handle deployable.
    deployable = seed.create_deployable(any_db, num_handles=HANDLES)
    uuids = seed.seed_binds(any_db, deployable, BINDS)
    managers = [conductor_service.Conductor(bind_conf, transport, None).manager
                for _ in range(CONDUCTORS)]
    start = threading.Barrier(BINDS)
    errors = []

    def bind(index):
        context = cyborg_context.get_admin_context()
        start.wait()
        try:
            managers[index % CONDUCTORS].bind_arqs(context, [uuids[index]])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=bind, args=(i,)) for i in range(BINDS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for manager in managers:
        manager.binder.close()
    assert errors == []

    rows = seed.arqs(any_db, uuids)
    states = collections.Counter(row['state'] for row in rows.values())
    assert states == {'Bound': HANDLES, 'BindFailed': BINDS - HANDLES}
    bound = [row for row in rows.values() if row['state'] == 'Bound']
    held = [row['attach_handle_id'] for row in bound]
    assert len(set(held)) == HANDLES
    handles = seed.handles(any_db, deployable['deployable_id'])
    assert {h['id'] for h in handles if h['in_use']} == set(held)
    for row in rows.values():
        assert row['bind_lease_owner'] is None
        if row['state'] == 'BindFailed':
            assert row['attach_handle_id'] is None
            assert 'No free accelerator' in row['bind_error']

    # Exactly one event per ARQ, with the status of its outcome, all sent.
    by_tag = stub_nova.events_by_tag()
    assert sorted(by_tag) == sorted(uuids)
    for arq_uuid, events in by_tag.items():
        assert len(events) == 1
        expected = ('completed' if rows[arq_uuid]['state'] == 'Bound'
                    else 'failed')
        assert events[0]['status'] == expected
        assert events[0]['server_uuid'] == rows[arq_uuid]['instance_uuid']
    assert all(event['sent_at'] for event in seed.events(any_db))
