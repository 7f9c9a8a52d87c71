"""Xilinx (AMD) Alveo cards, programmed with XRT's xbmgmt.

A card shows up as PCI functions of vendor ``10ee`` and class ``1200``
(processing accelerator) on one bus/device: the management physical
function, which XRT's ``xclmgmt`` driver serves and ``xbmgmt`` talks to,
and the user physical function, which the guest's application uses. The
two are one deployable of one ``FPGA`` accelerator with one ``PCI`` attach
handle each; an instance takes both, which is why the API makes two ARQs
per FPGA of a profile group asking for ``trait:CUSTOM_FPGA_XILINX``.

Traits: ``CUSTOM_FPGA_XILINX``, ``CUSTOM_FPGA_PRODUCT_ID_<management PF
device id>`` (upstream's name) and, for the cards of :data:`PRODUCTS`,
``CUSTOM_FPGA_XILINX_<product>``.

Programming (``[xilinx_fpga] xbmgmt_path``, ``program_timeout``) goes
through the management function, as XRT documents it:

* an xclbin (a file starting with the ``xclbin2`` magic) is a user image:
  ``xbmgmt program --device <mgmt bdf> --user <file>``;
* anything else is a base (platform) image flashed to the card:
  ``xbmgmt program --device <mgmt bdf> --base --image <file>``.

Both add ``--force``: xbmgmt otherwise asks for a confirmation on its
terminal, which the privsep daemon does not have. XRT offers no sysfs
view of the loaded xclbin that this driver relies on, so the agent's own
record says what a card holds.

Health (see :mod:`pci_health`): the generic PCI checks of the management
function (bound to ``xclmgmt`` or ``vfio-pci``) and of the card's other
functions. XRT shows its sensors and error state through ``xbmgmt
examine``, a tool too slow for a probe, not through stable sysfs files.

Scrub: ``[xilinx_fpga] scrub_image`` (an xclbin) loaded with xbmgmt
through the management function when set, whichever of the card's
functions is released; else a reset of the released function through
sysfs.
"""

import itertools

from cyborg.accelerator.drivers import base
from cyborg.accelerator.drivers import fpga
from cyborg.accelerator.drivers import pci_health
from cyborg.accelerator.drivers import sysfs
from cyborg.accelerator import discovery

VENDOR_ID = '10ee'
ACCELERATOR_CLASS_PREFIX = '1200'
DRIVER_NAME = 'XILINX'
XCLBIN_MAGIC = b'xclbin2'
# Management PF device id -> (product, user PF device id).
PRODUCTS = {
    '5000': ('ALVEO_U200', '5001'),
    '5004': ('ALVEO_U250', '5005'),
    '500c': ('ALVEO_U280', '500d'),
    '5020': ('ALVEO_U50', '5021'),
    '505c': ('ALVEO_U55C', '505d'),
}
_USER_PF_IDS = {user for _product, user in PRODUCTS.values()}
MANAGEMENT_DRIVERS = ('xclmgmt',)


def _slot(function):
    """domain:bus:device, what the functions of one card share."""
    return function.address.rsplit('.', 1)[0]


def _management_first(function):
    # The management PF is the known id, else the lowest function number.
    return (function.product_id in _USER_PF_IDS, function.address)


class XilinxFpgaDriver(base.Driver, base.Programmable,
                       base.HealthReporting, base.Scrubbable):
    """Discovers Alveo cards; programs them through their management PF."""

    driver_name = DRIVER_NAME
    pci_vendor_ids = frozenset({VENDOR_ID})

    def __init__(self, conf):
        super().__init__(conf)
        self._sysfs = sysfs.Sysfs.from_conf(conf)
        self._health = pci_health.HealthReader(self._sysfs)

    def _cards(self):
        """[[management PF, user PF, ...]] per card, by address."""
        functions = [f for f in self._sysfs.pci_functions()
                     if f.vendor_id == VENDOR_ID
                     and f.class_code.startswith(ACCELERATOR_CLASS_PREFIX)
                     and not f.is_virtual_function]
        return [sorted(group, key=_management_first) for _slot_name, group
                in itertools.groupby(sorted(functions, key=_slot), _slot)]

    def discover(self):
        return [self._device(card) for card in self._cards()]

    def _device(self, card):
        management = card[0]
        traits = ['CUSTOM_FPGA_XILINX', 'CUSTOM_FPGA_PRODUCT_ID_%s'
                  % fpga.trait_part(management.product_id)]
        if management.product_id in PRODUCTS:
            traits.append('CUSTOM_FPGA_XILINX_%s'
                          % PRODUCTS[management.product_id][0])
        deployable = discovery.Deployable(
            name=sysfs.deployable_name(self.conf, management.address),
            num_accelerators=1,
            driver_name=DRIVER_NAME,
            resource_class=fpga.RESOURCE_CLASS,
            traits=traits,
            attach_handles=[
                discovery.AttachHandle(
                    attach_type='PCI',
                    info=discovery.pci_address_dict(function.address))
                for function in card])
        device = sysfs.function_device(management, fpga.DEVICE_TYPE,
                                       [deployable])
        device.vendor_board_info = discovery.canonical_json(
            {'functions': {f.address: f.product_id for f in card}})
        return device

    def program(self, controlpath, image_path):
        options = self.conf.xilinx_fpga
        target = fpga.pci_target(controlpath)
        with open(image_path, 'rb') as handle:
            is_xclbin = handle.read(len(XCLBIN_MAGIC)) == XCLBIN_MAGIC
        argv = [options.xbmgmt_path, 'program', '--device', target]
        if is_xclbin:
            argv += ['--user', image_path]
        else:
            argv += ['--base', '--image', image_path]
        argv.append('--force')
        fpga.run_programming_tool('xbmgmt', argv, image_path,
                                  options.program_timeout, target)

    def loaded_bitstream(self, controlpath):
        return None

    def health(self, device):
        return self._health.device_health(
            device, expected_drivers=MANAGEMENT_DRIVERS)

    def scrub(self, controlpath, attach_handle):
        fpga.scrub(self, self._sysfs, self.conf.xilinx_fpga.scrub_image,
                   controlpath, attach_handle)
