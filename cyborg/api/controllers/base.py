"""What every resource controller shares.

A controller serves one collection. root.py's router hands it the HTTP
method and the path segments after the collection name, and
:meth:`Controller.route` picks the handler from a small table (Pecan's
RestController does the same by introspecting every method's signature on
every request, which cost more than the rest of a request together).
Pecan calls handlers with the request and response explicitly (no
thread-local ``pecan.request``). A controller's dependencies
(configuration, policy enforcer, conductor client) arrive in an
:class:`APIServices` given to its constructor. A handler reads path,
query and body, checks policy first, calls the data layer or the
conductor, and returns a ``webob.Response`` it built with
:func:`json_response` or :func:`empty_response`.
"""

import datetime
import json

import pecan
import webob
from webob import exc as webob_exc

from cyborg.api.controllers import links
from cyborg.api import errors
from cyborg.api import microversion
from cyborg.api import policy

CONTEXT_KEY = 'cyborg.context'
UTC = datetime.timezone.utc


class APIServices:
    """The application-wide objects handlers need, built once."""

    def __init__(self, conf, enforcer, conductor):
        self.conf = conf
        self.enforcer = enforcer
        self.conductor = conductor
        self.public_endpoint = conf.api.public_endpoint
        self.max_limit = conf.api.max_limit
        self.require_service_token = conf.api.require_service_token_for_bind
        self.service_token_roles = list(
            conf.keystone_authtoken.service_token_roles)


def handler():
    """Exposes a controller method as a JSON-only handler.

    A client whose Accept header rules out JSON gets a 406 from Pecan.
    """
    return pecan.expose(content_type='application/json')


def request_context(req, enforcer):
    """The caller's APIRequestContext, built from the identity headers.

    The auth middleware (keystonemiddleware or the noauth one) has put the
    identity in X-* headers; ``is_admin`` means "has the admin role", which
    is what lets a caller see every project's ARQs.
    """
    ctx = req.environ.get(CONTEXT_KEY)
    if ctx is None:
        roles = req.environ.get('HTTP_X_ROLES', '')
        is_admin = 'admin' in (role.strip() for role in roles.split(','))
        ctx = policy.APIRequestContext.from_environ(
            req.environ, enforcer=enforcer, is_admin=is_admin)
        req.environ[CONTEXT_KEY] = ctx
    return ctx


def links_base(req, services):
    """The base URL of hrefs for this request."""
    return links.base_url(req, services.public_endpoint)


def request_version(req):
    """The microversion the middleware chose for this request."""
    return req.environ[microversion.ENVIRON_KEY]


def json_response(body, status=200):
    return webob.Response(body=json.dumps(body).encode('utf-8'),
                          status=status, content_type='application/json',
                          charset=None)


def empty_response(status):
    resp = webob.Response(status=status)
    # No body, so no content type (webob would default to text/html).
    resp.content_type = None
    return resp


def isotime(value):
    """A naive UTC datetime from the DB as upstream's ISO 8601 string."""
    if value is None:
        return None
    if value.tzinfo is None:
        # The text of value.replace(tzinfo=UTC).isoformat(), without making
        # a second datetime (lists format thousands of these).
        return value.isoformat() + '+00:00'
    return value.replace(tzinfo=UTC).isoformat()


class Page:
    """The paging of one list request: limit, marker and order."""

    def __init__(self, params, max_limit):
        limit = params.get('limit')
        self.limit = min(int(limit), max_limit) if limit else None
        self.marker = params.get('marker')
        self.sort_key = params.get('sort_key')
        self.sort_dir = params.get('sort_dir')

    def db_kwargs(self):
        return {'limit': self.limit, 'marker': self.marker,
                'sort_key': self.sort_key, 'sort_dir': self.sort_dir}

    def add_next_link(self, body, key, base_url, resource, params):
        """Add body['next'] when this page is full: more may follow.

        Only when the client asked for a limit, so the default response
        keeps upstream's shape.
        """
        items = body[key]
        if self.limit and len(items) == self.limit:
            body['next'] = links.next_href(base_url, resource, params,
                                           items[-1]['uuid'], self.limit)


class Controller:
    """Base of the resource controllers."""

    # (HTTP method, path segments after the collection) -> handler name.
    ROUTES = {
        ('GET', 0): 'get_all',
        ('POST', 0): 'post',
        ('PATCH', 0): 'patch',
        ('DELETE', 0): 'delete',
        ('GET', 1): 'get_one',
        ('DELETE', 1): 'delete',
    }
    # Action name -> HTTP method, for /<collection>/<uuid>/<action>.
    ACTIONS = {}

    def __init__(self, services):
        self.services = services

    def route(self, method, segments):
        """(handler, positional args) for a request; 404 or 405 if none."""
        if len(segments) == 2 and segments[1] in self.ACTIONS:
            if method != self.ACTIONS[segments[1]]:
                raise webob_exc.HTTPMethodNotAllowed(
                    headers={'Allow': self.ACTIONS[segments[1]]})
            return getattr(self, segments[1]), segments[:1]
        if len(segments) > 1:
            raise webob_exc.HTTPNotFound()
        name = self.ROUTES.get((method, len(segments)))
        handler = getattr(self, name, None) if name else None
        if handler is None:
            allowed = sorted(m for (m, count), n in self.ROUTES.items()
                             if count == len(segments) and hasattr(self, n))
            raise webob_exc.HTTPMethodNotAllowed(
                headers={'Allow': ', '.join(allowed)})
        return handler, segments

    def authorize(self, req, rule):
        """The caller's context, once it passed the policy rule (else 403)."""
        ctx = request_context(req, self.services.enforcer)
        ctx.can(rule)
        return ctx

    def base_url(self, req):
        return links_base(req, self.services)

    def page(self, params):
        return Page(params, self.services.max_limit)

    def require_service_token(self, ctx, action):
        """403 unless the request carries a service token (Nova's).

        With ``[api] require_service_token_for_bind = false`` the admin
        role is accepted instead, for deployments without service tokens.
        """
        if not self.service_authorized(ctx):
            raise errors.Forbidden(
                '%s requires a service token.' % action,
                code=errors.SERVICE_TOKEN_REQUIRED)

    def service_authorized(self, ctx):
        if ctx.has_service_token(self.services.service_token_roles):
            return True
        return not self.services.require_service_token and ctx.is_admin
