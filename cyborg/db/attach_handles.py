"""The attach handles table: every write to a handle row.

A handle is one attachable function of a deployable (a PCI function, an
mdev slot). Its rows are made and retired by agents' reports
(:func:`add`, :func:`update`, :func:`delete_free`, called by
``host_reports``), taken by binds (:func:`claim_attach_handle`,
:func:`take_free`) and given back by unbinds, failed binds and deletes
(:func:`release`, called by ``arq_states``). A release the scrub policy
applies to leaves the handle out of service (``scrub_state``) until the
conductor's scrubber ends its scrub (:func:`end_scrub`).

Claims run on several conductors at once, so taking a handle is a
compare-and-swap (``UPDATE ... WHERE in_use = false``) on a row picked
with ``FOR UPDATE SKIP LOCKED`` (concurrent claims on one deployable take
different rows instead of queueing behind one another), with the unique
``attach_handle_id`` of ARQs as the backstop. A handle gone from its host's
report while an ARQ held it (``missing_since``) is kept for that ARQ and
never claimed again.
"""

import json

from oslo_db import exception as db_exc
from oslo_utils import timeutils
import sqlalchemy as sa

from cyborg.db import arq_states
from cyborg.db import bulk
from cyborg.db import engine
from cyborg.db import handle_releases
from cyborg.db import models
from cyborg import exception

_AH = models.AttachHandle.__table__
_ARQ = models.ExtendedAcceleratorRequest.__table__
_DEPLOYABLE = models.Deployable.__table__
_DEVICE = models.Device.__table__

# Out of service after a release, until the scrub ends (NULL: in service).
SCRUBBING = 'scrubbing'
SCRUB_FAILED = 'scrub_failed'

# Rounds of "pick a free handle and take it" before giving up. A round only
# fails when every free handle it saw was taken by a concurrent claim.
CLAIM_ROUNDS = 10


def _now():
    return timeutils.utcnow()


def handle_dict(row, hostname):
    """A handle row as the bind and cleanup code passes it around."""
    return {'id': row.id, 'uuid': row.uuid, 'attach_type': row.attach_type,
            'attach_info': json.loads(row.attach_info),
            'deployable_id': row.deployable_id, 'hostname': hostname}


def _hostnames(session, handle_ids):
    """{handle id: hostname of its device}."""
    return dict(session.execute(
        sa.select(_AH.c.id, _DEVICE.c.hostname)
        .select_from(_AH.join(_DEPLOYABLE,
                              _DEPLOYABLE.c.id == _AH.c.deployable_id)
                     .join(_DEVICE, _DEVICE.c.id == _DEPLOYABLE.c.device_id))
        .where(_AH.c.id.in_(list(handle_ids)))).all())


# Reads

@engine.reader
def get_held(context, arq_uuid):
    """The handle the ARQ holds, as a dict (with its device's hostname)."""
    session = context.session
    row = session.execute(
        sa.select(_AH).join(_ARQ, _ARQ.c.attach_handle_id == _AH.c.id)
        .where(_ARQ.c.uuid == arq_uuid)).first()
    if row is None:
        return None
    return handle_dict(row, _hostnames(session, [row.id])[row.id])


@engine.reader
def is_in_use(context, handle_uuid):
    return bool(context.session.execute(
        sa.select(_AH.c.in_use).where(_AH.c.uuid == handle_uuid)
    ).scalar_one_or_none())


# What agents' reports change (inside the report's transaction)

def add(session, rows):
    bulk.insert_rows(session, _AH, rows)


def update(session, changes):
    bulk.update_rows(session, _AH, changes)


def delete_free(session, handle_ids):
    """Delete handles that nothing holds; RowsChanged if one is held now."""
    held_by_arq = sa.exists().where(_ARQ.c.attach_handle_id == _AH.c.id)
    bulk.delete_rows(session, _AH, handle_ids,
                     _AH.c.in_use == sa.false(), ~held_by_arq)


# Claims and releases

