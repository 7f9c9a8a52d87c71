"""Schemas of /v2/attach_handles."""

from cyborg.api.schemas import common

SORT_KEYS = ('released_at', 'finished_at', 'scrub_outcome')

RELEASES_QUERY = common.list_query(SORT_KEYS)
