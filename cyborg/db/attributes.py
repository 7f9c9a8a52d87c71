"""The attributes table: every write (API and reports), the reads, and the
keys the conductor records.

Every deployable has one attribute row per key, as upstream keeps them:
``rc`` (its resource class, when it has one), ``trait0`` .. ``traitN-1``
(its traits in name order) and the driver's own free-form attributes. The
conductor writes them from each agent report (``host_reports.py``, through
:func:`add`, :func:`update` and :func:`delete`), in the same
transaction as the rest of the report's diff, with ``recorded_attributes``
saying what they must be; a report makes them exactly that, so a row added
through the API lives until the host's next full report.

The rows are what the API shows (here and as a deployable's
``attributes_list``), never what Placement reads: the sync reads the
``resource_class`` column and the ``deployable_traits`` table, so attribute
writes through the API do not touch Placement.
"""

import re

from oslo_db import exception as db_exc
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from cyborg.db import bulk
from cyborg.db import engine
from cyborg.db import models
from cyborg.db import pagination
from cyborg import exception

_ATTRIBUTE = models.Attribute
_DEPLOYABLE = models.Deployable

RC_KEY = 'rc'
# Upstream's tools read every key starting with "trait" as a trait, so the
# whole prefix is ours, not only "trait<N>".
TRAIT_KEY_PREFIX = 'trait'
_TRAIT_KEY = re.compile(r'^trait(\d+)$')


def is_reserved_key(key):
    """Whether a driver may not use ``key`` for an attribute of its own."""
    # Case-blind: MariaDB's default collation makes "RC" the same key as
    # "rc" under the (deployable_id, key) unique constraint.
    key = key.lower()
    return key == RC_KEY or key.startswith(TRAIT_KEY_PREFIX)


def recorded_attributes(resource_class, traits, attributes):
    """{key: value} of the attribute rows a deployable's report stands for.

    ``attributes`` are the driver's own; their keys are not reserved (the
    report's validation refuses those that are).
    """
    recorded = {}
    if resource_class:
        recorded[RC_KEY] = resource_class
    for index, trait in enumerate(sorted(set(traits))):
        recorded['%s%d' % (TRAIT_KEY_PREFIX, index)] = trait
    recorded.update((key, str(value)) for key, value in attributes.items())
    return recorded


def list_position(key, row_id):
    """Sort key of an attribute in ``attributes_list``.

    ``rc`` first, then ``trait0``, ``trait1``, .. by number (``trait10``
    after ``trait9``), then the rest by row id: the order upstream's
    readers expect, and one that does not change between reads.
    """
    if key == RC_KEY:
        return (0, 0, row_id)
    match = _TRAIT_KEY.match(key)
    if match:
        return (1, int(match.group(1)), row_id)
    return (2, 0, row_id)


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


# What agents' reports change (inside the report's transaction)

def add(session, rows):
    bulk.insert_rows(session, _ATTRIBUTE.__table__, rows)


def update(session, changes):
    bulk.update_rows(session, _ATTRIBUTE.__table__, changes)


def delete(session, attribute_ids):
    bulk.delete_rows(session, _ATTRIBUTE.__table__, attribute_ids)
