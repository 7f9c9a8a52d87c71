"""The device contexts table and its state machine: every write to a context.

A device context (API 2.4) is a "dynamic profile" for one instance: the
request groups and config data a user or Nova asked for, from which ARQs
are created as from a device profile. Its states:

=========  ==============================================  ===================
state      how it gets there                               who writes it
=========  ==============================================  ===================
Unbound    created                                         :func:`create`
Bound      an ARQ of it is bound to an instance (the       :func:`bind_to`,
           first bind records ``instance_uuid``; later     from the ARQ bind
           binds must name that instance)                  transaction
Released   its last ARQ was deleted while it was Bound     :func:`release`,
                                                           from the ARQ delete
                                                           transaction
(gone)     ``expires_at`` passed, or deleted by its owner  :func:`purge_expired`,
                                                           :func:`delete`
=========  ==============================================  ===================

A context holds no accelerators itself, so creating one is not checked
against quotas: the ARQs made from it are, when they are created (and
they count against the context's project).

A context is used by one instance: the bind's compare-and-swap
(``UPDATE ... WHERE instance_uuid IS NULL OR instance_uuid = <this one>``)
makes a second instance lose, however binds interleave. ARQs may be
created from it while it is Unbound, and again once Released (Nova deletes
and re-creates an instance's ARQs when it reschedules; the re-created ones
can only be bound to the same instance).

``expires_at`` is set exactly while the context has no ARQs and is not
Bound: from its creation (``[device_contexts] unused_expiry``) and from
the deletion of its last ARQ (``release_grace`` once it was Bound,
``unused_expiry`` otherwise). Reads treat a context past it as gone, so
the API's answer does not depend on when the conductor's purge runs.

Lock order, to keep concurrent writers from deadlocking on MySQL and
PostgreSQL: a transaction that writes a context and its ARQs changes the
context row first, then the ARQ rows (``arq_states`` follows it); a
create of ARQs checked against quotas takes its project's quota lock
(``quota_locks``) before the context row, and nothing that holds a
context row asks for a quota lock; and
every write names the context row by its primary key (a uuid is turned
into the id by a plain read first), so InnoDB always locks the row's
clustered record before its secondary index entries: a write by the
``uuid`` index racing a delete by id would lock the two in opposite
orders.
"""

import datetime
import json

from oslo_db import exception as db_exc
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from cyborg.db import engine
from cyborg.db import models
from cyborg.db import pagination
from cyborg import exception

_DC = models.DeviceContext.__table__
_ARQ = models.ExtendedAcceleratorRequest.__table__

UNBOUND = 'Unbound'
BOUND = 'Bound'
RELEASED = 'Released'
# States ARQs may be created in.
USABLE_STATES = (UNBOUND, RELEASED)

# The defaults of [device_contexts] unused_expiry and release_grace, for
# callers that pass no lifetimes (tools, tests).
DEFAULT_UNUSED_EXPIRY = 86400
DEFAULT_RELEASE_GRACE = 300


class Lifetimes:
    """How long an unused or released context lives, in seconds."""

    def __init__(self, unused_expiry=DEFAULT_UNUSED_EXPIRY,
                 release_grace=DEFAULT_RELEASE_GRACE):
        self.unused_expiry = unused_expiry
        self.release_grace = release_grace

    @classmethod
    def from_conf(cls, conf):
        group = conf.device_contexts
        return cls(group.unused_expiry, group.release_grace)


def _now():
    return timeutils.utcnow()


def _after(now, seconds):
    return now + datetime.timedelta(seconds=seconds)


def _visible(query, context):
    # A non-admin caller sees (and so may use) only its project's contexts.
    if not context.is_admin:
        query = query.where(_DC.c.project_id == context.project_id)
    return query


def _alive(now):
    """Not past its expiry: what every read and every use asks."""
    return sa.or_(_DC.c.expires_at.is_(None), _DC.c.expires_at > now)


def _has_arqs():
    return sa.select(_ARQ.c.id).where(
        _ARQ.c.device_context_id == _DC.c.id).exists()


_COLUMNS = (_DC.c.id, _DC.c.uuid, _DC.c.project_id, _DC.c.state,
            _DC.c.instance_uuid, _DC.c.groups_json, _DC.c.config_data,
            _DC.c.device_profile_name, _DC.c.released_at, _DC.c.expires_at,
            _DC.c.created_at, _DC.c.updated_at)
_SELECT = sa.select(*_COLUMNS)


