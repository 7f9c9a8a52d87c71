"""What the Placement sync reads from and writes to the DB.

The sync derives each deployable's wanted provider from its row, its traits
and its device's status (maintenance reserves the inventory), and records
the digest of what it wrote with a compare-and-swap. Device enable/disable
lives here too: the status is only ever set to be mirrored into Placement.
"""

import dataclasses

from oslo_utils import timeutils
import sqlalchemy as sa

from cyborg.db import engine
from cyborg.db import models
from cyborg import exception


@dataclasses.dataclass(frozen=True)
class ProviderState:
    """What Placement should show for one deployable, as the DB says."""

    deployable_id: int
    name: str
    resource_class: str
    num_accelerators: int
    traits: tuple
    device_id: int
    device_status: str
    missing: bool
    placement_digest: str
    # What cyborg last programmed into it (see cyborg.db.fpga_programming).
    driver_name: str = None
    function_id: str = None


@engine.writer
def set_device_status(context, device_uuid, status):
    """Set a device's status; return {id, uuid, hostname, status}."""
    if status not in models.DEVICE_STATUSES:
        raise exception.Invalid(reason='device status must be one of %s'
                                       % ', '.join(models.DEVICE_STATUSES))
    table = models.Device.__table__
    session = context.session
    row = session.execute(sa.select(table.c.id, table.c.hostname)
                          .where(table.c.uuid == device_uuid)).first()
    if row is None:
        raise exception.DeviceNotFound(uuid=device_uuid)
    session.execute(sa.update(table).where(table.c.id == row.id)
                    .values(status=status, updated_at=timeutils.utcnow()))
    return {'id': row.id, 'uuid': device_uuid, 'hostname': row.hostname,
            'status': status}


@engine.reader
def list_provider_states(context, hostname, device_id=None,
                         deployable_ids=None):
    """The wanted provider state of the host's deployables (two queries).

    Deployables without a resource class are included (their provider, if
    any, must go); filter by device or by deployable ids when given.
    """
    dep, dev = models.Deployable.__table__, models.Device.__table__
    trait = models.DeployableTrait.__table__
    conditions = [dev.c.hostname == hostname]
    if device_id is not None:
        conditions.append(dev.c.id == device_id)
    if deployable_ids is not None:
        conditions.append(dep.c.id.in_(sorted(deployable_ids)))
    joined = dep.join(dev, dep.c.device_id == dev.c.id)
    session = context.session
    traits = {}
    for row in session.execute(
            sa.select(trait.c.deployable_id, trait.c.trait)
            .select_from(trait.join(joined, trait.c.deployable_id == dep.c.id))
            .where(*conditions)):
        traits.setdefault(row.deployable_id, []).append(row.trait)
    states = []
    for row in session.execute(
            sa.select(dep.c.id, dep.c.name, dep.c.resource_class,
                      dep.c.num_accelerators, dep.c.placement_digest,
                      dep.c.missing_since, dep.c.driver_name,
                      dep.c.function_id, dev.c.id.label('device_id'),
                      dev.c.status)
            .select_from(joined).where(*conditions).order_by(dep.c.name)):
        states.append(ProviderState(
            deployable_id=row.id, name=row.name,
            resource_class=row.resource_class,
            num_accelerators=row.num_accelerators,
            traits=tuple(sorted(traits.get(row.id, ()))),
            device_id=row.device_id, device_status=row.status,
            missing=row.missing_since is not None,
            placement_digest=row.placement_digest,
            driver_name=row.driver_name, function_id=row.function_id))
    return states


@engine.writer
def set_placement_digest(context, deployable_id, expected, digest):
    """CAS the deployable's placement_digest from ``expected`` to ``digest``.

    False when someone else wrote Placement for it meanwhile (or it is
    gone): the caller re-reads and syncs again.
    """
    table = models.Deployable.__table__
    column = table.c.placement_digest
    match = column.is_(None) if expected is None else column == expected
    result = context.session.execute(
        sa.update(table).where(table.c.id == deployable_id, match)
        .values(placement_digest=digest))
    return result.rowcount == 1
