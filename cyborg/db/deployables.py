"""Data access for deployables, as the API reads them.

The API shows upstream's ``attributes_list``: a list of single-key maps,
one per attribute row of the deployable (``{"rc": ...}``,
``{"trait0": ...}``, .. and the free-form ones; see ``attributes.py`` for
what the conductor records). It is built from those rows alone, so it and
``GET /v2/attributes`` cannot disagree: one query for the deployables and
one for their attributes, whatever the page size.
"""

import collections

import sqlalchemy as sa

from cyborg.db import attributes
from cyborg.db import engine
from cyborg.db import pagination
from cyborg.db import models
from cyborg import exception

_DEPLOYABLE = models.Deployable
_ATTRIBUTE = models.Attribute

# Bound parameters per IN (...) list, well under every backend's limit.
_CHUNK = 500


def _row_by_uuid(context, uuid):
    return context.session.query(_DEPLOYABLE.__table__).filter(
        _DEPLOYABLE.uuid == uuid).first()


def _chunks(ids):
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _with_attributes(context, rows):
    """Dicts of rows, each with its ``attributes_list`` from its rows."""
    ids = [row.id for row in rows]
    found = collections.defaultdict(list)
    for chunk in _chunks(ids):
        for row in context.session.execute(
                sa.select(_ATTRIBUTE.id, _ATTRIBUTE.deployable_id,
                          _ATTRIBUTE.key, _ATTRIBUTE.value)
                .where(_ATTRIBUTE.deployable_id.in_(chunk))):
            found[row.deployable_id].append(row)
    result = []
    for row in rows:
        deployable = row._asdict()
        # Ordered here, not in SQL: "trait10 after trait9" is a numeric
        # order on part of a string, with no portable SQL spelling.
        ordered = sorted(found[row.id], key=lambda attr:
                         attributes.list_position(attr.key, attr.id))
        deployable['attributes_list'] = [{attr.key: attr.value}
                                         for attr in ordered]
        result.append(deployable)
    return result


@engine.reader
def list_deployables(context, name=None, limit=None, marker=None,
                     sort_key=None, sort_dir=None):
    query = context.session.query(_DEPLOYABLE.__table__)
    if name is not None:
        query = query.filter(_DEPLOYABLE.name == name)
    query = pagination.paginate(context, query, _DEPLOYABLE, limit, marker,
                                sort_key, sort_dir)
    return _with_attributes(context, query.all())


@engine.reader
def get_deployable(context, uuid):
    row = _row_by_uuid(context, uuid)
    if row is None:
        raise exception.DeployableNotFound(ident=uuid)
    return _with_attributes(context, [row])[0]
