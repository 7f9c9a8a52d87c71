"""Schemas of /v2/devices."""

from cyborg.api.schemas import common

SORT_KEYS = ('created_at', 'uuid', 'type', 'vendor', 'model', 'hostname')

# Upstream's filters.field values that ever had an effect on devices; the
# others it accepted (parent_uuid, board, ...) did nothing and are refused.
FILTER_FIELDS = ('limit', 'marker', 'sort_key', 'sort_dir')

LIST_QUERY = dict(common.list_query(
    SORT_KEYS,
    type={'type': 'string'},
    vendor={'type': 'string'},
    hostname={'type': 'string'},
), **{'x-filter-fields': FILTER_FIELDS})
