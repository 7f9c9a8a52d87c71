"""The innermost WSGI application: finds a request's route and calls it.

Everything about which code serves a request is in
:mod:`cyborg.api.routes`; this module only applies that table:

* no route for the path, or none within the request's microversion
  range: 404; the path's routes (in range) lack the method: 405 with
  ``Allow``;
* a client whose ``Accept`` header rules out JSON: 406 (we only speak
  JSON, as upstream);
* every UUID path parameter is checked (400) and made canonical before
  the handler sees it;
* HEAD runs the GET handler and drops the body.

Exceptions are left to the fault wrapper around this application.
"""

from cyborg.api import errors
from cyborg.api.handlers import common
from cyborg.api import microversion
from cyborg.api import routes
from cyborg.api import validation

JSON = 'application/json'


class Dispatcher:
    """Calls the handler of each request's route."""

    def __init__(self, services, table=None):
        self.services = services
        self.table = table or routes.RouteTable()

    def __call__(self, environ, start_response):
        req = common.APIRequest(environ, self.services)
        handler, params = self._resolve(req)
        resp = handler(req, **params)
        if req.method == 'HEAD':
            # Keep Content-Length: HEAD tells what GET would send.
            resp.app_iter = []
        return resp(environ, start_response)

    def _resolve(self, req):
        path = routes.normalize_path(req.path_info)
        found = self.table.match(path)
        if found is None:
            raise errors.NotFound('The resource could not be found.',
                                  code=errors.NOT_FOUND)
        _template, methods, params = found
        # Routes outside the request's microversion do not exist for it: a
        # path with none left is unknown (404, whatever the method), and
        # Allow names only the methods the version serves.
        methods = {method: route for method, route in methods.items()
                   if _in_range(req, route)}
        if not methods:
            raise errors.NotFound('The resource could not be found.',
                                  code=errors.NOT_FOUND)
        method = 'GET' if req.method == 'HEAD' else req.method
        route = methods.get(method)
        if route is None:
            allowed = sorted(methods)
            if 'GET' in methods:
                allowed.append('HEAD')
            raise errors.MethodNotAllowed(allowed)
        if not req.accept.acceptable_offers([JSON]):
            raise errors.NotAcceptable(
                'Only application/json responses are available.',
                code=errors.NOT_ACCEPTABLE)
        for name, value in params.items():
            if routes.is_uuid_parameter(name):
                params[name] = validation.path_uuid(name, value)
        return route.handler, params


def _in_range(req, route):
    version = req.environ.get(microversion.ENVIRON_KEY)
    if version is None:
        # The version documents at / are outside the versioned API.
        return True
    if not version.matches(route.min_version):
        return False
    return route.max_version is None or version.matches(
        max_version=route.max_version)
