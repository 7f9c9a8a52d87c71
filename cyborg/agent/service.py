"""The agent's life: start-up checks, the RPC server, periodic reports.

Start-up fails fast, in this order, with one clear message each:

1. load the drivers of ``[agent] enabled_drivers`` (``InvalidDriver``);
2. check the ``[upgrade_levels] conductor`` cap (``InvalidConfig``);
3. find this host's compute node provider in Placement, by
   ``[agent] resource_provider_name`` (then ``[DEFAULT] host``), retrying
   ``[agent] resource_provider_startup_retries`` times with exponential
   backoff, because nova-compute may be registering it right now
   (``ComputeNodeProviderNotFound``);

then serves RPC on topic ``cyborg-agent``, server ``[DEFAULT] host``, and
discovers and reports at once and every ``[DEFAULT] periodic_interval``
seconds in a thread of its own, and, with ``[agent] hotplug``, whenever
udev announces a device that came, went, or changed kernel driver (see
``hotplug.py``). When a driver reports health, another thread probes it
every ``[agent] health_interval`` seconds (``health.py``).
"""

import logging
import threading
import time

from keystoneauth1 import exceptions as ks_exc

from cyborg.accelerator.drivers import base
from cyborg.agent import health as agent_health
from cyborg.agent import hotplug
from cyborg.agent import manager as agent_manager
from cyborg.agent import programming
from cyborg.agent import reporter as agent_reporter
from cyborg.agent import udev_events
from cyborg.clients import placement as placement_client
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg import exception
from cyborg import rpc

LOG = logging.getLogger(__name__)


def resolve_compute_node_provider(conf, placement, sleep=time.sleep):
    """This host's compute node provider (Placement's dict).

    Tries ``[agent] resource_provider_name``, then ``[DEFAULT] host``, on
    each of ``1 + resource_provider_startup_retries`` attempts, sleeping
    1, 2, 4, ... seconds between attempts. Raises
    ComputeNodeProviderNotFound, or PlacementUnavailable when Placement
    could not be reached at the last attempt.
    """
    names = list(dict.fromkeys([conf.agent.resource_provider_name,
                                conf.host]))
    attempts = conf.agent.resource_provider_startup_retries + 1
    for attempt in range(attempts):
        unreachable = None
        for name in names:
            try:
                provider = placement.find_provider_by_name(name)
            except (exception.PlacementUnavailable,
                    ks_exc.ConnectionError) as exc:
                # Placement (or Keystone) may be starting with us.
                unreachable = exc
                continue
            if provider is not None:
                LOG.info('This host is compute node provider %s (%s)',
                         provider['name'], provider['uuid'])
                return provider
        if attempt + 1 < attempts:
            delay = 2 ** attempt
            LOG.warning('No compute node provider named %s in Placement '
                        '(%s); attempt %d of %d, retrying in %d s',
                        ' or '.join(names), unreachable or 'not found',
                        attempt + 1, attempts, delay)
            sleep(delay)
    if isinstance(unreachable, exception.PlacementUnavailable):
        raise unreachable
    if unreachable is not None:
        raise exception.PlacementUnavailable(reason=str(unreachable))
    raise exception.ComputeNodeProviderNotFound(names=' or '.join(names),
                                                attempts=attempts)


