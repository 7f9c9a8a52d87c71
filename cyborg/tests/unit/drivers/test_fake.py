"""The fake driver: the report upstream's fake driver makes, and simulated
programming that tests of the bind path can inspect."""

import hashlib
import os

import pytest

from cyborg.accelerator.drivers import fake
from cyborg.accelerator import discovery
from cyborg import exception


def test_reports_one_fpga_with_16_test_pci_handles(conf):
    [device] = fake.FakeDriver(conf).discover()

    assert (device.type, device.vendor, device.model) == ('FPGA', '0xABCD',
                                                          'fake-fpga')
    assert device.controlpath.to_dict() == {
        'cpid_type': 'PCI',
        'info': {'domain': '0000', 'bus': '0c', 'device': '00',
                 'function': '0'}}
    [deployable] = device.deployables
    assert deployable.name == 'test-host_FakeDevice'
    assert (deployable.num_accelerators, deployable.driver_name,
            deployable.resource_class, deployable.traits) == (
        16, 'fake', 'FPGA', ['CUSTOM_FAKE_DEVICE'])
    handles = [(h.attach_type, h.info['bus'], h.info['device'],
                h.info['function']) for h in deployable.attach_handles]
    assert handles[:2] == [('TEST_PCI', '0c', '00', '1'),
                           ('TEST_PCI', '0c', '00', '2')]
    assert handles[7] == ('TEST_PCI', '0c', '01', '0')
    assert handles[-1] == ('TEST_PCI', '0c', '02', '0')
    assert len(set(handles)) == 16


def test_deployable_name_keeps_only_safe_characters_of_the_host(conf):
    conf.set_override('host', 'cmp-1.dc:2')

    [device] = fake.FakeDriver(conf).discover()

    assert device.deployables[0].name == 'cmp-1_dc_2_FakeDevice'


def test_an_unchanged_host_gives_an_unchanged_fingerprint(conf):
    driver = fake.FakeDriver(conf)

    assert (discovery.fingerprint(driver.discover()) ==
            discovery.fingerprint(fake.FakeDriver(conf).discover()))


class TestProgramming:
    @pytest.fixture
    def controlpath(self, conf):
        return fake.FakeDriver(conf).discover()[0].controlpath

    def _image(self, tmp_path, content):
        path = tmp_path / 'image.gbs'
        path.write_bytes(content)
        return str(path)

    def test_records_what_was_programmed(self, conf, tmp_path, controlpath):
        driver = fake.FakeDriver(conf)
        content = b'bitstream one'

        driver.program(controlpath, self._image(tmp_path, content))

        digest = hashlib.sha256(content).hexdigest()
        assert fake.read_regions(conf.state_path) == {
            '0000:0c:00.0': {'sha256': digest, 'size': len(content),
                             'times_programmed': 1}}
        assert driver.loaded_bitstream(controlpath) == digest

    def test_the_record_survives_a_restart(self, conf, tmp_path,
                                           controlpath):
        fake.FakeDriver(conf).program(controlpath,
                                      self._image(tmp_path, b'one'))
        fake.FakeDriver(conf).program(controlpath,
                                      self._image(tmp_path, b'two'))

        restarted = fake.FakeDriver(conf)

        assert restarted.loaded_bitstream(controlpath) == hashlib.sha256(
            b'two').hexdigest()
        assert fake.read_regions(conf.state_path)['0000:0c:00.0'][
            'times_programmed'] == 2

    def test_an_unprogrammed_region_holds_nothing(self, conf, controlpath):
        assert fake.FakeDriver(conf).loaded_bitstream(controlpath) is None
        assert fake.read_regions(conf.state_path) == {}

    def test_the_fail_marker_makes_programming_fail(self, conf, tmp_path,
                                                    controlpath):
        image = self._image(tmp_path, fake.FAIL_MARKER + b' rest')

        with pytest.raises(exception.ProgrammingFailed,
                           match='0000:0c:00.0'):
            fake.FakeDriver(conf).program(controlpath, image)

        assert fake.read_regions(conf.state_path) == {}


# Health: what a file under the state path says.

def _health(conf):
    driver = fake.FakeDriver(conf)
    [device] = driver.discover()
    return driver.health(device)


def test_no_health_file_is_healthy(conf):
    assert _health(conf) == discovery.Health('healthy')


@pytest.mark.parametrize('text, expected', [
    ('healthy\n', discovery.Health('healthy')),
    ('', discovery.Health('healthy')),
    ('failed ECC errors on bank 2\n',
     discovery.Health('failed', 'ECC errors on bank 2')),
    ('DEGRADED link at x8', discovery.Health('degraded', 'link at x8')),
    ('failed', discovery.Health('failed', 'the fake health file says '
                                          'failed')),
    ('on fire', discovery.Health('failed', "the fake health file says "
                                           "'on fire'")),
])
def test_the_health_file_is_the_health(conf, text, expected):
    path = fake.health_path(conf.state_path)
    os.makedirs(os.path.dirname(path))
    with open(path, 'w') as handle:
        handle.write(text)

    assert _health(conf) == expected


def test_write_health_writes_what_the_driver_reads(conf):
    fake.write_health(conf.state_path, 'degraded', 'slow')
    assert _health(conf) == discovery.Health('degraded', 'slow')
    assert fake.health_path(conf.state_path).endswith(
        'fake_driver_health/0000:0c:00.0')


def _handle(driver):
    [device] = driver.discover()
    handle = device.deployables[0].attach_handles[2]
    return device.controlpath, {'uuid': 'h-3', 'attach_type': 'TEST_PCI',
                                'attach_info': handle.info}


def test_scrubs_are_recorded_in_order(conf):
    driver = fake.FakeDriver(conf)
    controlpath, handle = _handle(driver)

    driver.scrub(controlpath, handle)
    driver.scrub(controlpath, dict(handle, uuid='h-4'))

    scrubs = fake.read_scrubs(conf.state_path)
    assert [s['attach_handle_uuid'] for s in scrubs] == ['h-3', 'h-4']
    assert scrubs[0]['attach_info'] == handle['attach_info']
    assert scrubs[0]['controlpath'] == '0000:0c:00.0'
    assert scrubs[0]['scrubbed_at'] <= scrubs[1]['scrubbed_at']


def test_a_test_can_make_scrubs_fail_and_succeed_again(conf):
    driver = fake.FakeDriver(conf)
    controlpath, handle = _handle(driver)
    fake.fail_scrubs(conf.state_path, 'stuck region')

    with pytest.raises(exception.ScrubFailed,
                       match='Scrubbing h-3 failed: stuck region'):
        driver.scrub(controlpath, handle)
    assert fake.read_scrubs(conf.state_path) == []

    fake.fail_scrubs(conf.state_path, None)
    driver.scrub(controlpath, handle)
    assert len(fake.read_scrubs(conf.state_path)) == 1
