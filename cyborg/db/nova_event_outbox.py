"""The outbox of Nova ``accelerator-request-bound`` events (``nova_events``).

A bind outcome and its event row are committed in one transaction (the
conductor queues the row with :func:`queue_event` inside the transaction
that records the outcome), so an outcome is never lost; the row is unique
per (ARQ, bind), so it is never queued twice. ``cyborg.conductor.nova_events``
then gets the rows to Nova: rows are leased before sending, so two
conductors never send one row at the same time, and closed as sent or
abandoned only by the holder of the lease. Leases are short and renewed
(:func:`renew_event_leases`) while their POST is in flight, so a dead
conductor's rows are taken over soon. A takeover, and a POST whose answer
timed out, are counted on the row (``unconfirmed_sends``): the row may
already have reached Nova.
"""

import datetime

from oslo_utils import timeutils
import sqlalchemy as sa

from cyborg.db import engine
from cyborg.db import models

_EVENT = models.NovaEvent

# What each bind outcome tells Nova.
EVENT_STATUS = {'Bound': 'completed', 'BindFailed': 'failed'}


def _now():
    return timeutils.utcnow()


def _lease_end(now, seconds):
    # Rounded up to a whole second: MySQL and MariaDB keep whole seconds
    # in these columns (rounding or truncating the rest), which would
    # shorten a short lease by up to a second. A whole second is kept as
    # written everywhere.
    end = now + datetime.timedelta(seconds=seconds)
    if end.microsecond:
        end = end.replace(microsecond=0) + datetime.timedelta(seconds=1)
    return end


@engine.writer
def queue_event(context, arq, outcome, nova_enabled=True, now=None):
    """Add the outcome's event to the outbox (ARQs of an instance only).

    ``arq`` is the ARQ dict (uuid, bind_seq, instance_uuid). Without a Nova
    to tell (``nova_enabled`` false: the all-in-one service, a benchmark)
    the row is still written, as given up after its one attempt, so that
    nobody tries to deliver it.
    """
    if not arq['instance_uuid']:
        return
    now = now or _now()
    values = {'arq_uuid': arq['uuid'], 'bind_seq': arq['bind_seq'],
              'instance_uuid': arq['instance_uuid'],
              'status': EVENT_STATUS[outcome], 'attempts': 0,
              'created_at': now}
    if not nova_enabled:
        values.update(attempts=1, abandoned_at=now)
    context.session.execute(sa.insert(_EVENT.__table__), values)


@engine.reader
def _list_due_event_ids(context, now, limit, arq_uuids):
    query = sa.select(_EVENT.id).where(
        _EVENT.sent_at.is_(None), _EVENT.abandoned_at.is_(None),
        sa.or_(_EVENT.next_attempt_at.is_(None),
               _EVENT.next_attempt_at <= now),
        sa.or_(_EVENT.lease_owner.is_(None),
               _EVENT.lease_expires_at < now))
    if arq_uuids is not None:
        query = query.where(_EVENT.arq_uuid.in_(list(arq_uuids)))
    return list(context.session.execute(
        query.order_by(_EVENT.id).limit(limit)).scalars())


@engine.retry_on_contention
@engine.writer
def _lease_events(context, event_ids, owner, now, seconds):
    # The same conditions as the listing, re-checked in the UPDATE: of two
    # conductors that listed the same rows, each row goes to one of them.
    # A row still naming an owner was never released: its holder died or
    # stalled mid-send, and Nova may have had the event; counted.
    context.session.execute(
        sa.update(_EVENT).where(
            _EVENT.id.in_(event_ids), _EVENT.sent_at.is_(None),
            _EVENT.abandoned_at.is_(None),
            sa.or_(_EVENT.lease_owner.is_(None),
                   _EVENT.lease_expires_at < now))
        # unconfirmed_sends first: MySQL evaluates SET from left to right, each
        # term seeing the columns already set, so it must read lease_owner
        # before lease_owner changes.
        .ordered_values(
            (_EVENT.unconfirmed_sends, sa.case(
                (_EVENT.lease_owner.is_(None), _EVENT.unconfirmed_sends),
                else_=_EVENT.unconfirmed_sends + 1)),
            (_EVENT.lease_owner, owner),
            (_EVENT.lease_expires_at, _lease_end(now, seconds)),
            (_EVENT.updated_at, now)))
    rows = context.session.execute(
        sa.select(_EVENT).where(_EVENT.id.in_(event_ids),
                                _EVENT.lease_owner == owner)
        .order_by(_EVENT.id)).scalars()
    return [row.to_dict() for row in rows]


