"""Whether a PCI function still works, from what the kernel shows in sysfs.

Every PCI driver's ``health()`` starts here (see
``base.HealthReporting``); a family adds its own signals on top (the DFL
FME error registers, the QAT state). A probe runs every ``[agent]
health_interval`` seconds, so it is a handful of small reads under
``bus/pci/devices/<address>/`` of ``[agent] sysfs_root``, nothing more.

The rules, for the function a device is addressed by:

* **gone**: its directory is no longer there -> ``failed``;
* **driver**: its ``driver`` link is missing, or names a driver the family
  does not run it with -> ``failed``. ``vfio-pci`` is always accepted: a
  function handed to a guest is bound to it. A family that does not know
  its host driver's name gives none; then any driver will do, and only a
  function that had one and lost it fails;
* **fatal AER errors**: ``aer_dev_fatal``'s ``TOTAL_ERR_FATAL`` above 0 ->
  ``failed``. The counter is cumulative since the function was enumerated
  (boot, or a remove and rescan), and it is not compared to what it was
  when the agent started: a fatal error means the link or the device lost
  data, and restarting the agent must not hide it. Re-enumerating the
  function (or rebooting) clears it, after the operator has looked;
* **non-fatal AER errors**: ``aer_dev_nonfatal``'s ``TOTAL_ERR_NONFATAL``
  higher than at the previous probe -> ``degraded``. This counter too is
  cumulative since boot, and firmware or the kernel's own enumeration
  often leave a few (unsupported requests while probing), so its value
  alone says nothing; a rise while the agent watches does. The first
  probe of a function after the agent starts only takes the baseline. A
  rise keeps the device degraded for that probe; the conductor's
  hysteresis (``health_recovery_probes``) keeps it out of service until
  enough quiet probes followed;
* **link**: ``current_link_speed``/``current_link_width`` below what the
  link can do -> ``degraded``, with the numbers in the reason. What it can
  do is the lower of the function's ``max_link_*`` and those of the port
  above it (a Gen4 card in a Gen3 slot is not degraded at Gen3). A
  family whose devices lower their link speed to save power when idle
  (NVIDIA GPUs drop to 2.5 GT/s) compares the width only. SR-IOV VFs
  have no link of their own and are not checked; a link the kernel
  reports as ``Unknown`` (or width 0) is not compared either.

The other PCI functions a device's attach handles name (its VFs, a
second physical function) are checked for being gone and for AER errors.

An attribute the kernel does not show (no AER capability, an old kernel)
is skipped. One that is there but cannot be read, or holds something else
than the kernel writes, makes the device ``failed`` with the file named:
a probe never raises.

Correctable errors (``aer_dev_correctable``) are not used: the link
corrects them, healthy links log some, and a link that keeps retraining
because of them shows up as a downtrained link.
"""

import os
import pathlib
import re

from cyborg.accelerator import discovery
from cyborg.accelerator.drivers import sysfs

PASSTHROUGH_DRIVER = 'vfio-pci'
_SEVERITY_ORDER = {discovery.FAILED: 0, discovery.DEGRADED: 1,
                   discovery.HEALTHY: 2}
# "16.0 GT/s PCIe" (5.x and later), "8 GT/s" (older kernels).
_SPEED_RE = re.compile(r'([0-9]+(?:\.[0-9]+)?) GT/s\b.*')
_UNKNOWN_SPEEDS = ('Unknown', 'Unknown speed')


