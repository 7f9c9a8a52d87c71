"""The agent's RPC endpoint (topic ``cyborg-agent``, server = this host).

Each method hands one request to the part of the agent that does the work;
the client side, with the version history, is ``cyborg.agent.rpcapi``.
"""

import logging

import oslo_messaging as messaging

from cyborg.accelerator.drivers import base
from cyborg.accelerator import discovery
from cyborg import exception

LOG = logging.getLogger(__name__)


def _controlpath(data):
    try:
        return discovery.ControlPath.from_dict(data)
    except (KeyError, TypeError, ValueError):
        raise exception.Invalid(reason='%r is not a control path' % (data,))


class AgentManager:
    """Serves program, create_mdev, remove_mdev (1.0), prepare (1.1) and
    scrub (1.2)."""

    target = messaging.Target(version='1.2')

    def __init__(self, drivers, programmer):
        self._drivers = drivers
        self._programmer = programmer

    @messaging.expected_exceptions(exception.CyborgException)
    def program(self, context, controlpath, image_uuid, driver_name,
                checksum=None, checksum_algo=None):
        self._programmer.program(controlpath, image_uuid, driver_name,
                                 checksum=checksum,
                                 checksum_algo=checksum_algo)
        return True

    @messaging.expected_exceptions(exception.CyborgException)
    def create_mdev(self, context, pci_address, mdev_type, mdev_uuid):
        self._mdev_driver().create_mdev(pci_address, mdev_type, mdev_uuid)

    @messaging.expected_exceptions(exception.CyborgException)
    def remove_mdev(self, context, pci_address, mdev_type, mdev_uuid):
        self._mdev_driver().remove_mdev(pci_address, mdev_type, mdev_uuid)

    @messaging.expected_exceptions(exception.CyborgException)
    def prepare(self, context, controlpath, attach_handle, driver_name,
                config_data=None):
        """Apply a device context's config data through the driver."""
        controlpath = _controlpath(controlpath)
        # Several drivers may share a driver_name (Intel's FPGA, QAT and
        # NIC drivers are all "intel"): the one that takes config data.
        named = self._named_drivers(driver_name)
        preparable = [d for d in named if isinstance(d, base.Preparable)]
        if not preparable:
            raise exception.ConfigDataRefused(
                driver=driver_name, reason='it takes no config data')
        preparable[0].prepare(controlpath, attach_handle,
                              dict(config_data or {}))
        return True

    @messaging.expected_exceptions(exception.CyborgException)
    def scrub(self, context, controlpath, attach_handle, driver_name):
        """Clean a released handle through the driver that can (1.2).

        ``{'scrubbed': False}`` with the reason when no enabled driver of
        that name scrubs (the conductor then releases the handle as it
        is); ScrubFailed from the driver goes back to the conductor.
        """
        controlpath = _controlpath(controlpath)
        named = self._named_drivers(driver_name)
        scrubbable = [d for d in named if isinstance(d, base.Scrubbable)]
        if not scrubbable:
            return {'scrubbed': False,
                    'reason': 'no enabled %s driver can scrub' % driver_name}
        LOG.info('Scrubbing %s handle %s with driver %s',
                 attach_handle.get('attach_type'), attach_handle.get('uuid'),
                 driver_name)
        driver = scrubbable[0]

        def scrub():
            driver.scrub(controlpath, dict(attach_handle))
        if isinstance(driver, base.Programmable):
            # Not while a bind programs the same region.
            self._programmer.scrub_region(controlpath, scrub)
        else:
            scrub()
        return {'scrubbed': True, 'reason': None}

    def _named_drivers(self, driver_name):
        named = [driver for driver in self._drivers
                 if str(driver.driver_name).lower() == str(driver_name).lower()]
        if not named:
            raise exception.InvalidDriver(
                name=driver_name, reason='no enabled driver has this name '
                                         '(enabled: %s)' % ', '.join(
                                             d.driver_name
                                             for d in self._drivers))
        return named

    def _mdev_driver(self):
        # The mdev sysfs interface is the kernel's, the same for every
        # vendor, so any driver that creates mdevs serves the request.
        for driver in self._drivers:
            if isinstance(driver, base.MdevCapable):
                return driver
        raise exception.InvalidDriver(
            name='(mdev)', reason='no enabled driver creates mdevs; enable '
                                  'nvidia_gpu_driver in [agent] '
                                  'enabled_drivers')
