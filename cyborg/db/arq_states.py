"""The ARQ table and its state machine: every write to an ARQ row.

The API and the conductor change ARQs only through the functions below.
Each state transition is one named compare-and-swap, ``UPDATE ... WHERE
state IN (<its sources in TRANSITIONS>)`` with a rowcount check, so two
writers racing on one ARQ never both win and a wrong state is never
overwritten:

============  =====================================  ========================
target        from                                   by
============  =====================================  ========================
Initial       (created)                              :func:`create`,
                                                     :func:`create_from_context`
                                                     (API)
BindStarted   Initial, Unbound                       :func:`bind_and_unbind`
Bound         BindStarted (this bind, this lease)    :func:`finish_bind`
BindFailed    BindStarted (this bind, this lease)    :func:`finish_bind`
Unbound       Initial, BindStarted, Bound,           :func:`unbind`
              BindFailed (Unbound: a no-op)
(deleted)     any                                    :func:`delete`
============  =====================================  ========================

``UnbindFailed`` and ``Deleting`` are upstream's states: stored and shown,
never entered here. Besides its state, a bind in progress is named by
``bind_seq`` (bumped by each bind) and held by a lease
(``bind_lease_owner`` / ``bind_lease_expires_at``): the conductor working
on it renews the lease, and a bind whose lease lapsed is someone else's to
finish (:func:`take_bind_lease`).

An ARQ made from a device context (API 2.4) moves its context along in
the same transactions, through ``device_contexts``: creating ARQs stops
the context's expiry clock, binding one gives the context its instance
(a compare-and-swap that refuses a second instance), deleting its last
ARQ releases it. Those transactions change the context row before the
ARQ rows, the lock order ``device_contexts`` documents.

A create checked against quotas (:func:`create`, :func:`create_from_context`)
takes its project's quota lock (``quota_locks``) before anything else, so
the full lock order of a create is quota lock, device context, ARQs; it
counts the project's usage (``quota_usage``) and inserts in that same
transaction, so a burst of creates can never end over the limit. Each ARQ
is stored with the resource class it counts against.

The ``instance_claims`` table is written here too, in the transactions
that give ARQs an instance or take it away: its primary key is what makes
"an instance gets its ARQs once" hold when two binds race. Freed attach
handles are released through ``attach_handles``, in the same transaction.
"""

import dataclasses
import datetime

from oslo_db import exception as db_exc
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from cyborg.db import attach_handles
from cyborg.db import device_contexts
from cyborg.db import engine
from cyborg.db import models
from cyborg.db import quota_locks
from cyborg.db import quota_usage
from cyborg import exception
from cyborg.quota import enforcement
from cyborg.quota import resource_classes as rc_rules

_ARQ = models.ExtendedAcceleratorRequest.__table__
_DP = models.DeviceProfile.__table__
_CLAIM = models.InstanceClaim.__table__
_AH = models.AttachHandle.__table__
_DEP = models.Deployable.__table__
_DEV = models.Device.__table__

INITIAL = 'Initial'
BIND_STARTED = 'BindStarted'
BOUND = 'Bound'
BIND_FAILED = 'BindFailed'
UNBOUND = 'Unbound'

# Target state -> the states a transition to it may start from.
TRANSITIONS = {
    BIND_STARTED: (INITIAL, UNBOUND),
    BOUND: (BIND_STARTED,),
    BIND_FAILED: (BIND_STARTED,),
    UNBOUND: (INITIAL, BIND_STARTED, BOUND, BIND_FAILED),
}
# States Nova may read an outcome from (?bind_state=resolved).
RESOLVED_STATES = (BOUND, BIND_FAILED, 'Deleting')
# An unbind of an Unbound ARQ is allowed, and changes nothing.
UNBINDABLE_STATES = TRANSITIONS[UNBOUND] + (UNBOUND,)


def _now():
    return timeutils.utcnow()


