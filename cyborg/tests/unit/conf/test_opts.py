"""The sample config generator sees every option, each with help text."""

import subprocess
import sys

from oslo_config import cfg

from cyborg import conf as cyborg_conf
from cyborg.conf import opts


def _registered_cyborg_opts():
    conf = cyborg_conf.register_opts(cfg.ConfigOpts())
    found = set()
    for module in cyborg_conf.OPTION_MODULES:
        for group, group_opts in module.list_opts().items():
            name = getattr(group, 'name', group)
            found |= {(name, opt.dest) for opt in group_opts}
    return conf, found


def test_every_listed_option_has_help():
    for group, group_opts in opts.list_opts():
        for opt in group_opts:
            assert opt.help and opt.help.strip(), (group, opt.name)


def test_every_own_option_is_listed_for_the_generator():
    # An option registered in one of our groups but missing from list_opts
    # would be absent from the sample config operators read.
    conf, listed = _registered_cyborg_opts()
    for group_name in ('api', 'agent', 'conductor', 'gpu_devices', 'pci',
                       'nic_devices', 'glance', 'service_user', 'intel_fpga',
                       'xilinx_fpga', 'cyborg_privsep', 'device_contexts'):
        for name in conf[group_name]:
            assert (group_name, name) in listed, (group_name, name)


def test_oslo_config_generator_lists_our_groups(tmp_path):
    out = tmp_path / 'cyborg.conf.sample'
    subprocess.run([sys.executable, '-m', 'oslo_config.generator',
                    '--namespace', 'cyborg', '--output-file', str(out)],
                   check=True, capture_output=True, timeout=120)
    text = out.read_text()
    for section in ('[DEFAULT]', '[api]', '[agent]', '[conductor]',
                    '[gpu_devices]', '[pci]', '[nic_devices]',
                    '[x710_static]', '[glance]', '[nova]', '[placement]',
                    '[service_user]', '[intel_fpga]', '[xilinx_fpga]',
                    '[cyborg_privsep]', '[device_contexts]'):
        assert section in text, section
    for option in ('bind_timeout', 'enabled_drivers', 'passthrough_whitelist',
                   'enabled_vgpu_types', 'public_endpoint', 'sysfs_root',
                   'reconcile_interval', 'enabled_nic_types',
                   'physical_device_mappings', 'function_device_mappings',
                   'ddp_package_mappings', 'fpgaconf_path', 'xbmgmt_path',
                   'program_timeout', 'helper_command', 'unused_expiry',
                   'release_grace', 'purge_interval'):
        assert '\n#%s =' % option in text, option