def claim_due_events(context, owner, now=None, limit=100, lease_seconds=60,
                     arq_uuids=None):
    """Lease up to ``limit`` events due for delivery; their dicts.

    Due: not sent, not abandoned, past ``next_attempt_at``, and not leased
    by someone else. ``arq_uuids`` restricts the claim to those ARQs'
    events (a conductor delivering the batch it just bound).
    """
    now = now or _now()
    ids = _list_due_event_ids(context, now, limit, arq_uuids)
    if not ids:
        return []
    return _lease_events(context, ids, owner, now, lease_seconds)


@engine.retry_on_contention
@engine.writer
def renew_event_leases(context, owner, event_ids, seconds, now=None):
    """Extend our lease on the events (a POST of them is in flight).

    Returns how many are still ours: fewer than asked means a lease ran
    out and another conductor took the row over.
    """
    if not event_ids:
        return 0
    now = now or _now()
    return context.session.execute(
        sa.update(_EVENT).where(_EVENT.id.in_(list(event_ids)),
                                _EVENT.lease_owner == owner,
                                _EVENT.sent_at.is_(None),
                                _EVENT.abandoned_at.is_(None))
        .values(lease_expires_at=_lease_end(now, seconds), updated_at=now)
    ).rowcount


def mark_events_sent(context, owner, event_ids, now=None):
    """Record delivery of events we hold the lease on; how many were ours."""
    return _close_events(context, owner, event_ids, 'sent_at', now)


def abandon_events(context, owner, event_ids, now=None):
    """Give up events Nova refused for good; how many were ours."""
    return _close_events(context, owner, event_ids, 'abandoned_at', now)


@engine.retry_on_contention
@engine.writer
def _close_events(context, owner, event_ids, closed_column, now=None):
    # One last attempt counted, the lease dropped, and the row closed as
    # sent or abandoned: it is never tried again.
    if not event_ids:
        return 0
    now = now or _now()
    return context.session.execute(
        sa.update(_EVENT).where(_EVENT.id.in_(list(event_ids)),
                                _EVENT.lease_owner == owner,
                                _EVENT.sent_at.is_(None))
        .values({closed_column: now, 'lease_owner': None,
                 'lease_expires_at': None,
                 'attempts': _EVENT.attempts + 1, 'updated_at': now})
    ).rowcount


def backoff_seconds(attempts, base=2, cap=300):
    """Delay before the next try after ``attempts`` failed ones."""
    return min(cap, base * 2 ** max(0, attempts - 1))


@engine.retry_on_contention
@engine.writer
def reschedule_events(context, owner, event_ids, max_attempts, now=None,
                      unconfirmed=False):
    """Count a failed delivery; back off, or abandon after max_attempts.

    ``unconfirmed``: the POST got no answer in time, so Nova may have
    taken the events; counted in ``unconfirmed_sends``.

    Returns the dicts of the events abandoned now (the caller logs them).
    """
    if not event_ids:
        return []
    session = context.session
    now = now or _now()
    table = _EVENT.__table__
    ours = [table.c.id.in_(list(event_ids)), table.c.lease_owner == owner,
            table.c.sent_at.is_(None)]
    counted = {'attempts': table.c.attempts + 1, 'updated_at': now}
    if unconfirmed:
        counted['unconfirmed_sends'] = table.c.unconfirmed_sends + 1
    session.execute(sa.update(table).where(*ours).values(counted))
    rows = session.execute(sa.select(table).where(*ours)).all()
    # The lease is given back either way; each row then waits for its own
    # backoff, or is abandoned.
    abandoned = [row for row in rows if row.attempts >= max_attempts]
    if abandoned:
        session.execute(sa.update(table).where(
            table.c.id.in_([row.id for row in abandoned])).values(
            lease_owner=None, lease_expires_at=None, abandoned_at=now))
    retried = [row for row in rows if row.attempts < max_attempts]
    if retried:
        session.execute(
            sa.update(table).where(table.c.id == sa.bindparam('row_id'))
            .values(lease_owner=None, lease_expires_at=None,
                    next_attempt_at=sa.bindparam('next_at')),
            [{'row_id': row.id,
              'next_at': now + datetime.timedelta(
                  seconds=backoff_seconds(row.attempts))}
             for row in retried])
    return [dict(row._mapping, lease_owner=None, lease_expires_at=None,
                 abandoned_at=now) for row in abandoned]


@engine.retry_on_contention
@engine.writer
def purge_finished_events(context, before):
    """Delete events sent or abandoned before ``before``; how many."""
    return context.session.execute(
        sa.delete(_EVENT).where(sa.or_(
            _EVENT.sent_at < before, _EVENT.abandoned_at < before))
    ).rowcount
