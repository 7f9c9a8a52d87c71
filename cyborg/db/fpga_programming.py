"""Data access for FPGA programming: the lease and the record of what is loaded.

Programming a deployable takes its programming lease, a compare-and-swap on
``deployables.program_lease_owner`` / ``program_lease_expires_at``: of two
binds (or an admin request) that want to program one deployable, one holds
the lease and the other waits for it, so no two programmings of one region
ever overlap, whichever conductors run them. The holder keeps the lease
until its ARQ holds an attach handle: the next holder then sees the
deployable in use and does not reprogram it from under that ARQ.

What was programmed is recorded on the deployable (``bitstream_id``,
``function_id``) by the lease holder only; the Placement sync rebuilds the
provider's function-id trait from it.
"""

from oslo_utils import timeutils
import sqlalchemy as sa

from cyborg.db import bindings
from cyborg.db import engine
from cyborg.db import models

_DEPLOYABLE = models.Deployable.__table__


@bindings.retry_on_contention
@engine.writer
def acquire_program_lease(context, deployable_id, owner, expires_at,
                          now=None):
    """Take the deployable's programming lease until ``expires_at``.

    Succeeds when nobody holds a live lease (or ``owner`` already does);
    returns the deployable as a dict, read after the lease was taken, or
    None when someone else holds it.
    """
    now = now or timeutils.utcnow()
    columns = _DEPLOYABLE.c
    taken = context.session.execute(
        sa.update(_DEPLOYABLE).where(
            columns.id == deployable_id,
            sa.or_(columns.program_lease_owner.is_(None),
                   columns.program_lease_owner == owner,
                   columns.program_lease_expires_at.is_(None),
                   columns.program_lease_expires_at < now))
        .values(program_lease_owner=owner,
                program_lease_expires_at=expires_at)).rowcount
    if taken != 1:
        return None
    row = context.session.execute(
        sa.select(_DEPLOYABLE).where(columns.id == deployable_id)).first()
    return dict(row._mapping)


@bindings.retry_on_contention
@engine.writer
def release_program_lease(context, deployable_id, owner):
    """Give the lease back; False when it was not ``owner``'s any more."""
    columns = _DEPLOYABLE.c
    return context.session.execute(
        sa.update(_DEPLOYABLE).where(columns.id == deployable_id,
                                     columns.program_lease_owner == owner)
        .values(program_lease_owner=None,
                program_lease_expires_at=None)).rowcount == 1


@bindings.retry_on_contention
@engine.writer
def record_bitstream(context, deployable_id, image_uuid, function_id=None,
                     lease_owner=None):
    """Remember what the deployable holds now (after programming it).

    With ``lease_owner``, only while that owner holds the programming
    lease; returns whether the record was written. The stored Placement
    digest is cleared: the provider's function trait must be rewritten,
    and a sync that read the old record cannot claim to be current.
    """
    columns = _DEPLOYABLE.c
    guard = [columns.id == deployable_id]
    if lease_owner is not None:
        guard.append(columns.program_lease_owner == lease_owner)
    return context.session.execute(
        sa.update(_DEPLOYABLE).where(*guard).values(
            bitstream_id=image_uuid, function_id=function_id,
            placement_digest=None, updated_at=timeutils.utcnow())
    ).rowcount == 1
