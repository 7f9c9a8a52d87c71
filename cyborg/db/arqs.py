"""Data access for accelerator requests (ARQs), as the API needs it.

Isolation between projects lives here: every query made for a context that
is not admin only sees rows of the context's project, so another project's
ARQ is simply not found.

Functions return plain dicts: the ARQ's columns, its profile's name, and
its attach handle's uuid/type/info when it holds one. The conductor owns
what happens after ``BindStarted``; this module applies a PATCH's binds and
unbinds (every ARQ checked first, then all changed in one transaction) and
deletes ARQs while releasing their attach handles in the same transaction.

The ``instance_claims`` table is kept here too, in the same transactions
that give ARQs an instance or take it away: its primary key is what makes
"an instance gets its ARQs once" hold when two binds race.
"""

import json

from oslo_db import exception as db_exc
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from cyborg.db import bindings
from cyborg.db import engine
from cyborg.db import pagination
from cyborg.db import models
from cyborg import exception

_ARQ = models.ExtendedAcceleratorRequest
_DP = models.DeviceProfile
_AH = models.AttachHandle
_CLAIM_T = models.InstanceClaim.__table__
_DEPLOYABLE_T = models.Deployable.__table__
_DEVICE_T = models.Device.__table__
_AGENT_HOST_T = models.AgentHost.__table__

# States Nova may read an ARQ's outcome from (?bind_state=resolved).
RESOLVED_STATES = ('Bound', 'BindFailed', 'Deleting')
# States a bind may start from.
BINDABLE_STATES = ('Initial', 'Unbound')
# States an unbind may start from (Unbound itself: a no-op).
UNBINDABLE_STATES = bindings.UNBIND_FROM + (bindings.UNBOUND,)

_ARQ_T = _ARQ.__table__
_DP_T = _DP.__table__
_AH_T = _AH.__table__

# ARQs with their profile name and handle, in one joined SELECT. Core
# columns: rows come back as plain tuples, without the ORM's per-row work.
_JOINED = sa.select(
    _ARQ_T.c.id, _ARQ_T.c.uuid, _ARQ_T.c.state,
    _ARQ_T.c.device_profile_group_id, _ARQ_T.c.hostname,
    _ARQ_T.c.device_rp_uuid, _ARQ_T.c.instance_uuid, _ARQ_T.c.project_id,
    _ARQ_T.c.created_at, _ARQ_T.c.updated_at,
    _DP_T.c.name.label('device_profile_name'),
    _AH_T.c.uuid.label('attach_handle_uuid'),
    _AH_T.c.attach_type.label('attach_handle_type'),
    _AH_T.c.attach_info.label('attach_info'),
).select_from(_ARQ_T).join(
    _DP_T, _DP_T.c.id == _ARQ_T.c.device_profile_id).outerjoin(
    _AH_T, _AH_T.c.id == _ARQ_T.c.attach_handle_id)


def _to_dict(row):
    arq = row._asdict()
    info = arq.pop('attach_info')
    arq['attach_handle_info'] = json.loads(info) if info else {}
    return arq


def _query(context):
    """The joined SELECT of the ARQs the context may see."""
    return _visible(_JOINED, context)


def _visible(query, context):
    if not context.is_admin:
        query = query.where(_ARQ_T.c.project_id == context.project_id)
    return query


@engine.reader
def list_arqs(context, instance_uuid=None, resolved_only=False, limit=None,
              marker=None, sort_key=None, sort_dir=None):
    """Visible ARQs, filtered and paged in SQL."""
    query = _query(context)
    if instance_uuid is not None:
        query = query.where(_ARQ_T.c.instance_uuid == instance_uuid)
    if resolved_only:
        query = query.where(_ARQ_T.c.state.in_(RESOLVED_STATES))
    # The marker must be an ARQ the caller may see.
    query = pagination.paginate(
        context, query, _ARQ, limit, marker, sort_key, sort_dir,
        marker_filter=lambda lookup: _visible(lookup, context))
    return [_to_dict(row) for row in context.session.execute(query)]


