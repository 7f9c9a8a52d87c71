"""Options of the [gpu_devices] group and the dynamic [vgpu_<type>] groups."""

from oslo_config import cfg

GROUP = cfg.OptGroup('gpu_devices', title='GPU device options',
                     help='Options for the NVIDIA GPU driver.')

opts = [
    cfg.ListOpt('enabled_vgpu_types',
                default=[],
                help='mdev types (e.g. nvidia-35) the NVIDIA driver offers '
                     'as VGPU. For each type, a [vgpu_<type>] group lists '
                     'in device_addresses the GPUs that offer it; other GPUs '
                     'are offered whole, as PGPU.'),
    cfg.BoolOpt('filter_sriov_vfs',
                default=False,
                help='Skip GPU functions that are SR-IOV virtual functions '
                     '(those with a physfn link).'),
]

vgpu_type_opts = [
    cfg.ListOpt('device_addresses',
                default=[],
                help='PCI addresses (dddd:bb:ss.f) of the GPUs that offer '
                     'this vGPU type. One address may appear under one type '
                     'only.'),
]


def register_opts(conf):
    # By name, not GROUP: oslo.config would share GROUP's option state
    # (overrides included) between every ConfigOpts it is registered in.
    conf.register_opts(opts, group=GROUP.name)


def register_vgpu_type_groups(conf):
    """Register [vgpu_<type>] for each enabled type; returns the group names.

    These groups are dynamic: their names come from enabled_vgpu_types, so
    they can only be registered once that option has been read.
    """
    names = []
    for vgpu_type in conf.gpu_devices.enabled_vgpu_types:
        name = 'vgpu_%s' % vgpu_type
        conf.register_opts(vgpu_type_opts, group=name)
        names.append(name)
    return names


def list_opts():
    return {GROUP: opts, 'vgpu_$vgpu_type': vgpu_type_opts}
