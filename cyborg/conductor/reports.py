"""Apply an agent's discovery report: validate, the DB diff, then Placement.

The order is the whole point: the report is validated (once, here: what
cannot be stored as it is refuses the whole report), the host's compute
node provider is checked, the diff is committed in one transaction, and only
then is Placement brought in line from what the DB now says. A Placement
failure after the commit loses nothing: the host's fingerprint is forgotten,
so its next heartbeat asks for a full report, which retries the sync (and
the periodic reconcile heals whatever is left).

Compute node check: the agent resolves its compute node provider and sends
its uuid. We verify it in Placement (it exists and carries the host's name)
the first time we see that (host, uuid) pair, and trust the recorded pair
afterwards, so a steady host's reports cost no Placement read. A host whose
provider is unknown is refused with UnknownHost before the DB is touched.

Devices that came or went are notified (``device.create.end``,
``device.delete.end``, through the conductor's notifier that
:func:`apply_report` is given) once the diff is committed: the DB is what
the API shows, and Placement follows it right after.

A report of conductor RPC 1.2 also carries the health of the devices the
agent has probed: it is recorded after the diff (so a device new in this
report has its row) and before the one Placement sync, which then reserves
what is failed or degraded (see ``health.py``).
"""

import logging
import random
import re
import time

from oslo_db import exception as db_exc
import os_traits

from cyborg.accelerator import discovery
from cyborg.conductor import health as device_health
from cyborg.conductor import placement_sync
from cyborg.db import agent_hosts
from cyborg.db import attributes
from cyborg.db import host_reports
from cyborg.db import models
from cyborg import exception
from cyborg import notifications

LOG = logging.getLogger(__name__)

_RC_TRAIT_CHARS = frozenset('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_')
_STANDARD_TRAITS = frozenset(os_traits.get_traits())

# Attempts at the DB transaction when it collides with a concurrent writer
# (an ARQ claiming a handle, another conductor applying the same host).
DB_ATTEMPTS = 3
_RETRIABLE_DB_ERRORS = (db_exc.DBDeadlock, db_exc.DBDuplicateEntry,
                        db_exc.DBReferenceError, exception.ReportConflict)
# An RPC API version as agents state it (conductor RPC 1.1), short enough
# for agent_hosts.agent_rpc_version.
_RPC_VERSION = re.compile(r'^[0-9]{1,7}\.[0-9]{1,7}$')


def check_agent_rpc_version(hostname, agent_rpc_version):
    """Refuse (InvalidReport) a stated agent RPC version that is not X.Y.

    None is fine: a 1.0 caller states none.
    """
    if agent_rpc_version is not None and not (
            isinstance(agent_rpc_version, str)
            and _RPC_VERSION.match(agent_rpc_version)):
        raise exception.InvalidReport(
            hostname=hostname,
            reason='agent_rpc_version %r is not a version such as 1.1'
                   % (agent_rpc_version,))


def parse_report(hostname, report):
    """The wire report (list of Device dicts) as Device objects."""
    if not isinstance(report, list):
        raise exception.InvalidReport(hostname=hostname,
                                      reason='a report is a list of devices')
    try:
        return discovery.report_from_wire(report)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise exception.InvalidReport(
            hostname=hostname,
            reason='malformed device data (%s: %s)' % (type(exc).__name__,
                                                       exc))


def _is_short_text(value, limit):
    return isinstance(value, str) and len(value) <= limit


def _is_rc_or_trait_name(name):
    return (isinstance(name, str) and 0 < len(name) <= 255
            and set(name) <= _RC_TRAIT_CHARS)


