"""The version documents at ``/`` and ``/v2``, served without a token.

openstacksdk and the ``openstack`` CLI discover the API by following the
``self`` link of ``GET /``, so the links are built from the URL the
client used (see :mod:`cyborg.api.links`).
"""

from cyborg.api.handlers import common
from cyborg.api import microversion

NAME = 'OpenStack Cyborg API'
DESCRIPTION = ('Accelerator management for OpenStack: discovers devices, '
               'offers them to the scheduler through Placement and binds '
               'them to instances.')


def _version(base_url, href_suffix, ident):
    return {
        'id': ident,
        'status': 'CURRENT',
        'min_version': microversion.MIN_VERSION,
        'max_version': microversion.MAX_VERSION,
        'links': [{'href': base_url + href_suffix, 'rel': 'self'}],
    }


def show_root(req):
    """GET /: the API's versions (only v2)."""
    version = _version(req.links_base, '/v2', 'v2')
    return common.json_response({
        'name': NAME,
        'description': DESCRIPTION,
        'versions': [version],
        'default_version': version,
    })


def show_v2(req):
    """GET /v2: the v2 API and its microversion range."""
    return common.json_response(_version(req.links_base, '/v2/', 'v2.0'))
