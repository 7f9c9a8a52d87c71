"""Policy rules of /v2/device_profiles."""

from cyborg.api.policies import base

GET_ALL = 'cyborg:device_profile:get_all'
GET_ONE = 'cyborg:device_profile:get_one'
CREATE = 'cyborg:device_profile:create'
DELETE = 'cyborg:device_profile:delete'
EXPLAIN = 'cyborg:device_profile:explain'

rules = [
    base.api_rule(GET_ALL, base.PROJECT_READER_OR_ADMIN,
                  'List device profiles.', 'GET', '/v2/device_profiles',
                  base.LEGACY_ADMIN_OR_OWNER),
    base.api_rule(GET_ONE, base.PROJECT_READER_OR_ADMIN,
                  'Show a device profile.', 'GET',
                  '/v2/device_profiles/{device_profile_uuid_or_name}',
                  base.LEGACY_ADMIN_OR_OWNER),
    base.api_rule(CREATE, base.ADMIN_API, 'Create a device profile.',
                  'POST', '/v2/device_profiles', base.LEGACY_IS_ADMIN),
    base.api_rule(DELETE, base.ADMIN_API,
                  'Delete device profiles, by uuid or by names.', 'DELETE',
                  '/v2/device_profiles/{device_profile_uuid}',
                  base.LEGACY_IS_ADMIN),
    # Admin only by default: the answer names hosts and their devices.
    base.api_rule(EXPLAIN, base.ADMIN_API,
                  'Explain whether the groups of a device profile can be '
                  'scheduled now, provider by provider (2.8).', 'GET',
                  '/v2/device_profiles/{device_profile_uuid_or_name}/explain'),
]


def list_rules():
    return rules
