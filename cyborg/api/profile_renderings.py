"""Device profiles rendered to JSON once per API process.

A device profile never changes once created (the API has no update), so
the JSON of a profile the process has read once is kept and reused:
lists of a thousand profiles then decode and encode only the rows they
have not seen before. What is kept never says whether a profile exists:
every list and GET still reads from the DB which profiles exist (their
ids and uuids) in its transaction, and uses a rendering only for those.
A profile deleted by another API process is therefore gone at once here
too; its rendering just lingers until it is pushed out.

Renderings are keyed by the row's ``(id, uuid)``: a row id is never
reused on MySQL or PostgreSQL, and a profile created again under the
same uuid is another row. (SQLite reuses the largest id after a delete,
so there the DB layer reads every row in full.) The responses' ``links`` depend on the
request's URL and are added per request. At most ``max_entries``
profiles are kept (the oldest go first), and a delete in this process
drops the deleted profiles' renderings.
"""

import threading

import orjson

# About 0.5 KB a profile: a few MB per API process at most.
MAX_ENTRIES = 10000


def _fragment(view):
    # The JSON object without its closing brace: the links come next.
    return orjson.dumps(view)[:-1]


class ProfileRenderings:
    """``(id, uuid)`` -> the profile's JSON in the list and the GET form."""

    def __init__(self, max_entries=MAX_ENTRIES):
        self.max_entries = max_entries
        self._entries = {}
        self._lock = threading.Lock()

    def snapshot(self):
        """The renderings now, for one request (unchanged by others)."""
        return self._entries.copy()

    def add(self, profile, list_view, show_view):
        """Keep the renderings of a profile read from the DB."""
        key = (profile['id'], profile['uuid'])
        rendering = (_fragment(list_view), _fragment(show_view))
        with self._lock:
            self._entries[key] = rendering
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]
        return rendering

    def forget(self, keys):
        """Drop the renderings of deleted profiles ((id, uuid) pairs)."""
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)


class Links:
    """The ``links`` member of each profile of one response, as JSON."""

    def __init__(self, base_url, resource):
        # Everything up to the uuid, JSON-escaped once per response.
        self._head = (b',"links":[{"href":' + orjson.dumps(
            '%s/v2/%s/' % (base_url, resource))[:-1])

    def close(self, fragment, uuid):
        """fragment (see ProfileRenderings) completed with its links."""
        return (fragment + self._head + uuid.encode('utf-8')
                + b'","rel":"self"}]}')


def list_body(resource, items, next_href=None):
    """``{"<resource>": [items...]}`` of rendered items (bytes), with
    ``next`` when given."""
    body = b'{"' + resource.encode('ascii') + b'":[' + b','.join(items) + b']'
    if next_href is not None:
        body += b',"next":' + orjson.dumps(next_href)
    return body + b'}'
