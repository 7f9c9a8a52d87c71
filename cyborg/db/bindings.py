"""Data access for the conductor's side of binding ARQs.

Attach-handle claims, bind leases, bind outcomes, guarded unbind and the
outbox of Nova ``accelerator-request-bound`` events. Several conductors run
these at once against one database, so every contended write is a
compare-and-swap (``UPDATE ... WHERE <expected state>`` with a rowcount
check), and every write that spans tables is one transaction: an outcome and
its Nova event are committed together, an unbind and the handle it frees
are committed together.

Two backend details shape the code:

* SQLite refuses at once (no busy wait) a transaction that read first and
  then wants to write while another writer is committing. Each writer below
  therefore starts with its UPDATE, and the contended ones are retried.
* MariaDB/PostgreSQL: free handles are picked with ``FOR UPDATE SKIP
  LOCKED`` so concurrent claims on one deployable take different rows
  instead of queueing behind one another; deadlocks (Galera certification
  failures included) are retried.
"""

import dataclasses
import datetime
import json
import typing

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_utils import timeutils
import sqlalchemy as sa

from cyborg.db import engine
from cyborg.db import models
from cyborg import exception

_ARQ = models.ExtendedAcceleratorRequest
_AH = models.AttachHandle
_DEPLOYABLE = models.Deployable
_DEVICE = models.Device
_CPID = models.ControlpathID
_EVENT = models.NovaEvent

INITIAL = 'Initial'
BIND_STARTED = 'BindStarted'
BOUND = 'Bound'
BIND_FAILED = 'BindFailed'
UNBOUND = 'Unbound'
# Upstream's transition matrix for Unbound; an Unbound ARQ unbinds as a
# no-op, anything else (Deleting) is refused.
UNBIND_FROM = (INITIAL, BIND_STARTED, BOUND, BIND_FAILED)
EVENT_STATUS = {BOUND: 'completed', BIND_FAILED: 'failed'}

# Rounds of "pick a free handle and take it" before giving up. A round only
# fails when every free handle it saw was taken by a concurrent claim.
_CLAIM_ROUNDS = 10


def _is_contention(exc):
    """Errors that mean "another transaction got in the way; try again"."""
    if isinstance(exc, db_exc.DBConsistencyError):
        return True
    # SQLite's lock refusal reaches us untranslated by oslo.db.
    return (isinstance(exc, (db_exc.DBError, sa.exc.OperationalError)) and
            'database is locked' in str(exc))


# Only for functions that open their own (outermost) transaction.
_retry_on_contention = oslo_db_api.wrap_db_retry(
    max_retries=8, retry_interval=0.05, max_retry_interval=1,
    inc_retry_interval=True, retry_on_deadlock=True,
    exception_checker=_is_contention, jitter=True)
# The same policy for the other modules writing bind-related rows.
retry_on_contention = _retry_on_contention


def _now():
    return timeutils.utcnow()


def _arq_guard(arq_uuid, bind_seq=None, lease_owner=None, columns=_ARQ):
    """WHERE clauses: the ARQ is still in this bind and this worker owns it.

    ``columns``: the model's attributes (ORM statements) or its table's
    columns (Core ones).
    """
    clauses = [columns.uuid == arq_uuid, columns.state == BIND_STARTED]
    if bind_seq is not None:
        clauses.append(columns.bind_seq == bind_seq)
    if lease_owner is not None:
        clauses.append(columns.bind_lease_owner == lease_owner)
    return clauses


def _select_arq(session, arq_uuid):
    # populate_existing: the row may have been loaded earlier in this
    # transaction and changed since by a Core UPDATE.
    return session.execute(
        sa.select(_ARQ).where(_ARQ.uuid == arq_uuid)
        .execution_options(populate_existing=True)).scalar_one_or_none()


def _handle_dict(handle, hostname):
    return {'id': handle.id, 'uuid': handle.uuid,
            'attach_type': handle.attach_type,
            'attach_info': json.loads(handle.attach_info),
            'deployable_id': handle.deployable_id, 'hostname': hostname}


