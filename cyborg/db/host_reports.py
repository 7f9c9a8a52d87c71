"""Applying an agent's report to the DB: a host's devices as a diff.

``apply_report`` turns a host's full report (already validated by the
conductor, see ``cyborg.conductor.reports``) into the smallest set of row
changes, in ONE writer transaction and a bounded number of statements
whatever the size of the host: the host's rows are loaded with a few joined
queries, the diff is computed in memory, and inserts, updates and deletes
are issued in bulk per table, through each table's owner module
(``devices``, ``deployables``, ``attributes``, ``attach_handles``,
``agent_hosts``); this module writes no table itself.

Identities: a device is its host plus the canonical JSON of its control
path; a deployable is its (globally unique) name; an attach handle is its
deployable plus the function its attach info names
(``discovery.handle_identity``: labels such as a NIC's physnet are left
out, so a changed label updates the handle in place); an attribute is its
key; a trait is its value.

A deployable's resource class and traits are stored twice, on purpose: in
the ``resource_class`` column and the ``deployable_traits`` table, which the
Placement sync reads, and as the attribute rows ``rc`` and ``trait0`` ..
``traitN-1`` (traits in name order) next to the driver's own attributes,
which the API shows (see ``attributes.py``). Both are written from the
same report in the same transaction, so they cannot drift; a changed trait
set renumbers the ``trait<N>`` rows by updating values in place, adding or
deleting only the tail.

A deployable that vanished from the report while an ARQ still holds it (the
ARQ names it, or one of its handles, or a handle is marked in use) is not
deleted: it and its device get ``missing_since`` and keep their rows, so the
binding and its Placement allocation survive. A later report deletes it once
nothing holds it; a report in which it is back clears ``missing_since``.
An attach handle that vanished while its deployable stays (a VF count
lowered) follows the same rule on its own row: kept with
``missing_since`` while held, and never claimed by a bind again.

The same transaction records the host in ``agent_hosts`` (see
``agent_hosts.py``); what the Placement sync reads back is
``deployables.list_provider_states``.
"""

import dataclasses
import json
import uuid as uuidlib

from oslo_utils import timeutils
import sqlalchemy as sa

from cyborg.accelerator import discovery
from cyborg.db import agent_hosts
from cyborg.db import attach_handles
from cyborg.db import attributes
from cyborg.db import bulk
from cyborg.db import deployables
from cyborg.db import devices as devices_db
from cyborg.db import engine
from cyborg.db import models
from cyborg import exception


@dataclasses.dataclass
class ReportOutcome:
    """What applying a report changed, by deployable name.

    ``devices_created`` and ``devices_deleted`` are the devices that came
    and went, as device dicts each with its ``deployables`` (dicts of the
    deployables' columns), for the conductor's notifications.
    """

    created: list = dataclasses.field(default_factory=list)
    updated: list = dataclasses.field(default_factory=list)
    deleted: list = dataclasses.field(default_factory=list)
    missing: list = dataclasses.field(default_factory=list)
    # Providers of deleted deployables, for the Placement sync to delete.
    deleted_providers: list = dataclasses.field(default_factory=list)
    devices_created: list = dataclasses.field(default_factory=list)
    devices_deleted: list = dataclasses.field(default_factory=list)

    # The fields the agent is told the size of (report_data's answer).
    SUMMARY_FIELDS = ('created', 'updated', 'deleted', 'missing')

    def summary(self):
        return {key: len(getattr(self, key)) for key in self.SUMMARY_FIELDS}


def _cpid_key(cpid_type, info):
    if isinstance(info, str):
        info = json.loads(info)
    return cpid_type, discovery.canonical_json(info)


def _canonical_info(info_json):
    """Stored JSON in the one canonical spelling (rows may predate it)."""
    return discovery.canonical_json(json.loads(info_json))


def _handle_key(info_json):
    """The identity of a stored attach info (rows may predate canonical
    spelling)."""
    return discovery.handle_identity(json.loads(info_json))


