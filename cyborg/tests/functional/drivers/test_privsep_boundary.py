"""Runtime check: the agent's privileged work happens in the privsep
daemon, not in the agent's process.

An audit hook (PEP 578) in this process records every file it opens for
writing under the sysfs tree and every program it starts, while the real
drivers create and remove an mdev, program an Intel and a Xilinx card and
reset a scrubbed GPU. The effects are there (the mdev attributes and the
reset written, the tools run), yet this process did none of it: the
daemon, a separate process, did.
"""

import contextlib
import os
import subprocess
import sys
import uuid


from cyborg.accelerator.drivers import intel_fpga
from cyborg.accelerator.drivers import nvidia_gpu
from cyborg.accelerator.drivers import xilinx_fpga
from cyborg.accelerator import discovery
from cyborg.tests.fixtures import sysfs as sysfs_fixture
from cyborg.tests.fixtures import sysfs_fpga

_RECORDING = {'root': None, 'events': None}
_EXEC_EVENTS = ('subprocess.Popen', 'os.exec', 'os.posix_spawn',
                'os.system', 'os.spawn')
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT


def _audit(event, args):
    events, root = _RECORDING['events'], _RECORDING['root']
    if events is None:
        return
    if event in _EXEC_EVENTS:
        events.append((event, repr(args)[:200]))
    elif event == 'open':
        path, mode, flags = args
        writing = (any(c in mode for c in 'wax+') if isinstance(mode, str)
                   else bool(flags & _WRITE_FLAGS))
        if writing and isinstance(path, (str, bytes, os.PathLike)) and (
                os.fsdecode(path).startswith(root)):
            events.append((event, os.fsdecode(path)))


# Hooks cannot be removed: this one does nothing outside a recording.
sys.addaudithook(_audit)


@contextlib.contextmanager
def recording(root):
    """Record this process's writes under ``root`` and programs it runs."""
    events = []
    _RECORDING.update(root=str(root), events=events)
    try:
        yield events
    finally:
        _RECORDING.update(root=None, events=None)


def _controlpath(address):
    return discovery.ControlPath('PCI', discovery.pci_address_dict(address))


def test_sysfs_writes_and_tools_run_only_in_the_daemon(
        conf, sysfs_tree, fake_fpgaconf, fake_xbmgmt, tmp_path):
    t4, _other = sysfs_fixture.build_t4_vgpu_host(sysfs_tree)
    pf, _vfs = sysfs_fpga.build_pac_n3000_host(sysfs_tree)
    conf.set_override('enabled_vgpu_types', ['nvidia-222'],
                      group='gpu_devices')
    image = tmp_path / 'image.gbs'
    image.write_bytes(b'AFU:' + b'ab' * 16)
    mdev_uuid = str(uuid.uuid4())
    gpus = nvidia_gpu.NvidiaGpuDriver(conf)

    with recording(sysfs_tree.root) as created:
        gpus.create_mdev(t4, 'nvidia-222', mdev_uuid)
    # What the kernel does on a create, done by the test's fake kernel.
    sysfs_tree.add_mdev(t4, 'nvidia-222', mdev_uuid)
    with recording(sysfs_tree.root) as removed_and_programmed:
        gpus.remove_mdev(t4, 'nvidia-222', mdev_uuid)
        intel_fpga.IntelFpgaDriver(conf).program(_controlpath(pf),
                                                 str(image))
        xilinx_fpga.XilinxFpgaDriver(conf).program(
            _controlpath('0000:3b:00.0'), str(image))

    # The work was done...
    assert sysfs_tree.mdev_type_file(t4, 'nvidia-222',
                                     'create').read_text() == mdev_uuid
    assert (sysfs_tree.device_dir(t4) / mdev_uuid /
            'remove').read_text() == '1'
    assert len(fake_fpgaconf.calls()) == 1
    assert len(fake_xbmgmt.calls()) == 1
    # ...and none of it by this process.
    assert created == []
    assert removed_and_programmed == []


def test_the_hook_sees_a_write_and_a_run_made_here(sysfs_tree):
    # The check above would pass vacuously if the hook saw nothing.
    with recording(sysfs_tree.root) as events:
        (sysfs_tree.root / 'bus' / 'probe').write_text('x')
        subprocess.run(['true'], check=True)
    assert events[0] == ('open', str(sysfs_tree.root / 'bus' / 'probe'))
    assert [event for event, _args in events[1:]] == ['subprocess.Popen']


def test_a_scrub_resets_the_function_only_in_the_daemon(conf, sysfs_tree):
    gpus = sysfs_fixture.build_hgx_h100_host(sysfs_tree)
    reset = sysfs_tree.device_dir(gpus[0]) / 'reset'
    reset.write_text('')
    handle = {'uuid': str(uuid.uuid4()), 'attach_type': 'PCI',
              'attach_info': discovery.pci_address_dict(gpus[0])}

    with recording(sysfs_tree.root) as events:
        nvidia_gpu.NvidiaGpuDriver(conf).scrub(_controlpath(gpus[0]),
                                               handle)

    assert reset.read_text() == '1'
    assert events == []