def _handle_host(session, handle):
    devices, deployables = _DEVICE.__table__, _DEPLOYABLE.__table__
    return session.execute(
        sa.select(devices.c.hostname).join(
            deployables, deployables.c.device_id == devices.c.id).where(
            deployables.c.id == handle.deployable_id)).scalar_one()


def _release_handle_of(session, arq_row, keep_deployable=False):
    """Free the ARQ's handle and unlink it; return what was released."""
    handle = session.get(_AH, arq_row.attach_handle_id)
    now = _now()
    session.execute(sa.update(_AH).where(_AH.id == handle.id).values(
        in_use=False, updated_at=now))
    values = {'attach_handle_id': None, 'updated_at': now}
    if not keep_deployable:
        values['deployable_id'] = None
    session.execute(sa.update(_ARQ).where(_ARQ.id == arq_row.id)
                    .values(**values))
    return _handle_dict(handle, _handle_host(session, handle))


# Reading what a bind needs

@dataclasses.dataclass
class BindInputs:
    """Everything one bind reads from the DB, read in one transaction.

    ``group`` is the profile's request group the ARQ belongs to (None when
    its index is out of range), ``deployable`` the one whose provider is the
    ARQ's ``device_rp_uuid`` (None when there is none), ``controlpaths`` the
    control paths of its device as ``{'cpid_type', 'info'}`` dicts,
    ``agent_host`` the RPC server name of the agent on the device's host.
    """

    arq: dict
    group: typing.Optional[dict]
    deployable: typing.Optional[dict]
    controlpaths: typing.List[dict]
    agent_host: typing.Optional[str]
    # The compute node name the deployable's device carries.
    hostname: typing.Optional[str] = None


@engine.reader
def get_bind_inputs(context, arq_uuid):
    return _read_bind_inputs(context.session, arq_uuid)


def _bind_inputs_query():
    """The ARQ, its profile's groups and the deployable of its provider.

    One SELECT: a bind reads them all, every time. Deployable columns are
    labelled ``dep_<name>``; the join picks the first deployable of the
    provider, as there should be exactly one.
    """
    arq, profile = _ARQ.__table__, models.DeviceProfile.__table__
    deployables, devices = _DEPLOYABLE.__table__, _DEVICE.__table__
    hosts = models.AgentHost.__table__
    others = deployables.alias('provider_deployables')
    first_deployable = sa.select(sa.func.min(others.c.id)).where(
        others.c.rp_uuid == arq.c.device_rp_uuid).correlate(
        arq).scalar_subquery()
    return sa.select(
        arq, profile.c.profile_json,
        *[column.label('dep_' + column.name) for column in deployables.c],
        devices.c.hostname.label('dev_hostname'),
        hosts.c.rpc_host.label('dev_rpc_host'),
    ).join(profile, profile.c.id == arq.c.device_profile_id).outerjoin(
        deployables, sa.and_(deployables.c.rp_uuid == arq.c.device_rp_uuid,
                             deployables.c.id == first_deployable)).outerjoin(
        devices, devices.c.id == deployables.c.device_id).outerjoin(
        hosts, hosts.c.hostname == devices.c.hostname).where(
        arq.c.uuid == sa.bindparam('arq_uuid'))


_BIND_INPUTS = _bind_inputs_query()
_DEPLOYABLE_COLUMNS = [column.name for column in _DEPLOYABLE.__table__.c]


def _read_bind_inputs(session, arq_uuid, with_controlpaths=True):
    """BindInputs in one SELECT (plus one for the control paths)."""
    row = session.execute(_BIND_INPUTS, {'arq_uuid': arq_uuid}).first()
    if row is None:
        raise exception.ARQNotFound(uuid=arq_uuid)
    values = row._mapping
    arq = {column.name: values[column.name]
           for column in _ARQ.__table__.c}
    groups = json.loads(values['profile_json']).get('groups') or []
    index = arq['device_profile_group_id']
    group = groups[index] if 0 <= index < len(groups) else None
    if values['dep_id'] is None:
        return BindInputs(arq, group, None, [], None)
    deployable = {name: values['dep_' + name]
                  for name in _DEPLOYABLE_COLUMNS}
    hostname = values['dev_hostname']
    # The agent listens on its [DEFAULT] host, which may differ from the
    # compute node name its devices carry; without a record of it, the
    # names are taken to be the same.
    agent_host = values['dev_rpc_host'] or hostname
    controlpaths = (_controlpaths(session, deployable['device_id'])
                    if with_controlpaths else None)
    return BindInputs(arq, group, deployable, controlpaths, agent_host,
                      hostname)


