"""Policy rules of /v2/devices."""

from cyborg.api.policies import base

GET_ALL = 'cyborg:device:get_all'
GET_ONE = 'cyborg:device:get_one'
DISABLE = 'cyborg:device:disable'
ENABLE = 'cyborg:device:enable'

rules = [
    base.api_rule(GET_ALL, base.PROJECT_MANAGER_OR_ADMIN, 'List devices.',
                  'GET', '/v2/devices', base.ADMIN_API),
    base.api_rule(GET_ONE, base.PROJECT_MANAGER_OR_ADMIN, 'Show a device.',
                  'GET', '/v2/devices/{device_uuid}', base.ADMIN_API),
    base.api_rule(DISABLE, base.ADMIN_API,
                  'Disable a device (reserve its inventory).', 'POST',
                  '/v2/devices/{device_uuid}/disable'),
    base.api_rule(ENABLE, base.ADMIN_API,
                  'Enable a device (unreserve its inventory).', 'POST',
                  '/v2/devices/{device_uuid}/enable'),
]


def list_rules():
    return rules
