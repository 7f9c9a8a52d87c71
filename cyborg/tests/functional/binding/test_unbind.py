"""Unbind as the API does it, and the conductor's host-side follow-up.

The agent is a recording RPC endpoint on the fake transport: the mdev
create/remove requests it gets are what a real agent would be asked to do.
"""

import json

import pytest
import sqlalchemy as sa

from cyborg.accelerator import discovery
from cyborg.db import arq_states
from cyborg.db import models
from cyborg import exception
from cyborg.tests.fixtures import binding as seed


@pytest.fixture
def mdev_deployable(db):
    return seed.create_deployable(db, attach_type='MDEV', num_handles=2)


def _handle_uuid(engine, handle_id):
    table = models.AttachHandle.__table__
    with engine.connect() as conn:
        return conn.execute(sa.select(table.c.uuid).where(
            table.c.id == handle_id)).scalar_one()


def test_bind_then_unbind_mdev(db, conductor, agent, mdev_deployable,
                               stub_nova):
    [arq_uuid] = seed.seed_binds(db, mdev_deployable, 1)
    rows = conductor.bind(db, [arq_uuid])
    assert rows[arq_uuid]['state'] == 'Bound'
    handle_uuid = _handle_uuid(db, rows[arq_uuid]['attach_handle_id'])
    [created] = agent.calls_of('create_mdev')
    [handle] = [h for h in seed.handles(db, mdev_deployable['deployable_id'])
                if h['uuid'] == handle_uuid]
    info = discovery.pci_address_str(json.loads(handle['attach_info']))
    assert created == {'pci_address': info, 'mdev_type': 'nvidia-35',
                       'mdev_uuid': handle_uuid}

    conductor.unbind([arq_uuid])

    row = seed.arq(db, arq_uuid)
    assert (row['state'], row['attach_handle_id'], row['instance_uuid']) == (
        'Unbound', None, None)
    assert not any(h['in_use'] for h in seed.handles(
        db, mdev_deployable['deployable_id']))
    assert agent.calls_of('remove_mdev') == [created]
    # No Nova event for an unbind: only the bind's.
    assert [e['status'] for e in stub_nova.events()] == ['completed']

    # Unbinding again changes nothing and asks the agent nothing.
    conductor.unbind([arq_uuid])
    assert len(agent.calls_of('remove_mdev')) == 1


def test_unbind_initial_arq(db, conductor, agent):
    profile = seed.create_device_profile(db, [{'resources:FPGA': '1'}])
    [arq_uuid] = seed.create_arqs(db, profile, 1)
    conductor.unbind([arq_uuid])
    assert seed.arq(db, arq_uuid)['state'] == 'Unbound'
    assert agent.calls == []


def test_unbind_missing_arq_is_not_found(db, conductor, mdev_deployable,
                                         agent):
    [arq_uuid] = seed.seed_binds(db, mdev_deployable, 1)
    conductor.bind(db, [arq_uuid])
    with pytest.raises(exception.ARQNotFound) as raised:
        conductor.unbind([arq_uuid, 'not-an-arq'])
    assert 'not-an-arq' in str(raised.value)
    # All or nothing: the existing one is still bound, its mdev in place.
    assert seed.arq(db, arq_uuid)['state'] == 'Bound'
    assert agent.calls_of('remove_mdev') == []


def test_rebind_after_unbind_gets_a_new_event(db, conductor, agent,
                                              mdev_deployable, stub_nova):
    # bind_seq tells the two binds apart: each outcome is told once.
    [arq_uuid] = seed.seed_binds(db, mdev_deployable, 1)
    conductor.bind(db, [arq_uuid])
    conductor.unbind([arq_uuid])
    seed.start_bind(db, arq_uuid, mdev_deployable['rp_uuid'])
    conductor.bind(db, [arq_uuid])
    seed.wait_for(lambda: len(stub_nova.events()) == 2, what='two events')
    assert [e['bind_seq'] for e in seed.events(db)] == [1, 2]


def test_arqs_deleted_removes_freed_mdevs(admin_context, db, conductor,
                                          agent, mdev_deployable):
    [arq_uuid] = seed.seed_binds(db, mdev_deployable, 1)
    conductor.bind(db, [arq_uuid])
    # The API deletes the ARQ and frees its handle in one transaction,
    # then casts arqs_deleted with what it freed.
    released = arq_states.delete(admin_context, uuids=[arq_uuid]).handles
    conductor.api.arqs_deleted(conductor.context, released)
    seed.wait_for(lambda: agent.calls_of('remove_mdev'),
                  what='the mdev removal')
    assert agent.calls_of('remove_mdev') == agent.calls_of('create_mdev')


def test_arqs_deleted_keeps_a_reclaimed_mdev(admin_context, db, conductor,
                                             agent, mdev_deployable):
    # The freed handle was bound again before the cast arrived: its new
    # holder uses the same mdev, which must stay.
    [first] = seed.seed_binds(db, mdev_deployable, 1)
    conductor.bind(db, [first])
    released = arq_states.delete(admin_context, uuids=[first]).handles
    second, third = seed.seed_binds(db, mdev_deployable, 2)
    conductor.bind(db, [second, third])
    conductor.manager.arqs_deleted(conductor.context, released)
    assert agent.calls_of('remove_mdev') == []
