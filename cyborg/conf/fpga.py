"""Options of the FPGA drivers: [intel_fpga] and [xilinx_fpga].

Where each driver finds its vendor's programming tool, how long one
programming may take (a programming that outlives its timeout is killed
and fails the bind that asked for it), and the blank image a released
card is scrubbed with.
"""

from oslo_config import cfg

INTEL_GROUP = cfg.OptGroup(
    'intel_fpga', title='Intel FPGA driver options',
    help='Options of intel_fpga_driver (PAC Arria 10, PAC N3000, PAC '
         'D5005 and other cards of the DFL or intel-fpga drivers).')
XILINX_GROUP = cfg.OptGroup(
    'xilinx_fpga', title='Xilinx FPGA driver options',
    help='Options of xilinx_fpga_driver (Alveo cards).')

# Real partial reconfigurations take seconds; a flash update of a Xilinx
# base image takes minutes. Both are bounded by [DEFAULT] bind_timeout
# for a bind anyway.
_TIMEOUT_HELP = ('Seconds one run of %s may take before it is killed and '
                 'the programming (and the bind that asked for it) fails. '
                 'Keep it below [conductor] agent_rpc_timeout so the '
                 'failure names the tool.')

_SCRUB_IMAGE_HELP = (
    'Absolute path of a blank image that %s loads into a card when one '
    'tenant releases it, so that the next does not get the previous '
    "tenant's design or data (%s). Unset: the released function is reset "
    'through its sysfs reset attribute instead, which clears its state '
    'but leaves the loaded design in place; a function the kernel cannot '
    'reset then fails its scrub.')

intel_opts = [
    cfg.StrOpt('fpgaconf_path', default='/usr/bin/fpgaconf',
               help="Absolute path of OPAE's fpgaconf, which loads a green "
                    'bitstream (.gbs) into a card\'s partial '
                    'reconfiguration region.'),
    cfg.IntOpt('program_timeout', default=300, min=1,
               help=_TIMEOUT_HELP % 'fpgaconf'),
    cfg.StrOpt('scrub_image',
               help=_SCRUB_IMAGE_HELP % ('fpgaconf', 'a green bitstream '
                                         'built for the card\'s region, '
                                         'such as an empty AFU')),
]

xilinx_opts = [
    cfg.StrOpt('xbmgmt_path', default='/opt/xilinx/xrt/bin/xbmgmt',
               help="Absolute path of XRT's xbmgmt, which loads user "
                    'images (xclbin) and flashes base images through a '
                    "card's management function."),
    cfg.IntOpt('program_timeout', default=600, min=1,
               help=_TIMEOUT_HELP % 'xbmgmt'),
    cfg.StrOpt('scrub_image',
               help=_SCRUB_IMAGE_HELP % ('xbmgmt', 'an xclbin built for '
                                         'the card\'s shell, such as an '
                                         'empty or verify kernel')),
]


def register_opts(conf):
    conf.register_opts(intel_opts, group=INTEL_GROUP.name)
    conf.register_opts(xilinx_opts, group=XILINX_GROUP.name)


def list_opts():
    return {INTEL_GROUP: intel_opts, XILINX_GROUP: xilinx_opts}
