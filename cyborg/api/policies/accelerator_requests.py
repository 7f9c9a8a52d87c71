"""Policy rules of /v2/accelerator_requests.

Isolation between projects is not a policy matter: the data layer only
ever returns a non-admin caller's own project's ARQs.
"""

from cyborg.api.policies import base

GET_ALL = 'cyborg:arq:get_all'
GET_ONE = 'cyborg:arq:get_one'
CREATE = 'cyborg:arq:create'
UPDATE = 'cyborg:arq:update'
DELETE = 'cyborg:arq:delete'

rules = [
    base.api_rule(GET_ALL, base.PROJECT_READER_OR_ADMIN,
                  'List accelerator requests.', 'GET',
                  '/v2/accelerator_requests', base.LEGACY_ADMIN_OR_OWNER),
    base.api_rule(GET_ONE, base.PROJECT_READER_OR_ADMIN,
                  'Show an accelerator request.', 'GET',
                  '/v2/accelerator_requests/{accelerator_request_uuid}',
                  base.LEGACY_ADMIN_OR_OWNER),
    base.api_rule(CREATE, base.PROJECT_MEMBER_OR_SERVICE,
                  'Create accelerator requests.', 'POST',
                  '/v2/accelerator_requests', base.PROJECT_MEMBER_OR_ADMIN),
    base.api_rule(UPDATE, base.PROJECT_MEMBER_OR_SERVICE,
                  'Bind or unbind accelerator requests (also needs a '
                  'service token).', 'PATCH', '/v2/accelerator_requests',
                  base.LEGACY_ADMIN_OR_OWNER),
    base.api_rule(DELETE, base.PROJECT_MEMBER_OR_SERVICE,
                  'Delete accelerator requests.', 'DELETE',
                  '/v2/accelerator_requests', base.LEGACY_ADMIN_OR_OWNER),
]


def list_rules():
    return rules
