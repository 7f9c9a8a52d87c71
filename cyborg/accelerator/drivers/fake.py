"""A driver with simulated FPGAs, for tests, demos and the all-in-one.

Discovery reports the same card on every host: one FPGA at 0000:0c:00.0
with one deployable of 16 accelerators (resource class ``FPGA``, trait
``CUSTOM_FAKE_DEVICE``) and 16 ``TEST_PCI`` attach handles, which Nova
ignores, so instances can be scheduled and bound with no hardware at all.

Cards can be plugged in and pulled out while the agent runs, for testing
hot-plug: ``<[DEFAULT] state_path>/fake_driver_devices.json``, when it
exists, lists the control path addresses of the cards present (see
:func:`plug_device` and :func:`unplug_device`). Each card sits alone on its
PCI bus, its handles at functions 1 to 16 of that bus; the card at
0000:0c:00.0 keeps the deployable name ``<host>_FakeDevice``, another card
at ``dddd:bb:ss.f`` is ``<host>_FakeDevice_dddd_bb_ss_f``.

Programming is simulated too, so the whole bind path runs end to end: the
driver records what each region was programmed with in
``<[DEFAULT] state_path>/fake_driver_regions.json``, a file that survives
restarts and that other processes and tests can read (see
:func:`read_regions`). An image whose content starts with
:data:`FAIL_MARKER` makes programming fail, for testing failure paths.

The config data of a device context (API 2.4) is recorded likewise, per
attach handle, in ``fake_driver_prepared.json`` (see :func:`read_prepared`).
The fake driver takes any keys, except that :data:`REFUSE_KEY` makes it
refuse the config data, for testing that path.

Its health (``HealthReporting``) is what a file says, so tests and the
all-in-one can inject faults: ``<state_path>/fake_driver_health/<PCI
address>`` (see :func:`health_path`, :func:`write_health`) holding
``healthy``, ``degraded <reason>`` or ``failed <reason>``. No file, or an
empty one, is healthy; anything else is failed, saying what the file held.

Scrubbing between tenants is simulated too: each scrub of an attach
handle is appended to ``fake_driver_scrubs.json`` (see
:func:`read_scrubs`). While a file ``fake_driver_scrub_fail`` exists in
the state directory every scrub fails, with the file's text as the reason
(see :func:`fail_scrubs`); while ``fake_driver_scrub_delay`` holds a
number, every scrub takes that many seconds first, so tests can catch a
scrub in flight.
"""

import hashlib
import json
import os
import re
import tempfile
import threading
import time

from oslo_utils import timeutils

from cyborg.accelerator.drivers import base
from cyborg.accelerator import discovery
from cyborg import exception

VENDOR = '0xABCD'
MODEL = 'fake-fpga'
DRIVER_NAME = 'fake'
NUM_ACCELERATORS = 16
CONTROLPATH_ADDRESS = '0000:0c:00.0'
REGIONS_FILE = 'fake_driver_regions.json'
PREPARED_FILE = 'fake_driver_prepared.json'
HEALTH_DIR = 'fake_driver_health'
DEVICES_FILE = 'fake_driver_devices.json'
FAIL_MARKER = b'FAKE-PROGRAM-FAIL'
REFUSE_KEY = 'fake.refuse'
SCRUBS_FILE = 'fake_driver_scrubs.json'
SCRUB_FAIL_FILE = 'fake_driver_scrub_fail'
SCRUB_DELAY_FILE = 'fake_driver_scrub_delay'


def read_scrubs(state_path):
    """Every scrub the fake driver ran, oldest first: a list of dicts of
    ``attach_handle_uuid``, ``attach_info``, ``controlpath`` (the
    device's PCI address) and ``scrubbed_at`` (ISO 8601, UTC)."""
    try:
        with open(os.path.join(state_path, SCRUBS_FILE)) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return []


def fail_scrubs(state_path, reason='the test asked the fake driver to fail'):
    """Make every scrub fail with ``reason`` (None: succeed again)."""
    _set_marker(state_path, SCRUB_FAIL_FILE, reason)


def slow_scrubs(state_path, seconds):
    """Make every scrub take ``seconds`` first (None: no delay)."""
    _set_marker(state_path, SCRUB_DELAY_FILE,
                None if seconds is None else str(seconds))


