"""Intel FPGA cards: PAC Arria 10, PAC N3000, PAC D5005 and OFS cards.

A card is a PCI physical function of vendor ``8086`` with one of the
device ids of :data:`PRODUCTS`. Its management engine (FME) and its port
are read from sysfs in either layout Linux has had (see
``cyborg.accelerator.drivers.sysfs``): the in-kernel DFL driver of current
kernels, or OPAE's older out-of-tree ``intel-fpga`` driver.

Each card is one deployable (its partial reconfiguration region) of
resource class ``FPGA``:

* without SR-IOV VFs: one accelerator, the PF as its ``PCI`` attach handle;
* with VFs (the port released to them): one accelerator per VF, each VF a
  ``PCI`` attach handle.

Traits: ``CUSTOM_FPGA_INTEL``, ``CUSTOM_FPGA_INTEL_<PRODUCT>``,
``CUSTOM_FPGA_REGION_INTEL_<interface id>`` (what a PR bitstream must be
built for) and ``CUSTOM_FPGA_FUNCTION_ID_INTEL_<afu id>`` (what the port
runs now). A card whose FME is missing (no FPGA driver bound) is reported
as a stub, which the conductor ignores.

Programming runs OPAE's ``fpgaconf`` on the PF (``[intel_fpga]
fpgaconf_path``, ``program_timeout``), which loads a green bitstream into
the PR region. ``fpgasupdate`` is not used: it rewrites the card's flash
(static region, firmware), which takes effect only after the card is
reloaded, so it is no bind-time operation.

Health (see :mod:`pci_health`): the PF's generic PCI checks (bound to
``dfl-pci``, ``intel-fpga-pci`` or ``vfio-pci``), plus the FME's error
registers: ``catfatal_errors`` set fails the card, any bit in
``nonfatal_errors``, ``fme_errors``, ``pcie0_errors`` or ``pcie1_errors``
degrades it, the register named in the reason.

Scrub: ``[intel_fpga] scrub_image`` loaded with fpgaconf when set, else a
reset of the released function (PF or VF) through sysfs, which resets
the port's AFU but leaves its bitstream loaded.
"""

import logging

from cyborg.accelerator.drivers import base
from cyborg.accelerator.drivers import fpga
from cyborg.accelerator.drivers import pci_health
from cyborg.accelerator.drivers import sysfs
from cyborg.accelerator import discovery

LOG = logging.getLogger(__name__)

VENDOR_ID = '8086'
DRIVER_NAME = 'intel'
# PF device id -> product, as the product trait names it. Their VFs
# (09c5, 0b31, 0b2c, bccf) are found through the PFs' virtfn links.
PRODUCTS = {
    '09c4': 'PAC_ARRIA10',
    '0b30': 'PAC_N3000',
    '0b2b': 'PAC_D5005',
    # Open FPGA Stack cards (Agilex-based N6000/N6001 and others).
    'bcce': 'OFS',
}
HOST_DRIVERS = ('dfl-pci', 'intel-fpga-pci')
# FME error registers whose bits mean the card lost data or stopped.
FATAL_FME_REGISTERS = ('catfatal_errors',)


