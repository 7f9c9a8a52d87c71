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

# Any string names a profile or none (404), the empty one included: that
# is what upstream's conformance tests expect.
CREATE = {
    'type': 'object',
    'properties': {
        'device_profile_name': {'type': 'string', 'maxLength': 255},
    },
    'required': ['device_profile_name'],
}

# 2.4: a profile name or a device context's uuid (exactly one: the
# handler's check, for a clear message).
CREATE_2_4 = {
    'type': 'object',
    'properties': {
        'device_profile_name': {'type': 'string', 'maxLength': 255},
        'device_context_uuid': dict(
            common.UUID, **{'x-message': 'device_context_uuid must be a '
                                         'UUID'}),
    },
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

_OPS = {'type': 'array', 'minItems': 1, 'maxItems': 8, 'items': _OP}

# {"<arq uuid>": [op, ...], ...}
PATCH = {
    'type': 'object',
    'minProperties': 1,
    'propertyNames': {'pattern': common.UUID_PATTERN},
    'additionalProperties': _OPS,
    'x-message': 'the body must map ARQ UUIDs to non-empty lists of '
                 'patch operations',
}

# PATCH /v2/accelerator_requests/{uuid}: {"<uuid>": [op, ...]} as
# openstacksdk sends it, or the bare list of ops.
PATCH_ONE = {
    'oneOf': [dict(PATCH, maxProperties=1), _OPS],
    'x-message': 'the body must be {"<this ARQ\'s uuid>": [ops]} or a '
                 'non-empty list of patch operations',
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
