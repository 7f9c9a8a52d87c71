"""Options of the [pci] group: which PCI devices the generic driver reports."""

from oslo_config import cfg

GROUP = cfg.OptGroup('pci', title='PCI passthrough options',
                     help='Options for the generic PCI driver.')

opts = [
    cfg.MultiStrOpt('passthrough_whitelist',
                    default=[],
                    help='Nova-style PCI device specification, one JSON '
                         'object (or list of objects) per line, matching on '
                         '"vendor_id", "product_id", "address" (a glob string '
                         'such as "0000:0a:00.*" or a dict of "domain", '
                         '"bus", "slot", "function" regular expressions) and '
                         '"devname". Each matching device is offered as one '
                         'CUSTOM_PCI accelerator.'),
]


def register_opts(conf):
    # By name, not GROUP: oslo.config would share GROUP's option state
    # (overrides included) between every ConfigOpts it is registered in.
    conf.register_opts(opts, group=GROUP.name)


def list_opts():
    return {GROUP: opts}
