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
   letting the public routes of the route table (the version documents
   ``/`` and ``/v2``) through, or the noauth middleware.
6. Microversion: picks the version (406 if unacceptable) and puts the
   version headers on every /v2 response, errors included, which is why it
   sits outside the fault wrapper.
7. FaultWrapper: turns every exception of the application into upstream's
   error body, and logs unexpected ones as 500s.
8. The dispatcher, which serves each request through the route table
   (``routes.py``).

There is no web framework: the route table and one dispatcher are all the
routing there is, and handlers are plain functions of a webob request.
"""

from keystonemiddleware import auth_token
from oslo_middleware import cors
from oslo_middleware import healthcheck
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id

from cyborg.api import dispatcher
from cyborg.api import errors
from cyborg.api.handlers import common
from cyborg.api import microversion
from cyborg.api import policy
from cyborg.api import routes
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg.db import engine as db_engine
from cyborg import rpc

HEALTHCHECK_PATH = '/healthcheck'

# Who a noauth request without identity headers is.
NOAUTH_IDENTITY = 'admin'
# ... and the roles of the service token it is taken to carry.
NOAUTH_SERVICE_ROLES = 'service'

# Keystone's default role implications (admin > member > reader, and
# manager > member), applied by the noauth middleware because Keystone
# would have expanded them into the token.
IMPLIED_ROLES = {
    'admin': ('member', 'manager', 'reader'),
    'manager': ('member', 'reader'),
    'member': ('reader',),
}


# A request carrying any of these says who it is (WSGI environ names).
_IDENTITY_HEADERS = ('HTTP_X_PROJECT_ID', 'HTTP_X_TENANT_ID',
                     'HTTP_X_USER_ID', 'HTTP_X_ROLES',
                     'HTTP_X_SERVICE_ROLES')


class NoAuthMiddleware:
    """Trusts the identity headers; for tests and the all-in-one service.

    ``X-Project-Id`` (or ``X-Tenant-Id``) names the project, ``X-User-Id``
    the user, ``X-Roles`` the roles (admin when the header is absent), and
    ``X-Service-Roles`` the roles of a service token, as keystonemiddleware
    would set them. A request with no identity at all is user ``admin`` of
    project ``admin`` holding the ``service`` role on a service token, as
    Nova is with its service token: so plain curl, the ``openstack`` CLI,
    openstacksdk and Nova itself can bind, unbind and delete against the
    all-in-one service. Identity headers that are sent are honoured as
    sent, so every policy persona stays testable.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if not any(name in environ for name in _IDENTITY_HEADERS):
            environ['HTTP_X_SERVICE_ROLES'] = NOAUTH_SERVICE_ROLES
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
    """Sends the public routes around the auth middleware."""

    def __init__(self, application, auth_application):
        self.application = application
        self.auth_application = auth_application

    def __call__(self, environ, start_response):
        if routes.is_public(environ.get('PATH_INFO', '')):
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
    db_engine.configure(conf)
    transport = transport or rpc.get_transport(conf)
    rpc.register_client_opts(conf)
    services = common.APIServices(
        conf, policy.build_enforcer(conf),
        conductor_rpcapi.ConductorAPI.from_conf(conf, transport))

    app = dispatcher.Dispatcher(services)
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
