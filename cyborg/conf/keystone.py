"""Defaults we impose on keystonemiddleware's [keystone_authtoken] options.

Bind and unbind must come from Nova with a real service token, so a service
token is only trusted when it carries one of service_token_roles.

``service_type`` names our service in Keystone's catalog: without it
keystonemiddleware refuses every token of an application credential
restricted by access rules, even to the requests the rules allow.
"""

from keystonemiddleware import auth_token

GROUP = 'keystone_authtoken'
# Our type in the catalog (microversion.SERVICE_TYPE, without importing
# the API here).
SERVICE_TYPE = 'accelerator'


def register_opts(conf):
    # keystonemiddleware registers these itself when the middleware starts;
    # registering them here lets us change a default and read them early.
    for group, opts in auth_token.list_opts():
        conf.register_opts(opts, group=group)
    conf.set_default('service_token_roles_required', True, group=GROUP)
    conf.set_default('service_type', SERVICE_TYPE, group=GROUP)


def list_opts():
    # Documented by keystonemiddleware's own generator namespace.
    return {}
