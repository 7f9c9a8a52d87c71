"""Entry points for oslo-config-generator (namespace ``cyborg``)."""

import collections

from oslo_log import log
from oslo_middleware import cors

from cyborg import conf as cyborg_conf


def list_opts():
    """Return [(group, [opts])] for every option cyborg defines."""
    merged = collections.OrderedDict()
    for module in cyborg_conf.OPTION_MODULES:
        for group, opts in module.list_opts().items():
            name = getattr(group, 'name', group)
            merged.setdefault(name, []).extend(opts)
    return [(name, opts) for name, opts in merged.items() if opts]


def set_lib_defaults():
    """Defaults we change in libraries' options, for the generator."""
    cors.set_defaults(
        allow_headers=['X-Auth-Token', 'X-OpenStack-Request-ID',
                       'X-Identity-Status', 'X-Roles', 'X-Service-Catalog',
                       'X-User-Id', 'X-Tenant-Id', 'OpenStack-API-Version'],
        expose_headers=['X-Auth-Token', 'X-OpenStack-Request-ID',
                        'X-Subject-Token', 'X-Service-Token',
                        'OpenStack-API-Version',
                        'OpenStack-API-Minimum-Version',
                        'OpenStack-API-Maximum-Version'],
        allow_methods=['GET', 'PUT', 'POST', 'DELETE', 'PATCH'])
    log.set_defaults(default_log_levels=log.get_default_log_levels() + [
        'stevedore=INFO', 'keystoneauth=INFO', 'openstack=INFO'])
