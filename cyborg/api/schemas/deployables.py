"""Schemas of /v2/deployables."""

from cyborg.api.schemas import common
from cyborg.api.schemas import devices

SORT_KEYS = ('created_at', 'uuid', 'name', 'num_accelerators')

LIST_QUERY = dict(common.list_query(
    SORT_KEYS,
    name={'type': 'string'},
), **{'x-filter-fields': devices.FILTER_FIELDS + ('name',)})

# A JSON-patch list; upstream reads only body[0].value[0].image_uuid.
PROGRAM = {
    'type': 'array',
    'minItems': 1,
    'items': {
        'type': 'object',
        'properties': {
            'op': {'type': 'string'},
            'path': {'type': 'string'},
            'value': {
                'type': 'array',
                'minItems': 1,
                'items': {
                    'type': 'object',
                    'properties': {'image_uuid': common.UUID},
                    'required': ['image_uuid'],
                },
            },
        },
        'required': ['value'],
    },
    'x-message': 'the body must be [{"op": "replace", "path": "/program", '
                 '"value": [{"image_uuid": "<uuid>"}]}]',
}