def _controlpaths(session, device_id):
    rows = session.execute(
        sa.select(_CPID.cpid_type, _CPID.cpid_info).where(
            _CPID.device_id == device_id).order_by(_CPID.id)).all()
    return [{'cpid_type': row.cpid_type, 'info': json.loads(row.cpid_info)}
            for row in rows]


def _agent_rpc_host(session, hostname):
    # The agent listens on its [DEFAULT] host, which may differ from the
    # compute node name its devices carry; the agent told us which at its
    # last report. Without a record, the names are taken to be the same.
    rpc_host = session.execute(
        sa.select(models.AgentHost.rpc_host).where(
            models.AgentHost.hostname == hostname)).scalar_one_or_none()
    return rpc_host or hostname


@engine.reader
def agent_rpc_host(context, hostname):
    """The RPC server name of the agent on host ``hostname``."""
    return _agent_rpc_host(context.session, hostname)


@engine.reader
def get_deployable_for_programming(context, deployable_uuid):
    """(deployable dict, its device's control paths, its agent's RPC host)."""
    session = context.session
    deployable = session.execute(
        sa.select(_DEPLOYABLE).where(_DEPLOYABLE.uuid == deployable_uuid)
    ).scalar_one_or_none()
    if deployable is None:
        raise exception.DeployableNotFound(ident=deployable_uuid)
    device = session.get(_DEVICE, deployable.device_id)
    return (deployable.to_dict(), _controlpaths(session, device.id),
            _agent_rpc_host(session, device.hostname))


@engine.reader
def count_other_holders(context, deployable_id, arq_id=None):
    """How many ARQs other than ``arq_id`` hold a handle of the deployable."""
    query = sa.select(sa.func.count(_ARQ.id)).where(
        _ARQ.deployable_id == deployable_id,
        _ARQ.attach_handle_id.isnot(None))
    if arq_id is not None:
        query = query.where(_ARQ.id != arq_id)
    return context.session.execute(query).scalar_one()


@engine.reader
def get_held_attach_handle(context, arq_uuid):
    """The handle the ARQ holds, as a dict (with its device's hostname)."""
    session = context.session
    handle = session.execute(
        sa.select(_AH).join(_ARQ, _ARQ.attach_handle_id == _AH.id).where(
            _ARQ.uuid == arq_uuid)).scalar_one_or_none()
    if handle is None:
        return None
    return _handle_dict(handle, _handle_host(session, handle))


@engine.reader
def is_attach_handle_in_use(context, handle_uuid):
    return bool(context.session.execute(
        sa.select(_AH.in_use).where(_AH.uuid == handle_uuid)
    ).scalar_one_or_none())


# Bind leases

@_retry_on_contention
@engine.writer
def acquire_bind_lease(context, arq_uuid, owner, seconds, now=None):
    """Take the lease on a bind in progress; the ARQ as a dict, or None.

    Succeeds when the ARQ is in BindStarted and nobody holds a live lease
    on it: the cast that started the bind and the recovery scans of every
    conductor race here, and exactly one of them wins.
    """
    if not _take_lease(context.session, arq_uuid, owner, seconds,
                       now or _now()):
        return None
    return _select_arq(context.session, arq_uuid).to_dict()