def _to_dict(row):
    context = row._asdict()
    context['groups'] = json.loads(context.pop('groups_json'))['groups']
    context['config_data'] = json.loads(context['config_data'])
    return context


# Reads (API)

@engine.reader
def list_device_contexts(context, limit=None, marker=None, sort_key=None,
                         sort_dir=None, now=None):
    """The caller's live contexts (every project's for an admin), paged."""
    query = _visible(_SELECT, context).where(_alive(now or _now()))
    query = pagination.paginate(
        context, query, models.DeviceContext, limit, marker, sort_key,
        sort_dir, marker_filter=lambda lookup: _visible(lookup, context))
    return [_to_dict(row) for row in context.session.execute(query)]


@engine.reader
def get_device_context(context, uuid, now=None):
    """A live, visible context; DeviceContextNotFound otherwise."""
    row = context.session.execute(_visible(_SELECT, context).where(
        _DC.c.uuid == uuid, _alive(now or _now()))).first()
    if row is None:
        raise exception.DeviceContextNotFound(uuid=uuid)
    return _to_dict(row)


@engine.reader
def uuid_of(context, context_id):
    """The uuid of a context, by its id (for messages)."""
    return context.session.execute(sa.select(_DC.c.uuid).where(
        _DC.c.id == context_id)).scalar_one_or_none()


# Creation and deletion (API)

@engine.writer
def create(context, groups, config_data, lifetimes=None,
           device_profile_name=None, now=None):
    """Store a new Unbound context of the caller's project; its dict."""
    lifetimes = lifetimes or Lifetimes()
    now = now or _now()
    values = {
        'uuid': uuidutils.generate_uuid(),
        'project_id': context.project_id,
        'state': UNBOUND,
        'instance_uuid': None,
        'groups_json': json.dumps({'groups': groups}),
        'config_data': json.dumps(config_data, sort_keys=True),
        'device_profile_name': device_profile_name,
        'released_at': None,
        'expires_at': _after(now, lifetimes.unused_expiry),
        'created_at': now,
    }
    result = context.session.execute(sa.insert(_DC), values)
    values['id'] = result.inserted_primary_key[0]
    values['updated_at'] = None
    values['groups'] = groups
    values['config_data'] = dict(config_data)
    del values['groups_json']
    return values


@engine.writer
def lock_for_delete(context, uuid, now=None):
    """Lock a live, visible context before its ARQs; its dict.

    The first write of the delete transaction (see the lock order above).
    DeviceContextNotFound when there is no such context.
    """
    now = now or _now()
    session = context.session
    query = _visible(sa.select(_DC.c.id), context).where(
        _DC.c.uuid == uuid, _alive(now))
    found = session.execute(query).first()
    if found is None or session.execute(
            sa.update(_DC).where(_DC.c.id == found.id)
            .values(updated_at=now)).rowcount != 1:
        raise exception.DeviceContextNotFound(uuid=uuid)
    return _to_dict(session.execute(
        _SELECT.where(_DC.c.id == found.id)).first())


@engine.writer
def delete(context, context_id, uuid):
    """Delete the context row (its ARQs were deleted in this transaction).

    DeviceContextInUse when ARQs still name it: the foreign key refuses
    it on MySQL and PostgreSQL, the check on every backend.
    """
    session = context.session
    if session.execute(sa.select(_ARQ.c.id).where(
            _ARQ.c.device_context_id == context_id).limit(1)).first():
        raise exception.DeviceContextInUse(uuid=uuid)
    try:
        session.execute(sa.delete(_DC).where(_DC.c.id == context_id))
    except db_exc.DBReferenceError:
        raise exception.DeviceContextInUse(uuid=uuid)


# Transitions made inside the ARQ transactions (called by arq_states)

@engine.writer
def take_for_arqs(context, uuid, now=None):
    """Make ARQs of the context: it must be live, visible and usable.

    A compare-and-swap on the row: it stops the expiry clock (a context
    with ARQs never expires) in the same statement that checks the state,
    so a concurrent bind, delete or purge cannot slip in between. Returns
    the context's dict. DeviceContextNotFound (unknown, another project's,
    expired), DeviceContextBound (in use by an instance).
    """
    now = now or _now()
    session = context.session
    found = session.execute(_visible(sa.select(_DC.c.id), context).where(
        _DC.c.uuid == uuid)).first()
    taken = found is not None and session.execute(
        sa.update(_DC).where(
            _DC.c.id == found.id, _DC.c.state.in_(USABLE_STATES),
            _alive(now))
        .values(expires_at=None, updated_at=now)).rowcount == 1
    # A locking read: after a lost swap it must see the latest committed
    # row (MySQL's plain reads see the transaction's snapshot), to tell a
    # context deleted meanwhile (404) from one bound meanwhile (409).
    row = found and session.execute(_SELECT.where(
        _DC.c.id == found.id, _alive(now)).with_for_update()).first()
    if not row:
        raise exception.DeviceContextNotFound(uuid=uuid)
    if not taken:
        raise exception.DeviceContextBound(uuid=uuid,
                                           instance=row.instance_uuid)
    return _to_dict(row)


