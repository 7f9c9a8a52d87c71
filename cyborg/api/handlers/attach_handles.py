"""/v2/attach_handles/{uuid}/releases: who had a handle, and its scrubs.

Each release of an attach handle (an unbind, a delete, a failed bind) has
an audit row: the project and instance that had it, when it was let go,
and the scrub that ran before the next tenant (``conductor/scrubbing.py``).
Admins list them, newest first.
"""

from cyborg.api.handlers import common
from cyborg.api.policies import attach_handles as policies
from cyborg.api.schemas import attach_handles as schemas
from cyborg.api import validation
from cyborg.db import handle_releases

# The microversion the route arrived in (routes.py names it too).
RELEASES_VERSION = (2, 5)
KEY = 'releases'


def _view(release):
    view = {field: release[field] for field in handle_releases.VIEW_FIELDS}
    view['released_at'] = common.isotime(release['released_at'])
    view['finished_at'] = common.isotime(release['finished_at'])
    return view


def list_attach_handle_releases(req, uuid):
    """GET /v2/attach_handles/{uuid}/releases (2.5, admin by default)."""
    ctx = req.authorize(policies.LIST_RELEASES)
    params = validation.query(req, schemas.RELEASES_QUERY)
    page = req.page(params)
    releases = handle_releases.list_of_handle(ctx, uuid, **page.db_kwargs())
    body = {KEY: [_view(release) for release in releases]}
    page.add_next_link(body, KEY, req.links_base,
                       'attach_handles/%s/releases' % uuid, params)
    return common.json_response(body)
