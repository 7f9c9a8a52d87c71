"""Data access for device profiles.

Functions return plain dicts with the stored columns and ``groups`` parsed
from ``profile_json``; the API turns them into responses.
"""

import json

from oslo_db import exception as db_exc
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from cyborg.db import engine
from cyborg.db import pagination
from cyborg.db import models
from cyborg import exception

_DP = models.DeviceProfile
_ARQ = models.ExtendedAcceleratorRequest

# What a profile dict is made of. Core selects: rows come back as tuples,
# without the ORM's per-row bookkeeping (a list has a thousand of them).
_COLUMNS = (_DP.__table__.c.id, _DP.__table__.c.uuid, _DP.__table__.c.name,
            _DP.__table__.c.description, _DP.__table__.c.profile_json,
            _DP.__table__.c.created_at, _DP.__table__.c.updated_at)
_SELECT = sa.select(*_COLUMNS)


def _to_dict(row):
    id_, uuid, name, description, profile_json, created, updated = row
    return {
        'id': id_,
        'uuid': uuid,
        'name': name,
        'description': description,
        'groups': json.loads(profile_json)['groups'],
        'created_at': created,
        'updated_at': updated,
    }


def _row_by_uuid(context, uuid):
    return context.session.execute(
        sa.select(_DP.__table__).where(_DP.__table__.c.uuid == uuid)).first()


@engine.reader
def list_device_profiles(context, names=None, limit=None, marker=None,
                         sort_key=None, sort_dir=None):
    """Profiles, optionally only those named in ``names``, one page of them.

    ``marker`` is the uuid of the last profile of the previous page.
    """
    query = _SELECT
    if names:
        query = query.where(_DP.__table__.c.name.in_(names))
    query = pagination.paginate(context, query, _DP, limit, marker,
                                sort_key, sort_dir)
    return [_to_dict(row) for row in context.session.execute(query)]


_BY_UUID = _SELECT.where(_DP.__table__.c.uuid == sa.bindparam('ident'))
_BY_NAME = _SELECT.where(_DP.__table__.c.name == sa.bindparam('ident'))


@engine.reader
def get_device_profile(context, uuid=None, name=None):
    """The profile with this uuid (or name); DeviceProfileNotFound if none."""
    ident = uuid if uuid is not None else name
    row = context.session.execute(
        _BY_UUID if uuid is not None else _BY_NAME, {'ident': ident}).first()
    if row is None:
        raise exception.DeviceProfileNotFound(ident=ident)
    return _to_dict(row)


@engine.writer
def create_device_profile(context, name, groups, description=None,
                          uuid=None):
    """Store a new profile; DuplicateDeviceProfile if name or uuid is taken."""
    values = {
        'uuid': uuid or uuidutils.generate_uuid(),
        'name': name,
        'description': description,
        'profile_json': json.dumps({'groups': groups}),
        'created_at': timeutils.utcnow(),
    }
    try:
        result = context.session.execute(sa.insert(_DP.__table__), values)
    except db_exc.DBDuplicateEntry as exc:
        # Which unique constraint fired tells the client what to change.
        field = 'uuid' if 'uuid' in (exc.columns or []) else 'name'
        raise exception.DuplicateDeviceProfile(field=field,
                                               value=values[field])
    values['id'] = result.inserted_primary_key[0]
    values['groups'] = groups
    values['updated_at'] = None
    del values['profile_json']
    return values


def _ensure_unused(context, profiles):
    """DeviceProfileInUse if any of profiles ({id: name}) has ARQs."""
    used = context.session.execute(
        sa.select(_ARQ.device_profile_id)
        .where(_ARQ.device_profile_id.in_(list(profiles)))
        .limit(1)).scalar()
    if used is not None:
        raise exception.DeviceProfileInUse(name=profiles[used])


def _delete(context, profiles):
    # The explicit check gives a clear 409 on every backend (SQLite does
    # not enforce foreign keys here); the FK still guards a racing
    # ARQ create on MySQL and PostgreSQL.
    _ensure_unused(context, profiles)
    try:
        context.session.execute(
            sa.delete(_DP.__table__).where(_DP.id.in_(list(profiles))))
    except db_exc.DBReferenceError:
        raise exception.DeviceProfileInUse(name=', '.join(
            sorted(profiles.values())))


@engine.writer
def delete_device_profile(context, uuid):
    """Delete one profile by uuid (NotFound, or InUse while ARQs use it)."""
    row = context.session.execute(
        sa.select(_DP.id, _DP.name).where(_DP.uuid == uuid)).first()
    if row is None:
        raise exception.DeviceProfileNotFound(ident=uuid)
    _delete(context, {row.id: row.name})


@engine.writer
def delete_device_profiles_by_name(context, names):
    """Delete every named profile, or none of them.

    DeviceProfileNotFound names all unknown names; DeviceProfileInUse one
    that still has ARQs. Either way nothing is deleted.
    """
    rows = context.session.execute(
        sa.select(_DP.id, _DP.name).where(_DP.name.in_(names))).all()
    missing = set(names) - {row.name for row in rows}
    if missing:
        raise exception.DeviceProfileNotFound(ident=', '.join(sorted(missing)))
    _delete(context, {row.id: row.name for row in rows})


# Copied in (cyborg-dbsync import-upstream, inside its transaction)

def add_imported(session, rows):
    """Insert profiles as given (their ids, uuids and timestamps)."""
    if rows:
        session.execute(sa.insert(_DP.__table__), rows)
