"""What a driver's discover() returns: plain data describing a host's devices.

These dataclasses are the whole contract between drivers, the agent and the
conductor. They travel over RPC as the dicts ``to_dict()`` makes and are
rebuilt with ``from_dict()``; they hold no DB or Placement state.

PCI addresses in ``controlpath.info`` and ``AttachHandle.info`` are dicts of
strings ``{"domain": "0000", "bus": "0c", "device": "00", "function": "1"}``
(an mdev handle adds ``asked_type`` and ``vgpu_mark``, a NIC handle
``physical_network``); they are stored as JSON with sorted keys.

A handle is identified by its info without the keys of
:data:`HANDLE_LABEL_KEYS`: those describe how the function is used (the
physnet of a NIC), not which function it is, so a changed label updates
the handle instead of making a second handle for the same function.
"""

import dataclasses
import hashlib
import json
import typing

DEVICE_TYPES = ('GPU', 'FPGA', 'AICHIP', 'QAT', 'NIC', 'SSD', 'PCI')
ATTACH_TYPES = ('PCI', 'MDEV', 'TEST_PCI')
HANDLE_LABEL_KEYS = ('physical_network',)


def canonical_json(value):
    """The one JSON spelling of a dict: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(',', ':'))


def pci_address_dict(address):
    """'0000:0c:00.1' -> {'domain': '0000', 'bus': '0c', 'device': '00',
    'function': '1'}."""
    domain, bus, rest = address.split(':')
    device, function = rest.split('.')
    return {'domain': domain, 'bus': bus, 'device': device,
            'function': function}


def pci_address_str(info):
    """The inverse of pci_address_dict."""
    return '%(domain)s:%(bus)s:%(device)s.%(function)s' % info


def handle_identity(info):
    """The canonical JSON naming the function an attach info is about."""
    return canonical_json({key: value for key, value in info.items()
                           if key not in HANDLE_LABEL_KEYS})


@dataclasses.dataclass
class AttachHandle:
    """One attachable function: a PCI function, an mdev slot."""

    attach_type: str
    info: typing.Dict[str, str]

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(attach_type=data['attach_type'], info=dict(data['info']))


@dataclasses.dataclass
class Deployable:
    """A schedulable unit: becomes one Placement resource provider.

    ``name`` is global (it embeds the host); ``resource_class`` is None for
    drivers that report none (no provider is made then).
    """

    name: str
    num_accelerators: int
    driver_name: str
    resource_class: typing.Optional[str]
    traits: typing.List[str] = dataclasses.field(default_factory=list)
    attributes: typing.Dict[str, str] = dataclasses.field(default_factory=dict)
    attach_handles: typing.List[AttachHandle] = dataclasses.field(
        default_factory=list)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(
            name=data['name'],
            num_accelerators=int(data['num_accelerators']),
            driver_name=data['driver_name'],
            resource_class=data.get('resource_class'),
            traits=list(data.get('traits') or []),
            attributes=dict(data.get('attributes') or {}),
            attach_handles=[AttachHandle.from_dict(h)
                            for h in data.get('attach_handles') or []])


HEALTHY = 'healthy'
DEGRADED = 'degraded'
FAILED = 'failed'
HEALTH_STATES = (HEALTHY, DEGRADED, FAILED)


@dataclasses.dataclass(frozen=True)
class Health:
    """What a driver's ``health()`` saw of one device just now.

    ``state`` is one of :data:`HEALTH_STATES`; ``reason`` says why it is
    not healthy in words an operator can act on (empty when healthy).
    """

    state: str
    reason: str = ''

    def __post_init__(self):
        if self.state not in HEALTH_STATES:
            raise ValueError('health state %r is not one of %s'
                             % (self.state, ', '.join(HEALTH_STATES)))

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(state=data['state'], reason=data.get('reason', ''))


@dataclasses.dataclass
class ControlPath:
    """How the host addresses the device (cpid_type PCI + its address)."""

    cpid_type: str
    info: typing.Dict[str, str]

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(cpid_type=data['cpid_type'], info=dict(data['info']))


@dataclasses.dataclass
class Device:
    """A physical card with its deployables.

    ``stub`` devices (present but not usable yet, e.g. an FPGA without its
    driver bound) are reported but ignored by the conductor.
    """

    type: str
    vendor: str
    model: str
    controlpath: ControlPath
    deployables: typing.List[Deployable] = dataclasses.field(
        default_factory=list)
    std_board_info: typing.Optional[str] = None
    vendor_board_info: typing.Optional[str] = None
    stub: bool = False

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(
            type=data['type'], vendor=data['vendor'], model=data['model'],
            controlpath=ControlPath.from_dict(data['controlpath']),
            deployables=[Deployable.from_dict(d)
                         for d in data.get('deployables') or []],
            std_board_info=data.get('std_board_info'),
            vendor_board_info=data.get('vendor_board_info'),
            stub=bool(data.get('stub', False)))


def report_to_wire(devices):
    return [device.to_dict() for device in devices]


def report_from_wire(data):
    return [Device.from_dict(item) for item in data]


def fingerprint(devices):
    """A digest of a host's report; equal reports give equal fingerprints."""
    return hashlib.sha256(
        canonical_json(report_to_wire(devices)).encode()).hexdigest()
