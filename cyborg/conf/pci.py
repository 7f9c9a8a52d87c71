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
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
