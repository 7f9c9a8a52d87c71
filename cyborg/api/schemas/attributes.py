"""Schemas of /v2/attributes."""

from cyborg.api.schemas import common

SORT_KEYS = ('created_at', 'uuid', 'key', 'deployable_id')

LIST_QUERY = common.list_query(
    SORT_KEYS,
    deployable_id={'type': 'string', 'pattern': '^[0-9]{1,10}$',
                   'x-message': 'deployable_id must be an integer'},
    key={'type': 'string'},
)

CREATE = {
    'type': 'object',
    'properties': {
        'deployable_id': {'type': 'integer', 'minimum': 1},
        'key': {'type': 'string', 'minLength': 1, 'maxLength': 255},
        'value': {'type': 'string'},
    },
    'required': ['deployable_id', 'key', 'value'],
}