def validate_report(hostname, devices):
    """Refuse a report that cannot be stored as it is: InvalidReport.

    Stub devices are not checked: they are ignored. Returns the devices that
    count (the non-stub ones).
    """
    def invalid(reason):
        return exception.InvalidReport(hostname=hostname, reason=reason)

    usable = [device for device in devices if not device.stub]
    names, cpids = set(), set()
    for device in usable:
        if device.type not in models.DEVICE_TYPES:
            raise invalid('unknown device type %r' % device.type)
        for field in ('vendor', 'model'):
            if not _is_short_text(getattr(device, field), 255):
                raise invalid('device %s %r is not a string of at most 255 '
                              'characters' % (field, getattr(device, field)))
        if device.controlpath.cpid_type not in models.CPID_TYPES:
            raise invalid('unknown control path type %r'
                          % device.controlpath.cpid_type)
        cpid_key = (device.controlpath.cpid_type,
                    discovery.canonical_json(device.controlpath.info))
        if len(cpid_key[1]) > 255:
            raise invalid('control path %s is too long' % cpid_key[1])
        if cpid_key in cpids:
            raise invalid('two devices at control path %s' % cpid_key[1])
        cpids.add(cpid_key)
        for dep in device.deployables:
            if not dep.name or not _is_short_text(dep.name, 255):
                raise invalid('bad deployable name %r' % dep.name)
            if dep.driver_name is not None and not _is_short_text(
                    dep.driver_name, 100):
                raise invalid('deployable %s: bad driver name %r'
                              % (dep.name, dep.driver_name))
            for key in dep.attributes:
                if not key or not _is_short_text(key, 255):
                    raise invalid('deployable %s: bad attribute key %r'
                                  % (dep.name, key))
                if attributes.is_reserved_key(key):
                    raise invalid('deployable %s: attribute key %r is '
                                  'reserved for the resource class and '
                                  'traits' % (dep.name, key))
            if dep.name in names:
                raise invalid('deployable name %s reported twice' % dep.name)
            names.add(dep.name)
            if dep.num_accelerators < 0:
                raise invalid('deployable %s has a negative number of '
                              'accelerators' % dep.name)
            if (dep.resource_class is not None
                    and not _is_rc_or_trait_name(dep.resource_class)):
                raise invalid('deployable %s: bad resource class %r'
                              % (dep.name, dep.resource_class))
            for trait in dep.traits:
                if not _is_rc_or_trait_name(trait):
                    raise invalid('deployable %s: bad trait %r'
                                  % (dep.name, trait))
                if (not trait.startswith('CUSTOM_')
                        and trait not in _STANDARD_TRAITS):
                    # Placement knows only os-traits' standard traits and
                    # the CUSTOM_ ones we create: it would refuse the rest.
                    raise invalid('deployable %s: %s is neither a CUSTOM_ '
                                  'trait nor a standard one' % (dep.name,
                                                               trait))
            identities = set()
            for handle in dep.attach_handles:
                if handle.attach_type not in models.ATTACH_TYPES:
                    raise invalid('unknown attach type %r'
                                  % handle.attach_type)
                info = discovery.canonical_json(handle.info)
                if len(info) > 255:
                    raise invalid('attach handle %s is too long' % info)
                identity = discovery.handle_identity(handle.info)
                if identity in identities:
                    raise invalid('deployable %s reports attach handle %s '
                                  'twice' % (dep.name, identity))
                identities.add(identity)
    return usable


def verify_compute_node(context, client, hostname, compute_rp_uuid):
    """The uuid of the host's compute node provider, or UnknownHost."""
    known = agent_hosts.get_host(context, hostname)
    if (compute_rp_uuid and known is not None
            and known['compute_rp_uuid'] == compute_rp_uuid):
        return compute_rp_uuid
    if compute_rp_uuid:
        provider = client.get_provider(compute_rp_uuid)
        if provider is None or provider['name'] != hostname:
            raise exception.UnknownHost(hostname=hostname)
    else:
        provider = client.find_provider_by_name(hostname)
        if provider is None:
            raise exception.UnknownHost(hostname=hostname)
    return provider['uuid']


