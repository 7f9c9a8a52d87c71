"""Data access for devices, as the API reads them.

Writes to devices belong to the conductor (agent reports, enable/disable).
"""


from cyborg.db import engine
from cyborg.db import pagination
from cyborg.db import models
from cyborg import exception

_DEVICE = models.Device


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
