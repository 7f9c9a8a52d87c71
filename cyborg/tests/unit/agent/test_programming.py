"""Programming on the agent: idempotence, checksum verification against a
stub Glance, failures, and what is recorded (through the fake driver)."""

import hashlib
import json
import os
import uuid

import pytest

from cyborg.accelerator.drivers import fake
from cyborg.accelerator import discovery
from cyborg.agent import programming
from cyborg import exception

REGION = '0000:0c:00.0'


@pytest.fixture
def controlpath(conf):
    return fake.FakeDriver(conf).discover()[0].controlpath.to_dict()


@pytest.fixture
def programmer(conf, stub_glance):
    return programming.Programmer(conf, [fake.FakeDriver(conf)])


def _program(programmer, controlpath, image, **checksums):
    programmer.program(controlpath, image['id'], 'fake', **checksums)


def _regions(conf):
    return fake.read_regions(conf.state_path)


def _recorded(programmer):
    """The agent's programming records, {} when it has none."""
    if not os.path.exists(programmer.records.path):
        return {}
    with open(programmer.records.path) as handle:
        return json.load(handle)


def _downloads_dir(conf):
    return os.listdir(os.path.join(conf.state_path, 'downloads'))


def test_programs_the_downloaded_image_and_records_it(
        conf, programmer, controlpath, stub_glance):
    data = b'bitstream for region 0'
    image = stub_glance.add_image(data)

    _program(programmer, controlpath, image,
             checksum=image['os_hash_value'], checksum_algo='sha512')

    assert _regions(conf)[REGION]['sha256'] == hashlib.sha256(
        data).hexdigest()
    assert list(_recorded(programmer).values()) == [{
        'image_uuid': image['id'], 'driver_name': 'fake',
        'loaded_bitstream': hashlib.sha256(data).hexdigest()}]
    assert stub_glance.downloads_of(image['id']) == 1
    # The downloaded file does not outlive the programming.
    assert _downloads_dir(conf) == []


def test_a_region_holding_the_image_is_not_reprogrammed(
        conf, programmer, controlpath, stub_glance):
    image = stub_glance.add_image(b'bitstream')
    _program(programmer, controlpath, image)

    _program(programmer, controlpath, image)

    assert stub_glance.downloads_of(image['id']) == 1
    assert _regions(conf)[REGION]['times_programmed'] == 1


def test_idempotence_survives_an_agent_restart(conf, controlpath,
                                               stub_glance, programmer):
    image = stub_glance.add_image(b'bitstream')
    _program(programmer, controlpath, image)

    restarted = programming.Programmer(conf, [fake.FakeDriver(conf)])
    _program(restarted, controlpath, image)

    assert stub_glance.downloads_of(image['id']) == 1


def test_another_image_is_programmed(conf, programmer, controlpath,
                                     stub_glance):
    first = stub_glance.add_image(b'first')
    second = stub_glance.add_image(b'second')
    _program(programmer, controlpath, first)

    _program(programmer, controlpath, second)

    assert _regions(conf)[REGION]['sha256'] == hashlib.sha256(
        b'second').hexdigest()
    assert _regions(conf)[REGION]['times_programmed'] == 2


def test_a_region_changed_behind_our_back_is_programmed_again(
        conf, programmer, controlpath, stub_glance, tmp_path):
    image = stub_glance.add_image(b'ours')
    _program(programmer, controlpath, image)
    # Someone loads another bitstream without the agent.
    other = tmp_path / 'other.gbs'
    other.write_bytes(b'theirs')
    fake.FakeDriver(conf).program(
        discovery.ControlPath.from_dict(controlpath), str(other))

    _program(programmer, controlpath, image)

    assert stub_glance.downloads_of(image['id']) == 2
    assert _regions(conf)[REGION]['sha256'] == hashlib.sha256(
        b'ours').hexdigest()


@pytest.mark.parametrize('checksums', [
    {'checksum': 'f' * 128, 'checksum_algo': 'sha512'},
    {'checksum': '0' * 32},  # md5 when no algorithm is named
])
def test_a_wrong_checksum_programs_nothing(conf, programmer, controlpath,
                                           stub_glance, checksums):
    image = stub_glance.add_image(b'bitstream')

    with pytest.raises(exception.BitstreamChecksumMismatch,
                       match=image['id']):
        _program(programmer, controlpath, image, **checksums)

    assert _regions(conf) == {}
    assert _recorded(programmer) == {}
    assert _downloads_dir(conf) == []