def _take_lease(session, arq_uuid, owner, seconds, now):
    arq = _ARQ.__table__.c
    result = session.execute(
        sa.update(_ARQ.__table__).where(
            arq.uuid == arq_uuid, arq.state == BIND_STARTED,
            sa.or_(arq.bind_lease_owner.is_(None),
                   arq.bind_lease_expires_at.is_(None),
                   arq.bind_lease_expires_at < now))
        .values(bind_lease_owner=owner,
                bind_lease_expires_at=now + datetime.timedelta(
                    seconds=seconds)))
    return result.rowcount == 1


@dataclasses.dataclass
class BindStart:
    """What :func:`start_bind` did: lease taken, inputs read, and maybe more.

    ``outcome`` is BOUND when the bind was finished in the same
    transaction, else None: the caller holds the lease and goes on step by
    step. ``handle`` is the attach handle claimed, if one was.
    """

    inputs: BindInputs
    outcome: typing.Optional[str] = None
    handle: typing.Optional[dict] = None

    @property
    def arq(self):
        return self.inputs.arq


@_retry_on_contention
@engine.writer
def start_bind(context, arq_uuid, owner, seconds, finishes_at_once,
               nova_enabled=True, now=None):
    """Take the bind lease and read the inputs; bind at once if it can be.

    ``finishes_at_once(inputs, now)`` says whether the bind needs no remote
    call (no bitstream to program, not past its deadline). Then a free
    attach handle is claimed and, unless it is an mdev (the agent must
    create it), the ARQ is Bound and its Nova event queued: lease, claim,
    outcome and event commit together, one transaction instead of four.
    In any other case the lease (and the claim, for an mdev) is committed
    and the caller takes the remaining steps.

    None when the lease was not taken (see :func:`acquire_bind_lease`).
    """
    session = context.session
    now = now or _now()
    if not _take_lease(session, arq_uuid, owner, seconds, now):
        return None
    inputs = _read_bind_inputs(session, arq_uuid, with_controlpaths=False)
    start = BindStart(inputs)
    arq = inputs.arq
    handle = None
    if arq['attach_handle_id'] is None and finishes_at_once(inputs, now):
        handle = _take_free_handle(session, inputs.deployable['id'], now)
    link = {}
    if handle is not None:
        start.handle = _handle_dict(handle, inputs.hostname)
        link = {'attach_handle_id': handle.id,
                'deployable_id': inputs.deployable['id']}
    if handle is None or handle.attach_type == 'MDEV':
        # The rest takes remote calls (or a retry): commit the lease, and
        # the claim when there is one.
        if link:
            session.execute(sa.update(_ARQ.__table__).where(
                _ARQ.__table__.c.id == arq['id']).values(**link))
        if inputs.deployable is not None:
            inputs.controlpaths = _controlpaths(
                session, inputs.deployable['device_id'])
        return start
    # Claim and outcome in one UPDATE. Ours: the lease UPDATE above locked
    # the row for this transaction.
    session.execute(sa.update(_ARQ.__table__).where(*_arq_guard(
        arq_uuid, arq['bind_seq'], owner, columns=_ARQ.__table__.c)).values(
        state=BOUND, bind_lease_owner=None, bind_lease_expires_at=None,
        bind_error=None, updated_at=now, **link))
    _queue_event(session, arq, BOUND, nova_enabled, now)
    start.outcome = BOUND
    return start


@_retry_on_contention
@engine.writer
def renew_bind_lease(context, arq_uuid, owner, seconds, bind_seq=None,
                     now=None):
    """Extend our lease; False when it is no longer ours (taken, finished)."""
    now = now or _now()
    result = context.session.execute(
        sa.update(_ARQ).where(*_arq_guard(arq_uuid, bind_seq, owner))
        .values(bind_lease_expires_at=now + datetime.timedelta(
            seconds=seconds)))
    return result.rowcount == 1