@dataclasses.dataclass
class Released:
    """What an unbind or a delete let go of, once it commits.

    ``handles``: the attach handles freed, as dicts of ``uuid``,
    ``attach_type``, ``attach_info`` and the ``hostname`` of their device,
    for the host-side cleanup. ``arqs``: the ARQs unbound or deleted, as
    they were just before (see :func:`_views_before`), for notifications;
    read only when the caller asks (``describe_arqs``), as it costs a
    SELECT in the transaction.
    """

    handles: list = dataclasses.field(default_factory=list)
    arqs: list = dataclasses.field(default_factory=list)


# What an ARQ names, read while its row is locked and before an unbind or a
# delete forgets it: the ids a notification carries.
_BEFORE = sa.select(
    _ARQ.c.uuid, _ARQ.c.state, _ARQ.c.instance_uuid, _ARQ.c.project_id,
    _ARQ.c.hostname, _ARQ.c.device_rp_uuid, _ARQ.c.device_profile_group_id,
    _DP.c.name.label('device_profile_name'),
    _AH.c.uuid.label('attach_handle_uuid'),
    _AH.c.attach_type.label('attach_handle_type'),
    _DEP.c.uuid.label('deployable_uuid'),
    _DEV.c.uuid.label('device_uuid'),
).select_from(_ARQ.outerjoin(_DP, _DP.c.id == _ARQ.c.device_profile_id)
              .outerjoin(_AH, _AH.c.id == _ARQ.c.attach_handle_id)
              .outerjoin(_DEP, _DEP.c.id == _ARQ.c.deployable_id)
              .outerjoin(_DEV, _DEV.c.id == _DEP.c.device_id))


def _views_before(session, condition):
    """The ARQs matching ``condition`` as dicts, ordered by id."""
    return [dict(row._mapping) for row in session.execute(
        _BEFORE.where(condition).order_by(_ARQ.c.id))]


def _visible(query, context):
    # A non-admin caller sees (and so may change) only its project's ARQs.
    if not context.is_admin:
        query = query.where(_ARQ.c.project_id == context.project_id)
    return query


def _row(session, arq_uuid):
    return session.execute(sa.select(_ARQ).where(
        _ARQ.c.uuid == arq_uuid)).first()


# Creation (API)

@engine.retry_on_contention
@engine.writer
def create(context, profile, counts, quota=None):
    """Create ``counts[i]`` ARQs for group i of profile, all Initial.

    ``profile`` is the dict ``device_profiles.get_device_profile``
    returned, read before this transaction (a profile never changes; it is
    re-found here by id). ``quota`` (an ``enforcement.QuotaCheck``) gives
    each group's resource class and the project's limits; with limits, the
    project's quota lock is taken first, then usage is counted and checked
    (QuotaExceeded) and the ARQs inserted, all in this transaction (when
    no class of the create has a limit, none of that happens). A
    profile deleted since is DeviceProfileNotFound. Returns the ARQs as
    the dicts the API shows. The outermost transaction: retried whole when
    it loses to a concurrent one (a MySQL deadlock between two first
    upserts of one project's lock row, say).
    """
    quota = quota or enforcement.QuotaCheck(
        rc_rules.classes_of_groups(profile['groups']))
    project_id = context.project_id
    _take_quota_lock(context, quota, project_id)
    # A deleted profile is refused by the foreign key on MySQL and
    # PostgreSQL; SQLite does not enforce it, so look there (its writers
    # run one at a time, so this read cannot go stale).
    if (context.session.get_bind().dialect.name == 'sqlite' and
            context.session.execute(sa.select(_DP.c.id).where(
                _DP.c.id == profile['id'])).first() is None):
        raise exception.DeviceProfileNotFound(ident=profile['name'])
    _check_quota(context, quota, project_id, counts)
    try:
        return _insert(context, counts, project_id, quota.classes,
                       {'device_profile_id': profile['id']},
                       {'device_profile_name': profile['name'],
                        'device_context_uuid': None, 'config_data': {}})
    except db_exc.DBReferenceError:
        raise exception.DeviceProfileNotFound(ident=profile['name'])


