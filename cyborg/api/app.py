"""Builds the cyborg-api WSGI application: middleware stack and Pecan app.

The stack, outermost first, and why in this order:

1. CORS (only when ``[cors] allowed_origin`` is set): answers browser
   preflight requests before anything else spends time on them.
2. HTTPProxyToWSGI: rewrites scheme/host from X-Forwarded-* (when enabled
   in ``[oslo_middleware]``) so every later layer, links included, sees the
   URL the client used.
3. RequestId: gives the request its id early, so every log line and error
   response below carries it.
4. Healthcheck at ``/healthcheck``: load balancers probe it without a token.
5. Auth: keystonemiddleware's auth_token (``auth_strategy = keystone``),
   letting the public version documents ``/`` and ``/v2`` through, or the
   noauth middleware that trusts identity headers.
6. Microversion: picks the version (406 if unacceptable) and puts the
   version headers on every /v2 response, errors included, which is why it
   sits outside the fault wrapper.
7. FaultWrapper: turns every exception and error response of the app into
   upstream's error body, and logs unexpected ones as 500s.
8. The Pecan application and its controllers.
"""

import functools

from keystonemiddleware import auth_token
from oslo_middleware import cors
from oslo_middleware import healthcheck
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id
from pecan import core as pecan_core
from pecan import routing as pecan_routing
from pecan import util as pecan_util

from cyborg.api.controllers import base
from cyborg.api.controllers import root
from cyborg.api import errors
from cyborg.api import microversion
from cyborg.api import policy
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg.db import engine as db_engine
from cyborg import rpc

# Paths served without authentication: the version documents.
PUBLIC_PATHS = ('', '/v2')
HEALTHCHECK_PATH = '/healthcheck'

# Who a noauth request without identity headers is.
NOAUTH_IDENTITY = 'admin'

# Keystone's default role implications (admin > member > reader, and
# manager > member), applied by the noauth middleware because Keystone
# would have expanded them into the token.
IMPLIED_ROLES = {
    'admin': ('member', 'manager', 'reader'),
    'manager': ('member', 'reader'),
    'member': ('reader',),
}


class NoAuthMiddleware:
    """Trusts the identity headers; for tests and the all-in-one service.

    ``X-Project-Id`` (or ``X-Tenant-Id``) names the project, ``X-User-Id``
    the user, ``X-Roles`` the roles (admin when the header is absent), and
    ``X-Service-Roles`` the roles of a service token, as keystonemiddleware
    would set them. A request with no identity at all is user ``admin`` of
    project ``admin``, as with Placement's noauth2, so that plain curl works
    against the all-in-one service.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if 'HTTP_X_PROJECT_ID' not in environ:
            environ['HTTP_X_PROJECT_ID'] = environ.get('HTTP_X_TENANT_ID',
                                                       NOAUTH_IDENTITY)
        environ.setdefault('HTTP_X_USER_ID', NOAUTH_IDENTITY)
        header = environ.get('HTTP_X_ROLES')
        roles = [r.strip() for r in header.split(',')] if header else [
            'admin']
        expanded = list(roles)
        for role in roles:
            expanded.extend(r for r in IMPLIED_ROLES.get(role, ())
                            if r not in expanded)
        environ['HTTP_X_ROLES'] = ','.join(expanded)
        return self.application(environ, start_response)


class PublicRoutes:
    """Sends the public paths around the auth middleware."""

    def __init__(self, application, auth_application):
        self.application = application
        self.auth_application = auth_application

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO', '').rstrip('/') in PUBLIC_PATHS:
            return self.application(environ, start_response)
        return self.auth_application(environ, start_response)


class HealthcheckRoute:
    """Sends /healthcheck to oslo.middleware's healthcheck application.

    That middleware answers every request it gets, so it is mounted on its
    path rather than stacked as a filter.
    """

    def __init__(self, application, healthcheck_application):
        self.application = application
        self.healthcheck_application = healthcheck_application

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO', '').rstrip('/') == HEALTHCHECK_PATH:
            return self.healthcheck_application(environ, start_response)
        return self.application(environ, start_response)


class PecanApplication(pecan_core.ExplicitPecan):
    """Pecan, calling handlers with (req, resp) and keeping their status.

    Handlers return complete responses. Pecan would rewrite a 200 with an
    empty body into a 204, but upstream answers device enable/disable with
    exactly that 200, so the rewrite is switched off.
    """

    def _handle_empty_response_body(self, state):
        pass


def _memoize_pecan_argspecs():
    # Pecan inspects a handler's signature several times per request, and
    # each time builds a new namedtuple class: about half a millisecond
    # per request, for a value that never changes. Compute each once.
    if not hasattr(pecan_core.getargspec, 'cache_info'):
        cached = functools.lru_cache(maxsize=512)(pecan_util.getargspec)
        pecan_core.getargspec = cached
        pecan_routing.getargspec = cached


def _auth(application, conf):
    if conf.auth_strategy == 'noauth':
        return NoAuthMiddleware(application)
    keystone = auth_token.AuthProtocol(application,
                                       {'oslo_config_config': conf})
    return PublicRoutes(application, keystone)


def build_app(conf, transport=None):
    """The WSGI application of cyborg-api configured by conf.

    ``transport`` is the oslo.messaging transport to the conductors; by
    default the one ``[DEFAULT] transport_url`` names.
    """
    _memoize_pecan_argspecs()
    db_engine.configure(conf)
    transport = transport or rpc.get_transport(conf)
    rpc.register_client_opts(conf)
    services = base.APIServices(
        conf, policy.build_enforcer(conf),
        conductor_rpcapi.ConductorAPI(transport))

    app = PecanApplication(root.RootController(services),
                           default_renderer='json',
                           force_canonical=False,
                           guess_content_type_from_ext=False)
    app = errors.FaultWrapper(app)
    app = microversion.MicroversionMiddleware(app)
    app = _auth(app, conf)
    app = HealthcheckRoute(app, healthcheck.Healthcheck(None, conf))
    app = request_id.RequestId(app, conf)
    app = http_proxy_to_wsgi.HTTPProxyToWSGI(app, conf)
    conf.register_opts(cors.CORS_OPTS, 'cors')
    if conf.cors.allowed_origin:
        app = cors.CORS(app, conf)
    return app
