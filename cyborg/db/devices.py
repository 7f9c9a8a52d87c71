"""The devices table (and their control paths): every write, and the reads.

Devices and their control path ids are written by agents' reports
(:func:`add`, :func:`update`, :func:`delete`, called by ``host_reports``)
and by an operator's enable/disable (:func:`set_status`, which the
conductor then mirrors into Placement).
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
def list_devices(context, type=None, vendor=None, hostname=None, limit=None,
                 marker=None, sort_key=None, sort_dir=None):
    """Devices matching the exact filters given, newest first by default."""
    query = context.session.query(_DEVICE.__table__)
    for column, value in ((_DEVICE.type, type), (_DEVICE.vendor, vendor),
                          (_DEVICE.hostname, hostname)):
        if value is not None:
            query = query.filter(column == value)
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
    session.execute(sa.update(_DEV).where(_DEV.c.id == row.id)
                    .values(status=status, updated_at=timeutils.utcnow()))
    return {'id': row.id, 'uuid': device_uuid, 'hostname': row.hostname,
            'status': status}