class AgentService:
    """One host's agent: ``start()``, then ``stop()`` from any thread.

    ``event_source``: the producer of device events for hot-plug (see
    ``hotplug.py``); None: udev's, where the host has it.
    """

    def __init__(self, conf, transport, placement=None, sleep=time.sleep,
                 event_source=None):
        self._conf = conf
        self._transport = transport
        self._placement = placement
        self._sleep = sleep
        self._event_source = event_source
        self.hotplug = None
        self._stopping = threading.Event()
        self._server = None
        self._thread = None
        self._health_thread = None
        self.drivers = None
        self.health_monitor = None
        self.reporter = None
        self.programmer = None

    def start(self):
        """Run the start-up checks, then serve and report. Raises on a
        failed check (nothing is left running then)."""
        self.drivers = base.load_drivers(self._conf)
        rpc.register_client_opts(self._transport.conf)
        # Before Placement: a bad [upgrade_levels] conductor fails at once.
        conductor_api = conductor_rpcapi.ConductorAPI.from_conf(
            self._conf, self._transport)
        placement = (self._placement or
                     placement_client.PlacementClient.from_conf(self._conf))
        try:
            provider = resolve_compute_node_provider(self._conf, placement,
                                                     sleep=self._sleep)
        except ks_exc.ClientException as exc:
            # Not a Placement that is down, but options that cannot work
            # (no auth plugin, no endpoint): retrying would not help.
            raise exception.InvalidConfig(
                option='[placement]',
                reason='%s: %s' % (type(exc).__name__, exc))
        self.health_monitor = self._make_health_monitor(conductor_api,
                                                        provider['name'])
        self.reporter = agent_reporter.Reporter(
            self._conf, self.drivers,
            conductor_api,
            hostname=provider['name'], compute_rp_uuid=provider['uuid'],
            health_monitor=self.health_monitor)
        self.programmer = programming.Programmer(self._conf, self.drivers)
        endpoint = agent_manager.AgentManager(self.drivers, self.programmer)
        self._server = rpc.get_server(self._transport, rpc.AGENT_TOPIC,
                                      self._conf.host, [endpoint])
        self._server.start()
        # Listening before the first discovery: a device that comes during
        # it is reported by the event's run, not a period later.
        self.hotplug = self._start_hotplug()
        self._thread = threading.Thread(target=self._report_periodically,
                                        name='cyborg-agent-reports',
                                        daemon=True)
        self._thread.start()
        if self.health_monitor is not None:
            self._health_thread = threading.Thread(
                target=self._probe_health_periodically,
                name='cyborg-agent-health', daemon=True)
            self._health_thread.start()
        LOG.info('cyborg-agent serving as %s with drivers %s',
                 self._conf.host, ', '.join(self._conf.agent.enabled_drivers))

    def _make_health_monitor(self, conductor_api, hostname):
        """The HealthMonitor, or None when health is not probed (and why)."""
        interval = self._conf.agent.health_interval
        reporting = [type(d).__name__ for d in self.drivers
                     if isinstance(d, base.HealthReporting)]
        if not interval or not reporting:
            LOG.info('Not probing device health: %s',
                     '[agent] health_interval is 0' if not interval
                     else 'no enabled driver reports health')
            return None
        if not conductor_api.can_report_health:
            LOG.warning('Not probing device health: [upgrade_levels] '
                        'conductor caps conductor RPC below %s, which '
                        'brought health reports; devices keep the health '
                        'last recorded', conductor_rpcapi.HEALTH_VERSION)
            return None
        LOG.info('Probing the health of the devices of %s every %s s',
                 ', '.join(reporting), interval)
        return agent_health.HealthMonitor(
            conductor_api, hostname,
            self._conf.agent.health_recovery_probes)

    def _probe_health_periodically(self):
        while not self._stopping.is_set():
            discovered = self.reporter.last_discovery
            if discovered is not None:
                try:
                    self.health_monitor.run_once(discovered)
                except Exception:
                    LOG.exception('Health probe round failed')
            self._stopping.wait(self._conf.agent.health_interval)

    def _start_hotplug(self):
        """The started hot-plug handler, or None (said once, with why)."""
        if not self._conf.agent.hotplug:
            LOG.info('Hot-plug is off ([agent] hotplug); devices that come '
                     'or go are found by discovery every %d s',
                     self._conf.periodic_interval)
            return None
        source = self._event_source
        if source is None:
            source, unavailable = udev_events.open_source()
            if source is None:
                LOG.warning('No hot-plug events: %s; devices that come or go '
                            'are found by discovery every %d s', unavailable,
                            self._conf.periodic_interval)
                return None
        handler = hotplug.HotplugHandler(self.reporter, source)
        handler.start()
        return handler

    def _report_periodically(self):
        while not self._stopping.is_set():
            try:
                self.reporter.run()
            except Exception:
                # Keep the thread alive: one bad run must not end reporting.
                LOG.exception('Discovery and report run failed')
            self._stopping.wait(self._conf.periodic_interval)

    def stop(self):
        """Stop reporting and serving; waits for work in progress."""
        self._stopping.set()
        if self.hotplug is not None:
            self.hotplug.stop()
        if self._server is not None:
            self._server.stop()
            self._server.wait()
        if self._thread is not None:
            self._thread.join()
        if self._health_thread is not None:
            self._health_thread.join()
        LOG.info('cyborg-agent stopped')
