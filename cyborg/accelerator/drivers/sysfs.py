"""The one reader of PCI devices in sysfs, shared by every PCI driver.

Vendor drivers ask this module for the host's PCI functions and pick theirs
by vendor, device and class ids; nobody else parses sysfs or runs lspci.
Every path is taken under ``[agent] sysfs_root`` (``/sys`` on a host), which
tests point at a fake tree built on disk.

What is read, per function under ``bus/pci/devices/<address>/``:
``vendor``, ``device``, ``class``, ``subsystem_vendor``,
``subsystem_device``, the ``physfn`` / ``virtfn<N>`` SR-IOV links, the
network interfaces under ``net/``, and, on request, the mediated device
types under ``mdev_supported_types/<type>/`` (``name``,
``available_instances``, ``devices/``), and the QAT driver's ``qat/state``
and ``qat/cfg_services`` (4xxx and later generations). Mdevs are created
and removed through ``class/mdev_bus/<address>/``, the kernel's interface
for that; the writes themselves are made by the privsep daemon
(``cyborg.privsep``), as is a function's reset (``1`` written to its
``reset`` attribute), which scrubbing uses. What health probes read is
:mod:`pci_health`'s, under the same root.

FPGA management and ports, on request, in the two layouts Linux has had:

* the in-kernel DFL driver: ``<function>/fpga_region/region<N>/`` holds
  ``dfl-fme.<M>`` (the management engine; its PR region's id is
  ``dfl-fme-region.<K>/fpga_region/region<J>/compat_id``, or
  ``pr/interface_id`` on older kernels) and ``dfl-port.<M>`` (``afu_id``:
  what the port's region runs); private features appear on the DFL bus as
  ``bus/dfl/devices/dfl_dev.<N>`` (``type``, ``feature_id``);
* OPAE's out-of-tree ``intel-fpga`` driver: ``<function>/fpga/
  intel-fpga-dev.<N>/`` holds ``intel-fpga-fme.<M>/pr/interface_id`` and
  ``intel-fpga-port.<M>/afu_id``.

A port released to an SR-IOV VF appears under the VF's function.

A file that is missing or malformed makes the device it belongs to
unusable, never the host: the scan logs one line naming the device and the
file and goes on with the other devices.

The helpers at the end build the report's ``Device`` for a function, so
every PCI driver names and addresses its devices the same way.
"""

import dataclasses
import logging
import os
import pathlib
import re
import typing
import uuid

from cyborg.accelerator import discovery
from cyborg import exception
from cyborg.privsep import sysfs as privsep_sysfs

LOG = logging.getLogger(__name__)

PCI_ADDRESS_RE = re.compile(r'[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]')
# mdev type ids are kernel names such as "nvidia-222" or "i915-GVTg_V5_4";
# anything else would let an RPC caller write outside the type directory.
MDEV_TYPE_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]*')


# The FME error registers under dfl-fme.N/errors/ (in-kernel DFL driver)
# or intel-fpga-fme.N/errors/ (OPAE's driver, whose FME block sits in
# fme-errors/), each 0x<hex> with a bit per error. inject_errors is left
# out: it is what a test asked to inject, not what the card saw.
FME_ERROR_REGISTERS = ('catfatal_errors', 'nonfatal_errors', 'fme_errors',
                       'pcie0_errors', 'pcie1_errors', 'fme-errors/errors')


class MalformedSysfsFile(Exception):
    """A sysfs file a device needs is missing or unreadable as expected."""

    def __init__(self, path, reason):
        self.path = path
        super().__init__('%s %s' % (path, reason))


@dataclasses.dataclass(frozen=True)
class PciFunction:
    """One PCI function as sysfs shows it; ids are lowercase hex, no 0x."""

    address: str
    vendor_id: str
    product_id: str
    class_code: str
    subsystem_vendor_id: typing.Optional[str] = None
    subsystem_device_id: typing.Optional[str] = None
    # The PF's address when this function is an SR-IOV VF.
    physfn: typing.Optional[str] = None
    virtfns: tuple = ()
    netdevs: tuple = ()

    @property
    def is_virtual_function(self):
        return self.physfn is not None