# Loading a host's rows ----------------------------------------------------

@dataclasses.dataclass
class _HostRows:
    devices: dict        # device id -> row
    cpids: dict          # (cpid_type, canonical info) -> row
    cpid_of_device: dict  # device id -> cpid row id
    deployables: dict    # name -> row
    traits: dict         # deployable id -> {trait: row id}
    attributes: dict     # deployable id -> {key: row}
    handles: dict        # deployable id -> {handle identity: row}


def _load_host_rows(session, hostname):
    """All rows of the host's devices, with one query per table."""
    dev, cp, dep = (models.Device.__table__, models.ControlpathID.__table__,
                    models.Deployable.__table__)
    trait, attr, ah = (models.DeployableTrait.__table__,
                       models.Attribute.__table__,
                       models.AttachHandle.__table__)
    on_host = dev.c.hostname == hostname
    rows = _HostRows({}, {}, {}, {}, {}, {}, {})
    for row in session.execute(sa.select(dev).where(on_host)):
        rows.devices[row.id] = row
    for row in session.execute(
            sa.select(cp).join(dev, cp.c.device_id == dev.c.id)
            .where(on_host).order_by(cp.c.id)):
        rows.cpids[_cpid_key(row.cpid_type, row.cpid_info)] = row
        rows.cpid_of_device.setdefault(row.device_id, row.id)
    dep_join = dep.join(dev, dep.c.device_id == dev.c.id)
    for row in session.execute(sa.select(dep).select_from(dep_join)
                               .where(on_host)):
        rows.deployables[row.name] = row
    for row in session.execute(
            sa.select(trait).select_from(
                trait.join(dep, trait.c.deployable_id == dep.c.id)
                .join(dev, dep.c.device_id == dev.c.id)).where(on_host)):
        rows.traits.setdefault(row.deployable_id, {})[row.trait] = row.id
    for row in session.execute(
            sa.select(attr).select_from(
                attr.join(dep, attr.c.deployable_id == dep.c.id)
                .join(dev, dep.c.device_id == dev.c.id)).where(on_host)):
        rows.attributes.setdefault(row.deployable_id, {})[row.key] = row
    for row in session.execute(
            sa.select(ah).select_from(
                ah.join(dep, ah.c.deployable_id == dep.c.id)
                .join(dev, dep.c.device_id == dev.c.id)).where(on_host)):
        rows.handles.setdefault(row.deployable_id, {})[
            _handle_key(row.attach_info)] = row
    return rows


def _names_owned_elsewhere(session, hostname, names):
    """{deployable name: other host} for report names another host owns."""
    if not names:
        return {}
    dep, dev = models.Deployable.__table__, models.Device.__table__
    query = (sa.select(dep.c.name, dev.c.hostname)
             .select_from(dep.join(dev, dep.c.device_id == dev.c.id))
             .where(dep.c.name.in_(sorted(names)))
             .where(dev.c.hostname != hostname))
    return {row.name: row.hostname for row in session.execute(query)}


def _held(session, deployable_ids, handle_ids):
    """(deployable ids, handle ids) that some ARQ holds, among those given."""
    if not deployable_ids and not handle_ids:
        return set(), set()
    arq = models.ExtendedAcceleratorRequest.__table__
    query = sa.select(arq.c.deployable_id, arq.c.attach_handle_id).where(
        sa.or_(arq.c.deployable_id.in_(sorted(deployable_ids)),
               arq.c.attach_handle_id.in_(sorted(handle_ids))))
    held_deps, held_handles = set(), set()
    for row in session.execute(query):
        held_deps.add(row.deployable_id)
        held_handles.add(row.attach_handle_id)
    return held_deps, held_handles


# The diff -------------------------------------------------------------------

