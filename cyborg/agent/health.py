"""Probe devices' health on a short interval and report changes at once.

Every ``[agent] health_interval`` seconds, in a thread of its own, the agent
asks each driver that is ``HealthReporting`` about every device it returned
from the last discovery (``Reporter.last_discovery``: the devices the
conductor knows, each once). What it tells the conductor is not each probe
but each device's *reported* state, which moves:

* to ``failed`` or ``degraded`` on the first probe that says so (a new
  reason counts as a change too): a bad device leaves service at once;
* back to ``healthy`` only after ``[agent] health_recovery_probes`` healthy
  probes in a row, so a flapping device stays out until it stays well.

A device's first state after the agent starts is the same rule from "not
known": failed at once, healthy after the recovery probes (the conductor may
still hold it failed from before the restart).

A change goes to the conductor at once, in one ``report_health`` cast per
probe round. The reported states of every device are also part of each
full report (``Reporter``: they enter its fingerprint, so the first run
after a change sends one), which corrects a cast that was lost.

A driver's ``health()`` that raises, or returns something that is not a
``discovery.Health``, makes the device ``failed`` with that as the reason:
a probe that cannot read a device cannot vouch for it.
"""

import dataclasses
import logging
import threading

from cyborg.accelerator.drivers import base
from cyborg.accelerator import discovery
from cyborg import context as cyborg_context

LOG = logging.getLogger(__name__)


def controlpath_key(device):
    """A device's identity as the conductor knows it: its control path."""
    return discovery.canonical_json(device.controlpath.to_dict())


def probe(driver, device):
    """``driver.health(device)``, with a failure to answer as ``failed``."""
    try:
        health = driver.health(device)
    except Exception as exc:
        LOG.exception('Health probe of device %s by %s failed',
                      discovery.canonical_json(device.controlpath.info),
                      type(driver).__name__)
        return discovery.Health(discovery.FAILED, 'health probe raised %s: %s'
                                % (type(exc).__name__, exc))
    if not isinstance(health, discovery.Health):
        return discovery.Health(discovery.FAILED,
                                'health probe returned %r' % (health,))
    return health


@dataclasses.dataclass
class _Tracked:
    controlpath: dict
    # What was last reported; None until the first report.
    reported: discovery.Health = None
    healthy_in_a_row: int = 0


class HealthMonitor:
    """The reported health of one host's devices, and the probe rounds.

    ``conductor_api`` is a conductor RPC client (``report_health``),
    ``hostname`` the host's compute node provider name.
    """

    def __init__(self, conductor_api, hostname, recovery_probes):
        self._conductor = conductor_api
        self.hostname = hostname
        self._recovery_probes = recovery_probes
        self._tracked = {}
        # A probe round and a full report reading the snapshot may overlap.
        self._lock = threading.Lock()

    def probe_round(self, discovered):
        """Probe every device of ``discovered`` ([(driver, Device)]); the
        changes to report, as wire entries."""
        probed = [(driver, device) for driver, device in discovered
                  if isinstance(driver, base.HealthReporting)
                  and not device.stub]
        # Probe outside the lock: a slow driver must not hold up a report.
        results = [(device, probe(driver, device))
                   for driver, device in probed]
        changes = []
        with self._lock:
            seen = set()
            for device, health in results:
                key = controlpath_key(device)
                seen.add(key)
                tracked = self._tracked.setdefault(
                    key, _Tracked(device.controlpath.to_dict()))
                if self._update(tracked, health):
                    changes.append(_entry(tracked))
                    _log_change(device, tracked.reported)
            # A device gone from discovery is no longer anyone's to report.
            for key in set(self._tracked) - seen:
                del self._tracked[key]
        return changes

    def _update(self, tracked, health):
        """Move the reported state as the probe says; True when it moved."""
        if health.state != discovery.HEALTHY:
            tracked.healthy_in_a_row = 0
            if tracked.reported == health:
                return False
            tracked.reported = health
            return True
        if tracked.reported is not None and \
                tracked.reported.state == discovery.HEALTHY:
            return False
        tracked.healthy_in_a_row += 1
        if tracked.healthy_in_a_row < self._recovery_probes:
            return False
        tracked.reported = health
        tracked.healthy_in_a_row = 0
        return True

    def snapshot(self):
        """Every device's reported state, as wire entries (for the full
        report); devices not reported yet are left out."""
        with self._lock:
            return sorted((_entry(t) for t in self._tracked.values()
                           if t.reported is not None),
                          key=lambda entry: discovery.canonical_json(
                              entry['controlpath']))

    def run_once(self, discovered):
        """One probe round; the changes are cast to the conductor. Returns
        the changes."""
        changes = self.probe_round(discovered)
        if changes:
            try:
                self._conductor.report_health(
                    cyborg_context.get_admin_context(), self.hostname,
                    changes)
            except Exception:
                # The next full report carries the same states.
                LOG.exception('Sending %d health change(s) to the conductor '
                              'failed', len(changes))
        return changes


def _entry(tracked):
    return {'controlpath': tracked.controlpath,
            'state': tracked.reported.state,
            'reason': tracked.reported.reason}


def _log_change(device, health):
    address = discovery.canonical_json(device.controlpath.info)
    if health.state == discovery.HEALTHY:
        LOG.info('Device %s (%s %s) is healthy', address, device.vendor,
                 device.model)
    else:
        LOG.warning('Device %s (%s %s) is %s: %s', address, device.vendor,
                    device.model, health.state, health.reason)