@dataclasses.dataclass(frozen=True)
class MdevType:
    """One mediated device type a PCI function offers."""

    type_id: str
    name: str
    available_instances: int
    existing_mdevs: tuple

    @property
    def capacity(self):
        """How many mdevs of this type the device holds: free plus made."""
        return self.available_instances + len(self.existing_mdevs)


@dataclasses.dataclass(frozen=True)
class FpgaManager:
    """The management engine (FME) of an FPGA card, on its PF.

    ``layout`` is ``dfl`` or ``intel-fpga``; ``region_id`` is the id of
    the static region's interface (what a PR bitstream must be built
    for), lowercase hex without dashes, None when sysfs does not say.
    """

    address: str
    name: str
    layout: str
    region_id: typing.Optional[str]


@dataclasses.dataclass(frozen=True)
class FpgaPort:
    """A port (AFU slot) of an FPGA card, on the function it sits on.

    ``afu_id``: the id of the function loaded in it, lowercase hex
    without dashes; None when unreadable.
    """

    address: str
    name: str
    afu_id: typing.Optional[str]


@dataclasses.dataclass(frozen=True)
class DflDevice:
    """A device on the DFL bus: a private feature of an FPGA card."""

    name: str
    fiu_type: int
    feature_id: int
    pci_address: typing.Optional[str]


@dataclasses.dataclass(frozen=True)
class QatStatus:
    """What the kernel's QAT driver shows under a device's ``qat/``.

    ``state`` is ``up`` or ``down``; ``services`` the configured services
    as the kernel names them (``sym``, ``asym``, ``dc``, ``dcc``, ...),
    sorted.
    """

    state: str
    services: tuple


