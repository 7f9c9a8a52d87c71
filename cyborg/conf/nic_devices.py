"""Options of the [nic_devices] group and the NIC type groups it names.

Upstream Cyborg's names are kept: ``[nic_devices] enabled_nic_types``
lists option groups (upstream's is ``[x710_static]``), each holding
``physical_device_mappings`` and ``function_device_mappings``; we add
``ddp_package_mappings``. Every listed group applies to every NIC the
Intel NIC driver offers: the mappings name interfaces, which are unique
on a host.
"""

from oslo_config import cfg

GROUP = cfg.OptGroup('nic_devices', title='NIC device options',
                     help='Options for the Intel NIC driver.')

# The group the sample config shows the per-type options under: upstream's.
EXAMPLE_NIC_TYPE = 'x710_static'

opts = [
    cfg.ListOpt('enabled_nic_types',
                default=[],
                help='Option groups the Intel NIC driver reads its mappings '
                     'from, e.g. x710_static (upstream Cyborg\'s name). '
                     'Each group named here takes physical_device_mappings, '
                     'function_device_mappings and ddp_package_mappings.'),
]

nic_type_opts = [
    cfg.ListOpt('physical_device_mappings',
                default=[],
                help='Physical networks of the NICs, as '
                     '<physnet>:<interface>|<interface>... entries, the '
                     'interfaces being the PFs\' netdev names (e.g. '
                     'physnet1:ens801f0|ens801f1). The physnet becomes the '
                     'physical_network of the attach handles and a trait '
                     'CUSTOM_<PHYSNET> (upper case, other characters _).'),
    cfg.ListOpt('function_device_mappings',
                default=[],
                help='Functions the NICs offer, as '
                     '<function>:<interface>|<interface>... entries (e.g. '
                     'GTPv1:ens801f0). Each gives a trait CUSTOM_<FUNCTION>.'),
    cfg.ListOpt('ddp_package_mappings',
                default=[],
                help='The DDP package each E810 port runs, as '
                     '<package name>:<interface>|<interface>... entries '
                     '(e.g. ICE COMMS Package:ens801f0). Linux shows the '
                     'loaded package only in "devlink dev info" (fw.app.name) '
                     'and the kernel log, not in sysfs, so the operator '
                     'states it here. Each gives a trait CUSTOM_NIC_DDP_'
                     '<NAME>.'),
]


def register_opts(conf):
    # By name, not GROUP: oslo.config would share GROUP's option state
    # (overrides included) between every ConfigOpts it is registered in.
    conf.register_opts(opts, group=GROUP.name)


def register_nic_type_groups(conf):
    """Register the options of each group of enabled_nic_types; the names.

    Dynamic: the group names come from enabled_nic_types, so they can only
    be registered once that option has been read.
    """
    names = list(dict.fromkeys(conf.nic_devices.enabled_nic_types))
    for name in names:
        conf.register_opts(nic_type_opts, group=name)
    return names


def list_opts():
    return {GROUP: opts, EXAMPLE_NIC_TYPE: nic_type_opts}
