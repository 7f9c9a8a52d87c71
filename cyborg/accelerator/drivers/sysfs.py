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
for that.

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

from cyborg.accelerator import inventory
from cyborg import exception

LOG = logging.getLogger(__name__)

PCI_ADDRESS_RE = re.compile(r'[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]')
# mdev type ids are kernel names such as "nvidia-222" or "i915-GVTg_V5_4";
# anything else would let an RPC caller write outside the type directory.
MDEV_TYPE_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]*')


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
            (type_dir / 'create').write_text(mdev_uuid)
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
            (mdev_dir / 'remove').write_text('1')
        except OSError as exc:
            if not mdev_dir.exists():
                return
            raise exception.MdevOperationFailed(
                action='remove', uuid=mdev_uuid, mdev_type=type_id,
                address=address, reason=str(exc))
        LOG.info('Removed mdev %s from %s', mdev_uuid, address)


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
    return inventory.Device(
        type=device_type,
        vendor=function.vendor_id,
        model=function.product_id,
        controlpath=inventory.ControlPath(
            cpid_type='PCI',
            info=inventory.pci_address_dict(function.address)),
        std_board_info=inventory.canonical_json(
            {'class_code': function.class_code,
             'product_id': function.product_id}),
        deployables=deployables)


def whole_function_device(conf, function, device_type, driver_name,
                          resource_class, traits):
    """The Device of a function offered whole: one deployable with one
    accelerator and one PCI attach handle."""
    deployable = inventory.Deployable(
        name=deployable_name(conf, function.address),
        num_accelerators=1,
        driver_name=driver_name,
        resource_class=resource_class,
        traits=list(traits),
        attach_handles=[inventory.AttachHandle(
            attach_type='PCI',
            info=inventory.pci_address_dict(function.address))])
    return function_device(function, device_type, [deployable])
