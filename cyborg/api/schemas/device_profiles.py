"""Schemas of /v2/device_profiles.

Group keys and values get a second, semantic check in the controller
(prefixes, trait values, resource classes), which needs whitespace
stripping that JSON schema cannot express.
"""

from cyborg.api.schemas import common

SORT_KEYS = ('created_at', 'name', 'uuid')

LIST_QUERY = common.list_query(SORT_KEYS, name={'type': 'string'})

DELETE_QUERY = {
    'type': 'object',
    'properties': {'value': {'type': 'string', 'minLength': 1}},
    'required': ['value'],
    'x-message': 'name the device profiles to delete: DELETE '
                 '/v2/device_profiles/{uuid} or ?value=<name>[,<name>...]',
}

GROUP = {
    'type': 'object',
    'minProperties': 1,
    'additionalProperties': {'type': 'string'},
    'x-message': 'each group must be a non-empty map of string to string',
}

GROUPS = {'type': 'array', 'minItems': 1, 'items': GROUP,
          'x-message': 'groups must be a non-empty list of maps'}

PROFILE = {
    'type': 'object',
    'properties': {
        'name': {'type': 'string', 'minLength': 1, 'maxLength': 255,
                 'pattern': '^[a-zA-Z0-9-_]+$',
                 'x-message': 'name must be 1 to 255 letters, digits, '
                              '"-" or "_"'},
        'description': {'type': ['string', 'null'], 'maxLength': 65535},
        'uuid': common.UUID,
        'groups': GROUPS,
    },
    'required': ['name', 'groups'],
    'additionalProperties': False,
}

CREATE = {
    'type': 'array',
    'items': PROFILE,
    'minItems': 1,
    'maxItems': 1,
    'x-message': 'the body must be a list holding exactly one device '
                 'profile',
}
