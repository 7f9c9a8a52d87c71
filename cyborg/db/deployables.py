"""The deployables table (and its traits): every write, and the reads.

A deployable is a schedulable unit of a device: one Placement provider.
Its rows are written by agents' reports (:func:`add`, :func:`update`,
:func:`delete_unheld` and the trait functions, called by
``host_reports``), by the Placement sync (:func:`set_placement_digest`,
a compare-and-swap on what was last written to Placement) and by FPGA
programming (the programming lease and :func:`record_bitstream`, so that
what a region runs is known to the DB and the sync rebuilds the
function-id trait from it).

The API shows upstream's ``attributes_list``: a list of single-key maps,
one per attribute row of the deployable (``{"rc": ...}``,
``{"trait0": ...}``, .. and the free-form ones; see ``attributes.py`` for
what the conductor records). It is built from those rows alone, so it and
``GET /v2/attributes`` cannot disagree: one query for the deployables and
one for their attributes, whatever the page size.
"""

import collections
import dataclasses

from oslo_utils import timeutils
import sqlalchemy as sa

from cyborg.db import agent_hosts
from cyborg.db import attributes
from cyborg.db import bulk
from cyborg.db import devices
from cyborg.db import engine
from cyborg.db import models
from cyborg.db import pagination
from cyborg import exception

_DEPLOYABLE = models.Deployable
_ATTRIBUTE = models.Attribute
_DEP = models.Deployable.__table__
_DEV = models.Device.__table__
_TRAIT = models.DeployableTrait.__table__
_ARQ = models.ExtendedAcceleratorRequest.__table__
_AGENT_HOST = models.AgentHost.__table__
_AH = models.AttachHandle.__table__

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


@engine.reader
def list_of_device(context, device_id):
    """A device's deployables, as the plain columns of their rows."""
    rows = context.session.execute(
        sa.select(_DEP).where(_DEP.c.device_id == device_id)
        .order_by(_DEP.c.id)).all()
    return [dict(row._mapping) for row in rows]


@engine.reader
def bind_targets(context, rp_uuids):
    """{provider uuid: (hostname, {names a bind may give the host by})}.

    For the deployables behind the given providers: the compute node name
    their device carries, and the agent's RPC name (nova-compute's
    ``[DEFAULT] host`` is usually one of the two).
    """
    targets = {}
    for rp_uuid, hostname, rpc_host in context.session.execute(
            sa.select(_DEP.c.rp_uuid, _DEV.c.hostname,
                      _AGENT_HOST.c.rpc_host)
            .select_from(_DEP.join(_DEV, _DEV.c.id == _DEP.c.device_id)
                         .outerjoin(_AGENT_HOST,
                                    _AGENT_HOST.c.hostname == _DEV.c.hostname))
            .where(_DEP.c.rp_uuid.in_(sorted(rp_uuids)))):
        targets[rp_uuid] = (hostname, {hostname, rpc_host} - {None})
    return targets


@engine.reader
def get_for_programming(context, deployable_uuid):
    """(deployable dict, its device's control paths, its agent's RPC host)."""
    row = context.session.execute(
        sa.select(_DEP, _DEV.c.hostname.label('device_hostname'),
                  _AGENT_HOST.c.rpc_host.label('device_rpc_host'))
        .select_from(_DEP.join(_DEV, _DEV.c.id == _DEP.c.device_id)
                     .outerjoin(_AGENT_HOST,
                                _AGENT_HOST.c.hostname == _DEV.c.hostname))
        .where(_DEP.c.uuid == deployable_uuid)).first()
    if row is None:
        raise exception.DeployableNotFound(ident=deployable_uuid)
    deployable = {column.name: row._mapping[column]
                  for column in _DEP.c}
    return (deployable,
            devices.controlpaths(context, deployable['device_id']),
            agent_hosts.rpc_host_of(row.device_hostname, row.device_rpc_host))


# What agents' reports change (inside the report's transaction)

def add(session, rows):
    """Insert deployables; {uuid: id}."""
    return bulk.insert_rows(session, _DEP, rows)


def update(session, changes):
    bulk.update_rows(session, _DEP, changes)


def delete_unheld(session, deployable_ids):
    """Delete deployables no ARQ names; RowsChanged if one is named now."""
    held = sa.exists().where(_ARQ.c.deployable_id == _DEP.c.id)
    bulk.delete_rows(session, _DEP, deployable_ids, ~held)


def add_traits(session, rows):
    bulk.insert_rows(session, _TRAIT, rows)


def delete_traits(session, trait_ids):
    bulk.delete_rows(session, _TRAIT, trait_ids)


# What the Placement sync reads and records

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
    # What the device's agent last said of it (see devices.set_health).
    device_health: str = 'healthy'
    # Why one of its functions failed its scrub, until an operator
    # enables the device again (see devices.set_scrub_failure).
    device_scrub_failure: str = None
    # What cyborg last programmed into it (see record_bitstream).
    driver_name: str = None
    function_id: str = None
    # Attach handles released but not yet back in service (scrubbing or
    # scrub_failed): Placement reserves them.
    handles_out_of_service: int = 0