class HealthReader:
    """Probes PCI functions; remembers per function what the rules compare.

    One per driver instance, which lives as long as the agent: the
    non-fatal AER count of the previous probe and the driver a function
    was last seen bound to.
    """

    def __init__(self, sysfs_reader):
        self._sysfs = sysfs_reader
        self._nonfatal_seen = {}
        self._last_driver = {}

    def device_health(self, device, expected_drivers=None,
                      link_speed_varies=False, family_check=None):
        """The ``discovery.Health`` of a discovered ``device``.

        ``expected_drivers``: the names of the host drivers the family's
        functions are bound to (``vfio-pci`` is added); None when unknown.
        ``link_speed_varies``: compare the link width only.
        ``family_check``: a callable taking the device's PCI address and
        returning more findings (``discovery.Health`` objects), run when
        the function is still there.
        """
        address = discovery.pci_address_str(device.controlpath.info)
        if not self._sysfs.function_dir(address).is_dir():
            # Nothing else can be read of it.
            return _gone(address)
        findings = self._guarded(
            self._function_findings, address, expected_drivers,
            link_speed_varies)
        for other in sorted(_handle_addresses(device) - {address}):
            findings += self._guarded(self._member_findings, other)
        if family_check is not None:
            findings += self._guarded(family_check, address)
        return combine(findings)

    @staticmethod
    def _guarded(check, *args):
        try:
            return list(check(*args))
        except sysfs.MalformedSysfsFile as exc:
            return [discovery.Health(discovery.FAILED, str(exc))]
        except (OSError, ValueError) as exc:
            return [discovery.Health(
                discovery.FAILED, 'cannot read the state of %s: %s'
                                  % (args[0], exc))]

    def _function_findings(self, address, expected_drivers,
                           link_speed_varies):
        path = self._sysfs.function_dir(address)
        findings = self._driver_findings(address, path, expected_drivers)
        findings += self._aer_findings(address, path)
        if not (path / 'physfn').is_symlink():
            findings += _link_findings(address, path, link_speed_varies)
        return findings

    def _member_findings(self, address):
        path = self._sysfs.function_dir(address)
        if not path.is_dir():
            return [_gone(address)]
        return self._aer_findings(address, path)

    def _driver_findings(self, address, path, expected_drivers):
        bound = bound_driver(path)
        if bound is not None:
            self._last_driver[address] = bound
        if expected_drivers is None:
            last = self._last_driver.get(address)
            if bound is None and last is not None:
                return [discovery.Health(
                    discovery.FAILED, '%s is no longer bound to a driver '
                                      '(it was bound to %s)'
                                      % (address, last))]
            return []
        allowed = sorted(set(expected_drivers) | {PASSTHROUGH_DRIVER})
        if bound is None:
            return [discovery.Health(
                discovery.FAILED, '%s is bound to no driver (expected %s)'
                                  % (address, ' or '.join(allowed)))]
        if bound not in allowed:
            return [discovery.Health(
                discovery.FAILED, '%s is bound to %s, not %s'
                                  % (address, bound, ' or '.join(allowed)))]
        return []

    def _aer_findings(self, address, path):
        findings = []
        fatal = read_aer_counters(path / 'aer_dev_fatal', 'TOTAL_ERR_FATAL')
        if fatal is not None and fatal[0] > 0:
            findings.append(discovery.Health(
                discovery.FAILED, '%s has had %d fatal PCIe errors '
                                  '(aer_dev_fatal: %s)'
                                  % (address, fatal[0], fatal[1])))
        nonfatal = read_aer_counters(path / 'aer_dev_nonfatal',
                                     'TOTAL_ERR_NONFATAL')
        if nonfatal is not None:
            previous = self._nonfatal_seen.get(address)
            self._nonfatal_seen[address] = nonfatal[0]
            if previous is not None and nonfatal[0] > previous:
                findings.append(discovery.Health(
                    discovery.DEGRADED,
                    '%s reported %d new non-fatal PCIe errors (%d -> %d; '
                    'aer_dev_nonfatal: %s)' % (
                        address, nonfatal[0] - previous, previous,
                        nonfatal[0], nonfatal[1])))
        return findings


def combine(findings):
    """One Health from several: the worst state, every problem's reason."""
    problems = sorted((f for f in findings
                       if f.state != discovery.HEALTHY),
                      key=lambda f: _SEVERITY_ORDER[f.state])
    if not problems:
        return discovery.Health(discovery.HEALTHY)
    return discovery.Health(problems[0].state,
                            '; '.join(f.reason for f in problems))