def claim_attach_handle(context, arq_id, deployable_id, bind_seq=None,
                        lease_owner=None, bitstream_id=None):
    """Give the ARQ a free attach handle of the deployable; the handle dict.

    Idempotent: an ARQ that already holds a handle of this deployable (a
    bind re-run by recovery) gets that one back. ``bind_seq`` and
    ``lease_owner`` make the claim fail with BindNotOwned when the bind is
    no longer this worker's; ``bitstream_id`` makes it fail with
    DeployableReprogrammed when the deployable no longer holds that
    bitstream. NoFreeAttachHandle when every handle is taken.
    """
    for _round in range(CLAIM_ROUNDS):
        try:
            handle = _claim_once(context, arq_id, deployable_id, bind_seq,
                                 lease_owner, bitstream_id)
        except db_exc.DBDuplicateEntry:
            # The unique attach_handle_id refused a handle already linked
            # to another ARQ: the backstop worked, pick again.
            continue
        if handle is not None:
            return handle
    raise exception.NoFreeAttachHandle(deployable=deployable_id)


@engine.retry_on_contention
@engine.writer
def _claim_once(context, arq_id, deployable_id, bind_seq, lease_owner,
                bitstream_id):
    session = context.session
    # First a write: it checks the bind is still ours and, on SQLite,
    # takes the write lock before anything is read.
    arq = arq_states.check_bind_owned(context, arq_id, bind_seq,
                                      lease_owner)
    if arq['attach_handle_id'] is not None:
        held = session.execute(sa.select(_AH).where(
            _AH.c.id == arq['attach_handle_id'])).first()
        if held.deployable_id == deployable_id:
            return handle_dict(held, _hostnames(session, [held.id])[held.id])
        release(context, [held.id])
        arq_states.unlink_handle(context, arq_id)
    if bitstream_id is not None:
        current = session.execute(
            sa.select(_DEPLOYABLE.c.bitstream_id).where(
                _DEPLOYABLE.c.id == deployable_id)).scalar_one()
        if current != bitstream_id:
            raise exception.DeployableReprogrammed(
                deployable=deployable_id, wanted=bitstream_id,
                current=current)
    candidate = take_free(context, deployable_id, none_free_raises=True)
    if candidate is None:
        return None
    arq_states.link_handle(context, arq_id, candidate['id'], deployable_id)
    return candidate


@engine.writer
def take_free(context, deployable_id, now=None, none_free_raises=False,
              hostname=None):
    """Mark a free handle of the deployable in use; its dict (or None).

    None when every free handle is locked by claims in flight, or when none
    is free and not ``none_free_raises`` (else NoFreeAttachHandle). The
    caller links it to its ARQ in the same transaction. ``hostname`` (of
    the deployable's device), when the caller knows it, saves a query.
    """
    session = context.session
    # SKIP LOCKED: concurrent claims each lock a different free row instead
    # of all waiting for the first one (SQLite renders no FOR UPDATE; it
    # serialises writers anyway). A handle gone from its host's report
    # (missing_since) is kept only for the ARQ that held it; one being
    # scrubbed (or that failed its scrub) still holds the last tenant's
    # state and is skipped, exactly like a handle in use.
    free = [_AH.c.deployable_id == deployable_id, _AH.c.in_use == sa.false(),
            _AH.c.missing_since.is_(None), _AH.c.scrub_state.is_(None)]
    candidate = session.execute(
        sa.select(_AH).where(*free).order_by(_AH.c.id).limit(1)
        .with_for_update(skip_locked=True)).first()
    if candidate is None:
        if not none_free_raises:
            return None
        if not session.execute(sa.select(sa.func.count(_AH.c.id))
                               .where(*free)).scalar_one():
            raise exception.NoFreeAttachHandle(deployable=deployable_id)
        return None  # all free rows are locked by claims in flight
    taken = session.execute(
        sa.update(_AH).where(_AH.c.id == candidate.id,
                             _AH.c.in_use == sa.false())
        .values(in_use=True, updated_at=now or _now())).rowcount
    if taken != 1:
        return None
    if hostname is None:
        hostname = _hostnames(session, [candidate.id])[candidate.id]
    return handle_dict(candidate, hostname)


