"""Intel QuickAssist (QAT) crypto and compression devices, as ``CUSTOM_QAT``.

The generations in service, by physical function id (vendor ``8086``) and
the id their VFs carry:

=========  ======  =====  ==========
model      PF id   VF id  generation
=========  ======  =====  ==========
DH895xCC   0435    0443   2
C62x       37c8    37c9   2
C3xxx      19e2    19e3   2
4xxx       4940    4941   4
401xx      4942    4943   4
402xx      4944    4945   4
420xx      4946    4947   4
=========  ======  =====  ==========

Each PF is one deployable (see :mod:`sriov`): with SR-IOV on, its VFs are
its accelerators, one ``PCI`` attach handle each; without, the PF is
offered whole. One provider per PF keeps Placement small (a dual-socket
4xxx host has 8 PFs of 16 VFs) and Nova's flow unchanged: a request for N
``CUSTOM_QAT`` lands on one PF's provider and binds N different VFs.

Traits: ``CUSTOM_QAT_<MODEL>`` and ``CUSTOM_QAT_GEN<N>``, and on
generation 4 the services the PF is configured for, read from
``qat/cfg_services``: ``CUSTOM_QAT_SYM``, ``CUSTOM_QAT_ASYM``,
``CUSTOM_QAT_DC`` (``dcc``, compression chained with hashing, gives
``CUSTOM_QAT_DC`` and ``CUSTOM_QAT_DCC``). VFs run what their PF is
configured for. Generation 2 shows no services in sysfs (the
configuration lives in the driver's files), so it gets no service trait.

A generation-4 PF whose ``qat/state`` is ``down`` is not offered: its VFs
do not work until it is brought up. An Intel co-processor (class
``0b40``) with an id not in the table is left out with a log line.

Health: the generic PCI checks (see :mod:`pci_health`) of the PF (bound
to its generation's QAT driver or ``vfio-pci``) and its VFs, plus, on
generation 4, ``qat/state``: anything but ``up`` fails the device.
Scrub: the released VF (or the PF offered whole) gets a function reset
through sysfs, which drops the rings and keys a tenant left.
"""

import collections
import logging

from cyborg.accelerator.drivers import base
from cyborg.accelerator.drivers import pci_health
from cyborg.accelerator.drivers import pci_scrub
from cyborg.accelerator.drivers import sriov
from cyborg.accelerator.drivers import sysfs
from cyborg.accelerator import discovery

LOG = logging.getLogger(__name__)

VENDOR_ID = '8086'
DRIVER_NAME = 'intel'
RESOURCE_CLASS = 'CUSTOM_QAT'
COPROCESSOR_CLASS = '0b40'

Family = collections.namedtuple('Family', 'model vf_id generation')

FAMILIES = {
    '0435': Family('DH895XCC', '0443', 2),
    '37c8': Family('C62X', '37c9', 2),
    '19e2': Family('C3XXX', '19e3', 2),
    '4940': Family('4XXX', '4941', 4),
    '4942': Family('401XX', '4943', 4),
    '4944': Family('402XX', '4945', 4),
    '4946': Family('420XX', '4947', 4),
}
VF_IDS = frozenset(family.vf_id for family in FAMILIES.values())
# The kernel's name of the QAT driver of each model's PF.
KERNEL_DRIVERS = {
    'DH895XCC': 'dh895xcc', 'C62X': 'c6xx', 'C3XXX': 'c3xxx',
    '4XXX': '4xxx', '401XX': '4xxx', '402XX': '4xxx', '420XX': '420xx',
}
# Services whose trait implies another: chained compression is compression.
_IMPLIED_SERVICES = {'dcc': ('dc',)}


def is_qat_function(function):
    """Whether a PCI function is a QAT PF or VF this driver knows."""
    return function.vendor_id == VENDOR_ID and (
        function.product_id in FAMILIES or function.product_id in VF_IDS)


def service_traits(services):
    """Traits of the services a PF runs: ('asym', 'sym') -> ASYM, SYM."""
    names = set(services)
    for service in services:
        names.update(_IMPLIED_SERVICES.get(service, ()))
    return ['CUSTOM_QAT_%s' % name.upper() for name in sorted(names)]


class IntelQatDriver(base.Driver, base.HealthReporting, base.Scrubbable):
    """Discovers QAT physical functions and their VFs."""

    driver_name = DRIVER_NAME
    pci_vendor_ids = frozenset({VENDOR_ID})

    def __init__(self, conf):
        super().__init__(conf)
        self._sysfs = sysfs.Sysfs.from_conf(conf)
        self._health = pci_health.HealthReader(self._sysfs)
        # Unknown co-processors do not change while the agent runs: say so
        # once, not every discovery.
        self._log_once = base.LogOncePerKey(LOG)

    def discover(self):
        functions = self._sysfs.pci_functions()
        by_address = {function.address: function for function in functions}
        devices = []
        for function in functions:
            if function.vendor_id != VENDOR_ID:
                continue
            family = FAMILIES.get(function.product_id)
            if family is not None:
                device = self._pf_device(function, family, by_address)
                if device is not None:
                    devices.append(device)
            elif (function.class_code.startswith(COPROCESSOR_CLASS)
                  and function.product_id not in VF_IDS):
                self._log_unknown(function)
        return devices

    def _pf_device(self, pf, family, by_address):
        name = 'QAT %s' % family.model
        try:
            status = self._sysfs.qat_status(pf.address)
        except sysfs.MalformedSysfsFile as exc:
            LOG.warning('Not offering %s %s: %s', name, pf.address, exc)
            return None
        if status is not None and status.state != 'up':
            LOG.info('Not offering %s %s: qat/state is %s', name, pf.address,
                     status.state)
            return None
        vfs = sriov.usable_vfs(pf, by_address, {family.vf_id}, name)
        if vfs is None:
            return None
        traits = ['CUSTOM_QAT_%s' % family.model,
                  'CUSTOM_QAT_GEN%d' % family.generation]
        if status is not None:
            traits += service_traits(status.services)
        return sriov.pf_device(self.conf, pf, vfs, device_type='QAT',
                               driver_name=DRIVER_NAME,
                               resource_class=RESOURCE_CLASS, traits=traits)

    def _log_unknown(self, function):
        self._log_once(function.address, logging.INFO,
                       'Not offering Intel co-processor %s (8086:%s): not a '
                       'QAT device id this driver knows', function.address,
                       function.product_id)

    def health(self, device):
        family = FAMILIES.get(device.model)
        drivers = (KERNEL_DRIVERS[family.model],) if family else None
        return self._health.device_health(
            device, expected_drivers=drivers, family_check=self._qat_findings)

    def _qat_findings(self, address):
        status = self._sysfs.qat_status(address)
        if status is None or status.state == 'up':
            return []
        return [discovery.Health(
            discovery.FAILED, 'QAT %s is %s (qat/state)'
                              % (address, status.state))]

    def scrub(self, controlpath, attach_handle):
        pci_scrub.reset_handle(self._sysfs, attach_handle)