class Sysfs:
    """Reads (and, for mdevs, writes) the sysfs tree under ``root``."""

    def __init__(self, root):
        self.root = pathlib.Path(root)

    @classmethod
    def from_conf(cls, conf):
        return cls(conf.agent.sysfs_root)

    @property
    def _pci_devices(self):
        return self.root / 'bus' / 'pci' / 'devices'

    def pci_functions(self):
        """Every readable PCI function on the host, sorted by address."""
        try:
            names = sorted(os.listdir(self._pci_devices))
        except FileNotFoundError:
            LOG.warning('%s does not exist: no PCI devices can be '
                        'discovered', self._pci_devices)
            return []
        functions = []
        for name in names:
            if not PCI_ADDRESS_RE.fullmatch(name):
                LOG.warning('Skipping %s: not a PCI address',
                            self._pci_devices / name)
                continue
            try:
                functions.append(self._read_function(name))
            except MalformedSysfsFile as exc:
                LOG.warning('Skipping PCI device %s: %s', name, exc)
        return functions

    def _read_function(self, address):
        path = self._pci_devices / address
        return PciFunction(
            address=address,
            vendor_id=_read_hex_id(path / 'vendor', 4),
            product_id=_read_hex_id(path / 'device', 4),
            class_code=_read_hex_id(path / 'class', 6),
            subsystem_vendor_id=_read_hex_id(path / 'subsystem_vendor', 4,
                                             required=False),
            subsystem_device_id=_read_hex_id(path / 'subsystem_device', 4,
                                             required=False),
            physfn=_read_address_link(path / 'physfn'),
            virtfns=_read_virtfns(path),
            netdevs=tuple(_list_dir(path / 'net')))

    def mdev_type_ids(self, address):
        """The mdev types the function at ``address`` offers (may be [])."""
        return _list_dir(self._pci_devices / address / 'mdev_supported_types')

    def read_mdev_type(self, address, type_id):
        """The ``MdevType`` ``type_id`` of the function, None if not offered.

        Raises MalformedSysfsFile when the type's files cannot be read.
        """
        path = self._pci_devices / address / 'mdev_supported_types' / type_id
        if not path.is_dir():
            return None
        name = _read_text(path / 'name')
        if not name:
            raise MalformedSysfsFile(path / 'name', 'is empty')
        available = _read_text(path / 'available_instances')
        if not re.fullmatch(r'[0-9]+', available):
            raise MalformedSysfsFile(
                path / 'available_instances',
                'is malformed (%r): expected a count' % available)
        return MdevType(type_id=type_id, name=name,
                        available_instances=int(available),
                        existing_mdevs=tuple(_list_dir(path / 'devices')))

    def qat_status(self, address):
        """The ``QatStatus`` of the function at ``address``.

        None when it has no ``qat/`` directory: generations before 4xxx
        (the kernel shows neither file there), or a device not bound to a
        QAT driver. Raises MalformedSysfsFile when a file is unreadable or
        holds something else than the kernel writes.
        """
        path = self._pci_devices / address / 'qat'
        if not path.is_dir():
            return None
        state = _read_text(path / 'state')
        if state not in ('up', 'down'):
            raise MalformedSysfsFile(
                path / 'state', 'is malformed (%r): expected up or down'
                                % state)
        text = _read_text(path / 'cfg_services')
        services = text.split(';')
        if not all(re.fullmatch(r'[a-z]+', name) for name in services):
            raise MalformedSysfsFile(
                path / 'cfg_services',
                'is malformed (%r): expected services such as sym;asym'
                % text)
        return QatStatus(state=state, services=tuple(sorted(set(services))))

    def _mdev_type_dir(self, address, type_id):
        return (self.root / 'class' / 'mdev_bus' / address /
                'mdev_supported_types' / type_id)

    def create_mdev(self, address, type_id, mdev_uuid):
        """Create mdev ``mdev_uuid``; success when it already exists."""
        mdev_uuid = _check_mdev_request(address, type_id, mdev_uuid)
        type_dir = self._mdev_type_dir(address, type_id)
        if not type_dir.is_dir():
            raise exception.MdevOperationFailed(
                action='create', uuid=mdev_uuid, mdev_type=type_id,
                address=address, reason='the device offers no such type')
        if (type_dir / 'devices' / mdev_uuid).exists():
            LOG.info('mdev %s already exists on %s', mdev_uuid, address)
            return
        try:
            # Root's file: the privsep daemon writes it.
            privsep_sysfs.write_mdev_create(
                os.path.abspath(type_dir / 'create'), mdev_uuid)
        except OSError as exc:
            # A concurrent or earlier create that the kernel finished
            # counts as success.
            if (type_dir / 'devices' / mdev_uuid).exists():
                return
            raise exception.MdevOperationFailed(
                action='create', uuid=mdev_uuid, mdev_type=type_id,
                address=address, reason=str(exc))
        LOG.info('Created mdev %s of type %s on %s', mdev_uuid, type_id,
                 address)

    def remove_mdev(self, address, type_id, mdev_uuid):
        """Remove mdev ``mdev_uuid``; success when it is already gone."""
        mdev_uuid = _check_mdev_request(address, type_id, mdev_uuid)
        type_dir = self._mdev_type_dir(address, type_id)
        mdev_dir = type_dir / 'devices' / mdev_uuid
        if not mdev_dir.exists():
            LOG.info('mdev %s is already gone from %s', mdev_uuid, address)
            return
        try:
            privsep_sysfs.write_mdev_remove(
                os.path.abspath(mdev_dir / 'remove'))
        except OSError as exc:
            if not mdev_dir.exists():
                return
            raise exception.MdevOperationFailed(
                action='remove', uuid=mdev_uuid, mdev_type=type_id,
                address=address, reason=str(exc))
        LOG.info('Removed mdev %s from %s', mdev_uuid, address)

    def function_dir(self, address):
        """``bus/pci/devices/<address>`` under the root (may not exist)."""
        return self._pci_devices / address

    def reset_function(self, address):
        """Reset the PCI function at ``address`` through its ``reset``.

        Raises ``ScrubFailed`` when the function is gone, the kernel
        offers no reset for it (no ``reset`` attribute: its
        ``reset_method`` list is empty) or the write fails.
        """
        if not isinstance(address, str) or not PCI_ADDRESS_RE.fullmatch(
                address):
            raise exception.Invalid(reason='%r is not a PCI address '
                                           '(dddd:bb:ss.f)' % (address,))
        path = self._pci_devices / address
        if not path.is_dir():
            raise exception.ScrubFailed(
                target=address, reason='the PCI function is gone from %s'
                                       % self._pci_devices)
        if not (path / 'reset').exists():
            raise exception.ScrubFailed(
                target=address,
                reason='the kernel offers no reset for it (no %s)'
                       % (path / 'reset'))
        try:
            privsep_sysfs.write_pci_reset(os.path.abspath(path / 'reset'))
        except OSError as exc:
            raise exception.ScrubFailed(
                target=address, reason='writing 1 to %s failed: %s'
                                       % (path / 'reset', exc))
        LOG.info('Reset PCI function %s', address)


    # FPGA cards --------------------------------------------------------

    def _fpga_containers(self, address):
        """(layout, directory) of each FPGA container under the function."""
        path = self._pci_devices / address
        found = []
        for region in _list_dir(path / 'fpga_region'):
            if re.fullmatch(r'region\d+', region):
                found.append(('dfl', path / 'fpga_region' / region))
        for dev in _list_dir(path / 'fpga'):
            if re.fullmatch(r'intel-fpga-dev\.\d+', dev):
                found.append(('intel-fpga', path / 'fpga' / dev))
        return found

    def _fme_dir(self, address):
        """(layout, directory) of the FME on the function, or None."""
        for layout, container in self._fpga_containers(address):
            prefix = 'dfl-fme' if layout == 'dfl' else 'intel-fpga-fme'
            for name in _list_dir(container):
                if re.fullmatch(re.escape(prefix) + r'\.\d+', name):
                    return layout, container / name
        return None

    def fpga_manager(self, address):
        """The FME on the function at ``address``, or None."""
        found = self._fme_dir(address)
        if found is None:
            return None
        layout, fme = found
        return FpgaManager(address=address, name=fme.name, layout=layout,
                           region_id=self._fme_region_id(fme))

    def fme_error_registers(self, address):
        """{register: value} of the FME's error registers on the function.

        The registers of :data:`FME_ERROR_REGISTERS` the kernel shows under
        the FME's ``errors/`` (each ``0x<hex>``); {} when the function has
        no FME or the driver shows no error registers. Raises
        MalformedSysfsFile when one cannot be read as a number.
        """
        found = self._fme_dir(address)
        if found is None:
            return {}
        errors = found[1] / 'errors'
        registers = {}
        for name in FME_ERROR_REGISTERS:
            path = errors / name
            if not path.is_file():
                continue
            text = _read_text(path)
            if not re.fullmatch(r'0x[0-9a-fA-F]+', text):
                raise MalformedSysfsFile(
                    path, 'is malformed (%r): expected 0x and hex digits'
                          % text)
            registers[name] = int(text, 16)
        return registers

    def _fme_region_id(self, fme):
        """compat_id of the FME's PR region, else its pr/interface_id."""
        candidates = []
        for pr_region in _list_dir(fme):
            if re.fullmatch(r'dfl-fme-region\.\d+', pr_region):
                regions = fme / pr_region / 'fpga_region'
                candidates += [regions / region / 'compat_id'
                               for region in _list_dir(regions)]
        candidates.append(fme / 'pr' / 'interface_id')
        for path in candidates:
            if path.exists():
                return _read_fpga_id(path, required=False)
        return None

    def fpga_ports(self, address):
        """The FPGA ports on the function at ``address`` (PF or VF)."""
        ports = []
        for layout, container in self._fpga_containers(address):
            prefix = 'dfl-port' if layout == 'dfl' else 'intel-fpga-port'
            for name in _list_dir(container):
                if re.fullmatch(re.escape(prefix) + r'\.\d+', name):
                    ports.append(FpgaPort(
                        address=address, name=name,
                        afu_id=_read_fpga_id(container / name / 'afu_id',
                                             required=False)))
        return tuple(ports)

    def dfl_devices(self):
        """Every device on the DFL bus, with the PCI function it is on."""
        bus = self.root / 'bus' / 'dfl' / 'devices'
        devices = []
        for name in _list_dir(bus):
            if not re.fullmatch(r'dfl_dev\.\d+', name):
                continue
            try:
                fiu_type = int(_read_text(bus / name / 'type'), 0)
                feature_id = int(_read_text(bus / name / 'feature_id'), 0)
            except (MalformedSysfsFile, ValueError) as exc:
                LOG.warning('Skipping DFL device %s: %s', name, exc)
                continue
            # The link's target runs through the card's PCI function:
            # .../0000:5e:00.0/fpga_region/region0/dfl-fme.0/dfl_dev.0.
            target = os.path.realpath(bus / name)
            addresses = [part for part in target.split(os.sep)
                         if PCI_ADDRESS_RE.fullmatch(part)]
            devices.append(DflDevice(
                name=name, fiu_type=fiu_type, feature_id=feature_id,
                pci_address=addresses[-1] if addresses else None))
        return devices


