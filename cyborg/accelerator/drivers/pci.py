"""Generic PCI passthrough: offer the functions ``[pci] passthrough_whitelist``
names, whole, as ``CUSTOM_PCI`` accelerators.

Each device's type is what its PCI class says (GPU, NIC, SSD, QAT, AICHIP,
FPGA, else PCI: see :mod:`pci_class`). The driver is *generic*: when a
specific driver also offers a function it offers, the agent reports the
specific driver's device only (see ``cyborg.agent.merge``).

Each whitelist value is a JSON object, or a list of them, in Nova's device
spec format. An entry matches a function when every key it sets matches:

* ``vendor_id``, ``product_id``: hex ids (``"8086"``, ``"0x154c"``) or
  ``"*"``;
* ``address``: a glob ``[[[domain]:]bus]:][slot][.[function]]`` whose
  missing or ``*`` fields match anything (``"0000:3b:*.*"``, ``":02."``),
  or a dict of regular expressions for ``domain``, ``bus``, ``slot`` and
  ``function`` (each matched at the start of the field, as Nova does);
* ``devname``: a network interface name under the function's ``net/``.

As in Nova, an exact address or a devname that names an SR-IOV physical
function also matches that function's virtual functions. Other keys
(``physical_network``, ...) are Nova's tags and are ignored here.

Two choices differ from a plain reading of Nova's format, on purpose: an
entry that sets none of the four keys is refused (it would hand every PCI
device of the host, bridges included, to guests), and a physical function
with VFs enabled is never offered itself (Cyborg cannot keep a guest from
getting the PF while others use its VFs), only its VFs are.

An entry that cannot be parsed is logged, naming the option, and skipped;
the other entries still apply.

Health: the generic PCI checks (see :mod:`pci_health`); any driver is
accepted, but a function that had one and lost it fails. Scrub: a
function reset through sysfs.
"""

import dataclasses
import json
import logging
import re

from cyborg.accelerator.drivers import base
from cyborg.accelerator.drivers import pci_class
from cyborg.accelerator.drivers import pci_health
from cyborg.accelerator.drivers import pci_scrub
from cyborg.accelerator.drivers import sysfs

LOG = logging.getLogger(__name__)

OPTION = '[pci] passthrough_whitelist'
# Vendors with a readable trait and driver name; others use the raw id.
VENDOR_NAMES = {
    '10de': 'nvidia',
    '102b': 'matrox',
    '8086': 'intel',
    '1bd4': 'inspur',
    '10ee': 'xilinx',
    '19e5': 'huawei',
}
MATCH_KEYS = ('vendor_id', 'product_id', 'address', 'devname')
# (field, highest value, format) of each part of an address glob.
_GLOB_FIELDS = (('domain', 0xffff, '%04x'), ('bus', 0xff, '%02x'),
                ('slot', 0x1f, '%02x'), ('function', 0x7, '%x'))


class BadWhitelistEntry(ValueError):
    """A whitelist entry that cannot be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class AddressGlob:
    """An address with some fields wildcarded (None matches anything)."""

    domain: str = None
    bus: str = None
    slot: str = None
    function: str = None

    @property
    def is_exact(self):
        return None not in (self.domain, self.bus, self.slot, self.function)

    def matches(self, address):
        parts = _split_address(address)
        return all(want is None or want == have
                   for want, have in zip(dataclasses.astuple(self), parts,
                                         strict=True))


@dataclasses.dataclass(frozen=True)
class AddressRegex:
    """An address whose fields must each match a regular expression."""

    patterns: tuple

    is_exact = False

    def matches(self, address):
        return all(pattern.match(part) for pattern, part
                   in zip(self.patterns, _split_address(address),
                          strict=True))


@dataclasses.dataclass(frozen=True)
class DeviceSpec:
    """One parsed whitelist entry."""

    vendor_id: str = None
    product_id: str = None
    address: object = None
    devname: str = None

    def matches(self, function, owner_of_netdev):
        """Whether ``function`` is whitelisted by this entry.

        ``owner_of_netdev`` maps interface names to the address of the
        function that has them.
        """
        if self.vendor_id not in (None, function.vendor_id):
            return False
        if self.product_id not in (None, function.product_id):
            return False
        if self.address is not None:
            return (self.address.matches(function.address) or
                    (self.address.is_exact and function.physfn is not None
                     and self.address.matches(function.physfn)))
        if self.devname is not None:
            owner = owner_of_netdev.get(self.devname)
            return owner is not None and owner in (function.address,
                                                   function.physfn)
        return True


def parse_whitelist(values):
    """The usable DeviceSpecs of the option's values; logs the others."""
    specs = []
    for value in values:
        try:
            entries = json.loads(value)
        except ValueError as exc:
            LOG.error('Ignoring %s entry %r: not JSON (%s)', OPTION, value,
                      exc)
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            try:
                specs.append(_parse_entry(entry))
            except BadWhitelistEntry as exc:
                LOG.error('Ignoring %s entry %s: %s', OPTION,
                          json.dumps(entry), exc)
    return specs