@pytest.mark.parametrize('has_os_hash', [True, False])
def test_without_a_checksum_glance_s_own_is_checked(
        conf, programmer, controlpath, stub_glance, has_os_hash):
    image = stub_glance.add_image(b'bitstream')
    if not has_os_hash:
        image.update(os_hash_algo=None, os_hash_value=None)
    # The data Glance serves no longer matches what it recorded.
    stub_glance.data[image['id']] = b'bitstream, corrupted'

    with pytest.raises(exception.BitstreamChecksumMismatch):
        _program(programmer, controlpath, image)
    assert _regions(conf) == {}

    stub_glance.data[image['id']] = b'bitstream'
    _program(programmer, controlpath, image)
    assert REGION in _regions(conf)


def test_an_unknown_checksum_algorithm_is_refused(programmer, controlpath,
                                                  stub_glance):
    image = stub_glance.add_image(b'bitstream')

    with pytest.raises(exception.ProgrammingFailed,
                       match="unknown checksum algorithm 'crc99'"):
        _program(programmer, controlpath, image, checksum='00',
                 checksum_algo='crc99')


def test_a_failed_programming_is_not_recorded_and_retried(
        conf, programmer, controlpath, stub_glance):
    image = stub_glance.add_image(fake.FAIL_MARKER + b' bitstream')

    for _ in range(2):
        with pytest.raises(exception.ProgrammingFailed):
            _program(programmer, controlpath, image)

    assert stub_glance.downloads_of(image['id']) == 2
    assert _recorded(programmer) == {}
    assert _downloads_dir(conf) == []


def test_an_unknown_image_is_not_found(programmer, controlpath):
    missing = str(uuid.uuid4())

    with pytest.raises(exception.ImageNotFound, match=missing):
        programmer.program(controlpath, missing, 'fake')


def test_an_unknown_driver_is_refused(programmer, controlpath, stub_glance):
    image = stub_glance.add_image(b'bitstream')

    with pytest.raises(exception.InvalidDriver,
                       match='no enabled driver that programs devices has '
                             r'this name \(enabled: fake\)'):
        programmer.program(controlpath, image['id'], 'intel')
    assert stub_glance.downloads_of(image['id']) == 0


def test_a_failed_download_is_retried(conf, programmer, controlpath,
                                      stub_glance):
    conf.set_override('num_retries', 1, group='glance')
    image = stub_glance.add_image(b'bitstream')
    stub_glance.failing_downloads = 1

    _program(programmer, controlpath, image)

    assert stub_glance.downloads_of(image['id']) == 2
    assert REGION in _regions(conf)


def test_a_bad_image_uuid_is_refused(programmer, controlpath):
    with pytest.raises(exception.Invalid, match='not an image uuid'):
        programmer.program(controlpath, '../etc/passwd', 'fake')


class CannotTellDriver(fake.FakeDriver):
    """A programmable device that cannot say what its region holds."""

    def loaded_bitstream(self, controlpath):
        return None


def test_a_failed_attempt_voids_the_earlier_record(conf, controlpath,
                                                   stub_glance):
    # The region may be half-programmed after a failure; asking again for
    # the image it held before must program it, not trust the old record.
    programmer = programming.Programmer(conf, [CannotTellDriver(conf)])
    good = stub_glance.add_image(b'good')
    bad = stub_glance.add_image(fake.FAIL_MARKER)
    _program(programmer, controlpath, good)
    with pytest.raises(exception.ProgrammingFailed):
        _program(programmer, controlpath, bad)

    _program(programmer, controlpath, good)

    assert stub_glance.downloads_of(good['id']) == 2
    assert _regions(conf)[REGION]['times_programmed'] == 2


def test_a_malformed_controlpath_is_refused(programmer):
    with pytest.raises(exception.Invalid, match='is not a control path'):
        programmer.program({'cpid_type': 'PCI'}, str(uuid.uuid4()), 'fake')
