"""Data access for deployable attributes (free-form key/value pairs).

Attribute writes do not touch Placement: resource class and traits, the
things Placement sees, are not attributes in this schema.
"""

from oslo_db import exception as db_exc
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from cyborg.db import engine
from cyborg.db import pagination
from cyborg.db import models
from cyborg import exception

_ATTRIBUTE = models.Attribute
_DEPLOYABLE = models.Deployable


def _row_by_uuid(context, uuid):
    return context.session.query(_ATTRIBUTE.__table__).filter(
        _ATTRIBUTE.uuid == uuid).first()


@engine.reader
def list_attributes(context, deployable_id=None, key=None, limit=None,
                    marker=None, sort_key=None, sort_dir=None):
    query = context.session.query(_ATTRIBUTE.__table__)
    if deployable_id is not None:
        query = query.filter(_ATTRIBUTE.deployable_id == deployable_id)
    if key is not None:
        query = query.filter(_ATTRIBUTE.key == key)
    query = pagination.paginate(context, query, _ATTRIBUTE, limit, marker,
                                sort_key, sort_dir)
    return [row._asdict() for row in query]


@engine.reader
def get_attribute(context, uuid):
    row = _row_by_uuid(context, uuid)
    if row is None:
        raise exception.AttributeNotFound(uuid=uuid)
    return row._asdict()


@engine.writer
def create_attribute(context, deployable_id, key, value):
    """Add key=value to a deployable.

    DeployableNotFound for an unknown deployable id, DuplicateAttribute
    when the deployable already has that key.
    """
    exists = context.session.execute(
        sa.select(_DEPLOYABLE.id).where(_DEPLOYABLE.id == deployable_id)
    ).first()
    if exists is None:
        raise exception.DeployableNotFound(ident=deployable_id)
    values = {'uuid': uuidutils.generate_uuid(),
              'deployable_id': deployable_id, 'key': key, 'value': value,
              'created_at': timeutils.utcnow()}
    try:
        result = context.session.execute(
            sa.insert(_ATTRIBUTE.__table__), values)
    except db_exc.DBDuplicateEntry:
        raise exception.DuplicateAttribute(deployable_id=deployable_id,
                                           key=key)
    except db_exc.DBReferenceError:
        # The deployable went away between the check and the insert.
        raise exception.DeployableNotFound(ident=deployable_id)
    values['id'] = result.inserted_primary_key[0]
    values['updated_at'] = None
    return values


@engine.writer
def delete_attribute(context, uuid):
    result = context.session.execute(
        sa.delete(_ATTRIBUTE.__table__).where(_ATTRIBUTE.uuid == uuid))
    if result.rowcount == 0:
        raise exception.AttributeNotFound(uuid=uuid)