@engine.writer
def apply_report(context, hostname, rpc_host, compute_rp_uuid, usable,
                 fingerprint, provider_uuids, agent_rpc_version=None):
    """Make the DB say what the host's report says; return a ReportOutcome.

    ``usable`` are the report's non-stub ``discovery.Device`` objects, as
    the conductor validated them; ``provider_uuids`` maps each deployable
    name with a resource class to its Placement provider's uuid;
    ``agent_rpc_version`` is recorded with the host. Raises
    InvalidReport (nothing written) when a deployable name belongs to
    another host, and ReportConflict when a row changed under us (the
    caller retries).
    """
    session = context.session
    report_names = {dep.name for device in usable
                    for dep in device.deployables}
    taken = _names_owned_elsewhere(session, hostname, report_names)
    if taken:
        name = sorted(taken)[0]
        raise exception.InvalidReport(
            hostname=hostname,
            reason='deployable name %s belongs to host %s'
                   % (name, taken[name]))

    rows = _load_host_rows(session, hostname)
    outcome = ReportOutcome()
    now = timeutils.utcnow()
    try:
        device_ids = _sync_devices(session, hostname, usable, rows, outcome)
        present = _sync_deployables(session, usable, device_ids, rows,
                                    outcome, now, provider_uuids)
        _remove_absent(session, rows, present, device_ids, outcome, now)
    except bulk.RowsChanged:
        # Raised out of the writer: everything above is rolled back.
        raise exception.ReportConflict(hostname=hostname)
    agent_hosts.record_report(context, hostname, rpc_host, compute_rp_uuid,
                              fingerprint, now,
                              agent_rpc_version=agent_rpc_version)
    return outcome


def _sync_devices(session, hostname, usable, rows, outcome):
    """Insert/update devices and control paths.

    Returns {cpid key: (device id, cpid id)} for every reported device;
    new devices go to ``outcome.devices_created``.
    """
    new_devices, new_cpids, device_changes = [], [], {}
    ids = {}
    for device in usable:
        key = _cpid_key(device.controlpath.cpid_type, device.controlpath.info)
        fields = {'type': device.type, 'vendor': device.vendor,
                  'model': device.model,
                  'std_board_info': device.std_board_info,
                  'vendor_board_info': device.vendor_board_info}
        cpid = rows.cpids.get(key)
        if cpid is None:
            dev_uuid = str(uuidlib.uuid4())
            new_devices.append(dict(fields, uuid=dev_uuid, hostname=hostname,
                                    status='enabled'))
            new_cpids.append({'uuid': str(uuidlib.uuid4()),
                              'cpid_type': key[0], 'cpid_info': key[1],
                              '_device_uuid': dev_uuid, '_key': key})
            continue
        current = rows.devices[cpid.device_id]
        changes = {k: v for k, v in fields.items()
                   if getattr(current, k) != v}
        if current.missing_since is not None:
            changes['missing_since'] = None
        device_changes[current.id] = changes
        ids[key] = (current.id, cpid.id)

    device_id_by_uuid = devices_db.add(session, new_devices)
    outcome.devices_created.extend(
        dict(row, id=device_id_by_uuid[row['uuid']], deployables=[])
        for row in new_devices)
    for cpid in new_cpids:
        cpid['device_id'] = device_id_by_uuid[cpid.pop('_device_uuid')]
    keys = {cpid['uuid']: (cpid.pop('_key'), cpid['device_id'])
            for cpid in new_cpids}
    for cpid_uuid, cpid_id in devices_db.add_controlpaths(
            session, new_cpids).items():
        key, device_id = keys[cpid_uuid]
        ids[key] = (device_id, cpid_id)
    devices_db.update(session, device_changes)
    return ids