@engine.reader
def list_binds_needing_recovery(context, now=None, limit=100,
                                grace_seconds=0):
    """UUIDs of ARQs in BindStarted that nobody works on, oldest first.

    That is: their lease expired, or nobody ever took one although the bind
    started more than ``grace_seconds`` ago (the grace leaves a fresh bind
    to the conductor its cast reaches).
    """
    now = now or _now()
    unclaimed_since = now - datetime.timedelta(seconds=grace_seconds)
    return list(context.session.execute(
        sa.select(_ARQ.uuid).where(
            _ARQ.state == BIND_STARTED,
            sa.or_(
                sa.and_(sa.or_(_ARQ.bind_lease_owner.is_(None),
                               _ARQ.bind_lease_expires_at.is_(None)),
                        sa.or_(_ARQ.bind_started_at.is_(None),
                               _ARQ.bind_started_at <= unclaimed_since)),
                _ARQ.bind_lease_expires_at < now))
        .order_by(_ARQ.bind_started_at, _ARQ.id).limit(limit)).scalars())


# Attach handles

def claim_attach_handle(context, arq_id, deployable_id, bind_seq=None,
                        lease_owner=None, bitstream_id=None):
    """Give the ARQ a free attach handle of the deployable; the handle dict.

    Idempotent: an ARQ that already holds a handle of this deployable (a
    bind re-run by recovery) gets that one back. ``bind_seq`` and
    ``lease_owner`` make the claim fail with BindNotOwned when the bind is
    no longer this worker's; ``bitstream_id`` makes it fail with
    DeployableReprogrammed when the deployable no longer holds that
    bitstream. NoFreeAttachHandle when every handle is taken.
    """
    for _round in range(_CLAIM_ROUNDS):
        try:
            handle = _claim_attach_handle_once(
                context, arq_id, deployable_id, bind_seq, lease_owner,
                bitstream_id)
        except db_exc.DBDuplicateEntry:
            # The unique attach_handle_id refused a handle already linked
            # to another ARQ: the backstop worked, pick again.
            continue
        if handle is not None:
            return handle
    raise exception.NoFreeAttachHandle(deployable=deployable_id)


@_retry_on_contention
@engine.writer
def _claim_attach_handle_once(context, arq_id, deployable_id, bind_seq,
                              lease_owner, bitstream_id):
    session = context.session
    now = _now()
    # First statement is a write: it checks the bind is still ours and, on
    # SQLite, takes the write lock before anything is read.
    guard = [_ARQ.id == arq_id, _ARQ.state == BIND_STARTED]
    if bind_seq is not None:
        guard.append(_ARQ.bind_seq == bind_seq)
    if lease_owner is not None:
        guard.append(_ARQ.bind_lease_owner == lease_owner)
    if session.execute(sa.update(_ARQ).where(*guard).values(
            updated_at=now)).rowcount != 1:
        raise exception.BindNotOwned(arq=arq_id)
    arq = session.get(_ARQ, arq_id)
    if arq.attach_handle_id is not None:
        held = session.get(_AH, arq.attach_handle_id)
        if held.deployable_id == deployable_id:
            return _handle_dict(held, _handle_host(session, held))
        _release_handle_of(session, arq)
    if bitstream_id is not None:
        current = session.execute(
            sa.select(_DEPLOYABLE.bitstream_id).where(
                _DEPLOYABLE.id == deployable_id)).scalar_one()
        if current != bitstream_id:
            raise exception.DeployableReprogrammed(
                deployable=deployable_id, wanted=bitstream_id,
                current=current)
    return _claim_free_handle(session, arq_id, deployable_id, now,
                              none_free_raises=True)


def _claim_free_handle(session, arq_id, deployable_id, now,
                       none_free_raises=False):
    """Take a free handle of the deployable for the ARQ; its dict.

    None when every free handle is locked by claims in flight, or when
    none is free and not ``none_free_raises`` (else NoFreeAttachHandle).
    """
    candidate = _take_free_handle(session, deployable_id, now,
                                  none_free_raises)
    if candidate is None:
        return None
    session.execute(
        sa.update(_ARQ.__table__).where(_ARQ.__table__.c.id == arq_id)
        .values(attach_handle_id=candidate.id, deployable_id=deployable_id))
    return _handle_dict(candidate, _handle_host(session, candidate))


