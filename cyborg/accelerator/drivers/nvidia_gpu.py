"""NVIDIA GPUs: offered whole (``PGPU``) or split into vGPUs (``VGPU``).

A GPU is a PCI function of vendor ``10de`` whose class is a display
controller (``0300xx`` VGA, ``0302xx`` 3D); NVSwitches, audio functions and
bridges of the same vendor are not GPUs.

A GPU whose address is listed in ``[vgpu_<type>] device_addresses`` for a
type in ``[gpu_devices] enabled_vgpu_types`` is offered as ``VGPU``: as many
accelerators as the type's ``available_instances`` plus the mdevs already
made, one ``MDEV`` attach handle each. Every other GPU is offered whole as
one ``PGPU``.

SR-IOV virtual functions are never offered whole: a VF of an NVIDIA GPU is
a slice that only works with a vGPU type on it. A VF can carry vGPUs (that
is how Ampere and later cards offer them) when it is listed under a type,
unless ``[gpu_devices] filter_sriov_vfs`` skips VFs altogether; a GPU whose
VFs carry vGPUs is then not offered whole either.

Configuration mistakes are logged with the device and the option, and only
that GPU is left out: an address that is malformed, listed under two types,
or not an NVIDIA GPU on this host, and a type the GPU does not offer.

Health: the generic PCI checks (see :mod:`pci_health`), the GPU bound to
``nvidia`` or ``vfio-pci`` (unbound or taken by another driver such as
``nouveau``: failed). Its link width is compared, not its speed: an idle
GPU lowers its link to 2.5 GT/s to save power. Scrub: a ``PCI`` handle's
GPU gets a function reset through sysfs; an ``MDEV`` handle's vGPU is
removed and created again with the same uuid and type.
"""

import collections
import logging
import re

from cyborg.accelerator.drivers import base
from cyborg.accelerator.drivers import pci_health
from cyborg.accelerator.drivers import pci_scrub
from cyborg.accelerator.drivers import sysfs
from cyborg.accelerator import discovery
from cyborg.conf import gpu_devices

LOG = logging.getLogger(__name__)

VENDOR_ID = '10de'
GPU_CLASS_PREFIXES = ('0300', '0302')
DRIVER_NAME = 'NVIDIA'
HOST_DRIVERS = ('nvidia',)


def _option(vgpu_type):
    return '[vgpu_%s] device_addresses' % vgpu_type


def _trait_part(text):
    """Upper-case ``text`` and make it a valid piece of a trait name."""
    return re.sub(r'[^A-Z0-9_]', '_', text.upper())


