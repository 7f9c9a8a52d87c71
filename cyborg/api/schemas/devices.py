"""Schemas of /v2/devices."""

from cyborg.api.schemas import common
from cyborg.db import models

SORT_KEYS = ('created_at', 'uuid', 'type', 'vendor', 'model', 'hostname')

# Upstream's filters.field values that ever had an effect on devices; the
# others it accepted (parent_uuid, board, ...) did nothing and are refused.
FILTER_FIELDS = ('limit', 'marker', 'sort_key', 'sort_dir')

_FILTERS = dict(
    type={'type': 'string'},
    vendor={'type': 'string'},
    hostname={'type': 'string'},
)

LIST_QUERY = dict(common.list_query(SORT_KEYS, **_FILTERS),
                  **{'x-filter-fields': FILTER_FIELDS})

# From the health microversion (handlers/devices.HEALTH_VERSION).
LIST_QUERY_HEALTH = dict(common.list_query(
    SORT_KEYS,
    health={'type': 'string', 'enum': list(models.DEVICE_HEALTH_STATES),
            'x-message': 'health must be one of %s'
                         % ', '.join(models.DEVICE_HEALTH_STATES)},
    **_FILTERS), **{'x-filter-fields': FILTER_FIELDS})
