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


_KEYS = sa.select(_DP.__table__.c.id, _DP.__table__.c.uuid)


def _usable(context, known):
    """``known`` where an (id, uuid) pair names one row forever.

    SQLite gives a deleted row's id to the next insert when it was the
    largest: a profile deleted and created again under its uuid would be
    the same pair. MySQL and PostgreSQL never reuse ids.
    """
    if known and context.session.get_bind().dialect.name != 'sqlite':
        return known
    return ()


@engine.reader
def list_device_profiles(context, names=None, limit=None, marker=None,
                         sort_key=None, sort_dir=None, known=()):
    """Profiles, optionally only those named in ``names``, one page of them.

    ``marker`` is the uuid of the last profile of the previous page.
    Profiles whose ``(id, uuid)`` is in ``known`` (the caller has them
    already: a profile never changes once created) come back as
    ``{'id', 'uuid'}`` only; then the page's ids are read first, and the
    full rows of the others after, in the same transaction.
    """
    known = _usable(context, known)
    query = _KEYS if known else _SELECT
    if names:
        query = query.where(_DP.__table__.c.name.in_(names))
    query = pagination.paginate(context, query, _DP, limit, marker,
                                sort_key, sort_dir)
    rows = context.session.execute(query).all()
    if not known:
        return [_to_dict(row) for row in rows]
    missing = [row.id for row in rows if (row.id, row.uuid) not in known]
    full = {}
    if missing:
        # Ids from this transaction's read: the rows are still there.
        full = {row.id: _to_dict(row) for row in context.session.execute(
            _SELECT.where(_DP.__table__.c.id.in_(missing)))}
    return [full.get(row.id) or {'id': row.id, 'uuid': row.uuid}
            for row in rows]


_BY_UUID = _SELECT.where(_DP.__table__.c.uuid == sa.bindparam('ident'))
_BY_NAME = _SELECT.where(_DP.__table__.c.name == sa.bindparam('ident'))


_KEY_BY_UUID = _KEYS.where(_DP.__table__.c.uuid == sa.bindparam('ident'))
_KEY_BY_NAME = _KEYS.where(_DP.__table__.c.name == sa.bindparam('ident'))


@engine.reader
def get_device_profile(context, uuid=None, name=None, known=()):
    """The profile with this uuid (or name); DeviceProfileNotFound if none.

    A profile whose ``(id, uuid)`` is in ``known`` comes back as
    ``{'id', 'uuid'}`` only (see :func:`list_device_profiles`).
    """
    ident = uuid if uuid is not None else name
    if _usable(context, known):
        row = context.session.execute(
            _KEY_BY_UUID if uuid is not None else _KEY_BY_NAME,
            {'ident': ident}).first()
        if row is None:
            raise exception.DeviceProfileNotFound(ident=ident)
        if (row.id, row.uuid) in known:
            return {'id': row.id, 'uuid': row.uuid}
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
    """Delete profiles ({id: (uuid, name)}); their (id, uuid) pairs."""
    # The explicit check gives a clear 409 on every backend (SQLite does
    # not enforce foreign keys here); the FK still guards a racing
    # ARQ create on MySQL and PostgreSQL.
    _ensure_unused(context, {id_: name for id_, (_, name)
                             in profiles.items()})
    try:
        context.session.execute(
            sa.delete(_DP.__table__).where(_DP.id.in_(list(profiles))))
    except db_exc.DBReferenceError:
        raise exception.DeviceProfileInUse(name=', '.join(
            sorted(name for _, name in profiles.values())))
    return [(id_, uuid) for id_, (uuid, _) in profiles.items()]


@engine.writer
def delete_device_profile(context, uuid):
    """Delete one profile by uuid (NotFound, or InUse while ARQs use it).

    Returns the deleted profile's ``(id, uuid)`` in a list.
    """
    row = context.session.execute(
        sa.select(_DP.id, _DP.name).where(_DP.uuid == uuid)).first()
    if row is None:
        raise exception.DeviceProfileNotFound(ident=uuid)
    return _delete(context, {row.id: (uuid, row.name)})


@engine.writer
def delete_device_profiles_by_name(context, names):
    """Delete every named profile, or none of them.

    DeviceProfileNotFound names all unknown names; DeviceProfileInUse one
    that still has ARQs. Either way nothing is deleted. Returns the
    deleted profiles' ``(id, uuid)`` pairs.
    """
    rows = context.session.execute(
        sa.select(_DP.id, _DP.uuid, _DP.name).where(_DP.name.in_(names))).all()
    missing = set(names) - {row.name for row in rows}
    if missing:
        raise exception.DeviceProfileNotFound(ident=', '.join(sorted(missing)))
    return _delete(context, {row.id: (row.uuid, row.name) for row in rows})


# Copied in (cyborg-dbsync import-upstream, inside its transaction)

def add_imported(session, rows):
    """Insert profiles as given (their ids, uuids and timestamps)."""
    if rows:
        session.execute(sa.insert(_DP.__table__), rows)