class NvidiaGpuDriver(base.Driver, base.MdevCapable, base.HealthReporting,
                      base.Scrubbable):
    """Discovers NVIDIA GPUs; creates and removes their vGPU mdevs."""

    driver_name = DRIVER_NAME
    pci_vendor_ids = frozenset({VENDOR_ID})

    def __init__(self, conf):
        super().__init__(conf)
        gpu_devices.register_vgpu_type_groups(conf)
        self._sysfs = sysfs.Sysfs.from_conf(conf)
        self._health = pci_health.HealthReader(self._sysfs)
        # The options cannot change without a restart: check them once.
        self._vgpu_type_of = self._read_vgpu_config()

    def _read_vgpu_config(self):
        """{GPU address: its vGPU type}; None for an ambiguous address."""
        types_of = collections.defaultdict(list)
        for vgpu_type in self.conf.gpu_devices.enabled_vgpu_types:
            addresses = self.conf['vgpu_%s' % vgpu_type].device_addresses
            if not addresses:
                LOG.warning('%s is empty: no GPU offers vGPU type %s',
                            _option(vgpu_type), vgpu_type)
            for address in addresses:
                normalized = address.strip().lower()
                if not sysfs.PCI_ADDRESS_RE.fullmatch(normalized):
                    LOG.error('Ignoring %r in %s: not a PCI address '
                              '(dddd:bb:ss.f)', address, _option(vgpu_type))
                    continue
                types_of[normalized].append(vgpu_type)
        config = {}
        for address, types in types_of.items():
            if len(set(types)) > 1:
                LOG.error('Not offering GPU %s: it is listed in %s; a GPU '
                          'offers one vGPU type', address,
                          ' and '.join(_option(t) for t in types))
                config[address] = None
            else:
                config[address] = types[0]
        return config

    def discover(self):
        gpus = [function for function in self._sysfs.pci_functions()
                if function.vendor_id == VENDOR_ID and
                function.class_code[:4] in GPU_CLASS_PREFIXES]
        present = {gpu.address for gpu in gpus}
        for address, vgpu_type in self._vgpu_type_of.items():
            if address not in present and vgpu_type is not None:
                LOG.warning('%s lists %s, which is not an NVIDIA GPU on '
                            'this host', _option(vgpu_type), address)
        filter_vfs = self.conf.gpu_devices.filter_sriov_vfs
        pfs_with_vgpu_vfs = {
            gpu.physfn for gpu in gpus
            if gpu.is_virtual_function and not filter_vfs and
            self._vgpu_type_of.get(gpu.address)}
        devices = []
        for gpu in gpus:
            device = self._device(gpu, filter_vfs, pfs_with_vgpu_vfs)
            if device is not None:
                devices.append(device)
        return devices

    def _device(self, gpu, filter_vfs, pfs_with_vgpu_vfs):
        """The report for one GPU, or None when it is not offered."""
        listed = gpu.address in self._vgpu_type_of
        if gpu.is_virtual_function and filter_vfs:
            if listed:
                LOG.warning('Not offering GPU %s: it is an SR-IOV VF and '
                            '[gpu_devices] filter_sriov_vfs skips VFs, but '
                            'it is listed in %s', gpu.address,
                            _option(self._vgpu_type_of[gpu.address]))
            return None
        if listed:
            vgpu_type = self._vgpu_type_of[gpu.address]
            # None: listed under two types, logged at start.
            return self._vgpu_device(gpu, vgpu_type) if vgpu_type else None
        if gpu.is_virtual_function:
            return None
        if gpu.address in pfs_with_vgpu_vfs:
            LOG.info('Not offering GPU %s whole: its SR-IOV VFs carry '
                     'vGPUs', gpu.address)
            return None
        return sysfs.whole_function_device(
            self.conf, gpu, device_type='GPU', driver_name=DRIVER_NAME,
            resource_class='PGPU',
            traits=['OWNER_CYBORG',
                    'CUSTOM_NVIDIA_%s' % _trait_part(gpu.product_id)])

    def _vgpu_device(self, gpu, vgpu_type):
        try:
            mdev_type = self._sysfs.read_mdev_type(gpu.address, vgpu_type)
        except sysfs.MalformedSysfsFile as exc:
            LOG.warning('Not offering GPU %s for %s: %s', gpu.address,
                        _option(vgpu_type), exc)
            return None
        if mdev_type is None:
            LOG.error('Not offering GPU %s: %s lists it for vGPU type %s, '
                      'which it does not offer (it offers: %s)',
                      gpu.address, _option(vgpu_type), vgpu_type,
                      ', '.join(self._sysfs.mdev_type_ids(gpu.address))
                      or 'none')
            return None
        if mdev_type.capacity == 0:
            # Another type already holds the GPU (most cards run one type
            # at a time); Placement takes no inventory of 0 and no instance
            # can use this type here until those mdevs are gone.
            LOG.warning('Not offering GPU %s for %s: it has no room for '
                        'vGPU type %s (is another type in use on it?)',
                        gpu.address, _option(vgpu_type), vgpu_type)
            return None
        # "GRID T4-1B" -> T4_1B: the second word names the vGPU profile.
        words = mdev_type.name.split()
        profile = words[1] if len(words) > 1 else words[0]
        address_info = discovery.pci_address_dict(gpu.address)
        handles = [
            discovery.AttachHandle(
                attach_type='MDEV',
                info=dict(address_info, asked_type=vgpu_type,
                          vgpu_mark='%s_%d' % (vgpu_type, index)))
            for index in range(mdev_type.capacity)]
        deployable = discovery.Deployable(
            name=sysfs.deployable_name(self.conf, gpu.address),
            num_accelerators=mdev_type.capacity,
            driver_name=DRIVER_NAME,
            resource_class='VGPU',
            traits=['OWNER_CYBORG', 'CUSTOM_NVIDIA_%s_%s' % (
                _trait_part(gpu.product_id), _trait_part(profile))],
            attach_handles=handles)
        return sysfs.function_device(gpu, 'GPU', [deployable])

    def create_mdev(self, pci_address, mdev_type, mdev_uuid):
        self._sysfs.create_mdev(pci_address, mdev_type, mdev_uuid)

    def remove_mdev(self, pci_address, mdev_type, mdev_uuid):
        self._sysfs.remove_mdev(pci_address, mdev_type, mdev_uuid)

    def health(self, device):
        return self._health.device_health(
            device, expected_drivers=HOST_DRIVERS, link_speed_varies=True)

    def scrub(self, controlpath, attach_handle):
        pci_scrub.reset_handle(self._sysfs, attach_handle)
