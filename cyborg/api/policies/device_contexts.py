"""Policy rules of /v2/device_contexts (microversion 2.4).

As for ARQs, a project member (or a service such as Nova) manages its
project's contexts and readers read them; isolation between projects is
not a policy matter: the data layer only returns a non-admin caller's own
project's contexts.
"""

from cyborg.api.policies import base

GET_ALL = 'cyborg:device_context:get_all'
GET_ONE = 'cyborg:device_context:get_one'
CREATE = 'cyborg:device_context:create'
DELETE = 'cyborg:device_context:delete'
EXPLAIN = 'cyborg:device_context:explain'

rules = [
    base.api_rule(GET_ALL, base.PROJECT_READER_OR_ADMIN,
                  'List device contexts.', 'GET', '/v2/device_contexts'),
    base.api_rule(GET_ONE, base.PROJECT_READER_OR_ADMIN,
                  'Show a device context.', 'GET',
                  '/v2/device_contexts/{device_context_uuid}'),
    base.api_rule(CREATE, base.PROJECT_MEMBER_OR_SERVICE,
                  'Create a device context.', 'POST',
                  '/v2/device_contexts'),
    base.api_rule(DELETE, base.PROJECT_MEMBER_OR_SERVICE,
                  'Delete a device context.', 'DELETE',
                  '/v2/device_contexts/{device_context_uuid}'),
    # Admin only by default: the answer names hosts and their devices.
    base.api_rule(EXPLAIN, base.ADMIN_API,
                  'Explain whether the groups of a device context can be '
                  'scheduled now, provider by provider (2.8).', 'GET',
                  '/v2/device_contexts/{device_context_uuid}/explain'),
]


def list_rules():
    return rules
