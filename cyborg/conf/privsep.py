"""Options of the [cyborg_privsep] group: the privsep daemon's identity.

They are oslo.privsep's own options (user, group, capabilities,
helper_command, ...), registered here too so that they come from the
service's config files and appear in the sample config;
``cyborg.privsep.init`` hands them to oslo.privsep.
"""

import copy

from oslo_config import cfg
from oslo_privsep import priv_context

from cyborg import privsep

GROUP = cfg.OptGroup(
    privsep.CONFIG_SECTION, title='cyborg privsep daemon',
    help='The oslo.privsep daemon that writes sysfs and runs the FPGA '
         'programming tools for cyborg-agent.')

opts = copy.deepcopy(priv_context.OPTS)


def register_opts(conf):
    conf.register_opts(opts, group=GROUP.name)
    conf.set_default('capabilities', list(privsep.CAPABILITIES),
                     group=GROUP.name)


def list_opts():
    return {GROUP: opts}