@engine.reader
def instance_has_unresolved_arqs(context, instance_uuid):
    """Whether any visible ARQ of the instance is still being bound."""
    query = _visible(sa.select(_ARQ_T.c.id), context).where(
        _ARQ_T.c.instance_uuid == instance_uuid,
        _ARQ_T.c.state.notin_(RESOLVED_STATES)).limit(1)
    return context.session.execute(query).first() is not None


_BY_UUID = _JOINED.where(_ARQ_T.c.uuid == sa.bindparam('uuid'))
_BY_UUID_IN_PROJECT = _BY_UUID.where(
    _ARQ_T.c.project_id == sa.bindparam('project_id'))


@engine.reader
def get_arq(context, uuid):
    # Statements built once: Nova (and the benchmark) poll this one.
    if context.is_admin:
        row = context.session.execute(_BY_UUID, {'uuid': uuid}).first()
    else:
        row = context.session.execute(_BY_UUID_IN_PROJECT, {
            'uuid': uuid, 'project_id': context.project_id}).first()
    if row is None:
        raise exception.ARQNotFound(uuid=uuid)
    return _to_dict(row)


@engine.writer
def create_arqs(context, profile, counts):
    """Create ``counts[i]`` ARQs for group i of profile, in one transaction.

    ``profile`` is the dict of ``device_profiles.get_device_profile``;
    DeviceProfileNotFound when it was deleted meanwhile.
    """
    exists = context.session.execute(
        sa.select(_DP_T.c.id).where(_DP_T.c.id == profile['id'])).first()
    if exists is None:
        raise exception.DeviceProfileNotFound(ident=profile['name'])
    now = timeutils.utcnow()
    rows = [
        {'uuid': uuidutils.generate_uuid(), 'state': 'Initial',
         'substate': 'Initial', 'device_profile_id': profile['id'],
         'device_profile_group_id': group_id,
         'project_id': context.project_id, 'created_at': now}
        for group_id, count in enumerate(counts)
        for _ in range(count)
    ]
    if rows:
        context.session.execute(sa.insert(_ARQ_T), rows)
    return [
        {'uuid': row['uuid'], 'state': 'Initial',
         'device_profile_name': profile['name'],
         'device_profile_group_id': row['device_profile_group_id'],
         'hostname': None, 'device_rp_uuid': None, 'instance_uuid': None,
         'project_id': row['project_id'], 'attach_handle_uuid': None,
         'attach_handle_type': None, 'attach_handle_info': {},
         'created_at': now, 'updated_at': None}
        for row in rows
    ]


@engine.writer
def bind_and_unbind(context, binds, unbinds):
    """Apply one PATCH: bind ``binds``, unbind ``unbinds``; all or nothing.

    ``binds`` maps ARQ uuid to {hostname, device_rp_uuid, instance_uuid,
    project_id}; ``unbinds`` lists ARQ uuids. Every ARQ is checked before
    any row changes, its row locked against concurrent writers:

    * ARQNotFound names every uuid the caller cannot see;
    * ARQBadState for an ARQ whose state does not allow its op (a bind
      starts from Initial or Unbound; an unbind from anything but
      Deleting, and is a no-op on an Unbound ARQ);
    * UnknownBindProvider when no deployable is behind ``device_rp_uuid``,
      BindHostMismatch when ``hostname`` is not that deployable's host
      (its compute node name or its agent's ``[DEFAULT] host``);
    * InstanceAlreadyHasARQs when the instance holds ARQs already.

    Binds move Initial/Unbound -> BindStarted (compare-and-swap), unbinds
    to Unbound with their handles freed. Returns the freed handles (see
    ``bindings.unbind_in_transaction``) for the host-side cleanup.
    """
    session = context.session
    rows = {row.uuid: row for row in session.execute(_visible(
        sa.select(_ARQ_T.c.uuid, _ARQ_T.c.state, _ARQ_T.c.instance_uuid),
        context).where(
        _ARQ_T.c.uuid.in_(list(binds) + list(unbinds))).with_for_update())}
    missing = [uuid for uuid in list(binds) + list(unbinds)
               if uuid not in rows]
    if missing:
        raise exception.ARQNotFound(uuid=', '.join(missing))
    for uuids, allowed, action in ((binds, BINDABLE_STATES, 'bind'),
                                   (unbinds, UNBINDABLE_STATES, 'unbind')):
        for uuid in uuids:
            if rows[uuid].state not in allowed:
                raise exception.ARQBadState(uuid=uuid, state=rows[uuid].state,
                                            action=action,
                                            expected=', '.join(allowed))
    _check_bind_targets(session, binds)

    released = []
    for uuid in unbinds:
        handle = bindings.unbind_in_transaction(session, uuid)
        if handle is not None:
            released.append(handle)
    _release_claims(session, [rows[uuid].instance_uuid for uuid in unbinds])
    if binds:
        _claim_instances(context, {fields['instance_uuid']
                                   for fields in binds.values()})
        _start_binds(context, binds)
    # What the conductor's host-side cleanup needs of each freed handle.
    return [{key: handle[key] for key in ('uuid', 'attach_type',
                                          'attach_info', 'hostname')}
            for handle in released]


