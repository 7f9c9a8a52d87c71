"""Data access for deployables, as the API reads them.

The API shows upstream's ``attributes_list``: a list of single-key maps
built from the deployable's resource class (``{"rc": ...}``), its traits
(``{"trait0": ...}``, ``{"trait1": ...}``, in name order) and its
free-form attribute rows. Resource class and traits are stored in their own
column and table here, so the list is assembled on read: one query for the
deployables, one for their traits and one for their attributes, whatever
the page size.
"""

import collections

import sqlalchemy as sa

from cyborg.db import engine
from cyborg.db import pagination
from cyborg.db import models
from cyborg import exception

_DEPLOYABLE = models.Deployable
_TRAIT = models.DeployableTrait
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
    """Dicts of rows, each with its synthesised ``attributes_list``."""
    ids = [row.id for row in rows]
    traits = collections.defaultdict(list)
    attributes = collections.defaultdict(list)
    for chunk in _chunks(ids):
        for dep_id, trait in context.session.execute(
                sa.select(_TRAIT.deployable_id, _TRAIT.trait)
                .where(_TRAIT.deployable_id.in_(chunk))
                .order_by(_TRAIT.deployable_id, _TRAIT.trait)):
            traits[dep_id].append(trait)
        for dep_id, key, value in context.session.execute(
                sa.select(_ATTRIBUTE.deployable_id, _ATTRIBUTE.key,
                          _ATTRIBUTE.value)
                .where(_ATTRIBUTE.deployable_id.in_(chunk))
                .order_by(_ATTRIBUTE.deployable_id, _ATTRIBUTE.id)):
            attributes[dep_id].append({key: value})
    result = []
    for row in rows:
        deployable = row._asdict()
        synthesised = []
        if row.resource_class:
            synthesised.append({'rc': row.resource_class})
        synthesised.extend({'trait%d' % index: trait}
                           for index, trait in enumerate(traits[row.id]))
        synthesised.extend(attributes[row.id])
        deployable['attributes_list'] = synthesised
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
