"""Event-driven discovery: a device that comes or goes is reported at once.

The periodic discovery (every ``[DEFAULT] periodic_interval``) finds every
change in the end; hot-plug gets a card that was plugged in, pulled out, or
bound to or unbound from its kernel driver to the conductor, and so to
Placement, within seconds of the kernel saying so.

Producers put :class:`DeviceEvent` into a :class:`HotplugHandler`. A
producer is any object with ``start(put)`` (from then on it calls
``put(event)`` from any thread) and ``stop()``: the udev listener of
``cyborg.agent.udev_events`` on a host, a test's own source in tests. The
handler's thread waits for a burst of events to settle (a card brings a
function per port and VF, each with add and bind) - :data:`DEBOUNCE_S`
without a new event, or :data:`MAX_DELAY_S` after the first so a storm
cannot hold a report back - then asks the reporter for one run (the wait
also lets the kernel finish: it announces a removal just before the
function's sysfs directory goes, an addition before a driver binds).
That run discovers again with the drivers the burst concerns
(:func:`concerns`), reuses the other drivers' last devices, and sends a
full report only when the fingerprint changed.
"""

import dataclasses
import logging
import queue
import threading
import time
import typing

from cyborg.agent import merge

LOG = logging.getLogger(__name__)

# A burst is over after this long without a new event ...
DEBOUNCE_S = 0.5
# ... or this long after its first event, whichever comes first.
MAX_DELAY_S = 2.0

_STOP = object()
_EVENTS_LOGGED = 6


@dataclasses.dataclass(frozen=True)
class DeviceEvent:
    """One kernel device event, as much of it as discovery cares about.

    ``action``: add, remove, bind, unbind. ``pci_address``: the function
    the event is about (an mdev's parent function), None when unknown.
    ``vendor_id``: that function's vendor, lowercase hex without 0x, None
    when unknown. An event that knows neither concerns every driver.
    """

    action: str
    subsystem: str = 'pci'
    pci_address: typing.Optional[str] = None
    vendor_id: typing.Optional[str] = None


def concerns(driver, event, last_devices):
    """Whether ``event`` can change what ``driver`` discovers.

    True when the event's vendor is unknown, when the driver does not say
    which vendors it reads (``Driver.pci_vendor_ids`` None: the generic
    PCI driver, the fake driver), when the vendor is one of the driver's,
    or when the function is one the driver reported last time.
    """
    if event.vendor_id is None or driver.pci_vendor_ids is None:
        return True
    if event.vendor_id in driver.pci_vendor_ids:
        return True
    return event.pci_address in {
        function for device in last_devices
        for function in merge.pci_functions_of(device)}


class HotplugHandler:
    """Turns bursts of events from ``source`` into reporter runs, in a
    thread of its own: ``start()``, ``put(event)`` (from any thread),
    ``stop()``."""

    def __init__(self, reporter, source, debounce_s=DEBOUNCE_S,
                 max_delay_s=MAX_DELAY_S):
        self._reporter = reporter
        self._source = source
        self._debounce_s = debounce_s
        self._max_delay_s = max_delay_s
        self._events = queue.Queue()
        self._thread = None

    def put(self, event):
        """Queue one DeviceEvent; returns at once."""
        self._events.put(event)

    def start(self):
        self._thread = threading.Thread(target=self._handle_events,
                                        name='cyborg-agent-hotplug',
                                        daemon=True)
        self._thread.start()
        self._source.start(self.put)

    def stop(self):
        """Stop the source, then the handler (a run in progress ends
        first)."""
        self._source.stop()
        if self._thread is not None:
            self._events.put(_STOP)
            self._thread.join()

    def _handle_events(self):
        while True:
            burst = self._next_burst()
            stopping = _STOP in burst
            burst = [event for event in burst if event is not _STOP]
            if burst:
                self.report(burst)
            if stopping:
                return

    def _next_burst(self):
        """The next event and those that follow it closely (may hold
        _STOP)."""
        burst = [self._events.get()]
        deadline = time.monotonic() + self._max_delay_s
        while burst[-1] is not _STOP:
            wait = min(self._debounce_s, deadline - time.monotonic())
            if wait <= 0:
                break
            try:
                burst.append(self._events.get(timeout=wait))
            except queue.Empty:
                break
        return burst

    def report(self, events):
        """One discovery and report for ``events``; returns the reporter's
        outcome ('full', 'heartbeat', 'none'), None when the run raised."""
        seen = sorted({'%s %s' % (event.action, event.pci_address or '?')
                       for event in events})
        # A card with many VFs brings a burst of hundreds: name a few.
        LOG.info('%d device event(s) (%s%s); rediscovering', len(events),
                 ', '.join(seen[:_EVENTS_LOGGED]),
                 ', ...' if len(seen) > _EVENTS_LOGGED else '')

        def rediscover(driver, last_devices):
            return any(concerns(driver, event, last_devices)
                       for event in events)

        try:
            return self._reporter.run(rediscover=rediscover)
        except Exception:
            # Keep the thread alive: the next event or periodic run retries.
            LOG.exception('Discovery and report after device events failed')
            return None
