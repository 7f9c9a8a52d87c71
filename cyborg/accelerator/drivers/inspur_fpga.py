"""Inspur FPGA accelerator cards: discovery only.

A card is a PCI function of vendor ``1bd4`` (Inspur) whose class is
``1200`` (processing accelerator). Both conditions must hold: other Inspur
devices (NVMe SSDs, class ``0108``) and other vendors' accelerators are not
FPGAs of this driver (upstream's match took either condition and picked
them up). Each card is offered whole: one deployable of one ``FPGA``
accelerator, the function its ``PCI`` attach handle, with traits
``CUSTOM_FPGA_INSPUR`` and ``CUSTOM_FPGA_PRODUCT_ID_<device id>``.

No programming: Inspur documents no tool for loading bitstreams from the
host, and upstream has none either.

Health: the generic PCI checks (see :mod:`pci_health`); the host driver's
name is not known, so any driver will do; only a card that had one and
lost it fails. Scrub: a reset of the function through sysfs, the one thing
that can be done without a programming tool.
"""

from cyborg.accelerator.drivers import base
from cyborg.accelerator.drivers import fpga
from cyborg.accelerator.drivers import pci_health
from cyborg.accelerator.drivers import pci_scrub
from cyborg.accelerator.drivers import sysfs

VENDOR_ID = '1bd4'
ACCELERATOR_CLASS_PREFIX = '1200'
DRIVER_NAME = 'INSPUR'


class InspurFpgaDriver(base.Driver, base.HealthReporting, base.Scrubbable):
    """Discovers Inspur FPGA cards."""

    driver_name = DRIVER_NAME
    pci_vendor_ids = frozenset({VENDOR_ID})

    def __init__(self, conf):
        super().__init__(conf)
        self._sysfs = sysfs.Sysfs.from_conf(conf)
        self._health = pci_health.HealthReader(self._sysfs)

    def discover(self):
        return [
            sysfs.whole_function_device(
                self.conf, function, device_type=fpga.DEVICE_TYPE,
                driver_name=DRIVER_NAME, resource_class=fpga.RESOURCE_CLASS,
                traits=['CUSTOM_FPGA_INSPUR', 'CUSTOM_FPGA_PRODUCT_ID_%s'
                        % fpga.trait_part(function.product_id)])
            for function in self._sysfs.pci_functions()
            if function.vendor_id == VENDOR_ID
            and function.class_code.startswith(ACCELERATOR_CLASS_PREFIX)
            and not function.is_virtual_function]

    def health(self, device):
        return self._health.device_health(device)

    def scrub(self, controlpath, attach_handle):
        pci_scrub.reset_handle(self._sysfs, attach_handle)
