"""What every handler shares: the request object, responses, paging.

A handler is a plain function named in :mod:`cyborg.api.routes`. The
dispatcher calls it with an :class:`APIRequest` and the path's parameters
(``show_arq(req, uuid=...)``). A handler checks policy as its first
statement (``ctx = req.authorize(RULE)``), reads and validates its input
through :mod:`cyborg.api.validation`, makes one call into the data layer
or the conductor, and returns a ``webob.Response`` built with
:func:`json_response` or :func:`empty_response`.
"""

import datetime

import orjson
import webob

from cyborg.api import errors
from cyborg.api import links
from cyborg.api import microversion
from cyborg.accelerator import scrub_policy
from cyborg.api import policy
from cyborg.api import profile_renderings
from cyborg.db import device_contexts
from cyborg import notifications
from cyborg.quota import limits as quota_limits

UTC = datetime.timezone.utc


class APIServices:
    """The application-wide objects handlers need, built once."""

    def __init__(self, conf, enforcer, conductor):
        self.conf = conf
        self.enforcer = enforcer
        self.conductor = conductor
        self.public_endpoint = conf.api.public_endpoint
        self.max_limit = conf.api.max_limit
        self.max_arqs_per_request = conf.api.max_arqs_per_request
        self.bind_wait_seconds = conf.api.bind_wait_seconds
        self.require_service_token = conf.api.require_service_token_for_bind
        self.service_token_roles = list(
            conf.keystone_authtoken.service_token_roles)
        self.device_context_lifetimes = device_contexts.Lifetimes.from_conf(
            conf)
        # Disabled (sends nothing) unless notifications are configured.
        self.notifier = notifications.Notifier.from_conf(conf)
        # Which handles unbinds and deletes send to be scrubbed.
        self.scrub_policy = scrub_policy.ScrubPolicy.from_conf(conf)
        self.profile_renderings = profile_renderings.ProfileRenderings()
        # Where a project's limits per resource class come from.
        self.quota_limits = quota_limits.from_conf(conf)


class APIRequest(webob.Request):
    """A request, with the services and microversion handlers need.

    The dispatcher makes one per request; nothing is global.
    """

    def __init__(self, environ, services):
        super().__init__(environ)
        self.services = services
        self._context = None

    @property
    def version(self):
        """The microversion the middleware chose for this request."""
        return self.environ[microversion.ENVIRON_KEY]

    @property
    def context(self):
        """The caller's APIRequestContext, built from the identity headers.

        The auth middleware (keystonemiddleware or the noauth one) has put
        the identity in X-* headers; ``is_admin`` means "has the admin
        role", which is what lets a caller see every project's ARQs.
        """
        if self._context is None:
            roles = self.environ.get('HTTP_X_ROLES', '')
            is_admin = 'admin' in (role.strip() for role in roles.split(','))
            self._context = policy.APIRequestContext.from_environ(
                self.environ, enforcer=self.services.enforcer,
                is_admin=is_admin)
        return self._context

    def authorize(self, rule, project_id=None):
        """The caller's context, once it passed the policy rule (else 403).

        ``project_id``: the project the request is about, when it is not
        necessarily the caller's (see ``APIRequestContext.can``).
        """
        ctx = self.context
        ctx.can(rule, project_id=project_id)
        return ctx

    @property
    def links_base(self):
        """The base URL of hrefs for this request."""
        return links.base_url(self, self.services.public_endpoint)

    def page(self, params):
        return Page(params, self.services.max_limit)

    def service_authorized(self):
        """Whether the caller may act as a service (Nova) does.

        A service token with one of ``[keystone_authtoken]
        service_token_roles`` does; with ``[api]
        require_service_token_for_bind = false`` the admin role is
        accepted too, for deployments without service tokens.
        """
        ctx = self.context
        if ctx.has_service_token(self.services.service_token_roles):
            return True
        return not self.services.require_service_token and ctx.is_admin

    def require_service_token(self, action):
        """403 unless the request carries a service token (Nova's)."""
        if not self.service_authorized():
            raise errors.Forbidden(
                '%s requires a service token.' % action,
                code=errors.SERVICE_TOKEN_REQUIRED)


def json_response(body, status=200):
    # orjson: the same JSON as the json module's (UTF-8 where json writes
    # \u escapes, no spaces), in a tenth of the time on large lists.
    return raw_json_response(
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status)


def raw_json_response(body, status=200):
    """A response of JSON already encoded (bytes)."""
    return webob.Response(body=body, status=status,
                          content_type='application/json', charset=None)


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
    """The paging of one list request: limit, marker and order.

    A request without ``limit`` gets ``[api] max_limit`` items at most, as
    Nova's lists do: a table of a million ARQs must not become one
    response. The body then has the ``next`` link to the rest.
    """

    def __init__(self, params, max_limit):
        limit = params.get('limit')
        self.limit = min(int(limit), max_limit) if limit else max_limit
        self.marker = params.get('marker')
        self.sort_key = params.get('sort_key')
        self.sort_dir = params.get('sort_dir')

    def db_kwargs(self):
        return {'limit': self.limit, 'marker': self.marker,
                'sort_key': self.sort_key, 'sort_dir': self.sort_dir}

    def add_next_link(self, body, key, base_url, resource, params):
        """Add body['next'] when this page is full: more may follow.

        Below ``max_limit`` items and without a ``limit`` the body is
        upstream's, key for key; a client that reads only the first page
        still gets what it got.
        """
        items = body[key]
        if len(items) == self.limit:
            body['next'] = links.next_href(base_url, resource, params,
                                           items[-1]['uuid'], self.limit)
