"""The conductor process: its RPC server and its periodic work.

Conductors are active-active: each serves topic ``cyborg-conductor`` under
server name ``[DEFAULT] host`` and any may take any message. Each also runs
one background thread for periodic work: the Placement reconcile at start
and every ``[conductor] reconcile_interval`` seconds, and the bind recovery
scan every ``[conductor] recovery_interval`` seconds. Several conductors
running these at once is safe: Placement writes honour generations and
digests are compare-and-swapped.
"""

import logging
import threading
import time

from cyborg.conductor import arq_manager
from cyborg.conductor import manager
from cyborg.conductor import recovery
from cyborg import context as cyborg_context
from cyborg import rpc

LOG = logging.getLogger(__name__)


def make_endpoints(conf, transport, placement_client):
    """The RPC endpoints one conductor serves."""
    return [manager.ConductorManager(conf, transport, placement_client),
            arq_manager.ARQManager(conf, transport, placement_client)]


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

    def __init__(self, tasks):
        self._tasks = tasks
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop,
                                        name='cyborg-conductor-periodic',
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

    def __init__(self, conf, transport, placement_client):
        rpc.register_client_opts(conf)
        self._conf = conf
        self._transport = transport
        self._placement = placement_client
        self.endpoints = None
        self._server = None
        self._periodic = None

    def start(self):
        self.endpoints = make_endpoints(self._conf, self._transport,
                                        self._placement)
        self._server = rpc.get_server(self._transport, rpc.CONDUCTOR_TOPIC,
                                      self._conf.host, self.endpoints)
        self._server.start()
        self._periodic = PeriodicRunner(self._periodic_tasks())
        self._periodic.start()
        LOG.info('cyborg-conductor serving as %s', self._conf.host)

    def _periodic_tasks(self):
        sync = self.endpoints[0].placement_sync
        interval = self._conf.conductor.reconcile_interval

        def reconcile():
            results = sync.reconcile(cyborg_context.get_admin_context())
            LOG.info('Reconciled %d host(s) with Placement', len(results))

        # Interval 0 disables the periodic pass, not the one at start.
        tasks = [PeriodicTask('placement-reconcile', reconcile,
                              interval or None)]
        worker = recovery.Recovery(self._conf, self._transport,
                                   self._placement)
        tasks.append(PeriodicTask(
            'bind-recovery',
            lambda: worker.run_once(cyborg_context.get_admin_context()),
            self._conf.conductor.recovery_interval))
        return tasks

    def stop(self):
        """Stop taking messages and periodic work (returns at once)."""
        if self._periodic is not None:
            self._periodic.stop()
        if self._server is not None:
            self._server.stop()

    def wait(self):
        """Wait for work in progress to finish after stop()."""
        if self._server is not None:
            self._server.wait()
        if self._periodic is not None:
            self._periodic.wait()

