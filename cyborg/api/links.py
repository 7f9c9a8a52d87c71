"""Hrefs of API responses.

Every href starts from ``[api] public_endpoint`` when it is set, else from
the request's application URL: scheme, host and script name. The script
name matters: behind uwsgi or Apache the API is usually mounted under a
prefix such as ``/accelerator`` (what devstack registers in the catalog),
and openstacksdk discovers the API by following the ``self`` link of
``GET /``. Unlike upstream we never insert a literal ``/accelerator``.
"""

from urllib import parse


def base_url(req, public_endpoint=None):
    """Where the API's root is, as clients reach it, without a final '/'."""
    return (public_endpoint or req.application_url).rstrip('/')


def self_links(base, resource, uuid):
    return [{'href': '%s/v2/%s/%s' % (base, resource, uuid), 'rel': 'self'}]


def self_and_bookmark_links(base, resource, uuid):
    """Deployables also carry upstream's version-less bookmark link."""
    return [{'href': '%s/v2/%s/%s' % (base, resource, uuid), 'rel': 'self'},
            {'href': '%s/%s/%s' % (base, resource, uuid), 'rel': 'bookmark'}]


def next_href(base, resource, params, marker, limit):
    """The URL of the page after the one ending at marker."""
    query = dict(params, marker=marker, limit=str(limit))
    return '%s/v2/%s?%s' % (base, resource, parse.urlencode(sorted(
        query.items())))