@engine.reader
def list_provider_states(context, hostname, device_id=None,
                         deployable_ids=None):
    """The wanted provider state of the host's deployables (two queries).

    Deployables without a resource class are included (their provider, if
    any, must go); filter by device or by deployable ids when given.
    """
    dep, dev, trait = _DEP, _DEV, _TRAIT
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
    out_of_service = (
        sa.select(sa.func.count(_AH.c.id))
        .where(_AH.c.deployable_id == dep.c.id,
               _AH.c.scrub_state.isnot(None))
        .correlate(dep).scalar_subquery())
    states = []
    for row in session.execute(
            sa.select(dep.c.id, dep.c.name, dep.c.resource_class,
                      dep.c.num_accelerators, dep.c.placement_digest,
                      dep.c.missing_since, dep.c.driver_name,
                      dep.c.function_id, dev.c.id.label('device_id'),
                      dev.c.status, dev.c.health, dev.c.scrub_failure,
                      out_of_service.label('handles_out_of_service'))
            .select_from(joined).where(*conditions).order_by(dep.c.name)):
        states.append(ProviderState(
            deployable_id=row.id, name=row.name,
            resource_class=row.resource_class,
            num_accelerators=row.num_accelerators,
            traits=tuple(sorted(traits.get(row.id, ()))),
            device_id=row.device_id, device_status=row.status,
            device_health=row.health,
            device_scrub_failure=row.scrub_failure,
            missing=row.missing_since is not None,
            placement_digest=row.placement_digest,
            driver_name=row.driver_name, function_id=row.function_id,
            handles_out_of_service=row.handles_out_of_service))
    return states


@engine.writer
def set_placement_digest(context, deployable_id, expected, digest):
    """CAS the deployable's placement_digest from ``expected`` to ``digest``.

    False when someone else wrote Placement for it meanwhile (or it is
    gone): the caller re-reads and syncs again.
    """
    table = _DEP
    column = table.c.placement_digest
    match = column.is_(None) if expected is None else column == expected
    result = context.session.execute(
        sa.update(table).where(table.c.id == deployable_id, match)
        .values(placement_digest=digest))
    return result.rowcount == 1


# FPGA programming: the lease, and the record of what a region runs.
#
# Programming a deployable takes its programming lease, a compare-and-swap
# on program_lease_owner / program_lease_expires_at: of two binds (or an
# admin request) that want to program one deployable, one holds the lease
# and the other waits for it, so no two programmings of one region ever
# overlap, whichever conductors run them. The holder keeps the lease until
# its ARQ holds an attach handle: the next holder then sees the deployable
# in use and does not reprogram it from under that ARQ.

