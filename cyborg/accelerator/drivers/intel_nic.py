"""Intel E810 and 700-series NICs, as ``CUSTOM_NIC``, for accelerated ports.

Physical functions by id (vendor ``8086``) and the id of their VFs:

=======================================  ================  =====
controller                               PF ids            VF id
=======================================  ================  =====
E810-C (backplane, QSFP, SFP)            1591, 1592, 1593  1889
E810-XXV (backplane, QSFP, SFP)          1599, 159a, 159b  1889
X710 for SFP+                            1572              154c
XL710 for QSFP+                          1583, 1584        154c
XXV710                                   158b              154c
=======================================  ================  =====

Each PF is one deployable (see :mod:`sriov`): its VFs, or itself whole when
SR-IOV is off. Traits: ``CUSTOM_NIC_<CONTROLLER>``, ``CUSTOM_VF`` (VFs
offered) or ``CUSTOM_PF`` (the PF whole), and from the mappings of the
option groups named in ``[nic_devices] enabled_nic_types`` (upstream's
``[x710_static]``), matched on the PF's interface names:

* ``physical_device_mappings``: ``CUSTOM_<PHYSNET>``, and the physnet as
  ``physical_network`` in every attach handle's info (Nova reads it to
  bind the port);
* ``function_device_mappings``: ``CUSTOM_<FUNCTION>``;
* ``ddp_package_mappings``: ``CUSTOM_NIC_DDP_<PACKAGE>``. The E810 loads
  its DDP package at driver start; Linux reports which one only through
  devlink (``devlink dev info``: ``fw.app.name``, ``fw.app``) and the
  kernel log, nothing in sysfs or the ice debugfs, so it is configured,
  not read.

A mapping entry that cannot be parsed is logged once, naming the option,
and ignored. A PF whose interfaces map to two different physnets is left
out (which physnet would its VFs be on?), logged once.

Health: the generic PCI checks (see :mod:`pci_health`) of the PF (bound
to ``ice`` on an E810, ``i40e`` on the 700 series, or ``vfio-pci``) and
of its VFs. Scrub: the released VF (or the PF offered whole) gets a
function reset through sysfs, which clears its queues, filters and MAC
settings.
"""

import collections
import logging
import re

from cyborg.accelerator.drivers import base
from cyborg.accelerator.drivers import pci_health
from cyborg.accelerator.drivers import pci_scrub
from cyborg.accelerator.drivers import sriov
from cyborg.accelerator.drivers import sysfs
from cyborg.conf import nic_devices

LOG = logging.getLogger(__name__)

VENDOR_ID = '8086'
DRIVER_NAME = 'intel'
RESOURCE_CLASS = 'CUSTOM_NIC'

Family = collections.namedtuple('Family', 'controller vf_id')

_E810 = Family('E810', '1889')
FAMILIES = {
    '1591': _E810, '1592': _E810, '1593': _E810,
    '1599': _E810, '159a': _E810, '159b': _E810,
    '1572': Family('X710', '154c'),
    '1583': Family('XL710', '154c'), '1584': Family('XL710', '154c'),
    '158b': Family('XXV710', '154c'),
}
VF_IDS = frozenset(family.vf_id for family in FAMILIES.values())
# The kernel's driver of each controller's PF.
KERNEL_DRIVERS = {'E810': 'ice', 'X710': 'i40e', 'XL710': 'i40e',
                  'XXV710': 'i40e'}

MAPPING_OPTIONS = ('physical_device_mappings', 'function_device_mappings',
                   'ddp_package_mappings')


def is_nic_function(function):
    """Whether a PCI function is a PF or VF this driver knows."""
    return function.vendor_id == VENDOR_ID and (
        function.product_id in FAMILIES or function.product_id in VF_IDS)


def trait_part(text):
    """Upper-case ``text`` and make it a valid piece of a trait name."""
    return re.sub(r'[^A-Z0-9_]', '_', text.strip().upper())