def _take_free_handle(session, deployable_id, now, none_free_raises=False):
    """Mark a free handle of the deployable in use; its row (or None).

    The caller links it to its ARQ in the same transaction.
    """
    # SKIP LOCKED: concurrent claims each lock a different free row instead
    # of all waiting for the first one (SQLite renders no FOR UPDATE; it
    # serialises writers anyway).
    handles = _AH.__table__
    # A handle gone from its host's report (missing_since) is kept only
    # for the ARQ that held it: its function no longer exists.
    candidate = session.execute(
        sa.select(handles).where(handles.c.deployable_id == deployable_id,
                                 handles.c.in_use == sa.false(),
                                 handles.c.missing_since.is_(None))
        .order_by(handles.c.id).limit(1)
        .with_for_update(skip_locked=True)).first()
    if candidate is None:
        if not none_free_raises:
            return None
        free = session.execute(
            sa.select(sa.func.count(_AH.id)).where(
                _AH.deployable_id == deployable_id,
                _AH.in_use == sa.false(),
                _AH.missing_since.is_(None))).scalar_one()
        if not free:
            raise exception.NoFreeAttachHandle(deployable=deployable_id)
        return None  # all free rows are locked by claims in flight
    taken = session.execute(
        sa.update(handles).where(handles.c.id == candidate.id,
                                 handles.c.in_use == sa.false())
        .values(in_use=True, updated_at=now)).rowcount
    return candidate if taken == 1 else None


# Outcomes

@_retry_on_contention
@engine.writer
def finish_bind(context, arq, outcome, lease_owner=None, error=None,
                nova_enabled=True):
    """End a bind as Bound or BindFailed and queue Nova's event, atomically.

    ``arq`` is the ARQ dict the bind started from (its uuid and bind_seq
    name the bind). BindFailed also frees the handle the bind claimed.
    Returns ``{'arq': dict, 'released': handle dict or None}``, or None
    when the bind is no longer this worker's (its lease was taken over, it
    was unbound or deleted): then nothing was written. ``nova_enabled``: see
    :func:`_queue_event`.
    """
    if outcome not in EVENT_STATUS:
        raise ValueError('a bind ends Bound or BindFailed, not %s' % outcome)
    session = context.session
    now = _now()
    result = session.execute(
        sa.update(_ARQ).where(*_arq_guard(arq['uuid'], arq['bind_seq'],
                                          lease_owner))
        .values(state=outcome, bind_lease_owner=None,
                bind_lease_expires_at=None,
                bind_error=error if outcome == BIND_FAILED else None,
                updated_at=now))
    if result.rowcount != 1:
        return None
    row = _select_arq(session, arq['uuid'])
    released = None
    if outcome == BIND_FAILED and row.attach_handle_id is not None:
        released = _release_handle_of(session, row)
    _queue_event(session, row.to_dict(), outcome, nova_enabled, now)
    return {'arq': _select_arq(session, arq['uuid']).to_dict(),
            'released': released}


def _queue_event(session, arq, outcome, nova_enabled, now):
    """Add the outcome's Nova event to the outbox (ARQs of an instance).

    Without a Nova to tell (``nova_enabled`` false: the all-in-one service,
    a benchmark) the row is still written, as given up after its one
    attempt, so that nobody tries to deliver it.
    """
    if not arq['instance_uuid']:
        return
    values = {'arq_uuid': arq['uuid'], 'bind_seq': arq['bind_seq'],
              'instance_uuid': arq['instance_uuid'],
              'status': EVENT_STATUS[outcome], 'attempts': 0,
              'created_at': now}
    if not nova_enabled:
        values.update(attempts=1, abandoned_at=now)
    session.execute(sa.insert(_EVENT.__table__), values)


# Unbind

@_retry_on_contention
@engine.writer
def unbind_arq(context, arq_uuid):
    """Move an ARQ to Unbound and free its handle, in one transaction.

    See :func:`unbind_in_transaction`.
    """
    return unbind_in_transaction(context.session, arq_uuid)