@engine.writer
def bind_to(context, instances, now=None):
    """Bind contexts to instances: ``{context id: instance uuid}``.

    The compare-and-swap that keeps a context to one instance: it takes
    the context row when no instance has it yet, or when the instance is
    the one that has it (a rebind after an unbind, or of the ARQs Nova
    re-created). Rows are taken in id order, so two binds of several
    contexts cannot deadlock. DeviceContextBound when another instance
    has the context; nothing changed then (the caller's transaction rolls
    back). DeviceContextNotFound when a concurrent delete took it.
    """
    now = now or _now()
    session = context.session
    for context_id in sorted(instances):
        instance = instances[context_id]
        changed = session.execute(
            sa.update(_DC).where(
                _DC.c.id == context_id,
                sa.or_(_DC.c.instance_uuid.is_(None),
                       _DC.c.instance_uuid == instance))
            .values(state=BOUND, instance_uuid=instance, released_at=None,
                    expires_at=None, updated_at=now)).rowcount
        if changed != 1:
            # Locking: the latest committed row, not MySQL's snapshot.
            row = session.execute(sa.select(_DC.c.uuid, _DC.c.instance_uuid)
                                  .where(_DC.c.id == context_id)
                                  .with_for_update()).first()
            if row is None:
                # Deleted (with its ARQs) by a concurrent transaction.
                raise exception.DeviceContextNotFound(uuid=context_id)
            raise exception.DeviceContextBound(uuid=row.uuid,
                                               instance=row.instance_uuid)


@engine.writer
def lock(context, context_ids, now=None):
    """Take the rows of contexts whose ARQs this transaction deletes."""
    if context_ids:
        context.session.execute(
            sa.update(_DC).where(_DC.c.id.in_(sorted(context_ids)))
            .values(updated_at=now or _now()))


@engine.writer
def release(context, context_ids, lifetimes=None, now=None):
    """Start the expiry clock of the contexts left without ARQs.

    Called after ARQs were deleted: a Bound context whose instance's ARQs
    are all gone is Released and lives ``release_grace`` more seconds (a
    Released one that lost re-created ARQs again, too); an Unbound one
    lives ``unused_expiry`` more. Contexts that still have ARQs keep no
    clock.
    """
    if not context_ids:
        return
    lifetimes = lifetimes or Lifetimes()
    now = now or _now()
    session = context.session
    idle = [_DC.c.id.in_(sorted(context_ids)), ~_has_arqs()]
    session.execute(sa.update(_DC).where(_DC.c.state == BOUND, *idle).values(
        state=RELEASED, released_at=now, updated_at=now))
    session.execute(sa.update(_DC).where(_DC.c.state == RELEASED, *idle)
                    .values(expires_at=_after(now, lifetimes.release_grace),
                            updated_at=now))
    session.execute(sa.update(_DC).where(_DC.c.state == UNBOUND, *idle)
                    .values(expires_at=_after(now, lifetimes.unused_expiry),
                            updated_at=now))


# Purge (conductor)

@engine.retry_on_contention
@engine.writer
def purge_expired(context, now=None, limit=1000):
    """Delete contexts past their expiry that no ARQ names; how many.

    The ARQ check is part of the statement: a context that got ARQs after
    expiring cannot have (their creation needs a live context), but the
    delete never takes one from under an ARQ whatever happened.
    """
    now = now or _now()
    session = context.session
    ids = list(session.execute(
        sa.select(_DC.c.id).where(_DC.c.expires_at.isnot(None),
                                  _DC.c.expires_at <= now, ~_has_arqs())
        .order_by(_DC.c.id).limit(limit)).scalars())
    if not ids:
        return 0
    return session.execute(sa.delete(_DC).where(
        _DC.c.id.in_(ids), _DC.c.expires_at <= now, ~_has_arqs())).rowcount
