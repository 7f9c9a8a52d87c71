"""Options of the [agent] group: drivers, Placement identity of the host,
health probing."""

import socket

from oslo_config import cfg

GROUP = cfg.OptGroup('agent', title='Agent options',
                     help='Options for the cyborg-agent service.')

opts = [
    cfg.ListOpt('enabled_drivers',
                default=['fake_driver'],
                help='Accelerator drivers the agent loads, by their entry '
                     'point name in the cyborg.accelerator.driver namespace: '
                     'fake_driver (a simulated FPGA, FPGA), pci_driver '
                     '([pci] passthrough_whitelist, CUSTOM_PCI), '
                     'nvidia_gpu_driver (PGPU, VGPU), intel_fpga_driver '
                     '(PAC Arria 10, N3000, D5005, FPGA), xilinx_fpga_driver '
                     '(Alveo, FPGA), inspur_fpga_driver (Inspur FPGA, FPGA), '
                     'intel_qat_driver '
                     '(QAT C62x, C3xxx, DH895xCC, 4xxx, CUSTOM_QAT), '
                     'intel_nic_driver (E810, X710/XL710/XXV710, CUSTOM_NIC; '
                     '[nic_devices]), huawei_ascend_driver (Ascend 310, '
                     '310P, 910, 910B, CUSTOM_NPU), inspur_nvme_ssd_driver '
                     '(Inspur NVMe, CUSTOM_SSD). The admin guide\'s driver '
                     'pages give each one\'s hardware, traits and options. '
                     'When pci_driver and a specific driver offer one PCI '
                     'function, the specific driver\'s device is reported. '
                     'An unknown or broken driver stops the agent at start.'),
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
    cfg.FloatOpt('health_interval',
                 default=2.0, min=0,
                 help='Seconds between two health probes of the devices of '
                      'drivers that report health (independent of '
                      '[DEFAULT] periodic_interval). A probe that sees a '
                      'device turn failed or degraded tells the conductor '
                      'at once, which reserves the device\'s inventory in '
                      'Placement. 0 disables health probing: devices keep '
                      'the health last recorded.'),
    cfg.IntOpt('health_recovery_probes',
               default=3, min=1,
               help='How many healthy probes in a row a failed or degraded '
                    'device needs before it is reported healthy and goes '
                    'back into service (so a flapping device stays out). '
                    'With health_interval, sets how long recovery takes.'),
    cfg.BoolOpt('hotplug',
                default=True,
                help='Rediscover and report at once when udev announces a '
                     'PCI device added, removed, bound to or unbound from '
                     'its kernel driver, or an mdev created or removed, '
                     'instead of waiting for the next periodic discovery '
                     '([DEFAULT] periodic_interval), which stays as the '
                     'backstop. Where udev does not run (containers), the '
                     'agent logs it once at start and relies on periodic '
                     'discovery.'),
    cfg.ListOpt('scrub_on_release',
                default=['FPGA', 'GPU'],
                help='Which released attach handles are scrubbed before '
                     'another tenant gets them: device types (FPGA, GPU, '
                     'QAT, NIC, AICHIP, SSD, ...) and deployable driver '
                     'names (fake, intel, XILINX, NVIDIA, ...), '
                     'case-insensitive. A handle is scrubbed when its '
                     "device's type or its deployable's driver is listed "
                     'and that driver can scrub; it is out of service (and '
                     'reserved in Placement) until the scrub succeeds. Read '
                     'by cyborg-api and cyborg-conductor, which release '
                     'handles, so set it alike on every node. Empty: never '
                     'scrub. The admin guide\'s scrubbing page has more.'),
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
