"""Data access for accelerator requests (ARQs), as the API needs it.

Isolation between projects lives here: every query made for a context that
is not admin only sees rows of the context's project, so another project's
ARQ is simply not found.

Functions return plain dicts: the ARQ's columns, its profile's name, and
its attach handle's uuid/type/info when it holds one. The conductor owns
what happens after ``BindStarted``; this module only starts binds (one
compare-and-swap per ARQ, all in one transaction) and deletes ARQs while
releasing their attach handles in the same transaction.
"""

import json

from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from cyborg.db import engine
from cyborg.db import pagination
from cyborg.db import models
from cyborg import exception

_ARQ = models.ExtendedAcceleratorRequest
_DP = models.DeviceProfile
_AH = models.AttachHandle

# States Nova may read an ARQ's outcome from (?bind_state=resolved).
RESOLVED_STATES = ('Bound', 'BindFailed', 'Deleting')
# States a bind may start from.
BINDABLE_STATES = ('Initial', 'Unbound')

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


@engine.reader
def ensure_arqs_exist(context, uuids):
    """ARQNotFound naming every uuid in uuids that is not visible."""
    found = set(context.session.execute(_visible(
        sa.select(_ARQ_T.c.uuid), context).where(
        _ARQ_T.c.uuid.in_(uuids))).scalars())
    missing = [uuid for uuid in uuids if uuid not in found]
    if missing:
        raise exception.ARQNotFound(uuid=', '.join(missing))


def count_arqs_per_group(groups):
    """How many ARQs each request group of a profile asks for.

    One per accelerator: the sum of the group's ``resources:*`` amounts. A
    Xilinx FPGA is two PCI functions (management and user), each bound by
    its own ARQ, so ``trait:CUSTOM_FPGA_XILINX: required`` doubles the FPGA
    amount.
    """
    counts = []
    for group in groups:
        xilinx = group.get('trait:CUSTOM_FPGA_XILINX') == 'required'
        count = 0
        for key, value in group.items():
            if not key.startswith('resources:'):
                continue
            amount = int(value)
            if xilinx and key == 'resources:FPGA':
                amount *= 2
            count += amount
        counts.append(count)
    return counts


@engine.writer
def create_arqs(context, device_profile_name):
    """Create the ARQs a profile asks for, all in one transaction.

    DeviceProfileNotFound when no profile has that name.
    """
    profile = context.session.execute(
        sa.select(_DP_T.c.id, _DP_T.c.profile_json).where(
            _DP_T.c.name == device_profile_name)).first()
    if profile is None:
        raise exception.DeviceProfileNotFound(ident=device_profile_name)
    groups = json.loads(profile.profile_json)['groups']
    now = timeutils.utcnow()
    rows = [
        {'uuid': uuidutils.generate_uuid(), 'state': 'Initial',
         'substate': 'Initial', 'device_profile_id': profile.id,
         'device_profile_group_id': group_id,
         'project_id': context.project_id, 'created_at': now}
        for group_id, count in enumerate(count_arqs_per_group(groups))
        for _ in range(count)
    ]
    if rows:
        context.session.execute(sa.insert(_ARQ_T), rows)
    return [
        {'uuid': row['uuid'], 'state': 'Initial',
         'device_profile_name': device_profile_name,
         'device_profile_group_id': row['device_profile_group_id'],
         'hostname': None, 'device_rp_uuid': None, 'instance_uuid': None,
         'project_id': row['project_id'], 'attach_handle_uuid': None,
         'attach_handle_type': None, 'attach_handle_info': {},
         'created_at': now, 'updated_at': None}
        for row in rows
    ]


def _state_of(context, uuid):
    return context.session.execute(_visible(
        sa.select(_ARQ_T.c.state), context).where(
        _ARQ_T.c.uuid == uuid)).scalar()


@engine.writer
def start_binds(context, binds):
    """Move every ARQ of binds to BindStarted, or none of them.

    ``binds`` maps ARQ uuid to {hostname, device_rp_uuid, instance_uuid,
    project_id}. Each ARQ goes Initial/Unbound -> BindStarted with a
    compare-and-swap UPDATE; a lost swap (another request bound it first,
    or it is in another state) rolls the whole transaction back and raises
    ARQBadState, a missing ARQ raises ARQNotFound. An instance that already
    has ARQs raises InstanceAlreadyHasARQs: adding accelerators to a
    running instance is not supported.
    """
    instances = {fields['instance_uuid'] for fields in binds.values()}
    taken = context.session.execute(_visible(
        sa.select(_ARQ_T.c.instance_uuid), context).where(
        _ARQ_T.c.instance_uuid.in_(instances)).limit(1)).first()
    if taken is not None:
        raise exception.InstanceAlreadyHasARQs(instance=taken.instance_uuid)
    now = timeutils.utcnow()
    for uuid, fields in binds.items():
        update = sa.update(_ARQ_T).where(
            _ARQ_T.c.uuid == uuid, _ARQ_T.c.state.in_(BINDABLE_STATES))
        if not context.is_admin:
            update = update.where(_ARQ_T.c.project_id == context.project_id)
        result = context.session.execute(update.values(
            state='BindStarted',
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
        if result.rowcount != 1:
            state = _state_of(context, uuid)
            if state is None:
                raise exception.ARQNotFound(uuid=uuid)
            raise exception.ARQBadState(uuid=uuid, state=state,
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
