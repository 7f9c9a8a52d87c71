"""The conductor process: its working parts, RPC server and periodic work.

:class:`Conductor` builds each of a conductor's working parts once, from
its configuration and clients, and hands them to whoever needs them: one
Notifier (a disabled one unless notifications are configured), one
PlacementSync, one AgentCalls, one EventDelivery, one Programmer, one
Binder (with its thread pool), one Scrubber, the RPC endpoint and the
recovery worker.

Conductors are active-active: each serves topic ``cyborg-conductor`` under
server name ``[DEFAULT] host`` and any may take any message. Each also runs
one background thread for periodic work: the Placement reconcile at start
and every ``[conductor] reconcile_interval`` seconds, the bind recovery
scan every ``[conductor] recovery_interval`` seconds, and the purge of
expired device contexts every ``[device_contexts] purge_interval``
seconds. A second thread sends the Nova events due every ``[conductor]
nova_event_interval`` seconds, so a long reconcile or recovery pass never
holds back an event Nova waits for. Several conductors running these at
once is safe: Placement writes honour generations, digests are
compare-and-swapped, the purge deletes only rows past their expiry that no
ARQ names, and events are leased.
"""

import logging
import threading
import time

from cyborg.clients import glance as glance_client
from cyborg.conductor import agent_calls
from cyborg.conductor import binding
from cyborg.conductor import bitstreams
from cyborg.conductor import manager
from cyborg.conductor import nova_events
from cyborg.conductor import placement_sync
from cyborg.conductor import recovery
from cyborg.conductor import scrubbing
from cyborg import context as cyborg_context
from cyborg.db import device_contexts
from cyborg import notifications
from cyborg import rpc

LOG = logging.getLogger(__name__)

# Threads besides the RPC executor's and the bind pool's: the periodic
# tasks' and the Nova event delivery's.
OTHER_DB_THREADS = 2


def concurrent_transactions(conf):
    """How many of a conductor's threads may hold a DB transaction at once.

    Every RPC executor thread (oslo.messaging's
    ``executor_thread_pool_size``), every bind thread
    (``thread_pool_size``) and the background threads.
    """
    return (rpc.executor_threads(conf) + conf.thread_pool_size
            + OTHER_DB_THREADS)


class Conductor:
    """One conductor's working parts, each built once.

    ``nova_client`` and ``glance_client`` default to the ones ``[nova]``
    and ``[glance]`` describe (no Nova at all when ``[nova]`` names none:
    outcomes are then recorded, not sent).
    """

    def __init__(self, conf, transport, placement_client, nova_client=None,
                 glance_client=None):
        rpc.register_client_opts(conf)
        if nova_client is None:
            nova_client = nova_events.client_from_conf(conf)
        if glance_client is None:
            glance_client = glance_client_from_conf(conf)
        self.notifier = notifications.Notifier.from_conf(conf)
        self.placement_sync = placement_sync.PlacementSync(conf,
                                                           placement_client)
        # A bad [upgrade_levels] agent stops the start here (InvalidConfig).
        self.agent = agent_calls.AgentCalls.from_conf(conf, transport)
        self.events = nova_events.EventDelivery(conf, nova_client)
        self.programmer = bitstreams.Programmer(glance_client, self.agent,
                                                self.placement_sync,
                                                self.notifier)
        self.scrubber = scrubbing.Scrubber(conf, self.agent,
                                           self.placement_sync)
        self.binder = binding.Binder(conf, self.agent, self.programmer,
                                     self.events, self.notifier,
                                     scrubber=self.scrubber)
        self.manager = manager.ConductorManager(
            conf, placement_client, self.placement_sync, self.binder,
            self.notifier, scrubber=self.scrubber)
        self.recovery = recovery.Recovery(conf, self.binder, self.events,
                                          scrubber=self.scrubber)

    def close(self):
        self.binder.close()
        self.notifier.close()


def glance_client_from_conf(conf):
    return glance_client.GlanceClient.from_conf(conf)


