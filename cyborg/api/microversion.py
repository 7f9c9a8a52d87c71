"""API microversions: the canonical list and the middleware that picks one.

A request names its version with ``OpenStack-API-Version: accelerator 2.2``
(or ``latest``). Upstream Cyborg also accepts a bare ``2.2``, so we do too,
with a deprecation warning in the log. No header means the minimum, 2.0. A
version outside the list, or one we cannot parse, is a 406.

The check for a version sits next to the behaviour it changes, e.g.
``if version.matches((2, 3)): body['status'] = ...``.
"""

import logging
import re

import microversion_parse

from cyborg.api import errors

LOG = logging.getLogger(__name__)

SERVICE_TYPE = 'accelerator'
ENVIRON_KEY = 'cyborg.microversion'
HEADER = 'OpenStack-API-Version'

# The Canonical Version List, oldest first.
VERSIONS = [
    '2.0',  # Baseline v2 API.
    '2.1',  # PATCH /v2/accelerator_requests accepts a /project_id path.
    '2.2',  # GET /v2/device_profiles/{name} finds a profile by name.
    '2.3',  # Devices show their "status" (enabled / maintaining).
    '2.4',  # Device contexts; ARQs from a context; ARQs show config_data.
    '2.5',  # GET /v2/attach_handles/{uuid}/releases: release audit (admin).
    '2.6',  # Devices show "health" and "health_reason"; ?health= filter.
    '2.7',  # GET /v2/quotas/usage: a project's usage and limits.
    '2.8',  # GET .../device_profiles/{id}/explain and device_contexts (admin).
]

MIN_VERSION = VERSIONS[0]
MAX_VERSION = VERSIONS[-1]


# A version as a header may spell it: "2.1", "2" or "latest".
_VERSION_TOKEN = re.compile(r'^(latest|[0-9]+(\.[0-9]+)?)$', re.IGNORECASE)


def _not_acceptable(value):
    return errors.NotAcceptable(
        'Version %s was requested but the minor version is not '
        'supported by this service. The supported version range is: '
        '[%s, %s].' % (value, MIN_VERSION, MAX_VERSION),
        code=errors.BAD_MICROVERSION)


def _requested_value(header_value):
    """The version text the header asks of us; None when it asks nothing.

    ``accelerator 2.1`` (also in a list naming other services), or the
    bare ``2.1`` upstream still honours. A header naming only other
    services is not for us (the default applies); one that cannot be
    read as "<service> <version>" items is refused rather than ignored,
    so a client's typo never silently means 2.0.
    """
    value = microversion_parse.get_version(
        {'openstack-api-version': header_value}, SERVICE_TYPE)
    if value is not None:
        return value
    text = header_value.strip()
    if _VERSION_TOKEN.match(text):
        LOG.warning('Deprecated OpenStack-API-Version value %r: use '
                    '"accelerator %s".', header_value, text)
        return text
    for item in text.split(','):
        parts = item.split()
        if (len(parts) != 2 or _VERSION_TOKEN.match(parts[0])
                or not _VERSION_TOKEN.match(parts[1])):
            raise errors.NotAcceptable(
                'OpenStack-API-Version %r is not a list of "<service type> '
                '<version>" items.' % header_value,
                code=errors.BAD_MICROVERSION)
    return None


def parse(header_value):
    """The Version a request's header value asks for; 406 if unacceptable.

    ``header_value`` is the raw header (None when absent).
    """
    value = _requested_value(header_value) if header_value else None
    try:
        return microversion_parse.extract_version(
            {'openstack-api-version': '%s %s' % (SERVICE_TYPE, value)}
            if value else {}, SERVICE_TYPE, VERSIONS)
    except (ValueError, TypeError):
        raise _not_acceptable(value)


# Parsed once: the Version every request without a header gets.
_DEFAULT = parse(None)


def _is_versioned(path):
    # The version documents at "/" are outside v2; everything else is v2
    # (a path not starting with /v2 is routed as if it did).
    return path not in ('', '/')


class MicroversionMiddleware:
    """Chooses the version of a request and advertises the range.

    Sits outside the fault wrapper so that error responses carry the
    version headers too.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if not _is_versioned(environ.get('PATH_INFO', '')):
            return self.application(environ, start_response)
        header_value = environ.get('HTTP_OPENSTACK_API_VERSION')
        try:
            version = parse(header_value) if header_value else _DEFAULT
        except errors.NotAcceptable as exc:
            resp = errors.fault_response(406, exc.message, exc.code)
            _add_headers(resp.headerlist, None)
            return resp(environ, start_response)
        environ[ENVIRON_KEY] = version

        def versioned_start_response(status, headers, exc_info=None):
            _add_headers(headers, version)
            return start_response(status, headers, exc_info)

        return self.application(environ, versioned_start_response)


def _add_headers(headers, version):
    headers.append(('OpenStack-API-Minimum-Version', MIN_VERSION))
    headers.append(('OpenStack-API-Maximum-Version', MAX_VERSION))
    if version is not None:
        headers.append((HEADER, '%s %s' % (SERVICE_TYPE, version)))
    headers.append(('Vary', HEADER))
