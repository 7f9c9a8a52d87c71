"""The agent's side of programming a bitstream into a device region.

A program request names the region (a control path), the Glance image and
the driver. The agent:

1. takes the region's lock, so two requests for one region never overlap;
2. returns at once when its record says the region already holds this
   image and the driver does not say otherwise (a retried RPC, or a second
   ARQ asking for the same bitstream, costs nothing);
3. downloads the image to a temporary file, verifies it against the
   checksum the caller passed (or, when none, the one Glance records), and
   refuses a mismatch with ``BitstreamChecksumMismatch``;
4. programs through the driver, then records the result, and removes the
   file whatever happened.

The records live in ``<[DEFAULT] state_path>/agent_programmed_regions.json``
so that they survive an agent restart.
"""

import hashlib
import json
import logging
import os
import tempfile
import threading
import uuid

from cyborg.accelerator.drivers import base
from cyborg.accelerator import discovery
from cyborg.clients import glance as glance_client
from cyborg import exception

LOG = logging.getLogger(__name__)

RECORDS_FILE = 'agent_programmed_regions.json'
DOWNLOAD_DIR = 'downloads'
_HASH_CHUNK = 1024 * 1024


class ProgrammingRecords:
    """What each region was last programmed with, kept in a JSON file.

    Keys are the control path's canonical JSON; values are dicts with
    ``image_uuid``, ``driver_name`` and ``loaded_bitstream`` (the driver's
    token for the region's content right after programming).
    """

    def __init__(self, state_path):
        self._state_path = state_path
        self.path = os.path.join(state_path, RECORDS_FILE)
        self._lock = threading.Lock()

    def _read_all(self):
        try:
            with open(self.path) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}

    def get(self, key):
        with self._lock:
            return self._read_all().get(key)

    def put(self, key, record):
        """Record ``record`` for ``key``; None forgets the key."""
        with self._lock:
            records = self._read_all()
            if record is None:
                records.pop(key, None)
            else:
                records[key] = record
            # A new file renamed over the old: a crash mid-write must not
            # lose the records of the other regions.
            os.makedirs(self._state_path, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._state_path,
                                       prefix='.programmed')
            with os.fdopen(fd, 'w') as handle:
                json.dump(records, handle, sort_keys=True, indent=1)
            os.replace(tmp, self.path)