def purge_device_contexts():
    """Delete the device contexts whose time ran out; how many."""
    purged = device_contexts.purge_expired(
        cyborg_context.get_admin_context())
    if purged:
        LOG.info('Purged %d expired device context(s)', purged)
    return purged


class PeriodicTask:
    """A callable run every ``interval`` seconds (None: only once)."""

    def __init__(self, name, func, interval, run_at_start=True):
        self.name = name
        self.func = func
        self.interval = interval
        self.next_run = time.monotonic() if run_at_start else (
            time.monotonic() + (interval or 0))

    def due(self, now):
        return self.next_run is not None and now >= self.next_run

    def run(self):
        try:
            self.func()
        except Exception:
            # One failed pass must not end the thread: the next one retries.
            LOG.exception('Periodic task %s failed', self.name)
        self.next_run = (time.monotonic() + self.interval
                         if self.interval else None)


class PeriodicRunner:
    """Runs PeriodicTasks in one daemon thread until stopped."""

    def __init__(self, tasks, name='cyborg-conductor-periodic'):
        self._tasks = tasks
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name,
                                        daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stopping.set()

    def wait(self):
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self):
        while not self._stopping.is_set():
            now = time.monotonic()
            for task in self._tasks:
                if self._stopping.is_set():
                    return
                if task.due(now):
                    task.run()
            pending = [t.next_run for t in self._tasks
                       if t.next_run is not None]
            if not pending:
                return
            self._stopping.wait(max(0.0, min(pending) - time.monotonic()))


class ConductorService:
    """One conductor: ``start()``, then ``stop()`` and ``wait()``."""

    def __init__(self, conf, transport, placement_client, nova_client=None,
                 glance_client=None):
        self._conf = conf
        self._transport = transport
        self.conductor = Conductor(conf, transport, placement_client,
                                   nova_client, glance_client)
        self._server = None
        self._periodic = None
        self._event_delivery = None

    def start(self):
        self._server = rpc.get_server(self._transport, rpc.CONDUCTOR_TOPIC,
                                      self._conf.host,
                                      [self.conductor.manager])
        self._server.start()
        self._periodic = PeriodicRunner(self._periodic_tasks())
        self._periodic.start()
        self._event_delivery = PeriodicRunner(
            [self._event_delivery_task()], name='cyborg-nova-events')
        self._event_delivery.start()
        LOG.info('cyborg-conductor serving as %s', self._conf.host)

    def _periodic_tasks(self):
        sync = self.conductor.placement_sync
        worker = self.conductor.recovery
        interval = self._conf.conductor.reconcile_interval

        def reconcile():
            results = sync.reconcile(cyborg_context.get_admin_context())
            LOG.info('Reconciled %d host(s) with Placement', len(results))

        # Interval 0 disables the periodic pass, not the one at start.
        return [
            PeriodicTask('placement-reconcile', reconcile, interval or None),
            PeriodicTask(
                'bind-recovery',
                lambda: worker.run_once(cyborg_context.get_admin_context()),
                self._conf.conductor.recovery_interval),
            PeriodicTask(
                'device-context-purge', purge_device_contexts,
                self._conf.device_contexts.purge_interval),
        ]

    def _event_delivery_task(self):
        events = self.conductor.events

        def deliver():
            events.deliver_due(cyborg_context.get_admin_context())

        return PeriodicTask('nova-event-delivery', deliver,
                            self._conf.conductor.nova_event_interval)

    def stop(self):
        """Stop taking messages and periodic work (returns at once)."""
        for runner in (self._periodic, self._event_delivery):
            if runner is not None:
                runner.stop()
        if self._server is not None:
            self._server.stop()

    def wait(self):
        """Wait for work in progress to finish after stop()."""
        if self._server is not None:
            self._server.wait()
        for runner in (self._periodic, self._event_delivery):
            if runner is not None:
                runner.wait()
        self.conductor.close()