@engine.retry_on_contention
@engine.writer
def acquire_program_lease(context, deployable_id, owner, expires_at,
                          now=None):
    """Take the deployable's programming lease until ``expires_at``.

    Succeeds when nobody holds a live lease (or ``owner`` already does);
    returns the deployable as a dict, read after the lease was taken, or
    None when someone else holds it.
    """
    now = now or timeutils.utcnow()
    columns = _DEP.c
    taken = context.session.execute(
        sa.update(_DEP).where(
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
        sa.select(_DEP).where(columns.id == deployable_id)).first()
    return dict(row._mapping)


@engine.retry_on_contention
@engine.writer
def release_program_lease(context, deployable_id, owner):
    """Give the lease back; False when it was not ``owner``'s any more."""
    columns = _DEP.c
    return context.session.execute(
        sa.update(_DEP).where(columns.id == deployable_id,
                                     columns.program_lease_owner == owner)
        .values(program_lease_owner=None,
                program_lease_expires_at=None)).rowcount == 1


@engine.retry_on_contention
@engine.writer
def record_bitstream(context, deployable_id, image_uuid, function_id=None,
                     lease_owner=None):
    """Remember what the deployable holds now (after programming it).

    With ``lease_owner``, only while that owner holds the programming
    lease; returns whether the record was written. The stored Placement
    digest is cleared: the provider's function trait must be rewritten,
    and a sync that read the old record cannot claim to be current.
    """
    columns = _DEP.c
    guard = [columns.id == deployable_id]
    if lease_owner is not None:
        guard.append(columns.program_lease_owner == lease_owner)
    return context.session.execute(
        sa.update(_DEP).where(*guard).values(
            bitstream_id=image_uuid, function_id=function_id,
            placement_digest=None, updated_at=timeutils.utcnow())
    ).rowcount == 1


# What the explain API reads (cyborg.conductor.explain): the deployables of
# one resource class with the traits a request group asks for and none it
# forbids, and the counts that say which of those conditions left none.

@dataclasses.dataclass(frozen=True)
class ExplainState(ProviderState):
    """A ProviderState, with what an operator asking "why?" needs too."""

    uuid: str = None
    rp_uuid: str = None
    hostname: str = None
    # ARQs holding one of its accelerators (our records, not Placement's).
    used: int = 0
    # Its released attach handles by scrub state (see scrubbing.py).
    handles_scrubbing: int = 0
    handles_scrub_failed: int = 0


def _has_trait(trait_name):
    return sa.exists().where(_TRAIT.c.deployable_id == _DEP.c.id,
                             _TRAIT.c.trait == trait_name)


def _group_conditions(resource_class, required_traits, forbidden_traits):
    return ([_DEP.c.resource_class == resource_class]
            + [_has_trait(name) for name in sorted(required_traits)]
            + [~_has_trait(name) for name in sorted(forbidden_traits)])


def _count(session, *conditions):
    return session.execute(sa.select(sa.func.count(_DEP.c.id))
                           .where(*conditions)).scalar()


@dataclasses.dataclass(frozen=True)
class TraitCounts:
    """How many deployables pass each condition of a request group."""

    with_class: int
    # {trait: deployables of any resource class having it}
    required_anywhere: dict
    # {trait: deployables of the group's resource class having it}
    required_with_class: dict
    # Deployables of the class having every required trait.
    with_required: int
    # {trait: deployables of the class with every required trait that
    #  have this forbidden one}
    forbidden_hits: dict


@engine.reader
def count_explain_matches(context, resource_class, required_traits=(),
                          forbidden_traits=()):
    """The TraitCounts of a request group (a few COUNT queries)."""
    session = context.session
    of_class = _DEP.c.resource_class == resource_class
    with_required = _group_conditions(resource_class, required_traits, ())
    return TraitCounts(
        with_class=_count(session, of_class),
        required_anywhere={name: _count(session, _has_trait(name))
                           for name in sorted(required_traits)},
        required_with_class={name: _count(session, of_class,
                                          _has_trait(name))
                             for name in sorted(required_traits)},
        with_required=_count(session, *with_required),
        forbidden_hits={name: _count(session, *with_required,
                                     _has_trait(name))
                        for name in sorted(forbidden_traits)})


@engine.reader
def list_explain_states(context, resource_class, required_traits=(),
                        forbidden_traits=()):
    """ExplainStates of the deployables a request group matches.

    Those of ``resource_class`` having every required trait and no
    forbidden one, filtered in SQL, ordered by host then name (three
    queries whatever their number).
    """
    conditions = _group_conditions(resource_class, required_traits,
                                   forbidden_traits)
    session = context.session

    def handles(*where):
        return (sa.select(sa.func.count(_AH.c.id))
                .where(_AH.c.deployable_id == _DEP.c.id, *where)
                .correlate(_DEP).scalar_subquery())

    used = (sa.select(sa.func.count(_ARQ.c.id))
            .where(_ARQ.c.deployable_id == _DEP.c.id)
            .correlate(_DEP).scalar_subquery())
    rows = session.execute(
        sa.select(_DEP.c.id, _DEP.c.uuid, _DEP.c.name, _DEP.c.rp_uuid,
                  _DEP.c.resource_class, _DEP.c.num_accelerators,
                  _DEP.c.placement_digest, _DEP.c.missing_since,
                  _DEP.c.driver_name, _DEP.c.function_id,
                  _DEV.c.id.label('device_id'), _DEV.c.hostname,
                  _DEV.c.status, _DEV.c.health, _DEV.c.scrub_failure,
                  used.label('used'),
                  handles(_AH.c.scrub_state == 'scrubbing').label(
                      'handles_scrubbing'),
                  handles(_AH.c.scrub_state == 'scrub_failed').label(
                      'handles_scrub_failed'))
        .select_from(_DEP.join(_DEV, _DEP.c.device_id == _DEV.c.id))
        .where(*conditions)
        .order_by(_DEV.c.hostname, _DEP.c.name)).all()
    traits = collections.defaultdict(list)
    for chunk in _chunks([row.id for row in rows]):
        for row in session.execute(
                sa.select(_TRAIT.c.deployable_id, _TRAIT.c.trait)
                .where(_TRAIT.c.deployable_id.in_(chunk))):
            traits[row.deployable_id].append(row.trait)
    return [ExplainState(
        deployable_id=row.id, name=row.name,
        resource_class=row.resource_class,
        num_accelerators=row.num_accelerators,
        traits=tuple(sorted(traits[row.id])), device_id=row.device_id,
        device_status=row.status, missing=row.missing_since is not None,
        placement_digest=row.placement_digest, device_health=row.health,
        device_scrub_failure=row.scrub_failure,
        driver_name=row.driver_name, function_id=row.function_id,
        handles_out_of_service=(row.handles_scrubbing
                                + row.handles_scrub_failed),
        uuid=row.uuid, rp_uuid=row.rp_uuid, hostname=row.hostname,
        used=row.used, handles_scrubbing=row.handles_scrubbing,
        handles_scrub_failed=row.handles_scrub_failed) for row in rows]