def apply_report(context, sync, client, hostname, rpc_host, compute_rp_uuid,
                 report, fingerprint, agent_rpc_version=None, notifier=None,
                 health=None):
    """Apply a full report; return a summary dict of what changed.

    ``sync`` is the conductor's PlacementSync, ``client`` its
    PlacementClient; ``agent_rpc_version`` the version the agent stated
    (None from a 1.0 caller), recorded with the host; ``health`` the
    devices' health (1.2; None leaves health as recorded). Raises InvalidReport
    or UnknownHost with nothing written, ReportConflict when the DB kept
    colliding with concurrent writers, PlacementUnavailable when the
    compute node could not be checked.
    """
    check_agent_rpc_version(hostname, agent_rpc_version)
    devices = parse_report(hostname, report)
    # Cheap and local: refuse a bad report before asking Placement anything.
    usable = validate_report(hostname, devices)
    compute_rp_uuid = verify_compute_node(context, client, hostname,
                                          compute_rp_uuid)
    provider_uuids = {dep.name: placement_sync.provider_uuid(dep.name)
                      for device in usable for dep in device.deployables
                      if dep.resource_class}
    outcome = _apply_to_db(context, hostname, rpc_host, compute_rp_uuid,
                           usable, fingerprint, provider_uuids,
                           agent_rpc_version)
    summary = outcome.summary()
    health_changed = []
    if health is not None:
        health_changed = device_health.record(
            context, hostname, device_health.parse_entries(hostname, health))
        summary['health_changed'] = len(health_changed)
    if notifier is not None and notifier.enabled:
        notify_devices(context, notifier, outcome)
    if outcome.missing:
        LOG.warning('Host %s no longer reports deployables %s, which are '
                    'still held by accelerator requests; keeping them as '
                    'missing', hostname, ', '.join(outcome.missing))
    try:
        result = sync.sync_host(context, hostname,
                                deleted_providers=outcome.deleted_providers)
    except exception.PlacementUnavailable as exc:
        LOG.warning('Report of host %s is in the DB but Placement could not '
                    'be updated: %s', hostname, exc)
        agent_hosts.forget_fingerprint(context, hostname, fingerprint)
        summary['placement_in_sync'] = False
        return summary
    if result.failed:
        agent_hosts.forget_fingerprint(context, hostname, fingerprint)
    device_health.notify(context, notifier, health_changed)
    summary['placement_in_sync'] = not (result.failed or result.refused)
    summary['providers_written'] = len(result.written)
    return summary


def notify_devices(context, notifier, outcome):
    """One notification per device a committed report added or removed."""
    for event, changed in (
            (notifications.DEVICE_CREATE_END, outcome.devices_created),
            (notifications.DEVICE_DELETE_END, outcome.devices_deleted)):
        for device in changed:
            notifier.info(context, event, notifications.device_payload(
                device, device['deployables']))


def _is_retriable(exc):
    if isinstance(exc, _RETRIABLE_DB_ERRORS):
        return True
    # SQLite (all-in-one, tests) refuses a second writer outright instead
    # of queueing it when both started by reading; oslo.db has no class
    # for that.
    return isinstance(exc, db_exc.DBError) and 'database is locked' in str(
        exc)


def _apply_to_db(context, hostname, rpc_host, compute_rp_uuid, usable,
                 fingerprint, provider_uuids, agent_rpc_version):
    for attempt in range(1, DB_ATTEMPTS + 1):
        try:
            return host_reports.apply_report(
                context, hostname, rpc_host, compute_rp_uuid, usable,
                fingerprint, provider_uuids,
                agent_rpc_version=agent_rpc_version)
        except db_exc.DBError as exc:
            if not _is_retriable(exc):
                raise
            error = exc
        except exception.ReportConflict as exc:
            error = exc
        # A clash with another writer: the transaction was rolled back; the
        # next attempt reads the rows as they are now.
        LOG.info('Report of host %s collided with a concurrent change '
                 '(attempt %d): %s', hostname, attempt, error)
        time.sleep(random.uniform(0, 0.1 * attempt))
    raise exception.ReportConflict(hostname=hostname)
