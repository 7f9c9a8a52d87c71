"""SR-IOV physical functions offered as one deployable each.

Drivers of devices split into virtual functions (QAT, Intel NICs) offer
each physical function as one deployable named after it (so one Placement
provider per PF, whatever the VF count):

* a PF without VFs is offered whole: one accelerator, one ``PCI`` attach
  handle for the PF itself;
* a PF with VFs enabled offers its VFs: as many accelerators as VFs that
  can be offered, one ``PCI`` handle per VF. The PF itself is not offered
  then: a guest holding it would hold every VF's hardware too.

A bind claims any free handle of the deployable, so Nova's allocation of
N units on the PF's provider becomes N different VFs.

A VF the scan could not read was logged by the scan and is left out; a VF
whose device id is not one the driver knows is left out with a log line.
A PF with VFs enabled of which none can be offered is left out.
"""

import logging

from cyborg.accelerator.drivers import sysfs
from cyborg.accelerator import discovery

LOG = logging.getLogger(__name__)


def usable_vfs(pf, functions_by_address, vf_ids, family):
    """The PF's VFs to offer, in VF index order; None to leave the PF out.

    ``functions_by_address`` is the scan ({address: PciFunction}),
    ``vf_ids`` the device ids the PF's VFs carry, ``family`` the name the
    log lines give the device (``QAT C62x``).
    """
    vfs = []
    for address in pf.virtfns:
        vf = functions_by_address.get(address)
        if vf is None:
            # The scan could not read it and said why.
            continue
        if vf.vendor_id != pf.vendor_id or vf.product_id not in vf_ids:
            LOG.warning('Not offering VF %s of %s %s: device id %s:%s is '
                        'not a VF id of that device (expected %s)', address,
                        family, pf.address, vf.vendor_id, vf.product_id,
                        ', '.join(sorted(vf_ids)))
            continue
        vfs.append(vf)
    if pf.virtfns and not vfs:
        LOG.warning('Not offering %s %s: it has %d VFs enabled and none of '
                    'them can be offered', family, pf.address,
                    len(pf.virtfns))
        return None
    return vfs


def pf_device(conf, pf, vfs, device_type, driver_name, resource_class,
              traits, handle_labels=None):
    """The report's Device for a PF and the VFs it offers (maybe none).

    ``handle_labels`` are added to every attach handle's info (a NIC's
    ``physical_network``).
    """
    functions = vfs or [pf]
    handles = [discovery.AttachHandle(
        attach_type='PCI',
        info=dict(discovery.pci_address_dict(function.address),
                  **(handle_labels or {})))
        for function in functions]
    deployable = discovery.Deployable(
        name=sysfs.deployable_name(conf, pf.address),
        num_accelerators=len(functions),
        driver_name=driver_name,
        resource_class=resource_class,
        traits=list(traits),
        attach_handles=handles)
    return sysfs.function_device(pf, device_type, [deployable])
