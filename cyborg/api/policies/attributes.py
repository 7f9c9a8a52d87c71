"""Policy rules of /v2/attributes."""

from cyborg.api.policies import base

GET_ALL = 'cyborg:attribute:get_all'
GET_ONE = 'cyborg:attribute:get_one'
CREATE = 'cyborg:attribute:create'
DELETE = 'cyborg:attribute:delete'

rules = [
    base.api_rule(GET_ALL, base.PROJECT_MANAGER_OR_ADMIN,
                  'List attributes.', 'GET', '/v2/attributes',
                  base.ADMIN_API),
    base.api_rule(GET_ONE, base.PROJECT_MANAGER_OR_ADMIN,
                  'Show an attribute.', 'GET',
                  '/v2/attributes/{attribute_uuid}', base.ADMIN_API),
    base.api_rule(CREATE, base.ADMIN_API, 'Create an attribute.', 'POST',
                  '/v2/attributes'),
    base.api_rule(DELETE, base.ADMIN_API, 'Delete an attribute.', 'DELETE',
                  '/v2/attributes/{attribute_uuid}'),
]


def list_rules():
    return rules
