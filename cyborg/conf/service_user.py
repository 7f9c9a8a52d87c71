"""Options of the [service_user] group: our own service token on outbound calls."""

from oslo_config import cfg

from cyborg.conf import ksa

GROUP = cfg.OptGroup('service_user', title='Service user options',
                     help='Credentials of the cyborg service user, sent as '
                          'a service token with calls made on behalf of a '
                          'user.')

opts = [
    cfg.BoolOpt('send_service_user_token',
                default=False,
                help='Send a service token along with the user token on '
                     'calls made on behalf of a user (image downloads), so '
                     'that an expiring user token does not fail them.'),
]


def register_opts(conf):
    # By name, not GROUP: oslo.config would share GROUP's option state
    # (overrides included) between every ConfigOpts it is registered in.
    conf.register_opts(opts, group=GROUP.name)
    ksa.register(conf, GROUP.name)


def list_opts():
    return {GROUP: ksa.list_opts(opts, adapter=False)}
