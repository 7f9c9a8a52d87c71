"""The accelerator driver interface and the loader the agent uses.

A driver is a plugin in the ``cyborg.accelerator.driver`` stevedore
namespace, enabled by name in ``[agent] enabled_drivers``. Every driver does
one thing: :meth:`Driver.discover` describes the devices it finds on this
host as plain :mod:`cyborg.accelerator.discovery` data. It never touches the
database or Placement; the conductor turns reports into both.

What a driver can do beyond discovery is a separate small interface it may
also implement, and the agent checks with ``isinstance``:

* :class:`Programmable` - load a bitstream into a device region (FPGAs);
* :class:`MdevCapable` - create and remove mediated devices (vGPUs);
* :class:`Preparable` - prepare a function for an instance with the
  ``config_data`` of a device context (API 2.4);
* :class:`HealthReporting` - say whether a discovered device is healthy;
* :class:`Scrubbable` - wipe what one tenant left on a function before the
  next one gets it.

Drivers get the parsed ``ConfigOpts`` in their constructor and read options
from it; none reads a global ``CONF``.
"""

import abc
import importlib.metadata
import logging

from stevedore import driver as stevedore_driver

from cyborg import exception

LOG = logging.getLogger(__name__)

NAMESPACE = 'cyborg.accelerator.driver'


class Driver(abc.ABC):
    """Discovers one family of accelerators on this host.

    ``driver_name`` is what the driver writes into its deployables'
    ``driver_name``; programming requests name the driver by it.

    A ``generic`` driver offers devices by the operator's description (the
    PCI whitelist) rather than by knowing the hardware; when it and a
    specific driver both offer one PCI function, the agent reports the
    specific driver's device.
    """

    driver_name = None
    generic = False
    # The PCI vendor ids (lowercase hex, no 0x) of every function whose
    # arrival, removal or change of kernel driver can change what
    # discover() returns. Hot-plug rediscovers only the drivers a device
    # event concerns; None (a driver that does not say) means every event.
    pci_vendor_ids = None

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def discover(self):
        """Return the devices found now, as a list of ``discovery.Device``.

        Must be cheap enough to run every ``[DEFAULT] periodic_interval``
        and must return the same data for an unchanged host (the agent
        fingerprints it to decide whether to send a full report). A device
        it cannot read is logged and left out; the rest is still returned.
        """


class LogOncePerKey:
    """Logs a message the first time its key (a PCI address) comes up.

    What a driver cannot offer does not change while the agent runs, and
    discovery runs every ``[DEFAULT] periodic_interval``: saying it once per
    agent run keeps the log readable.
    """

    def __init__(self, logger):
        self._logger = logger
        self._seen = set()

    def __call__(self, key, level, message, *args):
        if key not in self._seen:
            self._seen.add(key)
            self._logger.log(level, message, *args)


class Programmable(abc.ABC):
    """A driver whose devices take bitstreams (FPGA regions)."""

    @abc.abstractmethod
    def program(self, controlpath, image_path):
        """Load the bitstream file at ``image_path`` into ``controlpath``.

        ``controlpath`` is an ``discovery.ControlPath``. Returns None;
        raises ``exception.ProgrammingFailed`` when the device refuses.
        """

    @abc.abstractmethod
    def loaded_bitstream(self, controlpath):
        """An opaque token naming what the region holds now, or None.

        The agent records the token after programming and compares it on
        the next request for the same image: a different token means the
        region was reprogrammed behind our back, so it is programmed again.
        None means the device cannot tell; the agent's record is trusted.
        """


class MdevCapable(abc.ABC):
    """A driver whose devices are split into mediated devices (vGPUs).

    Both calls are idempotent: creating an mdev that exists and removing
    one that is gone succeed, so a retried RPC does no harm.
    """

    @abc.abstractmethod
    def create_mdev(self, pci_address, mdev_type, mdev_uuid):
        """Create the mdev ``mdev_uuid`` of ``mdev_type`` on the device."""

    @abc.abstractmethod
    def remove_mdev(self, pci_address, mdev_type, mdev_uuid):
        """Remove the mdev ``mdev_uuid`` from the device."""