@engine.retry_on_contention
@engine.writer
def create_from_context(context, device_context_uuid, counts, quota=None,
                        project_id=None):
    """Create ``counts[i]`` ARQs for group i of a device context (2.4).

    The context must be live, visible to the caller and Unbound or
    Released (``device_contexts.take_for_arqs``, whose compare-and-swap
    also stops its expiry); the ARQs belong to the context's project,
    ``project_id`` as the caller read it (a context's project never
    changes). ``quota`` as for :func:`create`: the quota lock comes
    before the context's row, the lock order ``quota_locks`` documents.
    Returns the ARQs as the dicts the API shows. The outermost
    transaction, retried as :func:`create` is.
    """
    if quota is not None:
        _take_quota_lock(context, quota, project_id)
    source = device_contexts.take_for_arqs(context, device_context_uuid)
    quota = quota or enforcement.QuotaCheck(
        rc_rules.classes_of_groups(source['groups']))
    _check_quota(context, quota, source['project_id'], counts)
    return _insert(context, counts, source['project_id'], quota.classes,
                   {'device_context_id': source['id']},
                   {'device_profile_name': None,
                    'device_context_uuid': source['uuid'],
                    'config_data': source['config_data']})


def _take_quota_lock(context, quota, project_id):
    # First statement of the transaction: see quota_locks.
    if quota.enforced:
        quota_locks.lock_project(context.session, project_id)


def _check_quota(context, quota, project_id, counts):
    if quota.enforced:
        quota.check(quota_usage.count_in_session(context.session,
                                                 project_id), counts)


def _insert(context, counts, project_id, classes, source_columns,
            source_view):
    now = _now()
    rows = [
        dict(source_columns, uuid=uuidutils.generate_uuid(), state=INITIAL,
             substate=INITIAL, device_profile_group_id=group_id,
             resource_class=classes[group_id],
             project_id=project_id, created_at=now)
        for group_id, count in enumerate(counts)
        for _ in range(count)
    ]
    if rows:
        context.session.execute(sa.insert(_ARQ), rows)
    return [
        dict(source_view, uuid=row['uuid'], state=INITIAL,
             device_profile_group_id=row['device_profile_group_id'],
             hostname=None, device_rp_uuid=None, instance_uuid=None,
             project_id=row['project_id'], attach_handle_uuid=None,
             attach_handle_type=None, attach_handle_info={},
             created_at=now, updated_at=None)
        for row in rows
    ]


# Copied in (cyborg-dbsync import-upstream, inside its transaction)

def add_imported(session, rows, now):
    """Insert ARQs as given, and the claims of their instances.

    The rows come with their ids, states and links; an instance one of
    them names gets its claim unless it has one (its other ARQs came in
    an earlier import). Returns (claims added, claims already there).
    """
    if rows:
        session.execute(sa.insert(_ARQ), rows)
    instances = {row['instance_uuid'] for row in rows if row['instance_uuid']}
    present = set(session.execute(
        sa.select(_CLAIM.c.instance_uuid).where(
            _CLAIM.c.instance_uuid.in_(sorted(instances)))).scalars()) \
        if instances else set()
    new = sorted(instances - present)
    if new:
        session.execute(sa.insert(_CLAIM), [
            {'instance_uuid': instance, 'created_at': now}
            for instance in new])
    return len(new), len(present)


# Bind and unbind requests (API)

