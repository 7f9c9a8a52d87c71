"""The host's device events, from udev through pyudev: the hot-plug producer.

The listener hears ``pci`` events (a function added or removed, bound to or
unbound from a kernel driver) and ``mdev`` events (a mediated device
created or removed on its parent function), and puts one
``hotplug.DeviceEvent`` per event to the handler (see
``cyborg.agent.hotplug``). It listens to udevd's netlink group, so an
event arrives after udev's rules ran on the device.

Where there can be no events - udevd does not run (no
:data:`UDEV_CONTROL`, as in most containers), pyudev or libudev cannot be
loaded, the netlink socket cannot be opened - :func:`open_source` says
why, and the agent logs it once and relies on periodic discovery.
"""

import errno
import logging
import os
import threading

from cyborg.agent import hotplug

LOG = logging.getLogger(__name__)

# udevd's control socket: present exactly when udevd runs. Without udevd,
# libudev turns a udev monitor into one that never hears anything.
UDEV_CONTROL = '/run/udev/control'
SUBSYSTEMS = ('pci', 'mdev')
ACTIONS = frozenset({'add', 'remove', 'bind', 'unbind'})
# How long the listener waits for an event before looking at stop().
_POLL_S = 0.5


class UdevUnavailable(Exception):
    """No device events can be heard on this host; the message says why."""


def open_source():
    """(a :class:`UdevEventSource` ready to start, None), or (None, why
    this host has no device events)."""
    if not os.path.exists(UDEV_CONTROL):
        return None, 'udev is not running on this host (no %s)' % UDEV_CONTROL
    try:
        return UdevEventSource(), None
    except UdevUnavailable as exc:
        return None, str(exc)


def event_from_properties(properties, parent_properties=None):
    """The DeviceEvent of a udev event's properties (ACTION, SUBSYSTEM,
    PCI_SLOT_NAME, PCI_ID), None for an event discovery does not care
    about. An mdev event is about its parent function: pass that
    function's properties as ``parent_properties``."""
    subsystem = properties.get('SUBSYSTEM')
    if subsystem not in SUBSYSTEMS:
        return None
    function = properties if subsystem == 'pci' else (parent_properties
                                                      or {})
    address = function.get('PCI_SLOT_NAME')
    vendor = function.get('PCI_ID', '').partition(':')[0].lower()
    return hotplug.DeviceEvent(
        action=properties.get('ACTION'), subsystem=subsystem,
        pci_address=address.lower() if address else None,
        vendor_id=vendor or None)


class UdevEventSource:
    """Listens to udev in a thread of its own: ``start(put)``, ``stop()``.

    ``netlink_source`` is pyudev's: 'udev' (udevd's events, after its
    rules; what the agent uses) or 'kernel' (the kernel's own, heard
    without udevd; for tests on hosts that have no udevd). ``actions``:
    the actions passed on. Raises UdevUnavailable when it cannot listen.
    """

    def __init__(self, netlink_source='udev', actions=ACTIONS):
        self._actions = frozenset(actions)
        self._monitor = self._open_monitor(netlink_source)
        self._stopping = threading.Event()
        self._thread = None

    @staticmethod
    def _open_monitor(netlink_source):
        try:
            # Imported here: a broken pyudev must not stop the agent, for
            # which hot-plug only shortens the wait for periodic discovery.
            import pyudev
        except ImportError as exc:
            raise UdevUnavailable('pyudev cannot be imported (%s)' % exc)
        try:
            context = pyudev.Context()
        except ImportError as exc:
            # pyudev loads libudev.so.1 here, not at import.
            raise UdevUnavailable('libudev cannot be loaded (%s)' % exc)
        try:
            monitor = pyudev.Monitor.from_netlink(context,
                                                  source=netlink_source)
            for subsystem in SUBSYSTEMS:
                monitor.filter_by(subsystem)
            # Receive from now on: events between here and start() queue
            # in the socket instead of being lost.
            monitor.start()
        except OSError as exc:
            raise UdevUnavailable('cannot listen to %s netlink events (%s)'
                                  % (netlink_source, exc))
        return monitor

    def start(self, put):
        self._thread = threading.Thread(target=self._listen, args=(put,),
                                        name='cyborg-agent-udev',
                                        daemon=True)
        self._thread.start()
        LOG.info('Listening to udev for PCI and mdev device events')

    def stop(self):
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _listen(self, put):
        while not self._stopping.is_set():
            try:
                device = self._monitor.poll(timeout=_POLL_S)
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    # The socket overflowed and events were lost: which
                    # devices they named is unknown, so rediscover all.
                    LOG.warning('Lost udev events (%s); rediscovering every '
                                'driver', exc)
                    put(hotplug.DeviceEvent(action='lost', subsystem=''))
                    continue
                LOG.error('Stopped listening to udev (%s); devices that '
                          'come or go are found by periodic discovery only',
                          exc)
                return
            if device is None or device.action not in self._actions:
                continue
            event = self._event_of(device)
            if event is not None:
                put(event)

    @staticmethod
    def _event_of(device):
        parent_properties = None
        if device.subsystem != 'pci':
            try:
                parent = device.find_parent('pci')
            except Exception:   # the parent may be gone by now
                parent = None
            if parent is not None:
                parent_properties = dict(parent.properties)
        return event_from_properties(dict(device.properties),
                                     parent_properties)
