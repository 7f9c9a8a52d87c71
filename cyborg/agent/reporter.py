"""Discover with every driver and tell the conductor, cheaply when unchanged.

Each run discovers with every enabled driver, merges the devices (each PCI
function once: see ``merge.py``) and fingerprints the result. A full
report (``report_data``) goes out when the fingerprint differs from the
last one the conductor accepted, or when the conductor answers a heartbeat
asking for one (it restarted on an empty cache, or lost this host's
state); otherwise only the fingerprint travels, in a ``heartbeat``. Both
state the agent RPC API version this agent serves, unless
``[upgrade_levels] conductor`` caps the agent at the 1.0 form.

With health probing on (``health.py``), the full report also carries the
devices' reported health (conductor RPC 1.2), and the fingerprint covers
their faults: a fault or a recovery makes the next run send a full
report, correcting a ``report_health`` cast that was lost.

A driver that fails to discover makes the run send no report at all: a
report without that driver's devices would tell the conductor they are
gone. The heartbeat still goes out with the last fingerprint sent, so the
host stays alive while the driver is broken.

A run started by a device event (``cyborg.agent.hotplug``) may name the
drivers that must discover again; the others' devices are those of their
last discovery, so an event costs the scan of the drivers it concerns.
"""

import hashlib
import logging
import threading

from cyborg.accelerator import discovery
from cyborg.agent import merge
from cyborg.agent import rpcapi as agent_rpcapi
from cyborg import context as cyborg_context

LOG = logging.getLogger(__name__)


class DiscoveryFailed(Exception):
    """An enabled driver raised during discover()."""


def discover_with(driver):
    """The driver's devices; DiscoveryFailed when it raises (logged with
    its traceback)."""
    try:
        return driver.discover()
    except Exception as exc:
        LOG.exception('Driver %s failed to discover devices',
                      type(driver).__name__)
        raise DiscoveryFailed('%s: %s' % (type(driver).__name__, exc))


def discover_all(drivers, merger=None):
    """Every driver's devices in driver order, each PCI function once
    (see :mod:`cyborg.agent.merge`).

    DiscoveryFailed when a driver raises.
    """
    return (merger or merge.DeviceMerger()).merge(
        [(driver, discover_with(driver)) for driver in drivers])


def with_their_drivers(results, merged):
    """The merged devices of ``results`` ([(driver, [Device])]), each with
    the driver that found it: [(driver, Device)]."""
    found_by = {id(device): driver for driver, found in results
                for device in found}
    return [(found_by[id(device)], device) for device in merged]


def report_fingerprint(devices, health=None):
    """The fingerprint of a report: its devices' and their faults'.

    Only devices reported failed or degraded count: a fault, a new reason
    and a recovery each change it (so the next run sends a full report),
    while a host that is all healthy keeps the fingerprint it had without
    health, and an agent's start (devices turning from not yet known to
    healthy) costs no second full report.
    """
    fingerprint = discovery.fingerprint(devices)
    faults = [entry for entry in health or ()
              if entry['state'] != discovery.HEALTHY]
    if not faults:
        return fingerprint
    return hashlib.sha256((fingerprint + discovery.canonical_json(
        faults)).encode()).hexdigest()


class Reporter:
    """Runs discovery and sends the conductor what changed.

    ``hostname`` is this host's compute node provider name (the name the
    conductor knows the host by), ``compute_rp_uuid`` that provider's uuid;
    ``health_monitor`` the host's ``health.HealthMonitor`` when health is
    probed (its snapshot goes with every full report).
    """

    def __init__(self, conf, drivers, conductor_api, hostname,
                 compute_rp_uuid, health_monitor=None):
        self._conf = conf
        self._drivers = drivers
        self._conductor = conductor_api
        self.hostname = hostname
        self.compute_rp_uuid = compute_rp_uuid
        self.last_sent_fingerprint = None
        self.health_monitor = health_monitor
        # [(driver, Device)] of the last discovery that worked, for the
        # health probes; replaced whole, never changed in place.
        self.last_discovery = None
        self._merger = merge.DeviceMerger()
        # Each driver's devices at its last discovery, by position in
        # self._drivers: what a run that skips the driver reuses.
        self._last_found = {}
        # The periodic and hot-plug threads both run reports; one run at
        # a time keeps the fingerprint bookkeeping straight.
        self._lock = threading.Lock()

    def discover(self, rediscover=None):
        """Every driver's devices in driver order, each PCI function once.

        ``rediscover(driver, last_devices)`` says whether a driver that
        has discovered before must discover again; None: every driver.
        """
        results = []
        for index, driver in enumerate(self._drivers):
            last = self._last_found.get(index)
            if (rediscover is not None and last is not None and
                    not rediscover(driver, last)):
                results.append((driver, last))
                continue
            found = discover_with(driver)
            self._last_found[index] = found
            results.append((driver, found))
        merged = self._merger.merge(results)
        self.last_discovery = with_their_drivers(results, merged)
        return merged

    def run(self, force_full=False, rediscover=None):
        """Discover and report; returns 'full', 'heartbeat' or 'none'.

        ``rediscover`` limits which drivers discover again (see
        :meth:`discover`). Errors talking to the conductor are logged, not
        raised: the next run tries again (and sends the full report that
        did not arrive).
        """
        with self._lock:
            context = cyborg_context.get_admin_context()
            try:
                devices = self.discover(rediscover)
            except DiscoveryFailed:
                if self.last_sent_fingerprint is not None:
                    self._heartbeat(context, self.last_sent_fingerprint)
                    return 'heartbeat'
                return 'none'
            health = (self.health_monitor.snapshot()
                      if self.health_monitor is not None else None)
            fingerprint = report_fingerprint(devices, health)
            if not force_full and fingerprint == self.last_sent_fingerprint:
                want_full = self._heartbeat(context, fingerprint)
                if not want_full:
                    return 'heartbeat'
                LOG.info('The conductor asked for a full report')
            return 'full' if self._report(context, devices, fingerprint,
                                          health) else 'none'

    def _heartbeat(self, context, fingerprint):
        try:
            return self._conductor.heartbeat(
                context, self.hostname, fingerprint,
                agent_rpc_version=agent_rpcapi.RPC_API_VERSION)
        except Exception:
            LOG.exception('Heartbeat to the conductor failed')
            return False

    def _report(self, context, devices, fingerprint, health=None):
        try:
            self._conductor.report_data(
                context, self.hostname, self._conf.host, self.compute_rp_uuid,
                discovery.report_to_wire(devices), fingerprint,
                agent_rpc_version=agent_rpcapi.RPC_API_VERSION,
                health=health)
        except Exception:
            LOG.exception('Sending the discovery report to the conductor '
                          'failed; sending it again next run')
            self.last_sent_fingerprint = None
            return False
        LOG.info('Reported %d device(s) to the conductor (fingerprint %s)',
                 len(devices), fingerprint[:12])
        self.last_sent_fingerprint = fingerprint
        return True
