"""The device context state machine in SQL, on SQLite, MariaDB, PostgreSQL.

The owner module's statements (swaps with NOT EXISTS subqueries, the
purge) against each real backend, with explicit clocks: when a context
is usable, when it expires, that a context with ARQs never expires nor is
purged, and that the database itself refuses an ARQ naming both a
profile and a context, or neither.
"""

import datetime
import uuid

from oslo_db import exception as db_exc
from oslo_utils import timeutils
import pytest
import sqlalchemy as sa

from cyborg import context as cyborg_context
from cyborg.db import arq_states
from cyborg.db import device_contexts
from cyborg.db import models
from cyborg import exception
from cyborg.tests.fixtures import binding as seed

GROUPS = [{'resources:FPGA': '1'}]
LIFETIMES = device_contexts.Lifetimes(unused_expiry=60, release_grace=10)


@pytest.fixture
def ctx():
    return cyborg_context.RequestContext(project_id='project', is_admin=False)


def _later(seconds):
    return timeutils.utcnow() + datetime.timedelta(seconds=seconds)


def test_a_new_context_expires_unless_used(any_db, ctx):
    created = device_contexts.create(ctx, GROUPS, {'k': 'v'}, LIFETIMES)

    assert created['state'] == 'Unbound'
    assert device_contexts.get_device_context(ctx, created['uuid'])
    later = _later(61)
    with pytest.raises(exception.DeviceContextNotFound):
        device_contexts.get_device_context(ctx, created['uuid'], now=later)
    assert device_contexts.list_device_contexts(ctx, now=later) == []
    with pytest.raises(exception.DeviceContextNotFound):
        device_contexts.take_for_arqs(ctx, created['uuid'], now=later)
    assert device_contexts.purge_expired(ctx, now=later) == 1
    assert seed.device_context(any_db, created['uuid']) is None


def test_a_context_with_arqs_never_expires_nor_is_purged(any_db, ctx):
    created = device_contexts.create(ctx, GROUPS, {}, LIFETIMES)
    [arq] = arq_states.create_from_context(ctx, created['uuid'], [1])

    row = seed.device_context(any_db, created['uuid'])
    assert row['expires_at'] is None
    far = _later(10 ** 6)
    assert device_contexts.purge_expired(ctx, now=far) == 0
    assert device_contexts.get_device_context(ctx, created['uuid'], now=far)
    # Its last unbound ARQ deleted: the unused clock starts again.
    arq_states.delete(ctx, uuids=[arq['uuid']], lifetimes=LIFETIMES)
    row = seed.device_context(any_db, created['uuid'])
    assert (row['state'], row['expires_at'] is not None) == ('Unbound', True)


def test_bound_then_released_then_gone_after_the_grace(any_db, ctx):
    deployable = seed.create_deployable(any_db)
    created = device_contexts.create(ctx, GROUPS, {}, LIFETIMES)
    [arq] = arq_states.create_from_context(ctx, created['uuid'], [1])
    instance = str(uuid.uuid4())
    admin = cyborg_context.get_admin_context()
    arq_states.bind_and_unbind(admin, {arq['uuid']: {
        'hostname': 'test-host', 'device_rp_uuid': deployable['rp_uuid'],
        'instance_uuid': instance, 'project_id': 'project'}}, [])

    row = seed.device_context(any_db, created['uuid'])
    assert (row['state'], row['instance_uuid'], row['expires_at']) == (
        'Bound', instance, None)
    with pytest.raises(exception.DeviceContextBound):
        arq_states.create_from_context(ctx, created['uuid'], [1])

    arq_states.delete(admin, instance_uuid=instance, lifetimes=LIFETIMES)
    row = seed.device_context(any_db, created['uuid'])
    assert row['state'] == 'Released'
    assert row['instance_uuid'] == instance
    assert row['released_at'] is not None
    # Within the grace, usable again (by its instance only: see the bind).
    assert device_contexts.get_device_context(ctx, created['uuid'],
                                              now=_later(5))
    after = _later(11)
    with pytest.raises(exception.DeviceContextNotFound):
        device_contexts.get_device_context(ctx, created['uuid'], now=after)
    assert device_contexts.purge_expired(ctx, now=after) == 1


def test_another_instance_never_gets_the_context(any_db, ctx):
    deployable = seed.create_deployable(any_db)
    created = device_contexts.create(ctx, GROUPS, {}, LIFETIMES)
    first, second = arq_states.create_from_context(ctx, created['uuid'],
                                                   [2])
    admin = cyborg_context.get_admin_context()

    def bind(arq, instance):
        arq_states.bind_and_unbind(admin, {arq['uuid']: {
            'hostname': 'test-host', 'device_rp_uuid': deployable['rp_uuid'],
            'instance_uuid': instance, 'project_id': 'project'}}, [])

    owner = str(uuid.uuid4())
    bind(first, owner)
    with pytest.raises(exception.DeviceContextBound):
        bind(second, str(uuid.uuid4()))
    assert seed.arq(any_db, second['uuid'])['state'] == 'Initial'
    # Unbound, the ARQ may be bound again: to its context's instance.
    arq_states.bind_and_unbind(admin, {}, [first['uuid']])
    with pytest.raises(exception.DeviceContextBound):
        bind(first, str(uuid.uuid4()))
    bind(first, owner)


def test_deleting_a_context_takes_its_unbound_arqs(any_db, ctx):
    created = device_contexts.create(ctx, GROUPS, {}, LIFETIMES)
    arqs = arq_states.create_from_context(ctx, created['uuid'], [3])
    found = device_contexts.lock_for_delete(ctx, created['uuid'])

    arq_states.delete_of_context(ctx, found)
    device_contexts.delete(ctx, found['id'], found['uuid'])

    assert seed.device_context(any_db, created['uuid']) is None
    assert seed.arqs(any_db, [a['uuid'] for a in arqs]) == {}


def test_other_projects_do_not_see_or_use_it(any_db, ctx):
    created = device_contexts.create(ctx, GROUPS, {}, LIFETIMES)
    other = cyborg_context.RequestContext(project_id='other', is_admin=False)

    with pytest.raises(exception.DeviceContextNotFound):
        device_contexts.get_device_context(other, created['uuid'])
    with pytest.raises(exception.DeviceContextNotFound):
        arq_states.create_from_context(other, created['uuid'], [1])
    with pytest.raises(exception.DeviceContextNotFound):
        device_contexts.lock_for_delete(other, created['uuid'])
    assert device_contexts.list_device_contexts(other) == []


def test_the_database_wants_exactly_one_source_per_arq(any_db):
    profile_id = seed.create_device_profile(any_db, GROUPS)
    context_id, _uuid = seed.create_device_context(any_db, GROUPS)
    table = models.ExtendedAcceleratorRequest.__table__
    for profile, context in ((None, None), (profile_id, context_id)):
        # MariaDB reports a failed CHECK as an OperationalError (4025).
        with pytest.raises((db_exc.DBError, sa.exc.DBAPIError)):
            with any_db.begin() as conn:
                conn.execute(sa.insert(table).values(
                    uuid=str(uuid.uuid4()), state='Initial',
                    substate='Initial', device_profile_id=profile,
                    device_context_id=context, device_profile_group_id=0))
