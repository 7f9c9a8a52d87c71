"""Huawei Ascend NPUs, offered whole as ``CUSTOM_NPU``.

Ascend chips by device id (vendor ``19e5``, class processing accelerator):

======  ======  ==================================================
id      model   cards
======  ======  ==================================================
d100    310     Atlas 300I (four chips, four PCI functions)
d500    310P    Atlas 300I Pro / 300V
d801    910     Atlas 300T, Atlas 800 (one function per chip)
d802    910B    Atlas 300T A2, Atlas 800T A2
======  ======  ==================================================

Each chip is one PCI function, offered whole: one deployable of one
accelerator with one ``PCI`` attach handle. Upstream Cyborg reports these
without a resource class, which leaves them out of Placement and so out of
scheduling; we report ``CUSTOM_NPU``, with the traits
``CUSTOM_NPU_HUAWEI`` and ``CUSTOM_NPU_ASCEND_<MODEL>`` (``_310``,
``_310P``, ``_910``, ``_910B``) for a flavor to pick the model. Deployables
are named ``<[DEFAULT] host>_<address>`` like every other driver's (upstream
leaves the host out, so two hosts' providers would clash).

Huawei makes other PCI devices (NICs, RAID, Kunpeng root ports); only the
ids above are taken. A Huawei processing accelerator with another id is
left out with a log line, once: it may be a newer Ascend this driver does
not know yet. SR-IOV functions are not offered: a VF is a slice only
Huawei's own tools set up, and a chip with VFs enabled is not whole.

Health: the generic PCI checks (see :mod:`pci_health`). Huawei's host
driver has had several names, so the binding rule is that a chip keeps a
driver once it had one. Scrub: a function reset through sysfs.
"""

import logging

from cyborg.accelerator.drivers import base
from cyborg.accelerator.drivers import pci_health
from cyborg.accelerator.drivers import pci_scrub
from cyborg.accelerator.drivers import sysfs

LOG = logging.getLogger(__name__)

VENDOR_ID = '19e5'
PROCESSING_ACCELERATOR_CLASS = '12'
DRIVER_NAME = 'huawei'
RESOURCE_CLASS = 'CUSTOM_NPU'
MODELS = {'d100': '310', 'd500': '310P', 'd801': '910', 'd802': '910B'}


def is_ascend_function(function):
    """Whether a PCI function is an Ascend chip this driver knows."""
    return function.vendor_id == VENDOR_ID and function.product_id in MODELS


class HuaweiAscendDriver(base.Driver, base.HealthReporting,
                         base.Scrubbable):
    """Discovers Ascend NPUs."""

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
            if function.vendor_id != VENDOR_ID:
                continue
            model = MODELS.get(function.product_id)
            if model is None:
                if function.class_code.startswith(
                        PROCESSING_ACCELERATOR_CLASS):
                    self._log_once(function.address, logging.INFO,
                                   'Not offering Huawei processing '
                                   'accelerator %s (19e5:%s): not an Ascend '
                                   'device id this driver knows',
                                   function.address, function.product_id)
                continue
            if function.is_virtual_function or function.virtfns:
                self._log_once(function.address, logging.INFO,
                               'Not offering Ascend %s %s: %s', model,
                               function.address,
                               'it is an SR-IOV VF'
                               if function.is_virtual_function else
                               'it has %d SR-IOV VFs enabled'
                               % len(function.virtfns))
                continue
            devices.append(sysfs.whole_function_device(
                self.conf, function, device_type='AICHIP',
                driver_name=DRIVER_NAME, resource_class=RESOURCE_CLASS,
                traits=['CUSTOM_NPU_HUAWEI', 'CUSTOM_NPU_ASCEND_%s' % model]))
        return devices

    def health(self, device):
        return self._health.device_health(device)

    def scrub(self, controlpath, attach_handle):
        pci_scrub.reset_handle(self._sysfs, attach_handle)