def _set_marker(state_path, name, text):
    """Write ``text`` into the marker file ``name``; None removes it."""
    path = os.path.join(state_path, name)
    if text is None:
        if os.path.exists(path):
            os.unlink(path)
        return
    os.makedirs(state_path, exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text)


def regions_path(state_path):
    return os.path.join(state_path, REGIONS_FILE)


def read_prepared(state_path):
    """What the fake driver was asked to prepare: {handle uuid: record}.

    Each record has ``config_data``, ``attach_info``, ``controlpath`` (the
    device's PCI address) and ``times_prepared``.
    """
    try:
        with open(os.path.join(state_path, PREPARED_FILE)) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {}


def health_path(state_path, address=CONTROLPATH_ADDRESS):
    """The file the fake driver reads the health of ``address`` from."""
    return os.path.join(state_path, HEALTH_DIR, address)


def write_health(state_path, state, reason='', address=CONTROLPATH_ADDRESS):
    """Make the fake device at ``address`` report ``state`` (and reason)."""
    path = health_path(state_path, address)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(('%s %s' % (state, reason)).strip() + '\n')


def read_health(state_path, address=CONTROLPATH_ADDRESS):
    """The ``discovery.Health`` the health file of ``address`` describes."""
    try:
        with open(health_path(state_path, address)) as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        return discovery.Health(discovery.HEALTHY)
    except OSError as exc:
        return discovery.Health(discovery.FAILED,
                                'cannot read its health file: %s' % exc)
    if not text:
        return discovery.Health(discovery.HEALTHY)
    state, _space, reason = text.partition(' ')
    state = state.lower()
    if state == discovery.HEALTHY:
        return discovery.Health(discovery.HEALTHY)
    if state in discovery.HEALTH_STATES:
        return discovery.Health(state, reason.strip() or
                                'the fake health file says %s' % state)
    return discovery.Health(discovery.FAILED,
                            'the fake health file says %r' % text[:100])


def read_device_addresses(state_path):
    """The control path addresses of the fake cards present, sorted."""
    try:
        with open(os.path.join(state_path, DEVICES_FILE)) as handle:
            return sorted(json.load(handle))
    except FileNotFoundError:
        return [CONTROLPATH_ADDRESS]


def plug_device(state_path, address):
    """Add a fake card at ``address`` (``dddd:bb:ss.f``), as a hot-plug.

    Each card's handles fill functions 1 to 16 of its bus, so a bus holds
    one card: ValueError for a second card on a bus.
    """
    address = _canonical_address(address)
    present = read_device_addresses(state_path)
    if address in present:
        return
    if any(other[:7] == address[:7] for other in present):
        raise ValueError('PCI bus %s already holds a fake card' % address[:7])
    _write_json_file(state_path, DEVICES_FILE, sorted(present + [address]))


def unplug_device(state_path, address):
    """Remove the fake card at ``address``, as a surprise removal."""
    address = _canonical_address(address)
    present = read_device_addresses(state_path)
    if address in present:
        present.remove(address)
        _write_json_file(state_path, DEVICES_FILE, present)


def _canonical_address(address):
    canonical = address.strip().lower()
    if not re.fullmatch(r'[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]',
                        canonical):
        raise ValueError('%r is not a PCI address (dddd:bb:ss.f)' % address)
    return canonical


def read_regions(state_path):
    """What the fake driver programmed: {pci address: record}.

    Each record has ``sha256`` (of the bitstream), ``size`` and
    ``times_programmed``.
    """
    try:
        with open(regions_path(state_path)) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {}


