"""Apply what agents' health probes say: record, reserve, notify.

An agent reports a device's health when its probes see it change
(``report_health``, a cast) and with every full report (``report_data``'s
``health``, which corrects a lost cast). Either way the conductor, in
order:

1. records the state and reason on the device (``devices.set_health``, a
   compare-and-swap: of two conductors applying the same change, one
   records it and only that one goes on to steps 2-3 for it);
2. brings the host's providers in line with the DB
   (``PlacementSync.sync_host``): a failed or degraded device's inventory
   is wholly ``reserved``, so the scheduler stops choosing it, while the
   allocations of instances already on it stay; back to healthy, it is
   reserved again only if an operator put it in maintenance;
3. emits ``device.health.update``.

The payload comes from an agent: an entry that cannot be applied (not a
dict, an unknown state, a device the host does not have) is logged and
skipped, the others are applied; nothing is half written, each entry is one
row update.
"""

import logging

from cyborg.accelerator import discovery
from cyborg.db import deployables
from cyborg.db import devices
from cyborg import exception
from cyborg import notifications

LOG = logging.getLogger(__name__)

# devices.health_reason's width; a longer reason is cut, not refused: a
# failure must not go unrecorded for being described at length.
REASON_LENGTH = 255


def parse_entries(hostname, entries):
    """The applicable entries of a payload as (controlpath, state, reason).

    ``reason`` is None for a healthy device. Entries that cannot be
    applied are logged and left out.
    """
    if not isinstance(entries, list):
        LOG.error('Health report of host %s is not a list of devices '
                  '(%s); ignoring it', hostname, type(entries).__name__)
        return []
    parsed = []
    for entry in entries:
        try:
            parsed.append(_parse_entry(entry))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            LOG.error('Ignoring a health entry of host %s that cannot be '
                      'applied (%s): %r', hostname, exc, entry)
    return parsed


def _parse_entry(entry):
    controlpath = discovery.ControlPath.from_dict(entry['controlpath'])
    if not isinstance(controlpath.cpid_type, str) or not all(
            isinstance(key, str) and isinstance(value, str)
            for key, value in controlpath.info.items()):
        raise ValueError('a control path is a type and a map of strings')
    # Health() refuses a state that is not one of HEALTH_STATES.
    health = discovery.Health.from_dict(entry)
    reason = health.reason if health.reason is not None else ''
    if not isinstance(reason, str):
        raise TypeError('reason %r is not a string' % (reason,))
    if health.state == discovery.HEALTHY:
        reason = None
    else:
        reason = reason[:REASON_LENGTH]
    return controlpath.to_dict(), health.state, reason


def record(context, hostname, entries):
    """Record parsed entries; the device dicts this call changed."""
    changed = []
    for controlpath, state, reason in entries:
        try:
            device = devices.set_health(context, hostname, controlpath,
                                        state, reason)
        except exception.DeviceNotFound:
            # A device the report that adds it has not reached yet, or one
            # since removed: the next full report says it again.
            LOG.warning('Host %s reports the health of a device it has no '
                        'record of (%s); ignoring it', hostname,
                        discovery.canonical_json(controlpath))
            continue
        if device is None:
            continue
        log = LOG.info if state == discovery.HEALTHY else LOG.warning
        log('Device %s on %s is %s (was %s)%s', device['uuid'], hostname,
            state, device['previous_health'],
            ': %s' % reason if reason else '')
        changed.append(device)
    return changed


def apply_health(context, sync, hostname, entries, notifier=None):
    """Record a host's health report and act on it; the devices changed.

    ``entries`` is the wire payload. Placement being unreachable is logged:
    the change is in the DB, and the next sync of the host (its next full
    report, the reconciler) writes it.
    """
    changed = record(context, hostname, parse_entries(hostname, entries))
    if not changed:
        return changed
    bring_placement_in_line(context, sync, hostname)
    notify(context, notifier, changed)
    return changed


def bring_placement_in_line(context, sync, hostname):
    try:
        result = sync.sync_host(context, hostname)
    except (exception.PlacementUnavailable, exception.UnknownHost) as exc:
        LOG.warning('Health of host %s is recorded but Placement could not '
                    'be updated: %s', hostname, exc)
        return
    if result.failed or result.refused:
        LOG.warning('Health of host %s is recorded but the providers %s '
                    'could not be updated yet', hostname,
                    ', '.join(result.failed + result.refused))


def notify(context, notifier, changed):
    """One ``device.health.update`` per device whose health changed."""
    if notifier is None or not notifier.enabled:
        return
    for device in changed:
        try:
            notifier.info(context, notifications.DEVICE_HEALTH_UPDATE,
                          notifications.device_health_payload(
                              device, deployables.list_of_device(
                                  context, device['id'])))
        except Exception:
            LOG.exception('Could not notify the health of device %s',
                          device['uuid'])