def _sync_deployables(session, usable, device_ids, rows, outcome, now,
                      provider_uuids):
    """Insert/update deployables and their traits, attributes and handles.

    Returns the names of the deployables in the report.
    """
    new_deps, dep_changes, wanted = [], {}, []
    for device in usable:
        key = _cpid_key(device.controlpath.cpid_type, device.controlpath.info)
        device_id, cpid_id = device_ids[key]
        for dep in device.deployables:
            fields = {'num_accelerators': dep.num_accelerators,
                      'driver_name': dep.driver_name,
                      'resource_class': dep.resource_class,
                      'rp_uuid': provider_uuids.get(dep.name),
                      'device_id': device_id}
            current = rows.deployables.get(dep.name)
            if current is None:
                new_deps.append(dict(fields, uuid=str(uuidlib.uuid4()),
                                     name=dep.name))
                outcome.created.append(dep.name)
            else:
                changes = {k: v for k, v in fields.items()
                           if getattr(current, k) != v}
                if current.missing_since is not None:
                    changes['missing_since'] = None
                dep_changes[current.id] = changes
            wanted.append((dep, cpid_id))

    dep_ids = {name: row.id for name, row in rows.deployables.items()}
    by_uuid = deployables.add(session, new_deps)
    created_devices = {device['id']: device
                       for device in outcome.devices_created}
    for row in new_deps:
        if row['device_id'] in created_devices:
            created_devices[row['device_id']]['deployables'].append(row)
    dep_ids.update((row['name'], by_uuid[row['uuid']]) for row in new_deps)
    deployables.update(session, dep_changes)

    children_changed = _sync_deployable_children(session, wanted, dep_ids,
                                                 rows, now)
    for dep, _cpid in wanted:
        dep_id = dep_ids[dep.name]
        if dep.name not in outcome.created and (
                dep_changes.get(dep_id) or dep_id in children_changed):
            outcome.updated.append(dep.name)
    return {dep.name for dep, _cpid in wanted}


def _sync_deployable_children(session, wanted, dep_ids, rows, now):
    """Diff traits, attributes and attach handles of reported deployables.

    Returns the ids of deployables whose children changed.
    """
    changed = set()
    new_traits, gone_traits = [], []
    new_attrs, attr_changes, gone_attrs = [], {}, []
    new_handles, handle_changes, gone_handles = [], {}, {}
    for dep, cpid_id in wanted:
        dep_id = dep_ids[dep.name]
        have = rows.traits.get(dep_id, {})
        for trait in sorted(set(dep.traits) - set(have)):
            new_traits.append({'deployable_id': dep_id, 'trait': trait})
            changed.add(dep_id)
        for trait in set(have) - set(dep.traits):
            gone_traits.append(have[trait])
            changed.add(dep_id)

        have = rows.attributes.get(dep_id, {})
        recorded = attributes.recorded_attributes(
            dep.resource_class, dep.traits, dep.attributes)
        for key, value in recorded.items():
            if key not in have:
                new_attrs.append({'uuid': str(uuidlib.uuid4()),
                                  'deployable_id': dep_id, 'key': key,
                                  'value': value})
                changed.add(dep_id)
            elif have[key].value != value:
                attr_changes[have[key].id] = {'value': value}
                changed.add(dep_id)
        for key in set(have) - set(recorded):
            gone_attrs.append(have[key].id)
            changed.add(dep_id)

        have = rows.handles.get(dep_id, {})
        reported = {}
        for handle in dep.attach_handles:
            info = discovery.canonical_json(handle.info)
            identity = discovery.handle_identity(handle.info)
            reported[identity] = handle
            current = have.get(identity)
            if current is None:
                new_handles.append({'uuid': str(uuidlib.uuid4()),
                                    'deployable_id': dep_id,
                                    'cpid_id': cpid_id, 'in_use': False,
                                    'attach_type': handle.attach_type,
                                    'attach_info': info})
                changed.add(dep_id)
                continue
            changes = {}
            if current.attach_type != handle.attach_type:
                changes['attach_type'] = handle.attach_type
            if current.cpid_id != cpid_id:
                changes['cpid_id'] = cpid_id
            if _canonical_info(current.attach_info) != info:
                # A label changed (a NIC's physnet): same function, new info.
                changes['attach_info'] = info
            if current.missing_since is not None:
                changes['missing_since'] = None
            if changes:
                handle_changes[current.id] = changes
                changed.add(dep_id)
        for identity, current in have.items():
            if identity not in reported:
                gone_handles[current.id] = current
                if current.cpid_id != cpid_id:
                    # If it is kept (held), it must follow its deployable
                    # off a control path that may be deleted.
                    handle_changes[current.id] = {'cpid_id': cpid_id}

    # A vanished handle still held by an ARQ stays until it is released.
    _held_deps, held = _held(session, set(), set(gone_handles))
    held |= {hid for hid, row in gone_handles.items() if row.in_use}
    removable = set(gone_handles) - held
    changed |= {gone_handles[hid].deployable_id for hid in removable}
    for hid in removable:
        handle_changes.pop(hid, None)
    for hid in held:
        if gone_handles[hid].missing_since is None:
            # Kept for the ARQ holding it; binds skip it from now on.
            handle_changes.setdefault(hid, {})['missing_since'] = now
            changed.add(gone_handles[hid].deployable_id)

    deployables.delete_traits(session, gone_traits)
    attributes.delete(session, gone_attrs)
    attach_handles.delete_free(session, removable)
    deployables.add_traits(session, new_traits)
    attributes.add(session, new_attrs)
    attach_handles.add(session, new_handles)
    attributes.update(session, attr_changes)
    attach_handles.update(session, handle_changes)
    return changed