@engine.writer
def release(context, handle_ids, scrub_policy=None):
    """Let the handles go; their dicts (with their device's hostname).

    Each release gets its audit row (``handle_releases.record``), naming
    the project and instance of the ARQ that held the handle, so the
    caller unlinks them from their ARQs after this call, in the same
    transaction. A handle ``scrub_policy`` (a
    ``scrub_policy.ScrubPolicy``) applies to goes out of service
    (``scrubbing``) instead of back to the free pool: its dict then has
    ``scrub`` True and the ``release_uuid`` of the scrub to run. Without
    a policy every handle is freed at once.
    """
    if not handle_ids:
        return []
    session = context.session
    now = _now()
    rows = session.execute(
        sa.select(_AH, _DEPLOYABLE.c.uuid.label('deployable_uuid'),
                  _DEPLOYABLE.c.driver_name, _DEVICE.c.type.label(
                      'device_type'),
                  _DEVICE.c.id.label('device_id'), _DEVICE.c.hostname,
                  _ARQ.c.project_id, _ARQ.c.instance_uuid)
        .select_from(_AH.join(_DEPLOYABLE,
                              _DEPLOYABLE.c.id == _AH.c.deployable_id)
                     .join(_DEVICE, _DEVICE.c.id == _DEPLOYABLE.c.device_id)
                     .outerjoin(_ARQ, _ARQ.c.attach_handle_id == _AH.c.id))
        .where(_AH.c.id.in_(list(handle_ids))).order_by(_AH.c.id)).all()
    scrubbed = [row.id for row in rows
                if scrub_policy is not None
                and scrub_policy.applies(row.driver_name, row.device_type)]
    session.execute(sa.update(_AH).where(_AH.c.id.in_(list(handle_ids)))
                    .values(in_use=False, updated_at=now))
    if scrubbed:
        session.execute(sa.update(_AH).where(_AH.c.id.in_(scrubbed))
                        .values(scrub_state=SCRUBBING))
    release_uuids = handle_releases.record(session, [
        {'attach_handle_id': row.id, 'attach_handle_uuid': row.uuid,
         'deployable_uuid': row.deployable_uuid, 'device_id': row.device_id,
         'project_id': row.project_id, 'instance_uuid': row.instance_uuid,
         'scrub_driver': row.driver_name if row.id in scrubbed else None}
        for row in rows], now)
    return [dict(handle_dict(row, row.hostname), scrub=row.id in scrubbed,
                 release_uuid=release_uuid)
            for row, release_uuid in zip(rows, release_uuids, strict=True)]


@engine.writer
def end_scrub(context, handle_id, failed=False):
    """``scrubbing`` -> in service, or -> ``scrub_failed`` when ``failed``.

    Joined to ``handle_releases.finish`` by the scrubber, which calls this
    only once it has ended the scrub it leased.
    """
    context.session.execute(
        sa.update(_AH).where(_AH.c.id == handle_id,
                             _AH.c.scrub_state == SCRUBBING)
        .values(scrub_state=SCRUB_FAILED if failed else None,
                updated_at=_now()))


@engine.writer
def clear_scrub_failures(context, device_id):
    """Put the device's ``scrub_failed`` handles back in service; how many.

    An operator enabling the device says they looked at it; the release
    rows keep what failed.
    """
    result = context.session.execute(
        sa.update(_AH).where(
            _AH.c.scrub_state == SCRUB_FAILED,
            _AH.c.deployable_id.in_(
                sa.select(_DEPLOYABLE.c.id)
                .where(_DEPLOYABLE.c.device_id == device_id)))
        .values(scrub_state=None, updated_at=_now()))
    return result.rowcount


@engine.reader
def get_scrub_target(context, handle_id):
    """What a scrub of the handle needs: the handle's dict plus
    ``scrub_state``, ``device_id``, ``driver_name`` and ``hostname``, or
    None when a report removed the handle meanwhile."""
    row = context.session.execute(
        sa.select(_AH, _DEPLOYABLE.c.driver_name,
                  _DEVICE.c.id.label('device_id'), _DEVICE.c.hostname)
        .select_from(_AH.join(_DEPLOYABLE,
                              _DEPLOYABLE.c.id == _AH.c.deployable_id)
                     .join(_DEVICE, _DEVICE.c.id == _DEPLOYABLE.c.device_id))
        .where(_AH.c.id == handle_id)).first()
    if row is None:
        return None
    return dict(handle_dict(row, row.hostname), scrub_state=row.scrub_state,
                device_id=row.device_id, driver_name=row.driver_name)
