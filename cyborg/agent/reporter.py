"""Discover with every driver and tell the conductor, cheaply when unchanged.

Each run discovers with every enabled driver, merges the devices (each PCI
function once: see ``merge.py``) and fingerprints the result. A full
report (``report_data``) goes out when the fingerprint differs from the
last one the conductor accepted, or when the conductor answers a heartbeat
asking for one (it restarted on an empty cache, or lost this host's
state); otherwise only the fingerprint travels, in a ``heartbeat``. Both
state the agent RPC API version this agent serves, unless
``[upgrade_levels] conductor`` caps the agent at the 1.0 form.

A driver that fails to discover makes the run send no report at all: a
report without that driver's devices would tell the conductor they are
gone. The heartbeat still goes out with the last fingerprint sent, so the
host stays alive while the driver is broken.

A run started by a device event (``cyborg.agent.hotplug``) may name the
drivers that must discover again; the others' devices are those of their
last discovery, so an event costs the scan of the drivers it concerns.
"""

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


class Reporter:
    """Runs discovery and sends the conductor what changed.

    ``hostname`` is this host's compute node provider name (the name the
    conductor knows the host by), ``compute_rp_uuid`` that provider's uuid.
    """

    def __init__(self, conf, drivers, conductor_api, hostname,
                 compute_rp_uuid):
        self._conf = conf
        self._drivers = drivers
        self._conductor = conductor_api
        self.hostname = hostname
        self.compute_rp_uuid = compute_rp_uuid
        self.last_sent_fingerprint = None
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
        return self._merger.merge(results)

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
            fingerprint = discovery.fingerprint(devices)
            if not force_full and fingerprint == self.last_sent_fingerprint:
                want_full = self._heartbeat(context, fingerprint)
                if not want_full:
                    return 'heartbeat'
                LOG.info('The conductor asked for a full report')
            return 'full' if self._report(context, devices,
                                          fingerprint) else 'none'

    def _heartbeat(self, context, fingerprint):
        try:
            return self._conductor.heartbeat(
                context, self.hostname, fingerprint,
                agent_rpc_version=agent_rpcapi.RPC_API_VERSION)
        except Exception:
            LOG.exception('Heartbeat to the conductor failed')
            return False

    def _report(self, context, devices, fingerprint):
        try:
            self._conductor.report_data(
                context, self.hostname, self._conf.host, self.compute_rp_uuid,
                discovery.report_to_wire(devices), fingerprint,
                agent_rpc_version=agent_rpcapi.RPC_API_VERSION)
        except Exception:
            LOG.exception('Sending the discovery report to the conductor '
                          'failed; sending it again next run')
            self.last_sent_fingerprint = None
            return False
        LOG.info('Reported %d device(s) to the conductor (fingerprint %s)',
                 len(devices), fingerprint[:12])
        self.last_sent_fingerprint = fingerprint
        return True
