"""Reads of accelerator requests (ARQs): what the API shows, what a bind needs.

Every write to an ARQ goes through ``arq_states``; this module only reads.

Isolation between projects lives here: every query made for a context that
is not admin only sees rows of the context's project, so another project's
ARQ is simply not found. Functions return plain dicts: the ARQ's columns,
its profile's name, and its attach handle's uuid/type/info when it holds
one.
"""

import dataclasses
import datetime
import json
import typing

from oslo_utils import timeutils
import sqlalchemy as sa

from cyborg.db import agent_hosts
from cyborg.db import arq_states
from cyborg.db import devices
from cyborg.db import engine
from cyborg.db import models
from cyborg.db import pagination
from cyborg import exception

_ARQ = models.ExtendedAcceleratorRequest
_DP = models.DeviceProfile
_DC = models.DeviceContext
_AH = models.AttachHandle
_DEPLOYABLE = models.Deployable
_DEVICE = models.Device

RESOLVED_STATES = arq_states.RESOLVED_STATES
BIND_STARTED = arq_states.BIND_STARTED

_ARQ_T = _ARQ.__table__
_DP_T = _DP.__table__
_DC_T = _DC.__table__
_AH_T = _AH.__table__

# ARQs with their profile name (or device context) and handle, in one
# joined SELECT. Core columns: rows come back as plain tuples, without the
# ORM's per-row work.
_JOINED = sa.select(
    _ARQ_T.c.id, _ARQ_T.c.uuid, _ARQ_T.c.state,
    _ARQ_T.c.device_profile_group_id, _ARQ_T.c.hostname,
    _ARQ_T.c.device_rp_uuid, _ARQ_T.c.instance_uuid, _ARQ_T.c.project_id,
    _ARQ_T.c.created_at, _ARQ_T.c.updated_at,
    _DP_T.c.name.label('device_profile_name'),
    _DC_T.c.uuid.label('device_context_uuid'),
    _DC_T.c.config_data.label('config_data'),
    _AH_T.c.uuid.label('attach_handle_uuid'),
    _AH_T.c.attach_type.label('attach_handle_type'),
    _AH_T.c.attach_info.label('attach_info'),
).select_from(_ARQ_T).outerjoin(
    _DP_T, _DP_T.c.id == _ARQ_T.c.device_profile_id).outerjoin(
    _DC_T, _DC_T.c.id == _ARQ_T.c.device_context_id).outerjoin(
    _AH_T, _AH_T.c.id == _ARQ_T.c.attach_handle_id)


def _to_dict(row):
    arq = row._asdict()
    info = arq.pop('attach_info')
    arq['attach_handle_info'] = json.loads(info) if info else {}
    config = arq['config_data']
    arq['config_data'] = json.loads(config) if config else {}
    return arq


def _visible(query, context):
    if not context.is_admin:
        query = query.where(_ARQ_T.c.project_id == context.project_id)
    return query


@engine.reader
def list_arqs(context, instance_uuid=None, resolved_only=False, limit=None,
              marker=None, sort_key=None, sort_dir=None):
    """Visible ARQs, filtered and paged in SQL."""
    query = _visible(_JOINED, context)
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


# Reading what a bind needs

@dataclasses.dataclass
class BindInputs:
    """Everything one bind reads from the DB, read in one transaction.

    ``group`` is the profile's request group the ARQ belongs to (None when
    its index is out of range), ``deployable`` the one whose provider is the
    ARQ's ``device_rp_uuid`` (None when there is none), ``controlpaths`` the
    control paths of its device as ``{'cpid_type', 'info'}`` dicts,
    ``agent_host`` the RPC server name of the agent on the device's host,
    ``config_data`` the config data of the ARQ's device context ({} for an
    ARQ made from a profile); ``device_profile_name`` and ``device_uuid``
    name the ARQ's profile and the deployable's device, for notifications.
    """

    arq: dict
    group: typing.Optional[dict]
    deployable: typing.Optional[dict]
    controlpaths: typing.List[dict]
    agent_host: typing.Optional[str]
    # The compute node name the deployable's device carries.
    hostname: typing.Optional[str] = None
    config_data: dict = dataclasses.field(default_factory=dict)
    device_profile_name: typing.Optional[str] = None
    device_uuid: typing.Optional[str] = None