def _check_mdev_request(address, type_id, mdev_uuid):
    """Validate RPC input before it becomes a path; return the uuid."""
    if not isinstance(address, str) or not PCI_ADDRESS_RE.fullmatch(address):
        raise exception.Invalid(reason='%r is not a PCI address '
                                       '(dddd:bb:ss.f)' % (address,))
    if not isinstance(type_id, str) or not MDEV_TYPE_RE.fullmatch(type_id):
        raise exception.Invalid(reason='%r is not an mdev type' % (type_id,))
    try:
        return str(uuid.UUID(str(mdev_uuid)))
    except ValueError:
        raise exception.Invalid(reason='%r is not a uuid' % (mdev_uuid,))


def read_attribute(path):
    """The text of a sysfs attribute, stripped; MalformedSysfsFile when it
    is missing or unreadable."""
    return _read_text(path)


def _read_text(path):
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise MalformedSysfsFile(path, 'is missing')
    except (OSError, UnicodeDecodeError) as exc:
        raise MalformedSysfsFile(path, 'cannot be read: %s' % exc)


def _read_hex_id(path, digits, required=True):
    """'0x10de\\n' -> '10de'; None for an absent optional file."""
    if not required and not path.exists():
        return None
    text = _read_text(path)
    if not re.fullmatch(r'0x[0-9a-fA-F]{%d}' % digits, text):
        raise MalformedSysfsFile(
            path, 'is malformed (%r): expected 0x and %d hex digits'
                  % (text, digits))
    return text[2:].lower()


