"""Quota-checked ARQ creates in SQL, on SQLite, MariaDB and PostgreSQL.

What the burst test cannot show: a refused create leaves nothing behind
(no ARQ, no change to the device context it took), the lock row is
upserted again and again without error, usage is every ARQ of the
project whatever its state, and a profile deleted between the handler's
read and the create is a 404.
"""

import pytest
import sqlalchemy as sa

from cyborg import context as cyborg_context
from cyborg.db import arq_states
from cyborg.db import device_contexts
from cyborg.db import device_profiles
from cyborg.db import models
from cyborg.db import quota_usage
from cyborg import exception
from cyborg.quota import enforcement
from cyborg.tests.fixtures import binding as seed

GROUPS = [{'resources:FPGA': '1'}]


@pytest.fixture
def ctx():
    return cyborg_context.RequestContext(project_id='project', is_admin=False)


def _limit(limit):
    return enforcement.QuotaCheck(['FPGA'], {'FPGA': limit})


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(
            table.__table__)).scalar()


def test_creates_from_a_context_stop_at_the_limit_and_leave_it_as_it_was(
        any_db, ctx):
    created = device_contexts.create(ctx, GROUPS, {}, None)
    arq_states.create_from_context(ctx, created['uuid'], [2],
                                   quota=_limit(2), project_id='project')
    other = device_contexts.create(ctx, GROUPS, {}, None)
    before = seed.device_context(any_db, other['uuid'])

    with pytest.raises(exception.QuotaExceeded, match='used 2 of 2'):
        arq_states.create_from_context(ctx, other['uuid'], [1],
                                       quota=_limit(2), project_id='project')

    # The context's swap (its expiry clock stopped) was rolled back too.
    assert seed.device_context(any_db, other['uuid']) == before
    assert before['expires_at'] is not None
    assert quota_usage.usage_by_class(ctx, 'project') == {'FPGA': 2}
    assert _count(any_db, models.QuotaProjectLock) == 1


def test_usage_counts_every_arq_of_the_project_in_any_state(any_db, ctx):
    profile = device_profiles.create_device_profile(ctx, 'p', GROUPS)
    arqs = arq_states.create(ctx, profile, [3], quota=_limit(3))
    arq_states.unbind(ctx, arqs[0]['uuid'])
    arq_table = models.ExtendedAcceleratorRequest.__table__
    with any_db.connect() as conn:
        assert sorted(conn.execute(sa.select(arq_table.c.state)).scalars()
                      ) == ['Initial', 'Initial', 'Unbound']
    assert quota_usage.usage_by_class(ctx, 'project') == {'FPGA': 3}
    with pytest.raises(exception.QuotaExceeded):
        arq_states.create(ctx, profile, [1], quota=_limit(3))
    # Another project's usage is its own.
    other = cyborg_context.RequestContext(project_id='other', is_admin=False)
    arq_states.create(other, profile, [1], quota=_limit(1))
    assert quota_usage.usage_by_class(ctx, 'other') == {'FPGA': 1}
    assert quota_usage.usage_by_class(ctx, 'project') == {'FPGA': 3}


def test_a_profile_deleted_after_the_read_is_not_found(any_db, ctx):
    admin = cyborg_context.get_admin_context()
    profile = device_profiles.create_device_profile(admin, 'gone', GROUPS)
    device_profiles.delete_device_profile(admin, profile['uuid'])
    with pytest.raises(exception.DeviceProfileNotFound):
        arq_states.create(ctx, profile, [1], quota=_limit(5))
    assert _count(any_db, models.ExtendedAcceleratorRequest) == 0
