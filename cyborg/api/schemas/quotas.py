"""Schemas of /v2/quotas (microversion 2.7)."""

USAGE_QUERY = {
    'type': 'object',
    'properties': {
        'project_id': {'type': 'string', 'minLength': 1, 'maxLength': 255,
                       'pattern': '^[a-zA-Z0-9_-]+$',
                       'x-message': 'project_id must be 1 to 255 letters, '
                                    'digits, "-" or "_"'},
    },
    'additionalProperties': False,
    'x-message': 'the only query parameter is project_id',
}
