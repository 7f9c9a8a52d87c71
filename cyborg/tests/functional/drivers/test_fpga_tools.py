"""FPGA drivers program through the privsep daemon with the fake tools:
the exact command lines, and every way a tool can fail."""

import logging
import os
import time

import pytest

from cyborg.accelerator.drivers import intel_fpga
from cyborg.accelerator.drivers import xilinx_fpga
from cyborg.accelerator import discovery
from cyborg import exception
from cyborg.privsep import tools
from cyborg.tests.fixtures import fpga_tools
from cyborg.tests.fixtures import sysfs_fpga


def _controlpath(address):
    return discovery.ControlPath('PCI', discovery.pci_address_dict(address))


@pytest.fixture
def image(tmp_path):
    path = tmp_path / 'nlb3.gbs'
    path.write_bytes(b'AFU:' + b'f7df405cbd7acf7222f144b0b93acd18')
    return str(path)


def _tool_errors(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == 'cyborg.accelerator.drivers.fpga'
            and r.levelno == logging.ERROR]


def test_intel_runs_fpgaconf_on_the_pf(conf, sysfs_tree, fake_fpgaconf,
                                       image):
    pf, _vfs = sysfs_fpga.build_pac_n3000_host(sysfs_tree)
    afu_id = sysfs_fpga.port_afu_id_path(sysfs_tree, pf)
    fake_fpgaconf.set_mode('ok', afu_id_file=afu_id)
    driver = intel_fpga.IntelFpgaDriver(conf)

    driver.program(_controlpath(pf), image)

    assert fake_fpgaconf.calls() == [
        ['--bus', '0xb2', '--device', '0x00', '--function', '0x0', image]]
    # The fake card shows the new function, as a real port would.
    assert driver.loaded_bitstream(_controlpath(pf)) == (
        'f7df405cbd7acf7222f144b0b93acd18')


def test_intel_names_the_segment_of_a_card_outside_segment_0(
        conf, sysfs_tree, fake_fpgaconf, image):
    intel_fpga.IntelFpgaDriver(conf).program(
        _controlpath('0001:3b:00.0'), image)

    assert fake_fpgaconf.calls() == [
        ['--bus', '0x3b', '--device', '0x00', '--function', '0x0',
         '--segment', '0x0001', image]]


def test_xilinx_loads_an_xclbin_as_a_user_image(conf, tmp_path,
                                                fake_xbmgmt):
    xclbin = tmp_path / 'kernel.xclbin'
    xclbin.write_bytes(b'xclbin2\0' + b'\0' * 64)

    xilinx_fpga.XilinxFpgaDriver(conf).program(
        _controlpath('0000:3b:00.0'), str(xclbin))

    assert fake_xbmgmt.calls() == [
        ['program', '--device', '0000:3b:00.0', '--user', str(xclbin),
         '--force']]


def test_xilinx_flashes_anything_else_as_a_base_image(conf, tmp_path,
                                                      fake_xbmgmt):
    base = tmp_path / 'xilinx_u250_gen3x16_base_4.xsabin.bin'
    base.write_bytes(b'\x00\x01 a flash image')

    xilinx_fpga.XilinxFpgaDriver(conf).program(
        _controlpath('0000:3b:00.0'), str(base))

    assert fake_xbmgmt.calls() == [
        ['program', '--device', '0000:3b:00.0', '--base', '--image',
         str(base), '--force']]


def test_a_failing_tool_names_itself_and_its_error(conf, fake_fpgaconf,
                                                   image, caplog):
    fake_fpgaconf.set_mode('fail')

    with pytest.raises(exception.ProgrammingFailed) as caught:
        intel_fpga.IntelFpgaDriver(conf).program(
            _controlpath('0000:b2:00.0'), image)

    expected = ('Programming 0000:b2:00.0 failed: fpgaconf (%s) exited '
                'with status 2: Error: the card refused the image'
                % fake_fpgaconf.path)
    assert str(caught.value) == expected
    assert _tool_errors(caplog) == [expected]


def test_a_missing_tool_fails_without_running_anything(conf, tmp_path,
                                                       privsep_daemon, image,
                                                       caplog):
    missing = str(tmp_path / 'opae' / 'bin' / 'fpgaconf')
    conf.set_override('fpgaconf_path', missing, group='intel_fpga')

    with pytest.raises(exception.ProgrammingFailed) as caught:
        intel_fpga.IntelFpgaDriver(conf).program(
            _controlpath('0000:b2:00.0'), image)

    assert str(caught.value) == (
        'Programming 0000:b2:00.0 failed: fpgaconf (%s) cannot be run: %s '
        'does not exist' % (missing, missing))
    assert len(_tool_errors(caplog)) == 1


def test_a_tool_that_is_not_executable_fails(conf, fake_fpgaconf, image):
    fake = fpga_tools.FakeTool(fake_fpgaconf.directory, 'not-exec')
    os.chmod(fake.path, 0o644)
    conf.set_override('fpgaconf_path', fake.path, group='intel_fpga')

    with pytest.raises(exception.ProgrammingFailed) as caught:
        intel_fpga.IntelFpgaDriver(conf).program(
            _controlpath('0000:b2:00.0'), image)

    assert str(caught.value).endswith('%s is not executable' % fake.path)
    assert fake.calls() == []


def test_a_hanging_tool_is_killed_at_its_timeout(conf, fake_xbmgmt,
                                                 tmp_path, caplog):
    fake_xbmgmt.set_mode('hang')
    conf.set_override('program_timeout', 1, group='xilinx_fpga')
    image = tmp_path / 'shell.bin'
    image.write_bytes(b'base')
    started = time.monotonic()

    with pytest.raises(exception.ProgrammingFailed) as caught:
        xilinx_fpga.XilinxFpgaDriver(conf).program(
            _controlpath('0000:3b:00.0'), str(image))

    assert time.monotonic() - started < 10
    assert str(caught.value) == (
        'Programming 0000:3b:00.0 failed: xbmgmt (%s) did not finish '
        'within 1 s and was killed' % fake_xbmgmt.path)
    assert len(_tool_errors(caplog)) == 1
    assert len(fake_xbmgmt.calls()) == 1
    assert _processes_running(fake_xbmgmt.path) == []


def _processes_running(path):
    found = []
    for pid in os.listdir('/proc'):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                if path.encode() in handle.read():
                    found.append(pid)
        except (FileNotFoundError, ProcessLookupError, PermissionError,
                NotADirectoryError):
            continue
    return found


def test_the_daemon_refuses_an_image_missing_from_the_command_line(
        conf, fake_fpgaconf, image):
    result = tools.run_tool([fake_fpgaconf.path, '--bus', '0x5e'], image, 5)

    assert result['outcome'] == 'missing'
    assert fake_fpgaconf.calls() == []
