"""Options of the [agent] group: drivers and Placement identity of the host."""

import socket

from oslo_config import cfg

GROUP = cfg.OptGroup('agent', title='Agent options',
                     help='Options for the cyborg-agent service.')

opts = [
    cfg.ListOpt('enabled_drivers',
                default=['fake_driver'],
                help='Accelerator drivers the agent loads, by their entry '
                     'point name in the cyborg.accelerator.driver namespace '
                     '(fake_driver, pci_driver, nvidia_gpu_driver, '
                     'intel_fpga_driver, xilinx_fpga_driver, '
                     'inspur_fpga_driver, ...). An '
                     'unknown or broken driver stops the agent at start.'),
    cfg.StrOpt('resource_provider_name',
               default=socket.getfqdn(),
               sample_default='<fqdn>',
               help="Name of this host's compute node resource provider in "
                    'Placement (what Nova created). Accelerator providers '
                    'are created under it and devices are reported with '
                    'this hostname.'),
    cfg.IntOpt('resource_provider_startup_retries',
               default=3, min=0,
               help='How many times the agent retries, with exponential '
                    'backoff, to find its compute node provider at start '
                    'before giving up.'),
    cfg.StrOpt('sysfs_root',
               default='/sys',
               help='Root of the sysfs tree drivers read. Only tests and '
                    'simulators change it.'),
]


def register_opts(conf):
    # By name, not GROUP: oslo.config would share GROUP's option state
    # (overrides included) between every ConfigOpts it is registered in.
    conf.register_opts(opts, group=GROUP.name)


def list_opts():
    return {GROUP: opts}
