"""Options of the [glance] group: where agents download bitstream images."""

from oslo_config import cfg

from cyborg.conf import ksa

GROUP = cfg.OptGroup('glance', title='Glance options',
                     help='How the agent reaches the Image service to '
                          'download FPGA bitstreams.')

opts = [
    cfg.IntOpt('num_retries',
               default=0, min=0,
               help='Times a failed image download is retried.'),
]


def register_opts(conf):
    # By name, not GROUP: oslo.config would share GROUP's option state
    # (overrides included) between every ConfigOpts it is registered in.
    conf.register_opts(opts, group=GROUP.name)
    ksa.register(conf, GROUP.name, service_type='image')


def list_opts():
    return {GROUP: ksa.list_opts(opts)}
