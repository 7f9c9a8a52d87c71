"""THE route table of cyborg-api: every method and path, and its handler.

This is the one place that says what the API serves; grep it for
``PATCH /v2/accelerator_requests`` and you find the handler. The
dispatcher (:mod:`cyborg.api.dispatcher`) matches a request against it:
an unknown path is a 404, a known path with another method a 405 whose
``Allow`` header lists the methods of that path, a route outside the
request's microversion range a 404. HEAD is served wherever GET is.

Path parameters whose name ends in ``uuid`` must be UUIDs (a 400
otherwise, before the handler runs); ``{ident}`` is a UUID or a name. As
upstream does, a path whose first segment is not ``v2`` is served as if it
were prefixed with it, so ``/device_profiles`` is ``/v2/device_profiles``.

api-ref/source/ documents exactly these routes (a test checks).
"""

import collections
import re

from cyborg.api.handlers import accelerator_requests as arqs
from cyborg.api.handlers import attach_handles
from cyborg.api.handlers import attributes
from cyborg.api.handlers import deployables
from cyborg.api.handlers import device_contexts
from cyborg.api.handlers import device_profiles
from cyborg.api.handlers import devices
from cyborg.api.handlers import explain
from cyborg.api.handlers import quotas
from cyborg.api.handlers import versions

Route = collections.namedtuple(
    'Route', 'method path handler min_version max_version public')


def route(method, path, handler, min_version=(2, 0), max_version=None,
          public=False):
    """One row: ``public`` routes are served without a token."""
    return Route(method, path, handler, min_version, max_version, public)


ROUTES = (
    # Version discovery, public (what clients read before they have a token).
    route('GET', '/', versions.show_root, public=True),
    route('GET', '/v2', versions.show_v2, public=True),

    route('GET', '/v2/device_profiles', device_profiles.list_device_profiles),
    route('POST', '/v2/device_profiles',
          device_profiles.create_device_profile),
    route('DELETE', '/v2/device_profiles',
          device_profiles.delete_device_profiles),
    route('GET', '/v2/device_profiles/{ident}',
          device_profiles.show_device_profile),
    route('DELETE', '/v2/device_profiles/{ident}',
          device_profiles.delete_device_profile),
    # Why can (or can't) this profile get an accelerator? 2.8, admins.
    route('GET', '/v2/device_profiles/{ident}/explain',
          explain.explain_device_profile,
          min_version=explain.EXPLAIN_VERSION),

    # Device contexts arrived in 2.4; below, these paths are unknown (404).
    route('GET', '/v2/device_contexts', device_contexts.list_device_contexts,
          min_version=(2, 4)),
    route('POST', '/v2/device_contexts',
          device_contexts.create_device_context, min_version=(2, 4)),
    route('GET', '/v2/device_contexts/{uuid}',
          device_contexts.show_device_context, min_version=(2, 4)),
    route('DELETE', '/v2/device_contexts/{uuid}',
          device_contexts.delete_device_context, min_version=(2, 4)),
    route('GET', '/v2/device_contexts/{uuid}/explain',
          explain.explain_device_context,
          min_version=explain.EXPLAIN_VERSION),

    route('GET', '/v2/accelerator_requests', arqs.list_arqs),
    route('POST', '/v2/accelerator_requests', arqs.create_arqs),
    route('PATCH', '/v2/accelerator_requests', arqs.patch_arqs),
    route('DELETE', '/v2/accelerator_requests', arqs.delete_arqs),
    route('GET', '/v2/accelerator_requests/{uuid}', arqs.show_arq),
    route('PATCH', '/v2/accelerator_requests/{uuid}', arqs.patch_arq),
    route('DELETE', '/v2/accelerator_requests/{uuid}', arqs.delete_arq),

    route('GET', '/v2/devices', devices.list_devices),
    route('GET', '/v2/devices/{uuid}', devices.show_device),
    route('POST', '/v2/devices/{uuid}/enable', devices.enable_device),
    route('POST', '/v2/devices/{uuid}/disable', devices.disable_device),

    # The release audit of attach handles arrived in 2.5 (admins).
    route('GET', '/v2/attach_handles/{uuid}/releases',
          attach_handles.list_attach_handle_releases,
          min_version=attach_handles.RELEASES_VERSION),

    route('GET', '/v2/deployables', deployables.list_deployables),
    route('GET', '/v2/deployables/{uuid}', deployables.show_deployable),
    route('PATCH', '/v2/deployables/{uuid}/program',
          deployables.program_deployable),
    # openstacksdk's patch_deployable (and so `openstack accelerator
    # deployable program`) appends the id once more to the program path.
    route('PATCH', '/v2/deployables/{uuid}/program/{same_uuid}',
          deployables.program_deployable_as_openstacksdk),

    route('GET', '/v2/attributes', attributes.list_attributes),
    route('POST', '/v2/attributes', attributes.create_attribute),
    route('GET', '/v2/attributes/{uuid}', attributes.show_attribute),
    route('DELETE', '/v2/attributes/{uuid}', attributes.delete_attribute),

    # Quota usage arrived in 2.7.
    route('GET', '/v2/quotas/usage', quotas.show_usage,
          min_version=quotas.USAGE_VERSION),
)

_PARAMETER = re.compile(r'{(\w+)}')


def _path_regex(path):
    pattern = _PARAMETER.sub(lambda m: '(?P<%s>[^/]+)' % m.group(1),
                             re.escape(path).replace(r'\{', '{').replace(
                                 r'\}', '}'))
    return re.compile('^%s$' % pattern)


class RouteTable:
    """The routes, grouped by path, for matching requests."""

    def __init__(self, routes=ROUTES):
        by_path = collections.OrderedDict()
        for row in routes:
            by_path.setdefault(row.path, {})[row.method] = row
        self._paths = [(path, _path_regex(path), methods)
                       for path, methods in by_path.items()]

    def match(self, path):
        """(path template, {method: Route}, parameters), or None."""
        for template, regex, methods in self._paths:
            found = regex.match(path)
            if found:
                return template, methods, found.groupdict()
        return None


def is_uuid_parameter(name):
    """Whether the path parameter must be a UUID (400 otherwise)."""
    return name.endswith('uuid')


def normalize_path(path_info):
    """The route-table path of a request: no trailing '/', v2 prefixed."""
    path = '/' + path_info.strip('/')
    if path == '/':
        return path
    if path != '/v2' and not path.startswith('/v2/'):
        path = '/v2' + path
    return path


def is_public(path_info):
    """Whether the path is served without authentication."""
    path = '/' + path_info.strip('/')
    return any(row.public and row.path == path for row in ROUTES)