def _check_bind_targets(session, binds):
    """UnknownBindProvider / BindHostMismatch for a bad bind target."""
    if not binds:
        return
    providers = {fields['device_rp_uuid'] for fields in binds.values()}
    hosts = {}
    for rp_uuid, hostname, rpc_host in session.execute(
            sa.select(_DEPLOYABLE_T.c.rp_uuid, _DEVICE_T.c.hostname,
                      _AGENT_HOST_T.c.rpc_host)
            .select_from(_DEPLOYABLE_T.join(
                _DEVICE_T, _DEVICE_T.c.id == _DEPLOYABLE_T.c.device_id)
                .outerjoin(_AGENT_HOST_T,
                           _AGENT_HOST_T.c.hostname == _DEVICE_T.c.hostname))
            .where(_DEPLOYABLE_T.c.rp_uuid.in_(providers))):
        # Nova names the host by nova-compute's [DEFAULT] host, which is
        # usually the compute node's name and the agent's RPC name.
        hosts[rp_uuid] = (hostname, {hostname, rpc_host})
    for uuid, fields in binds.items():
        rp_uuid = fields['device_rp_uuid']
        if rp_uuid not in hosts:
            raise exception.UnknownBindProvider(arq=uuid, rp_uuid=rp_uuid)
        actual, names = hosts[rp_uuid]
        if fields['hostname'] not in names:
            raise exception.BindHostMismatch(
                arq=uuid, hostname=fields['hostname'], rp_uuid=rp_uuid,
                actual=actual)


def _claim_instances(context, instances):
    """Claim each instance for these binds; InstanceAlreadyHasARQs if taken.

    The read sees ARQs bound before claims existed; the insert is what
    loses against a concurrent bind of the same instance.
    """
    session = context.session
    taken = session.execute(
        sa.select(_ARQ_T.c.instance_uuid).where(
            _ARQ_T.c.instance_uuid.in_(instances)).limit(1)).first()
    if taken is not None:
        raise exception.InstanceAlreadyHasARQs(instance=taken.instance_uuid)
    now = timeutils.utcnow()
    for instance in sorted(instances):
        try:
            session.execute(sa.insert(_CLAIM_T).values(
                instance_uuid=instance, created_at=now))
        except db_exc.DBDuplicateEntry:
            raise exception.InstanceAlreadyHasARQs(instance=instance)


def _release_claims(session, instances):
    """Drop the claims of instances no ARQ names any more."""
    instances = {instance for instance in instances if instance}
    if not instances:
        return
    still_held = sa.select(_ARQ_T.c.id).where(
        _ARQ_T.c.instance_uuid == _CLAIM_T.c.instance_uuid).exists()
    session.execute(sa.delete(_CLAIM_T).where(
        _CLAIM_T.c.instance_uuid.in_(instances), ~still_held))