class IntelFpgaDriver(base.Driver, base.Programmable, base.HealthReporting,
                      base.Scrubbable):
    """Discovers Intel FPGA cards and programs them with fpgaconf."""

    driver_name = DRIVER_NAME
    pci_vendor_ids = frozenset({VENDOR_ID})

    def __init__(self, conf):
        super().__init__(conf)
        self._sysfs = sysfs.Sysfs.from_conf(conf)
        self._health = pci_health.HealthReader(self._sysfs)

    def _cards(self):
        return [function for function in self._sysfs.pci_functions()
                if function.vendor_id == VENDOR_ID
                and function.product_id in PRODUCTS
                and not function.is_virtual_function]

    def discover(self):
        dfl_features = {}
        for feature in self._sysfs.dfl_devices():
            dfl_features.setdefault(feature.pci_address, []).append(
                '0x%x' % feature.feature_id)
        return [self._device(card, dfl_features.get(card.address, []))
                for card in self._cards()]

    def _device(self, card, dfl_features):
        manager = self._sysfs.fpga_manager(card.address)
        if manager is None:
            LOG.info('FPGA %s has no FPGA management engine in sysfs (no '
                     'FPGA driver bound?); reporting it as a stub',
                     card.address)
            device = sysfs.function_device(card, fpga.DEVICE_TYPE, [])
            device.stub = True
            return device
        ports = list(self._sysfs.fpga_ports(card.address))
        for vf in card.virtfns:
            ports += self._sysfs.fpga_ports(vf)
        handle_addresses = list(card.virtfns) or [card.address]
        traits = ['CUSTOM_FPGA_INTEL',
                  'CUSTOM_FPGA_INTEL_%s' % PRODUCTS[card.product_id]]
        if manager.region_id:
            traits.append('CUSTOM_FPGA_REGION_INTEL_%s'
                          % fpga.trait_part(manager.region_id))
        traits += sorted({fpga.function_trait(DRIVER_NAME, port.afu_id)
                          for port in ports if port.afu_id})
        deployable = discovery.Deployable(
            name=sysfs.deployable_name(self.conf, card.address),
            num_accelerators=len(handle_addresses),
            driver_name=DRIVER_NAME,
            resource_class=fpga.RESOURCE_CLASS,
            traits=traits,
            attach_handles=[
                discovery.AttachHandle(
                    attach_type='PCI',
                    info=discovery.pci_address_dict(address))
                for address in handle_addresses])
        device = sysfs.function_device(card, fpga.DEVICE_TYPE, [deployable])
        board = {'layout': manager.layout, 'fme': manager.name,
                 'ports': [port.name for port in ports]}
        if dfl_features:
            board['dfl_features'] = sorted(dfl_features)
        device.vendor_board_info = discovery.canonical_json(board)
        return device

    def program(self, controlpath, image_path):
        info = controlpath.info
        options = self.conf.intel_fpga
        argv = [options.fpgaconf_path,
                '--bus', '0x%s' % info['bus'],
                '--device', '0x%s' % info['device'],
                '--function', '0x%s' % info['function']]
        if int(info['domain'], 16):
            # Only a card outside PCI segment 0 needs it; older OPAE
            # releases do not know the option.
            argv += ['--segment', '0x%s' % info['domain']]
        argv.append(image_path)
        fpga.run_programming_tool('fpgaconf', argv, image_path,
                                  options.program_timeout,
                                  fpga.pci_target(controlpath))

    def loaded_bitstream(self, controlpath):
        """The afu ids of the card's ports: they change with every load."""
        address = fpga.pci_target(controlpath)
        function = next((card for card in self._cards()
                         if card.address == address), None)
        if function is None:
            return None
        ports = list(self._sysfs.fpga_ports(address))
        for vf in function.virtfns:
            ports += self._sysfs.fpga_ports(vf)
        ids = sorted(port.afu_id for port in ports if port.afu_id)
        return ','.join(ids) or None

    def health(self, device):
        return self._health.device_health(
            device, expected_drivers=HOST_DRIVERS,
            family_check=self._fme_findings)

    def _fme_findings(self, address):
        findings = []
        for register, value in self._sysfs.fme_error_registers(
                address).items():
            if value:
                state = (discovery.FAILED if register in FATAL_FME_REGISTERS
                         else discovery.DEGRADED)
                findings.append(discovery.Health(
                    state, 'FPGA management engine of %s reports errors in '
                           '%s: 0x%x' % (address, register, value)))
        return findings

    def scrub(self, controlpath, attach_handle):
        fpga.scrub(self, self._sysfs, self.conf.intel_fpga.scrub_image,
                   controlpath, attach_handle)