class Programmer:
    """Programs bitstreams through the enabled Programmable drivers."""

    def __init__(self, conf, drivers, glance=None):
        self._conf = conf
        self._drivers = [driver for driver in drivers
                         if isinstance(driver, base.Programmable)]
        self._glance = glance
        self.records = ProgrammingRecords(conf.state_path)
        self._region_locks = {}
        self._region_locks_guard = threading.Lock()

    @property
    def glance(self):
        # Built on first use: an agent that never programs needs no Glance.
        if self._glance is None:
            self._glance = glance_client.GlanceClient.from_conf(self._conf)
        return self._glance

    def program(self, controlpath, image_uuid, driver_name, checksum=None,
                checksum_algo=None):
        """Make the region at ``controlpath`` hold image ``image_uuid``.

        ``controlpath`` is ``discovery.ControlPath.to_dict()``. Idempotent;
        raises ImageNotFound, BitstreamChecksumMismatch, InvalidDriver or
        ProgrammingFailed.
        """
        try:
            controlpath = discovery.ControlPath.from_dict(controlpath)
        except (KeyError, TypeError, ValueError):
            raise exception.Invalid(reason='%r is not a control path'
                                           % (controlpath,))
        image_uuid = _check_uuid(image_uuid)
        driver = self._driver(driver_name)
        region = discovery.canonical_json(controlpath.to_dict())
        with self._lock_for(region):
            record = self.records.get(region)
            loaded = driver.loaded_bitstream(controlpath)
            if (record and record['image_uuid'] == image_uuid and
                    loaded in (None, record['loaded_bitstream'])):
                LOG.info('Region %s already holds image %s; not '
                         'reprogramming', region, image_uuid)
                return
            algo, expected = self._expected_checksum(image_uuid, checksum,
                                                     checksum_algo)
            path = self._download(image_uuid)
            try:
                _verify(path, image_uuid, algo, expected)
                # From here the region may end up holding neither the old
                # image nor the new one: an earlier record must not make a
                # retry skip the work.
                self.records.put(region, None)
                self._program(driver, controlpath, path)
            finally:
                os.unlink(path)
            self.records.put(region, {
                'image_uuid': image_uuid,
                'driver_name': driver.driver_name,
                'loaded_bitstream': driver.loaded_bitstream(controlpath),
            })
            LOG.info('Programmed image %s into region %s', image_uuid, region)

    def scrub_region(self, controlpath, scrub):
        """Run ``scrub()`` on the region at ``controlpath`` (a
        ``discovery.ControlPath``) under its programming lock, and forget
        what this agent loaded there.

        A scrub loads a blank image or resets the region behind the
        record's back; a device that cannot tell what it holds (Xilinx)
        would otherwise let the next bind of the previous tenant's image
        skip programming and run on the blank one.
        """
        region = discovery.canonical_json(controlpath.to_dict())
        with self._lock_for(region):
            self.records.put(region, None)
            scrub()

    def _driver(self, driver_name):
        for driver in self._drivers:
            if str(driver.driver_name).lower() == str(driver_name).lower():
                return driver
        raise exception.InvalidDriver(
            name=driver_name,
            reason='no enabled driver that programs devices has this name '
                   '(enabled: %s)' % (', '.join(
                       d.driver_name for d in self._drivers) or 'none'))

    def _lock_for(self, region):
        with self._region_locks_guard:
            return self._region_locks.setdefault(region, threading.Lock())

    def _expected_checksum(self, image_uuid, checksum, checksum_algo):
        """(hash algorithm, hex digest) the downloaded data must have."""
        if checksum:
            return checksum_algo or 'md5', checksum
        image = self.glance.get_image(image_uuid)
        if image['os_hash_algo'] and image['os_hash_value']:
            return image['os_hash_algo'], image['os_hash_value']
        if image['checksum']:
            return 'md5', image['checksum']
        raise exception.ProgrammingFailed(
            target='image %s' % image_uuid,
            reason='Glance records no checksum to verify it against')

    def _download(self, image_uuid):
        directory = os.path.join(self._conf.state_path, DOWNLOAD_DIR)
        os.makedirs(directory, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=directory, prefix=image_uuid,
                                    suffix='.gbs')
        os.close(fd)
        try:
            self.glance.download(image_uuid, path,
                                 num_retries=self._conf.glance.num_retries)
        except BaseException:
            os.unlink(path)
            raise
        return path

    @staticmethod
    def _program(driver, controlpath, path):
        try:
            driver.program(controlpath, path)
        except exception.CyborgException:
            raise
        except Exception as exc:
            # The caller is a conductor over RPC: give it one of our
            # exceptions, which it can re-raise as itself.
            LOG.exception('Driver %s failed to program %s',
                          driver.driver_name, controlpath.info)
            raise exception.ProgrammingFailed(
                target=discovery.pci_address_str(controlpath.info),
                reason='%s: %s' % (type(exc).__name__, exc))


def _check_uuid(value):
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise exception.Invalid(reason='%r is not an image uuid' % (value,))


def _verify(path, image_uuid, algo, expected):
    try:
        digest = hashlib.new(algo)
    except ValueError:
        raise exception.ProgrammingFailed(
            target='image %s' % image_uuid,
            reason='unknown checksum algorithm %r' % algo)
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b''):
            digest.update(chunk)
    if digest.hexdigest() != expected.lower():
        raise exception.BitstreamChecksumMismatch(image=image_uuid)