def _start_binds(context, binds):
    """Initial/Unbound -> BindStarted for every ARQ of binds (rows locked)."""
    now = timeutils.utcnow()
    for uuid, fields in binds.items():
        result = context.session.execute(
            sa.update(_ARQ_T).where(_ARQ_T.c.uuid == uuid,
                                    _ARQ_T.c.state.in_(BINDABLE_STATES))
            .values(state='BindStarted',
                    hostname=fields['hostname'],
                    device_rp_uuid=fields['device_rp_uuid'],
                    instance_uuid=fields['instance_uuid'],
                    project_id=fields['project_id'],
                    bind_seq=_ARQ_T.c.bind_seq + 1,
                    bind_started_at=now,
                    bind_error=None,
                    bind_lease_owner=None,
                    bind_lease_expires_at=None,
                    updated_at=now))
        # The row is locked since the check, so the swap cannot lose; the
        # guard stays so a wrong state can never be overwritten.
        if result.rowcount != 1:
            raise exception.ARQBadState(uuid=uuid, state='(changed)',
                                        action='bind',
                                        expected=', '.join(BINDABLE_STATES))


@engine.writer
def delete_arqs(context, uuids=None, instance_uuid=None, allow_bound=False):
    """Delete ARQs by uuids or by instance; release their attach handles.

    By uuids: ARQNotFound naming every missing one, checked before
    anything is deleted; Forbidden if one is bound to an instance and not
    ``allow_bound``. By instance: deleting nothing is fine.

    Returns the released handles as dicts of ``hostname``, ``attach_type``,
    ``attach_info`` (parsed) and ``uuid``, for the conductor's host-side
    cleanup (mdev removal).
    """
    query = _visible(sa.select(
        _ARQ_T.c.id, _ARQ_T.c.uuid, _ARQ_T.c.instance_uuid,
        _ARQ_T.c.hostname, _ARQ_T.c.attach_handle_id), context)
    if uuids is not None:
        query = query.where(_ARQ_T.c.uuid.in_(uuids))
    else:
        query = query.where(_ARQ_T.c.instance_uuid == instance_uuid)
    # Lock the rows so a conductor cannot claim a handle for one of them
    # between this read and the delete (no-op on SQLite, which serialises
    # writers anyway).
    rows = context.session.execute(query.with_for_update()).all()
    if uuids is not None:
        found = {row.uuid for row in rows}
        missing = [uuid for uuid in uuids if uuid not in found]
        if missing:
            raise exception.ARQNotFound(uuid=', '.join(missing))
        if not allow_bound and any(row.instance_uuid for row in rows):
            raise exception.Forbidden(
                reason='deleting an accelerator request bound to an '
                       'instance needs a service token')
    if not rows:
        return []
    released = _release_handles(context, rows)
    context.session.execute(sa.delete(_ARQ_T).where(
        _ARQ_T.c.id.in_([row.id for row in rows])))
    _release_claims(context.session, [row.instance_uuid for row in rows])
    return released


def _release_handles(context, arq_rows):
    host_of = {row.attach_handle_id: row.hostname for row in arq_rows
               if row.attach_handle_id is not None}
    if not host_of:
        return []
    handles = context.session.execute(
        sa.select(_AH_T.c.id, _AH_T.c.uuid, _AH_T.c.attach_type,
                  _AH_T.c.attach_info)
        .where(_AH_T.c.id.in_(list(host_of)))).all()
    context.session.execute(
        sa.update(_AH_T).where(_AH_T.c.id.in_(list(host_of)))
        .values(in_use=False, updated_at=timeutils.utcnow()))
    return [{'hostname': host_of[h.id], 'attach_type': h.attach_type,
             'attach_info': json.loads(h.attach_info), 'uuid': h.uuid}
            for h in handles]
