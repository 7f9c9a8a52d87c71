"""Policy rules of /v2/deployables."""

from cyborg.api.policies import base

GET_ALL = 'cyborg:deployable:get_all'
GET_ONE = 'cyborg:deployable:get_one'
PROGRAM = 'cyborg:deployable:program'

rules = [
    base.api_rule(GET_ALL, base.PROJECT_MANAGER_OR_ADMIN,
                  'List deployables.', 'GET', '/v2/deployables',
                  base.ADMIN_API),
    base.api_rule(GET_ONE, base.PROJECT_MANAGER_OR_ADMIN,
                  'Show a deployable.', 'GET',
                  '/v2/deployables/{deployable_uuid}', base.ADMIN_API),
    base.api_rule(PROGRAM, base.ADMIN_API,
                  'Program a bitstream onto a deployable.', 'PATCH',
                  '/v2/deployables/{deployable_uuid}/program'),
]


def list_rules():
    return rules
