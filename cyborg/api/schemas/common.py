"""Schema fragments shared by every resource: UUIDs and list paging."""

# Canonical 8-4-4-4-12 hex, or the same 32 digits without hyphens (what
# oslo.utils' is_uuid_like also accepts); case-insensitive.
UUID_PATTERN = ('^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?'
                '[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$')

UUID = {'type': 'string', 'pattern': UUID_PATTERN,
        'x-message': 'must be a UUID'}

SORT_DIRS = ('asc', 'desc')


def list_query(sort_keys, **filters):
    """Schema of a list's query string: paging plus the given filters.

    Unknown parameters are ignored, as upstream ignores them.
    """
    properties = {
        'limit': {'type': 'string', 'pattern': '^[1-9][0-9]{0,8}$',
                  'x-message': 'limit must be a positive integer'},
        'marker': UUID,
        'sort_key': {'type': 'string', 'enum': list(sort_keys),
                     'x-message': 'sort_key must be one of %s'
                                  % ', '.join(sort_keys)},
        'sort_dir': {'type': 'string', 'enum': list(SORT_DIRS),
                     'x-message': 'sort_dir must be asc or desc'},
    }
    properties.update(filters)
    return {'type': 'object', 'properties': properties}
