"""The URL tree: version documents at ``/`` and ``/v2``, resources below.

This is the one file that mounts every controller. As upstream does, a
path whose first segment is not ``v2`` is routed as if it were prefixed
with it, so ``/device_profiles`` is ``/v2/device_profiles``.
"""

import pecan
from webob import exc as webob_exc

from cyborg.api.controllers import accelerator_requests
from cyborg.api.controllers import attributes
from cyborg.api.controllers import base
from cyborg.api.controllers import deployables
from cyborg.api.controllers import device_profiles
from cyborg.api.controllers import devices
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


class RootController:
    """Routes every request; serves the version documents itself."""

    def __init__(self, services):
        self.services = services
        self.collections = {
            'device_profiles': device_profiles.DeviceProfilesController(
                services),
            'accelerator_requests': (
                accelerator_requests.AcceleratorRequestsController(services)),
            'devices': devices.DevicesController(services),
            'deployables': deployables.DeployablesController(services),
            'attributes': attributes.AttributesController(services),
        }

    # Pecan hands the whole path to an exposed _route.
    @pecan.expose()
    def _route(self, args, request):
        segments = [segment for segment in args if segment]
        if not segments:
            return self._only_get(request, self.root_document), []
        if segments[0] != 'v2':
            segments.insert(0, 'v2')
        if len(segments) == 1:
            return self._only_get(request, self.v2_document), []
        collection = self.collections.get(segments[1])
        if collection is None:
            raise webob_exc.HTTPNotFound()
        return collection.route(request.method, segments[2:])

    @staticmethod
    def _only_get(request, handler):
        if request.method not in ('GET', 'HEAD'):
            raise webob_exc.HTTPMethodNotAllowed(headers={'Allow': 'GET'})
        return handler

    @base.handler()
    def root_document(self, req, resp):
        url = base.links_base(req, self.services)
        version = _version(url, '/v2', 'v2')
        return base.json_response({
            'name': NAME,
            'description': DESCRIPTION,
            'versions': [version],
            'default_version': version,
        })

    @base.handler()
    def v2_document(self, req, resp):
        url = base.links_base(req, self.services)
        return base.json_response(_version(url, '/v2/', 'v2.0'))
