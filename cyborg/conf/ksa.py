"""keystoneauth option sets shared by the groups that talk to other services.

[glance], [nova], [placement] and [service_user] each carry the session, auth
and (for the first three) adapter options of keystoneauth1, so one module
builds them instead of four near-copies.
"""

from keystoneauth1 import loading as ks_loading


def register(conf, group, service_type=None):
    """Register session + auth (+ adapter when service_type) opts on group."""
    ks_loading.register_session_conf_options(conf, group)
    ks_loading.register_auth_conf_options(conf, group)
    if service_type:
        ks_loading.register_adapter_conf_options(conf, group,
                                                 include_deprecated=False)
        conf.set_default('service_type', service_type, group=group)
        conf.set_default('valid_interfaces', ['internal', 'public'],
                         group=group)


def list_opts(extra=(), adapter=True):
    """The options of one such group, for the sample config generator."""
    opts = list(extra)
    opts += ks_loading.get_session_conf_options()
    opts += ks_loading.get_auth_common_conf_options()
    opts += ks_loading.get_auth_plugin_conf_options('password')
    if adapter:
        opts += ks_loading.get_adapter_conf_options(include_deprecated=False)
    # Several plugins share option names (e.g. auth-url); keep the first.
    seen, unique = set(), []
    for opt in opts:
        if opt.dest not in seen:
            seen.add(opt.dest)
            unique.append(opt)
    return unique


def use_fixed_token(conf, group, endpoint, token='admin'):
    """Point [group] at an endpoint with a fixed token, no Keystone.

    For services running with noauth (the all-in-one service's embedded
    Placement, test stubs): keystoneauth's admin_token plugin sends
    ``X-Auth-Token: <token>`` to ``endpoint``.
    """
    conf.set_override('auth_type', 'admin_token', group=group)
    # A plugin's options are registered when it is loaded; register them
    # now so they can be set.
    conf.register_opts(ks_loading.get_auth_plugin_conf_options('admin_token'),
                       group=group)
    conf.set_override('endpoint', endpoint, group=group)
    conf.set_override('token', token, group=group)