def unbind_in_transaction(session, arq_uuid):
    """Unbind an ARQ inside the caller's write transaction.

    Returns the released handle as a dict (``uuid``, ``attach_type``,
    ``attach_info``, ``hostname`` of its device) or None when it held none.
    Unbinding an Unbound ARQ is a no-op (None); ARQNotFound when it does
    not exist; ARQBadState from a state unbind does not leave (Deleting).
    An unbind of a bind in progress takes its lease away, so the bind's
    own writes (claim, outcome) find it gone and write nothing.
    """
    now = _now()
    result = session.execute(
        sa.update(_ARQ).where(_ARQ.uuid == arq_uuid,
                              _ARQ.state.in_(UNBIND_FROM))
        .values(state=UNBOUND, bind_lease_owner=None,
                bind_lease_expires_at=None, bind_error=None,
                updated_at=now))
    row = _select_arq(session, arq_uuid)
    if result.rowcount != 1:
        if row is None:
            raise exception.ARQNotFound(uuid=arq_uuid)
        if row.state == UNBOUND:
            return None
        raise exception.ARQBadState(uuid=arq_uuid, state=row.state,
                                    action='unbind',
                                    expected=', '.join(UNBIND_FROM))
    released = None
    if row.attach_handle_id is not None:
        released = _release_handle_of(session, row)
    session.execute(sa.update(_ARQ).where(_ARQ.id == row.id).values(
        hostname=None, device_rp_uuid=None, instance_uuid=None,
        deployable_id=None))
    return released


# The Nova event outbox

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


@_retry_on_contention
@engine.writer
def _lease_events(context, event_ids, owner, now, seconds):
    # The same conditions as the listing, re-checked in the UPDATE: of two
    # conductors that listed the same rows, each row goes to one of them.
    context.session.execute(
        sa.update(_EVENT).where(
            _EVENT.id.in_(event_ids), _EVENT.sent_at.is_(None),
            _EVENT.abandoned_at.is_(None),
            sa.or_(_EVENT.lease_owner.is_(None),
                   _EVENT.lease_expires_at < now))
        .values(lease_owner=owner,
                lease_expires_at=now + datetime.timedelta(seconds=seconds),
                updated_at=now))
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


def mark_events_sent(context, owner, event_ids, now=None):
    """Record delivery of events we hold the lease on; how many were ours."""
    return _close_events(context, owner, event_ids, 'sent_at', now)


def abandon_events(context, owner, event_ids, now=None):
    """Give up events Nova refused for good; how many were ours."""
    return _close_events(context, owner, event_ids, 'abandoned_at', now)


@_retry_on_contention
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


@_retry_on_contention
@engine.writer
def reschedule_events(context, owner, event_ids, max_attempts, now=None):
    """Count a failed delivery; back off, or abandon after max_attempts.

    Returns the dicts of the events abandoned now (the caller logs them).
    """
    if not event_ids:
        return []
    session = context.session
    now = now or _now()
    session.execute(
        sa.update(_EVENT).where(_EVENT.id.in_(list(event_ids)),
                                _EVENT.lease_owner == owner,
                                _EVENT.sent_at.is_(None))
        .values(attempts=_EVENT.attempts + 1, updated_at=now))
    abandoned = []
    rows = session.execute(sa.select(_EVENT).where(
        _EVENT.id.in_(list(event_ids)), _EVENT.lease_owner == owner,
        _EVENT.sent_at.is_(None)))
    for row in rows.scalars():
        row.lease_owner = None
        row.lease_expires_at = None
        if row.attempts >= max_attempts:
            row.abandoned_at = now
            abandoned.append(row)
        else:
            row.next_attempt_at = now + datetime.timedelta(
                seconds=backoff_seconds(row.attempts))
    session.flush()
    return [row.to_dict() for row in abandoned]


@_retry_on_contention
@engine.writer
def purge_finished_events(context, before):
    """Delete events sent or abandoned before ``before``; how many."""
    return context.session.execute(
        sa.delete(_EVENT).where(sa.or_(
            _EVENT.sent_at < before, _EVENT.abandoned_at < before))
    ).rowcount