def bound_driver(path):
    """The name of the driver the function at ``path`` is bound to."""
    link = path / 'driver'
    if not link.is_symlink():
        return None
    return os.path.basename(os.readlink(link))


def read_aer_counters(path, total_key):
    """(total, 'Name N, ...' of the non-zero kinds) of an AER stats file;
    None when the kernel does not show it.

    The file is one ``<error> <count>`` line per error kind and a
    ``<total_key> <count>`` line.
    """
    if not path.exists():
        return None
    counts = {}
    for line in sysfs.read_attribute(path).splitlines():
        name, _, count = line.strip().rpartition(' ')
        if not name or not count.isdigit():
            raise sysfs.MalformedSysfsFile(
                path, 'is malformed (line %r): expected "<error> <count>"'
                      % line)
        counts[name.strip()] = int(count)
    if total_key not in counts:
        raise sysfs.MalformedSysfsFile(path, 'has no %s line' % total_key)
    total = counts.pop(total_key)
    detail = ', '.join('%s %d' % (name, count)
                       for name, count in counts.items() if count)
    return total, detail or '%s %d' % (total_key, total)


def _link_findings(address, path, link_speed_varies):
    link = _read_link(path)
    if link is None:
        return []
    speed, width, max_speed, max_width = link
    # The port above trains the link too: take the lower capability.
    port = _upstream_port(path)
    upstream = _read_link(port) if port is not None else None
    if upstream is not None:
        max_speed = _lower(max_speed, upstream[2])
        max_width = _lower(max_width, upstream[3])
    slow = (not link_speed_varies and None not in (speed, max_speed)
            and speed < max_speed)
    narrow = None not in (width, max_width) and width < max_width
    if not (slow or narrow):
        return []
    return [discovery.Health(
        discovery.DEGRADED,
        '%s PCIe link trained at %s GT/s x%s, below its capability of '
        '%s GT/s x%s' % (address, _number(speed), width,
                         _number(max_speed), max_width))]


def _upstream_port(path):
    """The PCI function above ``path`` (its port), or None at a root bus."""
    parent = os.path.dirname(os.path.realpath(path))
    if not sysfs.PCI_ADDRESS_RE.fullmatch(os.path.basename(parent)):
        return None
    return pathlib.Path(parent)


def _read_link(path):
    """(speed, width, max speed, max width), each None when unknown;
    None when the kernel shows no link attributes."""
    names = ('current_link_speed', 'current_link_width', 'max_link_speed',
             'max_link_width')
    if not all((path / name).exists() for name in names):
        return None
    speed, width, max_speed, max_width = (
        sysfs.read_attribute(path / name) for name in names)
    return (_parse_speed(path / names[0], speed),
            _parse_width(path / names[1], width),
            _parse_speed(path / names[2], max_speed),
            _parse_width(path / names[3], max_width))


def _parse_speed(path, text):
    if text in _UNKNOWN_SPEEDS:
        return None
    match = _SPEED_RE.fullmatch(text)
    if not match:
        raise sysfs.MalformedSysfsFile(
            path, 'is malformed (%r): expected a speed such as "16.0 GT/s '
                  'PCIe"' % text)
    return float(match.group(1))


def _parse_width(path, text):
    if not text.isdigit():
        raise sysfs.MalformedSysfsFile(
            path, 'is malformed (%r): expected a lane count' % text)
    return int(text) or None


def _lower(own, other):
    if own is None:
        return other
    if other is None:
        return own
    return min(own, other)


def _number(speed):
    return '?' if speed is None else ('%g' % speed)


def _gone(address):
    return discovery.Health(discovery.FAILED,
                            'PCI function %s is gone' % address)


def _handle_addresses(device):
    """The PCI functions the device's attach handles name."""
    addresses = set()
    for deployable in device.deployables:
        for handle in deployable.attach_handles:
            info = handle.info
            if all(key in info for key in ('domain', 'bus', 'device',
                                           'function')):
                addresses.add(discovery.pci_address_str(info))
    return addresses