def _parse_entry(entry):
    if not isinstance(entry, dict):
        raise BadWhitelistEntry('an entry must be a JSON object')
    if not any(key in entry for key in MATCH_KEYS):
        raise BadWhitelistEntry(
            'it would match every PCI device; set at least one of %s'
            % ', '.join(MATCH_KEYS))
    if 'address' in entry and 'devname' in entry:
        raise BadWhitelistEntry('address and devname exclude each other')
    devname = entry.get('devname')
    if devname is not None and not isinstance(devname, str):
        raise BadWhitelistEntry('devname must be a string')
    return DeviceSpec(vendor_id=_parse_id(entry, 'vendor_id'),
                      product_id=_parse_id(entry, 'product_id'),
                      address=_parse_address(entry.get('address')),
                      devname=devname)


def _parse_id(entry, key):
    value = entry.get(key)
    if value is None or value == '*':
        return None
    if not isinstance(value, str) or not re.fullmatch(
            r'(0x)?[0-9a-fA-F]{1,4}', value.strip()):
        raise BadWhitelistEntry('%s %r is not a hex id of up to 4 digits'
                                % (key, value))
    return '%04x' % int(value.strip(), 16)


def _parse_address(value):
    if value is None:
        return None
    if isinstance(value, dict):
        return _parse_address_regex(value)
    if isinstance(value, str):
        return _parse_address_glob(value)
    raise BadWhitelistEntry('address must be a string or an object')


def _parse_address_glob(text):
    head, _, function = text.partition('.')
    fields = head.split(':') if head else []
    if len(fields) > 3:
        raise BadWhitelistEntry('address %r has more than domain:bus:slot'
                                % text)
    # A short glob leaves off the leading fields: ":02." is slot 02.
    fields = [''] * (3 - len(fields)) + fields + [function]
    parsed = []
    for raw, (name, highest, fmt) in zip(fields, _GLOB_FIELDS,
                                         strict=True):
        raw = raw.strip()
        if raw in ('', '*'):
            parsed.append(None)
            continue
        if not re.fullmatch(r'[0-9a-fA-F]+', raw) or int(raw, 16) > highest:
            raise BadWhitelistEntry('address %r has an invalid %s %r'
                                    % (text, name, raw))
        parsed.append(fmt % int(raw, 16))
    return AddressGlob(*parsed)


def _parse_address_regex(spec):
    unknown = set(spec) - {name for name, _, _ in _GLOB_FIELDS}
    if unknown:
        raise BadWhitelistEntry('address has unknown keys %s'
                                % ', '.join(sorted(unknown)))
    patterns = []
    for name, _, _ in _GLOB_FIELDS:
        try:
            patterns.append(re.compile(str(spec.get(name, '.*'))))
        except re.error as exc:
            raise BadWhitelistEntry('address %s %r is not a regular '
                                    'expression: %s'
                                    % (name, spec.get(name), exc))
    return AddressRegex(tuple(patterns))


def _split_address(address):
    domain, bus, rest = address.split(':')
    slot, function = rest.split('.')
    return domain, bus, slot, function


class PciDriver(base.Driver, base.HealthReporting, base.Scrubbable):
    """Offers whitelisted PCI functions whole, one accelerator each."""

    driver_name = 'pci'
    generic = True

    def __init__(self, conf):
        super().__init__(conf)
        # Parsed once: the option cannot change without a restart, and a
        # bad entry is then logged once, not every discovery.
        self._specs = parse_whitelist(conf.pci.passthrough_whitelist)
        self._sysfs = sysfs.Sysfs.from_conf(conf)
        self._health = pci_health.HealthReader(self._sysfs)

    def discover(self):
        functions = self._sysfs.pci_functions()
        owner_of_netdev = {netdev: function.address
                           for function in functions
                           for netdev in function.netdevs}
        devices = []
        for function in functions:
            if not any(spec.matches(function, owner_of_netdev)
                       for spec in self._specs):
                continue
            if function.virtfns:
                LOG.info('Not offering PCI device %s: it has %d SR-IOV VFs '
                         'enabled; whitelist the VFs instead',
                         function.address, len(function.virtfns))
                continue
            devices.append(self._device(function))
        return devices

    def _device(self, function):
        vendor_name = VENDOR_NAMES.get(function.vendor_id)
        traits = ['OWNER_CYBORG']
        if vendor_name:
            traits.append('CUSTOM_PCI_%s' % vendor_name.upper())
        traits.append('CUSTOM_PCI_PRODUCT_ID_%s' % function.product_id.upper())
        return sysfs.whole_function_device(
            self.conf, function,
            device_type=pci_class.device_type(function),
            driver_name=(vendor_name.upper() if vendor_name
                         else function.vendor_id),
            resource_class='CUSTOM_PCI', traits=traits)

    def health(self, device):
        return self._health.device_health(device)

    def scrub(self, controlpath, attach_handle):
        pci_scrub.reset_handle(self._sysfs, attach_handle)
