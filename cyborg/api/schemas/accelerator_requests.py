"""Schemas of /v2/accelerator_requests."""

from cyborg.api.schemas import common

SORT_KEYS = ('created_at', 'uuid', 'state', 'instance_uuid')

LIST_QUERY = common.list_query(
    SORT_KEYS,
    instance=dict(common.UUID, **{'x-message': 'instance must be a UUID'}),
    bind_state={'type': 'string', 'enum': ['resolved'],
                'x-message': 'bind_state must be "resolved"'},
)

DELETE_QUERY = {
    'type': 'object',
    'properties': {
        'arqs': {'type': 'string', 'minLength': 1},
        'instance': dict(common.UUID,
                         **{'x-message': 'instance must be a UUID'}),
    },
}

CREATE = {
    'type': 'object',
    'properties': {
        'device_profile_name': {'type': 'string', 'minLength': 1,
                                'maxLength': 255},
    },
    'required': ['device_profile_name'],
}

_OP = {
    'type': 'object',
    'properties': {
        'op': {'type': 'string', 'enum': ['add', 'remove'],
               'x-message': 'op must be "add" or "remove"'},
        'path': {'type': 'string'},
        'value': {},
    },
    'required': ['op', 'path'],
}

# {"<arq uuid>": [op, ...], ...}
PATCH = {
    'type': 'object',
    'minProperties': 1,
    'propertyNames': {'pattern': common.UUID_PATTERN},
    'additionalProperties': {'type': 'array', 'minItems': 1, 'items': _OP},
    'x-message': 'the body must map ARQ UUIDs to non-empty lists of '
                 'patch operations',
}

# Values of the bind ("add") paths, checked after the path rules.
BIND_VALUES = {
    'type': 'object',
    'properties': {
        'hostname': {'type': 'string', 'minLength': 1, 'maxLength': 255},
        'device_rp_uuid': common.UUID,
        'instance_uuid': common.UUID,
        'project_id': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    },
}
