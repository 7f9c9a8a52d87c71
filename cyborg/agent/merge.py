"""One host report from every driver's devices, each PCI function once.

Drivers overlap: the generic ``pci_driver`` offers whatever the whitelist
names, which may be a GPU that ``nvidia_gpu_driver`` offers too, or a VF
that ``intel_qat_driver`` hands out as a handle of its PF. Reported twice,
one function would be two accelerators in Placement, and two guests could
get it (the conductor refuses a report naming one control path twice, so
the whole host would not report at all).

The rule, the same every run whatever the order of ``[agent]
enabled_drivers``:

* the PCI functions of a device are its control path's address and the
  address of every attach handle (an mdev handle names its parent GPU);
* a device of a specific driver wins over a device of a generic driver
  (``Driver.generic``) that shares a function with it;
* between two specific drivers, or two generic ones, the driver listed
  first in ``[agent] enabled_drivers`` wins;
* the device that loses is left out whole, with one log line the first
  time (the overlap does not change while the agent runs).

The devices kept stay in driver order, so an unchanged host gives an
unchanged report (and fingerprint).
"""

import logging

from cyborg.accelerator import discovery

LOG = logging.getLogger(__name__)

_ADDRESS_KEYS = ('domain', 'bus', 'device', 'function')


def pci_functions_of(device):
    """The addresses of the PCI functions a Device uses."""
    infos = [device.controlpath.info] if device.controlpath.cpid_type == \
        'PCI' else []
    infos += [handle.info for deployable in device.deployables
              for handle in deployable.attach_handles]
    return {discovery.pci_address_str(info) for info in infos
            if all(key in info for key in _ADDRESS_KEYS)}


class DeviceMerger:
    """Merges drivers' results; remembers which overlaps it has logged."""

    def __init__(self):
        self._logged = set()

    def merge(self, results):
        """``results``: [(driver, [Device])] in enabled order; the Devices
        to report."""
        # Specific drivers claim functions first; sorted() keeps the
        # enabled order within each kind.
        claim_order = sorted(range(len(results)),
                             key=lambda index: bool(results[index][0].generic))
        owner = {}   # PCI function -> index of the driver that has it
        dropped = set()   # (driver index, device index)
        for index in claim_order:
            driver, devices = results[index]
            for position, device in enumerate(devices):
                functions = pci_functions_of(device)
                taken = sorted(f for f in functions
                               if owner.get(f, index) != index)
                if taken:
                    dropped.add((index, position))
                    self._log(driver, results[owner[taken[0]]][0], taken)
                    continue
                for function in functions:
                    owner[function] = index
        return [device for index, (_driver, devices) in enumerate(results)
                for position, device in enumerate(devices)
                if (index, position) not in dropped]

    def _log(self, loser, winner, functions):
        key = (type(loser).__name__, type(winner).__name__,
               tuple(functions))
        if key in self._logged:
            return
        self._logged.add(key)
        LOG.info('PCI device %s is offered by %s and by %s; reporting it '
                 'once, as %s offers it (%s)',
                 ', '.join(functions), type(winner).__name__,
                 type(loser).__name__, type(winner).__name__,
                 'a specific driver wins over a generic one'
                 if loser.generic and not winner.generic else
                 'the driver listed first in [agent] enabled_drivers wins')