@engine.writer
def bind_and_unbind(context, binds, unbinds, describe_arqs=False,
                    scrub_policy=None):
    """Apply one PATCH: bind ``binds``, unbind ``unbinds``; all or nothing.

    ``binds`` maps ARQ uuid to {hostname, device_rp_uuid, instance_uuid,
    project_id} (the caller checked the targets); ``unbinds`` lists ARQ
    uuids. Every ARQ is checked before any row changes, its row locked
    against concurrent writers: ARQNotFound names every uuid the caller
    cannot see, ARQBadState the first whose state does not allow its op,
    InstanceAlreadyHasARQs an instance that holds ARQs already,
    DeviceContextBound an ARQ of a device context that another instance
    has (the context's compare-and-swap, taken first: see the lock order
    in ``device_contexts``).

    Returns a :class:`Released`: the attach handles the unbinds freed,
    and the ARQs actually unbound (not those that were Unbound already).
    ``scrub_policy``: see ``attach_handles.release``.
    """
    session = context.session
    if binds:
        _bind_contexts(context, binds)
    named = list(binds) + list(unbinds)
    rows = {row.uuid: row for row in session.execute(_visible(
        sa.select(_ARQ.c.uuid, _ARQ.c.state, _ARQ.c.instance_uuid),
        context).where(_ARQ.c.uuid.in_(named)).with_for_update())}
    missing = [uuid for uuid in named if uuid not in rows]
    if missing:
        raise exception.ARQNotFound(uuid=', '.join(missing))
    for uuids, allowed, action in (
            (binds, TRANSITIONS[BIND_STARTED], 'bind'),
            (unbinds, UNBINDABLE_STATES, 'unbind')):
        for uuid in uuids:
            if rows[uuid].state not in allowed:
                raise exception.ARQBadState(uuid=uuid, state=rows[uuid].state,
                                            action=action,
                                            expected=', '.join(allowed))
    changing = [uuid for uuid in unbinds if rows[uuid].state != UNBOUND]
    views = (_views_before(session, _ARQ.c.uuid.in_(changing))
             if changing and describe_arqs else [])
    released = []
    for uuid in unbinds:
        handle = unbind(context, uuid, scrub_policy=scrub_policy)
        if handle is not None:
            released.append(handle)
    if binds:
        _claim_instances(session, {fields['instance_uuid']
                                   for fields in binds.values()})
        _start_binds(session, binds)
    return Released([_cleanup_view(handle) for handle in released], views)


def _bind_contexts(context, binds):
    """Give the device contexts of the ARQs to bind their instance.

    An ARQ's context never changes, so reading it before the ARQ rows are
    locked is safe; two ARQs of one context named for two instances in one
    request are refused like a context another instance holds.
    """
    wanted = {}
    rows = context.session.execute(_visible(
        sa.select(_ARQ.c.uuid, _ARQ.c.device_context_id), context).where(
        _ARQ.c.uuid.in_(list(binds)),
        _ARQ.c.device_context_id.isnot(None))).all()
    for row in rows:
        instance = binds[row.uuid]['instance_uuid']
        if wanted.setdefault(row.device_context_id, instance) != instance:
            raise exception.DeviceContextBound(
                uuid=device_contexts.uuid_of(context, row.device_context_id),
                instance=wanted[row.device_context_id])
    try:
        device_contexts.bind_to(context, wanted)
    except exception.DeviceContextNotFound:
        # The context was deleted meanwhile, and its ARQs with it.
        raise exception.ARQNotFound(uuid=', '.join(
            row.uuid for row in rows))


def _cleanup_view(handle):
    # What the conductor's host-side cleanup needs: the mdev to remove,
    # the scrub to run (scrub, release_uuid).
    return {key: handle[key] for key in ('uuid', 'attach_type',
                                         'attach_info', 'hostname', 'scrub',
                                         'release_uuid')}


def _start_binds(session, binds):
    """Initial/Unbound -> BindStarted for every ARQ of binds (rows locked)."""
    now = _now()
    for uuid, fields in binds.items():
        result = session.execute(
            sa.update(_ARQ).where(
                _ARQ.c.uuid == uuid,
                _ARQ.c.state.in_(TRANSITIONS[BIND_STARTED]))
            .values(state=BIND_STARTED,
                    hostname=fields['hostname'],
                    device_rp_uuid=fields['device_rp_uuid'],
                    instance_uuid=fields['instance_uuid'],
                    project_id=fields['project_id'],
                    bind_seq=_ARQ.c.bind_seq + 1,
                    bind_started_at=now,
                    bind_error=None,
                    bind_lease_owner=None,
                    bind_lease_expires_at=None,
                    updated_at=now))
        # The row is locked since the check, so the swap cannot lose; the
        # guard stays so a wrong state can never be overwritten.
        if result.rowcount != 1:
            raise exception.ARQBadState(
                uuid=uuid, state='(changed)', action='bind',
                expected=', '.join(TRANSITIONS[BIND_STARTED]))


