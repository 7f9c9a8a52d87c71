"""Inspur NVMe SSDs, offered whole as ``CUSTOM_SSD``.

An Inspur SSD is a PCI function of vendor ``1bd4`` whose class is an NVMe
I/O controller (``010802``); Inspur's RAID controllers and FPGA cards share
the vendor id and are not taken, nor are other vendors' NVMe drives. Each
drive is one deployable of one accelerator with one ``PCI`` attach handle
(a guest gets the whole controller), with the traits
``CUSTOM_SSD_INSPUR`` and ``CUSTOM_SSD_PRODUCT_ID_<PID>``.

SR-IOV functions are not offered, nor a drive with VFs enabled: its
namespaces are shared out by then.

Health: the generic PCI checks (see :mod:`pci_health`), the drive bound
to ``nvme`` or ``vfio-pci``. Scrub: a function reset through sysfs. A
reset clears the controller's state, not the data on its namespaces:
erasing them (NVMe format or sanitize) takes minutes and is the
operator's to run.
"""

import logging

from cyborg.accelerator.drivers import base
from cyborg.accelerator.drivers import pci_health
from cyborg.accelerator.drivers import pci_scrub
from cyborg.accelerator.drivers import sysfs

LOG = logging.getLogger(__name__)

VENDOR_ID = '1bd4'
NVME_CLASS = '010802'
DRIVER_NAME = 'INSPUR'
RESOURCE_CLASS = 'CUSTOM_SSD'
HOST_DRIVERS = ('nvme',)


def is_inspur_nvme_function(function):
    """Whether a PCI function is an Inspur NVMe drive."""
    return function.vendor_id == VENDOR_ID and \
        function.class_code == NVME_CLASS


class InspurNvmeSsdDriver(base.Driver, base.HealthReporting,
                          base.Scrubbable):
    """Discovers Inspur NVMe SSDs."""

    driver_name = DRIVER_NAME
    pci_vendor_ids = frozenset({VENDOR_ID})

    def __init__(self, conf):
        super().__init__(conf)
        self._sysfs = sysfs.Sysfs.from_conf(conf)
        self._health = pci_health.HealthReader(self._sysfs)
        self._log_once = base.LogOncePerKey(LOG)

    def discover(self):
        devices = []
        for function in self._sysfs.pci_functions():
            if not is_inspur_nvme_function(function):
                continue
            if function.is_virtual_function or function.virtfns:
                self._log_once(function.address, logging.INFO,
                               'Not offering Inspur NVMe %s: it is an SR-IOV '
                               '%s', function.address,
                               'VF' if function.is_virtual_function
                               else 'PF with VFs enabled')
                continue
            devices.append(sysfs.whole_function_device(
                self.conf, function, device_type='SSD',
                driver_name=DRIVER_NAME, resource_class=RESOURCE_CLASS,
                traits=['CUSTOM_SSD_INSPUR', 'CUSTOM_SSD_PRODUCT_ID_%s'
                        % function.product_id.upper()]))
        return devices

    def health(self, device):
        return self._health.device_health(device,
                                          expected_drivers=HOST_DRIVERS)

    def scrub(self, controlpath, attach_handle):
        pci_scrub.reset_handle(self._sysfs, attach_handle)