class FakeDriver(base.Driver, base.Programmable, base.Preparable,
                 base.HealthReporting, base.Scrubbable):
    """Fake FPGAs; programming, config data and scrubs are recorded in
    JSON, health read from a file per card."""

    driver_name = DRIVER_NAME

    def __init__(self, conf):
        super().__init__(conf)
        # The agent may program two regions at once; the record file is
        # read, changed and replaced as a whole.
        self._regions_lock = threading.Lock()

    def discover(self):
        return [self._device(address) for address
                in read_device_addresses(self.conf.state_path)]

    def _device(self, address):
        # Placement provider names embed the deployable name; keep it to
        # characters every consumer accepts.
        host = re.sub(r'[^A-Za-z0-9_-]', '_', self.conf.host)
        name = '%s_FakeDevice' % host
        if address != CONTROLPATH_ADDRESS:
            name += '_' + re.sub(r'[:.]', '_', address)
        location = discovery.pci_address_dict(address)
        handles = [
            discovery.AttachHandle(
                attach_type='TEST_PCI',
                info={'domain': location['domain'], 'bus': location['bus'],
                      'device': '%02x' % (fn // 8),
                      'function': '%x' % (fn % 8)})
            for fn in range(1, NUM_ACCELERATORS + 1)]
        deployable = discovery.Deployable(
            name=name,
            num_accelerators=NUM_ACCELERATORS,
            driver_name=DRIVER_NAME,
            resource_class='FPGA',
            traits=['CUSTOM_FAKE_DEVICE'],
            attach_handles=handles)
        return discovery.Device(
            type='FPGA', vendor=VENDOR, model=MODEL,
            controlpath=discovery.ControlPath(
                cpid_type='PCI', info=location),
            deployables=[deployable],
            std_board_info=discovery.canonical_json(
                {'product_id': MODEL}))

    def program(self, controlpath, image_path):
        address = discovery.pci_address_str(controlpath.info)
        with open(image_path, 'rb') as handle:
            content = handle.read()
        if content.startswith(FAIL_MARKER):
            raise exception.ProgrammingFailed(
                target=address,
                reason='the image asks the fake driver to fail')
        with self._regions_lock:
            regions = read_regions(self.conf.state_path)
            previous = regions.get(address, {})
            regions[address] = {
                'sha256': hashlib.sha256(content).hexdigest(),
                'size': len(content),
                'times_programmed': previous.get('times_programmed', 0) + 1,
            }
            self._write_regions(regions)

    def prepare(self, controlpath, attach_handle, config_data):
        if REFUSE_KEY in config_data:
            raise exception.ConfigDataRefused(
                driver=DRIVER_NAME,
                reason='%s asks the fake driver to refuse' % REFUSE_KEY)
        with self._regions_lock:
            prepared = read_prepared(self.conf.state_path)
            previous = prepared.get(attach_handle['uuid'], {})
            prepared[attach_handle['uuid']] = {
                'config_data': dict(config_data),
                'attach_info': attach_handle['attach_info'],
                'controlpath': discovery.pci_address_str(controlpath.info),
                'times_prepared': previous.get('times_prepared', 0) + 1,
            }
            self._write_json(PREPARED_FILE, prepared)

    def health(self, device):
        return read_health(self.conf.state_path, discovery.pci_address_str(
            device.controlpath.info))

    def scrub(self, controlpath, attach_handle):
        state_path = self.conf.state_path
        delay = _read_text(os.path.join(state_path, SCRUB_DELAY_FILE))
        if delay:
            time.sleep(float(delay))
        reason = _read_text(os.path.join(state_path, SCRUB_FAIL_FILE))
        if reason is not None:
            raise exception.ScrubFailed(
                target=attach_handle['uuid'],
                reason=reason.strip() or 'the fake driver was asked to fail')
        with self._regions_lock:
            scrubs = read_scrubs(state_path)
            scrubs.append({
                'attach_handle_uuid': attach_handle['uuid'],
                'attach_info': attach_handle['attach_info'],
                'controlpath': discovery.pci_address_str(controlpath.info),
                'scrubbed_at': timeutils.utcnow().isoformat(),
            })
            self._write_json(SCRUBS_FILE, scrubs)

    def loaded_bitstream(self, controlpath):
        address = discovery.pci_address_str(controlpath.info)
        record = read_regions(self.conf.state_path).get(address)
        return record['sha256'] if record else None

    def _write_regions(self, regions):
        self._write_json(REGIONS_FILE, regions)

    def _write_json(self, name, records):
        _write_json_file(self.conf.state_path, name, records)


def _write_json_file(state_path, name, records):
    # Write a new file and rename it over the old one, so a reader in
    # another process never sees half a file.
    os.makedirs(state_path, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=state_path, prefix='.fake_records')
    with os.fdopen(fd, 'w') as handle:
        json.dump(records, handle, sort_keys=True, indent=1)
    os.replace(tmp, os.path.join(state_path, name))


def _read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None