def parse_mappings(conf):
    """{option: {interface: [values]}} from every enabled NIC type group.

    Entries are ``<value>:<interface>|<interface>...``; one that cannot be
    parsed is logged, naming the option, and skipped.
    """
    mappings = {option: collections.defaultdict(list)
                for option in MAPPING_OPTIONS}
    for group in nic_devices.register_nic_type_groups(conf):
        for option in MAPPING_OPTIONS:
            for entry in conf[group][option]:
                # The value may hold colons (a package name); interface
                # names may not, so split at the last one.
                value, _, interfaces = entry.rpartition(':')
                names = [name.strip() for name in interfaces.split('|')]
                if not value.strip() or not trait_part(value).strip('_') \
                        or not all(names):
                    LOG.error('Ignoring [%s] %s entry %r: expected '
                              '<name>:<interface>|<interface>...', group,
                              option, entry)
                    continue
                for name in names:
                    if value.strip() not in mappings[option][name]:
                        mappings[option][name].append(value.strip())
    return mappings


class IntelNicDriver(base.Driver, base.HealthReporting, base.Scrubbable):
    """Discovers E810 and 700-series NIC ports and their VFs."""

    driver_name = DRIVER_NAME
    pci_vendor_ids = frozenset({VENDOR_ID})

    def __init__(self, conf):
        super().__init__(conf)
        self._sysfs = sysfs.Sysfs.from_conf(conf)
        self._health = pci_health.HealthReader(self._sysfs)
        # The options cannot change without a restart: parse them once.
        self._mappings = parse_mappings(conf)
        self._log_conflict_once = base.LogOncePerKey(LOG)

    def discover(self):
        functions = self._sysfs.pci_functions()
        by_address = {function.address: function for function in functions}
        devices = []
        for function in functions:
            family = (FAMILIES.get(function.product_id)
                      if function.vendor_id == VENDOR_ID else None)
            if family is None:
                continue
            device = self._pf_device(function, family, by_address)
            if device is not None:
                devices.append(device)
        return devices

    def _values(self, option, pf):
        """The option's values for the PF's interfaces, first seen first."""
        found = []
        for netdev in pf.netdevs:
            for value in self._mappings[option].get(netdev, ()):
                if value not in found:
                    found.append(value)
        return found

    def _pf_device(self, pf, family, by_address):
        name = 'Intel %s' % family.controller
        physnets = self._values('physical_device_mappings', pf)
        if len(physnets) > 1:
            self._log_conflict_once(
                pf.address, logging.ERROR,
                'Not offering %s %s: its interfaces %s map to physnets %s in '
                'physical_device_mappings; a port is on one physnet', name,
                pf.address, ', '.join(pf.netdevs), ', '.join(physnets))
            return None
        vfs = sriov.usable_vfs(pf, by_address, {family.vf_id}, name)
        if vfs is None:
            return None
        traits = ['CUSTOM_NIC_%s' % family.controller,
                  'CUSTOM_VF' if vfs else 'CUSTOM_PF']
        traits += ['CUSTOM_%s' % trait_part(physnet) for physnet in physnets]
        traits += sorted({'CUSTOM_%s' % trait_part(function) for function
                          in self._values('function_device_mappings', pf)})
        traits += sorted({'CUSTOM_NIC_DDP_%s' % trait_part(package)
                          for package in
                          self._values('ddp_package_mappings', pf)})
        labels = {'physical_network': physnets[0]} if physnets else None
        return sriov.pf_device(self.conf, pf, vfs, device_type='NIC',
                               driver_name=DRIVER_NAME,
                               resource_class=RESOURCE_CLASS,
                               traits=list(dict.fromkeys(traits)),
                               handle_labels=labels)

    def health(self, device):
        family = FAMILIES.get(device.model)
        drivers = (KERNEL_DRIVERS[family.controller],) if family else None
        return self._health.device_health(device, expected_drivers=drivers)

    def scrub(self, controlpath, attach_handle):
        pci_scrub.reset_handle(self._sysfs, attach_handle)