def _read_fpga_id(path, required=True):
    """An FPGA id file ('d8424dc4a4a3c413f89e433683f9040b', or with dashes,
    or two 0x-less 64-bit halves) as 32 lowercase hex digits."""
    try:
        text = _read_text(path)
    except MalformedSysfsFile as exc:
        if required:
            raise
        LOG.warning('Cannot read %s', exc)
        return None
    digits = text.replace('-', '').lower()
    if not re.fullmatch(r'[0-9a-f]{32}', digits):
        if required:
            raise MalformedSysfsFile(path, 'is malformed (%r): expected a '
                                           '128-bit hex id' % text)
        LOG.warning('Ignoring %s: %r is not a 128-bit hex id', path, text)
        return None
    return digits


def _read_address_link(path):
    """The PCI address a link such as physfn points to; None if no link."""
    if not path.is_symlink():
        return None
    target = os.path.basename(os.readlink(path))
    if not PCI_ADDRESS_RE.fullmatch(target):
        raise MalformedSysfsFile(
            path, 'points to %r, not a PCI device' % target)
    return target


def _read_virtfns(path):
    links = [name for name in _list_dir(path)
             if re.fullmatch(r'virtfn\d+', name)]
    # virtfn10 comes after virtfn9: order by the VF index, not the text.
    links.sort(key=lambda name: int(name[len('virtfn'):]))
    return tuple(_read_address_link(path / name) for name in links)


def _list_dir(path):
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []



def deployable_name(conf, address):
    """``<[DEFAULT] host>_<address>``: unique across hosts, as provider
    names must be."""
    return '%s_%s' % (conf.host, address)


def function_device(function, device_type, deployables):
    """The report's Device for a PCI function, addressed by its BDF."""
    return discovery.Device(
        type=device_type,
        vendor=function.vendor_id,
        model=function.product_id,
        controlpath=discovery.ControlPath(
            cpid_type='PCI',
            info=discovery.pci_address_dict(function.address)),
        std_board_info=discovery.canonical_json(
            {'class_code': function.class_code,
             'product_id': function.product_id}),
        deployables=deployables)


def whole_function_device(conf, function, device_type, driver_name,
                          resource_class, traits):
    """The Device of a function offered whole: one deployable with one
    accelerator and one PCI attach handle."""
    deployable = discovery.Deployable(
        name=deployable_name(conf, function.address),
        num_accelerators=1,
        driver_name=driver_name,
        resource_class=resource_class,
        traits=list(traits),
        attach_handles=[discovery.AttachHandle(
            attach_type='PCI',
            info=discovery.pci_address_dict(function.address))])
    return function_device(function, device_type, [deployable])