class Preparable(abc.ABC):
    """A driver that takes the config data of device contexts (API 2.4).

    A device context carries ``config_data``, a flat map of strings its
    creator wants applied to the accelerator; at bind, after the attach
    handle is claimed (and any bitstream programmed, any mdev created),
    the agent hands it to the deployable's driver here. The keys are the
    driver's to define and to document on its admin guide page; a driver
    that is not Preparable takes none, and a bind that carries config data
    to it fails rather than silently dropping it.
    """

    @abc.abstractmethod
    def prepare(self, controlpath, attach_handle, config_data):
        """Apply ``config_data`` to the function ``attach_handle`` names.

        ``controlpath`` is the device's ``discovery.ControlPath``;
        ``attach_handle`` a dict of ``uuid``, ``attach_type`` and
        ``attach_info``; ``config_data`` a dict of str to str. Idempotent
        (a retried bind calls it again). Raises
        ``exception.ConfigDataRefused`` for config data it cannot apply.
        """



class HealthReporting(abc.ABC):
    """A driver that can tell whether a device it discovered still works.

    The agent calls :meth:`health` every ``[agent] health_interval``
    seconds, much more often than :meth:`Driver.discover`, so it must be
    cheap: a few sysfs reads, never a tool that takes seconds.
    """

    @abc.abstractmethod
    def health(self, device):
        """Return a ``discovery.Health`` for ``device``.

        ``device`` is a ``discovery.Device`` this driver returned from its
        last discovery. ``failed``: the device must not be given to new
        instances (fatal errors, gone from its driver); ``degraded``: it
        works below what it should (a link trained down, correctable errors
        piling up) and is also kept from new instances; ``healthy``
        otherwise. A device whose state cannot be read is ``failed`` with
        the reason, never an exception.
        """


class Scrubbable(abc.ABC):
    """A driver that can clean a function between two tenants."""

    @abc.abstractmethod
    def scrub(self, controlpath, attach_handle):
        """Leave nothing of the previous tenant on ``attach_handle``.

        ``controlpath`` is the device's ``discovery.ControlPath``;
        ``attach_handle`` a dict of ``uuid``, ``attach_type`` and
        ``attach_info``. What it does is the family's: program a blank
        image, reset the PCI function, recreate the mdev. Idempotent (a
        scrub interrupted by a crash is run again). Raises
        ``exception.ScrubFailed`` when the function could not be cleaned.
        """


def available_driver_names():
    """Names of every installed driver plugin (imports none of them)."""
    return sorted({ep.name for ep in
                   importlib.metadata.entry_points(group=NAMESPACE)})


def load_drivers(conf):
    """Instantiate every driver of ``[agent] enabled_drivers``, in order.

    Raises ``exception.InvalidDriver`` naming the first driver that is not
    installed, fails to import or fails to start, so the agent stops at
    start-up with that one message instead of running half-blind.
    """
    drivers = []
    seen = set()
    for name in conf.agent.enabled_drivers:
        if name in seen:
            # Loading it twice would report its devices twice.
            LOG.warning('Driver %s is listed twice in [agent] '
                        'enabled_drivers; loading it once.', name)
            continue
        seen.add(name)
        drivers.append(_load_driver(conf, name))
        LOG.info('Loaded accelerator driver %s', name)
    return drivers


def _load_driver(conf, name):
    known = available_driver_names()
    if name not in known:
        raise exception.InvalidDriver(
            name=name, reason='no such driver in namespace %s (installed: '
                              '%s)' % (NAMESPACE, ', '.join(known) or 'none'))
    failures = []

    def _remember_failure(manager, entrypoint, exc):
        failures.append(exc)

    try:
        manager = stevedore_driver.DriverManager(
            NAMESPACE, name, invoke_on_load=True, invoke_args=(conf,),
            on_load_failure_callback=_remember_failure)
    except Exception as exc:
        # stevedore reports an import or constructor error as "no driver
        # found"; the callback kept the real cause.
        cause = failures[0] if failures else exc
        raise exception.InvalidDriver(
            name=name, reason='%s: %s' % (type(cause).__name__, cause))
    if not isinstance(manager.driver, Driver):
        raise exception.InvalidDriver(
            name=name, reason='%s is not a cyborg accelerator driver'
                              % type(manager.driver).__name__)
    return manager.driver
