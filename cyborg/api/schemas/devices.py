"""Schemas of /v2/devices."""

from cyborg.api.schemas import common

SORT_KEYS = ('created_at', 'uuid', 'type', 'vendor', 'model', 'hostname')

# Upstream's accepted filters.field values; only paging ones do anything
# there, and here too (they are accepted so old clients keep working).
FILTER_FIELDS = ('parent_uuid', 'root_uuid', 'board', 'availability',
                 'interface_type', 'instance_uuid', 'limit', 'marker',
                 'sort_key', 'sort_dir', 'name')

LIST_QUERY = common.list_query(
    SORT_KEYS,
    type={'type': 'string'},
    vendor={'type': 'string'},
    hostname={'type': 'string'},
    **{'filters.field': {'type': 'string', 'enum': list(FILTER_FIELDS),
                         'x-message': 'filters.field must be one of %s'
                                      % ', '.join(FILTER_FIELDS)},
       'filters.value': {'type': 'string'}},
)