def _remove_absent(session, rows, present, device_ids, outcome, now):
    """Delete what the report no longer has, or mark it missing if held."""
    absent = {name: row for name, row in rows.deployables.items()
              if name not in present}
    absent_ids = {row.id for row in absent.values()}
    their_handles = {h.id: h for dep_id in absent_ids
                     for h in rows.handles.get(dep_id, {}).values()}
    held_deps, held_handles = _held(session, absent_ids, set(their_handles))
    held_deps |= {their_handles[hid].deployable_id
                  for hid in held_handles if hid in their_handles}
    held_deps |= {h.deployable_id for h in their_handles.values() if h.in_use}

    dep_changes, doomed = {}, set()
    for name, row in sorted(absent.items()):
        if row.id in held_deps:
            if row.missing_since is None:
                dep_changes[row.id] = {'missing_since': now}
            outcome.missing.append(name)
        else:
            doomed.add(row.id)
            outcome.deleted.append(name)
            if row.rp_uuid:
                outcome.deleted_providers.append(row.rp_uuid)

    # Devices no longer reported: deleted unless a held deployable keeps one.
    reported_devices = {device_id for device_id, _ in device_ids.values()}
    kept_by = {row.device_id for row in absent.values()
               if row.id in held_deps}
    device_changes, doomed_devices = {}, set()
    for device_id, device in rows.devices.items():
        if device_id in reported_devices:
            continue
        if device_id in kept_by:
            if device.missing_since is None:
                device_changes[device_id] = {'missing_since': now}
        else:
            doomed_devices.add(device_id)

    deployables.update(session, dep_changes)
    devices_db.update(session, device_changes)
    for device_id in sorted(doomed_devices):
        outcome.devices_deleted.append(dict(
            rows.devices[device_id]._asdict(), deployables=[
                row._asdict() for row in absent.values()
                if row.device_id == device_id]))

    trait_ids = [tid for dep_id in doomed
                 for tid in rows.traits.get(dep_id, {}).values()]
    attr_ids = [a.id for dep_id in doomed
                for a in rows.attributes.get(dep_id, {}).values()]
    handle_ids = [h.id for dep_id in doomed
                  for h in rows.handles.get(dep_id, {}).values()]
    deployables.delete_traits(session, trait_ids)
    attributes.delete(session, attr_ids)
    attach_handles.delete_free(session, handle_ids)
    deployables.delete_unheld(session, doomed)
    cpid_ids = [row.id for row in rows.cpids.values()
                if row.device_id in doomed_devices]
    devices_db.delete_controlpaths(session, cpid_ids)
    devices_db.delete(session, doomed_devices)