def _claim_instances(session, instances):
    """Claim each instance for these binds; InstanceAlreadyHasARQs if taken.

    The read sees ARQs bound before claims existed; the insert is what
    loses against a concurrent bind of the same instance.
    """
    taken = session.execute(
        sa.select(_ARQ.c.instance_uuid).where(
            _ARQ.c.instance_uuid.in_(instances)).limit(1)).first()
    if taken is not None:
        raise exception.InstanceAlreadyHasARQs(instance=taken.instance_uuid)
    now = _now()
    for instance in sorted(instances):
        try:
            session.execute(sa.insert(_CLAIM).values(
                instance_uuid=instance, created_at=now))
        except db_exc.DBDuplicateEntry:
            raise exception.InstanceAlreadyHasARQs(instance=instance)


def _release_claims(session, instances):
    """Drop the claims of instances no ARQ names any more."""
    instances = {instance for instance in instances if instance}
    if not instances:
        return
    still_held = sa.select(_ARQ.c.id).where(
        _ARQ.c.instance_uuid == _CLAIM.c.instance_uuid).exists()
    session.execute(sa.delete(_CLAIM).where(
        _CLAIM.c.instance_uuid.in_(instances), ~still_held))


@engine.writer
def unbind(context, arq_uuid, scrub_policy=None):
    """Unbind an ARQ (joining the caller's transaction, if any).

    Returns the released handle as a dict (see
    ``attach_handles.release``), or None when it held none. Unbinding an
    Unbound ARQ is a no-op (None); ARQNotFound when it does not exist;
    ARQBadState from a state unbind does not leave (Deleting). An unbind
    of a bind in progress takes its lease away, so the bind's own writes
    (claim, outcome) find it gone and write nothing. The instance's claim
    goes with its last ARQ.
    """
    session = context.session
    now = _now()
    result = session.execute(
        sa.update(_ARQ).where(_ARQ.c.uuid == arq_uuid,
                              _ARQ.c.state.in_(TRANSITIONS[UNBOUND]))
        .values(state=UNBOUND, bind_lease_owner=None,
                bind_lease_expires_at=None, bind_error=None,
                updated_at=now))
    row = _row(session, arq_uuid)
    if result.rowcount != 1:
        if row is None:
            raise exception.ARQNotFound(uuid=arq_uuid)
        if row.state == UNBOUND:
            return None
        raise exception.ARQBadState(uuid=arq_uuid, state=row.state,
                                    action='unbind',
                                    expected=', '.join(TRANSITIONS[UNBOUND]))
    released = None
    if row.attach_handle_id is not None:
        [released] = attach_handles.release(context,
                                            [row.attach_handle_id],
                                            scrub_policy=scrub_policy)
    session.execute(sa.update(_ARQ).where(_ARQ.c.id == row.id).values(
        hostname=None, device_rp_uuid=None, instance_uuid=None,
        attach_handle_id=None, deployable_id=None))
    _release_claims(session, [row.instance_uuid])
    return released


# Deletion (API)

@engine.writer
def delete(context, uuids=None, instance_uuid=None, unbound_only=False,
           lifetimes=None, describe_arqs=False, scrub_policy=None):
    """Delete ARQs by uuids or by instance; release their attach handles.

    By uuids: ARQNotFound naming every missing one, checked before
    anything is deleted; with ``unbound_only``, ARQBoundToInstance when
    one of them is bound to an instance (the caller decides who may delete
    those). By instance: deleting nothing is fine. A device context left
    without ARQs starts its expiry clock (``device_contexts.release``,
    with ``lifetimes``, a ``device_contexts.Lifetimes``).
    ``scrub_policy``: see ``attach_handles.release``.

    Returns a :class:`Released`: the handles freed and the ARQs deleted.
    """
    session = context.session
    query = _visible(sa.select(_ARQ.c.id, _ARQ.c.uuid, _ARQ.c.instance_uuid,
                               _ARQ.c.attach_handle_id,
                               _ARQ.c.device_context_id), context)
    if uuids is not None:
        query = query.where(_ARQ.c.uuid.in_(uuids))
    else:
        query = query.where(_ARQ.c.instance_uuid == instance_uuid)
    # Their contexts' rows first (the lock order of device_contexts); an
    # ARQ's context never changes, so the unlocked read names them right.
    contexts = {row.device_context_id for row in session.execute(query)
                if row.device_context_id is not None}
    device_contexts.lock(context, contexts)
    # Lock the rows so a conductor cannot claim a handle for one of them
    # between this read and the delete (no-op on SQLite, which serialises
    # writers anyway).
    rows = session.execute(query.with_for_update()).all()
    if uuids is not None:
        found = {row.uuid for row in rows}
        missing = [uuid for uuid in uuids if uuid not in found]
        if missing:
            raise exception.ARQNotFound(uuid=', '.join(missing))
        bound = [row.uuid for row in rows if row.instance_uuid]
        if unbound_only and bound:
            raise exception.ARQBoundToInstance(uuid=', '.join(bound))
    if not rows:
        return Released()
    released = _delete_rows(context, rows, describe_arqs, scrub_policy)
    device_contexts.release(
        context, {row.device_context_id for row in rows
                  if row.device_context_id is not None}, lifetimes)
    return released