def _bind_inputs_query():
    """The ARQ, its groups and the deployable of its provider.

    One SELECT: a bind reads them all, every time. The groups are those of
    the ARQ's profile or of its device context (with the context's config
    data). Deployable columns are labelled ``dep_<name>``; the join picks
    the first deployable of the provider, as there should be exactly one.
    """
    arq, profile = _ARQ.__table__, models.DeviceProfile.__table__
    device_context = models.DeviceContext.__table__
    deployables, devices = _DEPLOYABLE.__table__, _DEVICE.__table__
    hosts = models.AgentHost.__table__
    others = deployables.alias('provider_deployables')
    first_deployable = sa.select(sa.func.min(others.c.id)).where(
        others.c.rp_uuid == arq.c.device_rp_uuid).correlate(
        arq).scalar_subquery()
    return sa.select(
        arq, profile.c.profile_json,
        profile.c.name.label('profile_name'),
        device_context.c.groups_json.label('context_groups_json'),
        device_context.c.config_data.label('context_config_data'),
        *[column.label('dep_' + column.name) for column in deployables.c],
        devices.c.hostname.label('dev_hostname'),
        devices.c.uuid.label('dev_uuid'),
        hosts.c.rpc_host.label('dev_rpc_host'),
    ).outerjoin(profile, profile.c.id == arq.c.device_profile_id).outerjoin(
        device_context,
        device_context.c.id == arq.c.device_context_id).outerjoin(
        deployables, sa.and_(deployables.c.rp_uuid == arq.c.device_rp_uuid,
                             deployables.c.id == first_deployable)).outerjoin(
        devices, devices.c.id == deployables.c.device_id).outerjoin(
        hosts, hosts.c.hostname == devices.c.hostname).where(
        arq.c.uuid == sa.bindparam('arq_uuid'))


_BIND_INPUTS = _bind_inputs_query()
_DEPLOYABLE_COLUMNS = [column.name for column in _DEPLOYABLE.__table__.c]


@engine.reader
def read_bind_inputs(context, arq_uuid, with_controlpaths=True):
    """BindInputs in one SELECT (plus one for the control paths)."""
    session = context.session
    row = session.execute(_BIND_INPUTS, {'arq_uuid': arq_uuid}).first()
    if row is None:
        raise exception.ARQNotFound(uuid=arq_uuid)
    values = row._mapping
    arq = {column.name: values[column.name]
           for column in _ARQ.__table__.c}
    # From its profile or from its device context: one of the two is set.
    groups_json = values['profile_json'] or values['context_groups_json']
    groups = json.loads(groups_json or '{}').get('groups') or []
    config_data = json.loads(values['context_config_data'] or '{}')
    index = arq['device_profile_group_id']
    group = groups[index] if 0 <= index < len(groups) else None
    if values['dep_id'] is None:
        return BindInputs(arq, group, None, [], None,
                          config_data=config_data,
                          device_profile_name=values['profile_name'])
    deployable = {name: values['dep_' + name]
                  for name in _DEPLOYABLE_COLUMNS}
    hostname = values['dev_hostname']
    agent_host = agent_hosts.rpc_host_of(hostname, values['dev_rpc_host'])
    paths = (devices.controlpaths(context, deployable['device_id'])
             if with_controlpaths else None)
    return BindInputs(arq, group, deployable, paths, agent_host,
                      hostname, config_data,
                      device_profile_name=values['profile_name'],
                      device_uuid=values['dev_uuid'])


@engine.reader
def list_binds_needing_recovery(context, now=None, limit=100,
                                grace_seconds=0):
    """UUIDs of ARQs in BindStarted that nobody works on, oldest first.

    That is: their lease expired, or nobody ever took one although the bind
    started more than ``grace_seconds`` ago (the grace leaves a fresh bind
    to the conductor its cast reaches).
    """
    now = now or timeutils.utcnow()
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


@engine.reader
def find_stale_binds(context, started_before, limit=5):
    """ARQs still in BindStarted that started before ``started_before``.

    Returns (how many, the oldest ``limit`` of them as dicts with
    ``uuid``, ``hostname``, ``instance_uuid``, ``bind_started_at``). A
    BindStarted row without a start time (imported from upstream) counts
    as stale. For ``cyborg-status upgrade check``: recovery fails a bind
    past its timeout, so a stale one means no conductor is recovering.
    """
    stale = sa.and_(_ARQ.state == BIND_STARTED,
                    sa.or_(_ARQ.bind_started_at.is_(None),
                           _ARQ.bind_started_at < started_before))
    count = context.session.execute(
        sa.select(sa.func.count(_ARQ.id)).where(stale)).scalar_one()
    rows = context.session.execute(
        sa.select(_ARQ.uuid, _ARQ.hostname, _ARQ.instance_uuid,
                  _ARQ.bind_started_at).where(stale)
        .order_by(_ARQ.bind_started_at, _ARQ.id).limit(limit))
    return count, [dict(row._mapping) for row in rows]


@engine.reader
def count_other_holders(context, deployable_id, arq_id=None):
    """How many ARQs other than ``arq_id`` hold a handle of the deployable."""
    query = sa.select(sa.func.count(_ARQ.id)).where(
        _ARQ.deployable_id == deployable_id,
        _ARQ.attach_handle_id.isnot(None))
    if arq_id is not None:
        query = query.where(_ARQ.id != arq_id)
    return context.session.execute(query).scalar_one()


