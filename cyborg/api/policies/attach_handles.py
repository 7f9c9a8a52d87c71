"""Policy rules of /v2/attach_handles."""

from cyborg.api.policies import base

LIST_RELEASES = 'cyborg:attach_handle:list_releases'

rules = [
    # Admin only by default: the rows name other projects' instances.
    base.api_rule(LIST_RELEASES, base.ADMIN_API,
                  'List the releases of an attach handle (who had it, and '
                  'the scrub between tenants).', 'GET',
                  '/v2/attach_handles/{attach_handle_uuid}/releases'),
]


def list_rules():
    return rules