def _delete_rows(context, rows, describe_arqs, scrub_policy=None):
    """Delete locked ARQ rows, free their handles and instance claims."""
    session = context.session
    views = (_views_before(session, _ARQ.c.id.in_([row.id for row in rows]))
             if describe_arqs else [])
    released = attach_handles.release(
        context, [row.attach_handle_id for row in rows
                  if row.attach_handle_id is not None],
        scrub_policy=scrub_policy)
    session.execute(sa.delete(_ARQ).where(
        _ARQ.c.id.in_([row.id for row in rows])))
    _release_claims(session, [row.instance_uuid for row in rows])
    return Released([_cleanup_view(handle) for handle in released], views)


@engine.writer
def delete_of_context(context, device_context, describe_arqs=False):
    """Delete the ARQs of a device context that is being deleted.

    Called in the context's delete transaction, after
    ``device_contexts.lock_for_delete`` took its row. Every ARQ of the
    context counts, whatever its project: DeviceContextInUse when one is
    bound to an instance (nothing deleted then); the others (Initial,
    Unbound) go. Returns a :class:`Released` (no handles, as such ARQs
    hold none, unless a stale row says so).
    """
    rows = context.session.execute(
        sa.select(_ARQ.c.id, _ARQ.c.uuid, _ARQ.c.instance_uuid,
                  _ARQ.c.attach_handle_id)
        .where(_ARQ.c.device_context_id == device_context['id'])
        .with_for_update()).all()
    if any(row.instance_uuid for row in rows):
        raise exception.DeviceContextInUse(uuid=device_context['uuid'])
    if not rows:
        return Released()
    return _delete_rows(context, rows, describe_arqs)


# The conductor's side of a bind

def _lease_guard(arq_uuid, bind_seq=None, lease_owner=None):
    """WHERE clauses: the ARQ is still in this bind and this worker owns it."""
    clauses = [_ARQ.c.uuid == arq_uuid, _ARQ.c.state == BIND_STARTED]
    if bind_seq is not None:
        clauses.append(_ARQ.c.bind_seq == bind_seq)
    if lease_owner is not None:
        clauses.append(_ARQ.c.bind_lease_owner == lease_owner)
    return clauses


@engine.writer
def take_bind_lease(context, arq_uuid, owner, seconds, now=None):
    """Take the lease on a bind in progress; whether it was taken.

    Succeeds when the ARQ is in BindStarted and nobody holds a live lease
    on it: the cast that started the bind and the recovery scans of every
    conductor race here, and exactly one of them wins.
    """
    now = now or _now()
    return context.session.execute(
        sa.update(_ARQ).where(
            _ARQ.c.uuid == arq_uuid, _ARQ.c.state == BIND_STARTED,
            sa.or_(_ARQ.c.bind_lease_owner.is_(None),
                   _ARQ.c.bind_lease_expires_at.is_(None),
                   _ARQ.c.bind_lease_expires_at < now))
        .values(bind_lease_owner=owner,
                bind_lease_expires_at=now + datetime.timedelta(
                    seconds=seconds))).rowcount == 1


@engine.retry_on_contention
@engine.writer
def acquire_bind_lease(context, arq_uuid, owner, seconds, now=None):
    """:func:`take_bind_lease` in a transaction of its own; the ARQ as a
    dict, or None when the lease was not taken."""
    if not take_bind_lease(context, arq_uuid, owner, seconds, now):
        return None
    return dict(_row(context.session, arq_uuid)._mapping)


