"""The attach_handle_releases table: every write to a release's audit row.

A row is written by :func:`record` in the transaction that frees the handle
(``attach_handles.release``): who had the handle (project, instance), when
it was let go, and whether a scrub applies. A row whose scrub is
``pending`` is also the durable work item of the conductors' scrubber
(``conductor/scrubbing.py``): it is leased with a compare-and-swap
(:func:`take_lease`), renewed while the agent scrubs, and ended once
(:func:`finish`), so a conductor that dies mid-scrub leaves a lease that
lapses and another conductor's recovery runs the scrub again.

Outcomes: ``pending`` -> ``scrubbed`` | ``failed`` | ``skipped``; a release
no scrub applies to is ``not_required`` from the start.
"""

import datetime

from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from cyborg.db import engine
from cyborg.db import models
from cyborg.db import pagination
from cyborg import exception

_RELEASE = models.AttachHandleRelease
_R = _RELEASE.__table__
_AH = models.AttachHandle.__table__

PENDING = 'pending'
SCRUBBED = 'scrubbed'
FAILED = 'failed'
SKIPPED = 'skipped'
NOT_REQUIRED = 'not_required'
# What a pending scrub may end as.
FINAL_OUTCOMES = (SCRUBBED, FAILED, SKIPPED)

# Fields the API shows, in order.
VIEW_FIELDS = ('uuid', 'attach_handle_uuid', 'deployable_uuid', 'project_id',
               'instance_uuid', 'released_at', 'scrub_driver',
               'scrub_outcome', 'scrub_reason', 'finished_at')


def _now():
    return timeutils.utcnow()


def record(session, releases, now):
    """Insert one audit row per release; their uuids, in order.

    ``releases``: dicts of ``attach_handle_id``, ``attach_handle_uuid``,
    ``deployable_uuid``, ``device_id``, ``project_id``, ``instance_uuid``
    and ``scrub_driver`` (None: no scrub applies, the row is final).
    Called inside the caller's release transaction.
    """
    rows = []
    for release in releases:
        scrub = release['scrub_driver'] is not None
        rows.append(dict(
            release, uuid=uuidutils.generate_uuid(), released_at=now,
            created_at=now,
            scrub_outcome=PENDING if scrub else NOT_REQUIRED,
            finished_at=None if scrub else now))
    if rows:
        session.execute(sa.insert(_R), rows)
    return [row['uuid'] for row in rows]


# The scrubber's work items

@engine.writer
def take_lease(context, release_uuid, owner, seconds, now=None):
    """Lease a pending scrub nobody works on; its row as a dict, or None.

    The cast that asked for the scrub and every conductor's recovery race
    here; exactly one wins while the lease is live.
    """
    now = now or _now()
    taken = context.session.execute(
        sa.update(_R).where(
            _R.c.uuid == release_uuid, _R.c.scrub_outcome == PENDING,
            sa.or_(_R.c.lease_expires_at.is_(None),
                   _R.c.lease_expires_at < now))
        .values(lease_owner=owner,
                lease_expires_at=now + datetime.timedelta(seconds=seconds),
                updated_at=now)).rowcount
    if taken != 1:
        return None
    return dict(context.session.execute(
        sa.select(_R).where(_R.c.uuid == release_uuid)).first()._mapping)


@engine.retry_on_contention
@engine.writer
def renew_lease(context, release_uuid, owner, seconds):
    """Extend our lease; False when it is no longer ours."""
    return context.session.execute(
        sa.update(_R).where(_R.c.uuid == release_uuid,
                            _R.c.scrub_outcome == PENDING,
                            _R.c.lease_owner == owner)
        .values(lease_expires_at=_now() + datetime.timedelta(
            seconds=seconds))).rowcount == 1


@engine.retry_on_contention
@engine.writer
def give_up_lease(context, release_uuid, owner):
    """Let the scrub be retried at once by whoever comes next."""
    context.session.execute(
        sa.update(_R).where(_R.c.uuid == release_uuid,
                            _R.c.scrub_outcome == PENDING,
                            _R.c.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None))


@engine.writer
def finish(context, release_uuid, owner, outcome, reason=None, now=None):
    """End our pending scrub with ``outcome``; whether it was still ours.

    The caller moves the handle out of ``scrubbing`` in the same
    transaction (``attach_handles.end_scrub``) only when this is True.
    """
    if outcome not in FINAL_OUTCOMES:
        raise ValueError('a scrub ends %s, not %s'
                         % (', '.join(FINAL_OUTCOMES), outcome))
    now = now or _now()
    return context.session.execute(
        sa.update(_R).where(_R.c.uuid == release_uuid,
                            _R.c.scrub_outcome == PENDING,
                            _R.c.lease_owner == owner)
        .values(scrub_outcome=outcome, scrub_reason=reason, finished_at=now,
                lease_owner=None, lease_expires_at=None,
                updated_at=now)).rowcount == 1


@engine.reader
def list_needing_work(context, now, grace_seconds, limit=100):
    """Uuids of pending scrubs nobody works on, oldest first.

    A lease that lapsed (its conductor died), or none taken within
    ``grace_seconds`` of the release (the cast that asked for the scrub
    was lost, or its conductor died before leasing it).
    """
    grace = now - datetime.timedelta(seconds=grace_seconds)
    return list(context.session.execute(
        sa.select(_R.c.uuid).where(
            _R.c.scrub_outcome == PENDING,
            sa.or_(_R.c.lease_expires_at < now,
                   sa.and_(_R.c.lease_expires_at.is_(None),
                           _R.c.released_at < grace)))
        .order_by(_R.c.id).limit(limit)).scalars())


# The admins' audit list

@engine.reader
def list_of_handle(context, handle_uuid, limit=None, marker=None,
                   sort_key=None, sort_dir=None):
    """The releases of the handle (newest first unless sorted otherwise).

    AttachHandleNotFound when neither the handle nor any release of it is
    known (a handle a report removed keeps its history).
    """
    session = context.session
    known = session.execute(sa.select(
        sa.literal(1)).where(sa.or_(
            sa.exists().where(_AH.c.uuid == handle_uuid),
            sa.exists().where(_R.c.attach_handle_uuid == handle_uuid)))
    ).first()
    if known is None:
        raise exception.AttachHandleNotFound(uuid=handle_uuid)
    query = session.query(_R).filter(_R.c.attach_handle_uuid == handle_uuid)
    query = pagination.paginate(
        context, query, _RELEASE, limit, marker, sort_key, sort_dir,
        default_dir='desc',
        marker_filter=lambda lookup: lookup.where(
            _R.c.attach_handle_uuid == handle_uuid))
    return [{field: getattr(row, field) for field in VIEW_FIELDS}
            for row in query.all()]
