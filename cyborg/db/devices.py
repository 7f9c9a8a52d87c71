"""The devices table (and their control paths): every write, and the reads.

Devices and their control path ids are written by agents' reports
(:func:`add`, :func:`update`, :func:`delete`, called by ``host_reports``),
by an operator's enable/disable (:func:`set_status`) and by agents' health
probes (:func:`set_health`); the conductor mirrors the last two into
Placement.
"""

import json

from oslo_utils import timeutils
import sqlalchemy as sa

from cyborg.db import bulk
from cyborg.db import engine
from cyborg.db import models
from cyborg.db import pagination
from cyborg import exception

_DEVICE = models.Device
_DEV = models.Device.__table__
_CPID = models.ControlpathID.__table__


def _row_by_uuid(context, uuid):
    return context.session.query(_DEVICE.__table__).filter(
        _DEVICE.uuid == uuid).first()


@engine.reader
def list_devices(context, type=None, vendor=None, hostname=None, health=None,
                 limit=None, marker=None, sort_key=None, sort_dir=None):
    """Devices matching the exact filters given, newest first by default."""
    query = context.session.query(_DEVICE.__table__)
    for column, value in ((_DEVICE.type, type), (_DEVICE.vendor, vendor),
                          (_DEVICE.hostname, hostname)):
        if value is not None:
            query = query.filter(column == value)
    if health is not None:
        # A device that failed a scrub is failed, whatever its probes say.
        scrub_failed = _DEVICE.scrub_failure.isnot(None)
        query = query.filter(
            sa.or_(scrub_failed, _DEVICE.health == health)
            if health == 'failed' else
            sa.and_(sa.not_(scrub_failed), _DEVICE.health == health))
    query = pagination.paginate(context, query, _DEVICE, limit, marker,
                                sort_key, sort_dir,
                                default_keys=('created_at', 'id'),
                                default_dir='desc')
    return [row._asdict() for row in query]


@engine.reader
def get_device(context, uuid):
    row = _row_by_uuid(context, uuid)
    if row is None:
        raise exception.DeviceNotFound(uuid=uuid)
    return row._asdict()


@engine.reader
def controlpaths(context, device_id):
    """The control paths of a device, as ``{'cpid_type', 'info'}`` dicts."""
    rows = context.session.execute(
        sa.select(_CPID.c.cpid_type, _CPID.c.cpid_info).where(
            _CPID.c.device_id == device_id).order_by(_CPID.c.id)).all()
    return [{'cpid_type': row.cpid_type, 'info': json.loads(row.cpid_info)}
            for row in rows]


# What agents' reports change (inside the report's transaction)

def add(session, rows):
    """Insert devices; {uuid: id}."""
    return bulk.insert_rows(session, _DEV, rows)


def update(session, changes):
    bulk.update_rows(session, _DEV, changes)


def delete(session, device_ids):
    bulk.delete_rows(session, _DEV, device_ids)


def add_controlpaths(session, rows):
    """Insert control paths; {uuid: id}."""
    return bulk.insert_rows(session, _CPID, rows)


def delete_controlpaths(session, cpid_ids):
    bulk.delete_rows(session, _CPID, cpid_ids)


# Maintenance

@engine.writer
def set_status(context, device_uuid, status):
    """Set a device's status; return {id, uuid, hostname, status}."""
    if status not in models.DEVICE_STATUSES:
        raise exception.Invalid(reason='device status must be one of %s'
                                       % ', '.join(models.DEVICE_STATUSES))
    session = context.session
    row = session.execute(sa.select(_DEV.c.id, _DEV.c.hostname)
                          .where(_DEV.c.uuid == device_uuid)).first()
    if row is None:
        raise exception.DeviceNotFound(uuid=device_uuid)
    values = {'status': status, 'updated_at': timeutils.utcnow()}
    if status == 'enabled':
        # The operator's word that a device that failed a scrub was looked
        # at (see set_scrub_failure).
        values['scrub_failure'] = None
    session.execute(sa.update(_DEV).where(_DEV.c.id == row.id)
                    .values(**values))
    return {'id': row.id, 'uuid': device_uuid, 'hostname': row.hostname,
            'status': status}


@engine.writer
def set_scrub_failure(context, device_id, reason):
    """Record that a function of the device failed its scrub.

    The device counts as failed (API 2.6) and is wholly reserved in
    Placement until an operator enables it (:func:`set_status`); the
    agent's health probes do not clear it, since a function left holding
    the last tenant's data can look perfectly healthy.
    """
    context.session.execute(
        sa.update(_DEV).where(_DEV.c.id == device_id)
        .values(scrub_failure=reason[:255], updated_at=timeutils.utcnow()))


# Health

# Attempts at recording one health change against concurrent recorders
# (two conductors applying a cast and a full report of the same host).
HEALTH_ATTEMPTS = 5


def set_health(context, hostname, controlpath, state, reason):
    """Record what the host's agent says of the device at ``controlpath``.

    ``controlpath`` is a ``{'cpid_type', 'info'}`` dict as agents report
    it; ``reason`` is stored as given (None when healthy). A compare-and-
    swap on the health read: of two conductors recording one change, one
    records it and the other finds it recorded. Returns the device dict
    with ``previous_health`` and ``previous_health_reason`` when this call
    changed it, None when it already said so. DeviceNotFound when the host
    has no device there; Invalid for a state that is none of
    ``models.DEVICE_HEALTH_STATES``.
    """
    if state not in models.DEVICE_HEALTH_STATES:
        raise exception.Invalid(reason='device health must be one of %s'
                                       % ', '.join(
                                           models.DEVICE_HEALTH_STATES))
    cpid_info = json.dumps(controlpath['info'], sort_keys=True,
                           separators=(',', ':'))
    for _attempt in range(HEALTH_ATTEMPTS):
        outcome = _set_health_once(context, hostname,
                                   controlpath['cpid_type'], cpid_info,
                                   state, reason)
        if outcome is not _LOST_RACE:
            return outcome
    raise exception.Conflict(
        reason='the health of the device at %s on %s kept changing under '
               'us' % (cpid_info, hostname))


_LOST_RACE = object()


@engine.retry_on_contention
@engine.writer
def _set_health_once(context, hostname, cpid_type, cpid_info, state, reason):
    session = context.session
    row = session.execute(
        sa.select(_DEV).select_from(_DEV.join(_CPID,
                                              _CPID.c.device_id == _DEV.c.id))
        .where(_DEV.c.hostname == hostname, _CPID.c.cpid_type == cpid_type,
               _CPID.c.cpid_info == cpid_info)).first()
    if row is None:
        raise exception.DeviceNotFound(
            uuid='%s on host %s' % (cpid_info, hostname))
    if row.health == state and row.health_reason == reason:
        return None
    now = timeutils.utcnow()
    values = {'health': state, 'health_reason': reason, 'updated_at': now}
    if row.health != state:
        values['health_since'] = now
    previous_reason = (_DEV.c.health_reason.is_(None)
                       if row.health_reason is None
                       else _DEV.c.health_reason == row.health_reason)
    result = session.execute(
        sa.update(_DEV).where(_DEV.c.id == row.id,
                              _DEV.c.health == row.health, previous_reason)
        .values(**values))
    if result.rowcount != 1:
        return _LOST_RACE
    device = dict(row._asdict(), **values)
    device['previous_health'] = row.health
    device['previous_health_reason'] = row.health_reason
    return device