@engine.retry_on_contention
@engine.writer
def renew_bind_lease(context, arq_uuid, owner, seconds, bind_seq=None,
                     now=None):
    """Extend our lease; False when it is no longer ours."""
    now = now or _now()
    return context.session.execute(
        sa.update(_ARQ).where(*_lease_guard(arq_uuid, bind_seq, owner))
        .values(bind_lease_expires_at=now + datetime.timedelta(
            seconds=seconds))).rowcount == 1


@engine.writer
def check_bind_owned(context, arq_id, bind_seq=None, lease_owner=None):
    """The ARQ row (a dict), once it is shown to be still in this bind.

    A write on purpose: it locks the row for the rest of the transaction
    (and, on SQLite, takes the write lock before anything is read), so a
    concurrent unbind or delete waits or has happened. BindNotOwned when
    the bind is no longer this worker's.
    """
    session = context.session
    guard = [_ARQ.c.id == arq_id, _ARQ.c.state == BIND_STARTED]
    if bind_seq is not None:
        guard.append(_ARQ.c.bind_seq == bind_seq)
    if lease_owner is not None:
        guard.append(_ARQ.c.bind_lease_owner == lease_owner)
    if session.execute(sa.update(_ARQ).where(*guard).values(
            updated_at=_now())).rowcount != 1:
        raise exception.BindNotOwned(arq=arq_id)
    return dict(session.execute(sa.select(_ARQ).where(
        _ARQ.c.id == arq_id)).first()._mapping)


@engine.writer
def link_handle(context, arq_id, handle_id, deployable_id):
    """Record that the ARQ holds the handle (of the deployable)."""
    context.session.execute(sa.update(_ARQ).where(_ARQ.c.id == arq_id).values(
        attach_handle_id=handle_id, deployable_id=deployable_id))


@engine.writer
def unlink_handle(context, arq_id):
    """Record that the ARQ holds no handle (the caller released it)."""
    context.session.execute(sa.update(_ARQ).where(_ARQ.c.id == arq_id).values(
        attach_handle_id=None, deployable_id=None, updated_at=_now()))


@engine.writer
def finish_bind(context, arq, outcome, lease_owner=None, error=None,
                now=None, link=None, scrub_policy=None):
    """End a bind as Bound or BindFailed; the ARQ after, or None.

    ``arq`` is the ARQ dict the bind started from (its uuid and bind_seq
    name the bind). None when the bind is no longer this worker's (its
    lease was taken over, it was unbound or deleted): then nothing was
    written. ``link`` (handle id, deployable id) records the handle the
    bind claimed in the same UPDATE. BindFailed also frees the handle the
    bind claimed (``scrub_policy``: see ``attach_handles.release``); the
    result then has the released handle under ``released``.
    """
    if outcome not in (BOUND, BIND_FAILED):
        raise ValueError('a bind ends Bound or BindFailed, not %s' % outcome)
    session = context.session
    values = {'state': outcome, 'bind_lease_owner': None,
              'bind_lease_expires_at': None,
              'bind_error': error if outcome == BIND_FAILED else None,
              'updated_at': now or _now()}
    if link is not None:
        values.update(attach_handle_id=link[0], deployable_id=link[1])
    result = session.execute(
        sa.update(_ARQ).where(*_lease_guard(arq['uuid'], arq['bind_seq'],
                                            lease_owner)).values(**values))
    if result.rowcount != 1:
        return None
    if outcome == BOUND:
        # Nothing else changed it: the guard matched the bind we hold.
        return {'arq': dict(arq, **values), 'released': None}
    row = _row(session, arq['uuid'])
    released = None
    if row.attach_handle_id is not None:
        [released] = attach_handles.release(context, [row.attach_handle_id],
                                            scrub_policy=scrub_policy)
        session.execute(sa.update(_ARQ).where(_ARQ.c.id == row.id).values(
            attach_handle_id=None, deployable_id=None))
        row = _row(session, arq['uuid'])
    return {'arq': dict(row._mapping), 'released': released}
