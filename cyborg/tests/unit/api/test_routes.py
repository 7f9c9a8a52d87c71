"""The route table: its shape, and the api-ref that documents it.

The api-ref (api-ref/source, os-api-ref) has one ``.. rest_method::`` per
route; these tests fail when a route is served but not documented, or
documented but not served, and when the documented microversions are not
the served ones. (The built HTML is checked too, by
cyborg/tests/functional/docs/test_doc_builds.py.)
"""

import pathlib
import re

import pytest

from cyborg.api import microversion
from cyborg.api import routes

API_REF = pathlib.Path(__file__).parents[4] / 'api-ref' / 'source'
# ".. rest_method:: PATCH /v2/accelerator_requests/{uuid}"
REST_METHOD = re.compile(r'^\.\. rest_method:: (\S+) (\S+)\s*$',
                         re.MULTILINE)
# A row of the microversion table: "2.1    ``PATCH ...``".
VERSION_ROW = re.compile(r'^(\d+\.\d+)\s{2,}\S', re.MULTILINE)


def _api_ref_sources():
    return sorted(API_REF.glob('*.inc')) + [API_REF / 'index.rst']


def documented_routes():
    """[(method, path, the text up to the next rest_method)]."""
    found = []
    for source in _api_ref_sources():
        text = source.read_text()
        matches = list(REST_METHOD.finditer(text))
        for match, after in zip(matches, matches[1:] + [None], strict=False):
            end = after.start() if after else len(text)
            found.append((match.group(1), match.group(2),
                          text[match.end():end]))
    return found


def test_api_ref_documents_exactly_the_routes():
    documented = [(method, path) for method, path, _ in documented_routes()]
    served = [(route.method, route.path) for route in routes.ROUTES]
    assert len(documented) == len(set(documented)), 'a route is repeated'
    assert sorted(documented) == sorted(served), (
        'only documented: %s; only served: %s' % (
            sorted(set(documented) - set(served)),
            sorted(set(served) - set(documented))))


def test_api_ref_names_each_path_parameter():
    # os-api-ref only shows a path parameter listed in a rest_parameters
    # block as "- <name>: <reference>".
    for method, path, section in documented_routes():
        for name in re.findall(r'{(\w+)}', path):
            assert re.search(r'^\s+- %s: \w+$' % name, section,
                             re.MULTILINE), (method, path, name)


def test_api_ref_shows_route_microversions():
    # A route served from a later microversion says so in its
    # rest_method block (os-api-ref's "min_version: 2.x").
    sections = {(method, path): section
                for method, path, section in documented_routes()}
    for route in routes.ROUTES:
        section = sections[(route.method, route.path)]
        if route.min_version != (2, 0):
            assert 'min_version: %d.%d' % route.min_version in section
        if route.max_version:
            assert 'max_version: %d.%d' % route.max_version in section


def test_api_ref_lists_the_microversions():
    index = (API_REF / 'index.rst').read_text()
    assert VERSION_ROW.findall(index) == microversion.VERSIONS
    conf = (API_REF / 'conf.py').read_text()
    assert ("os_api_ref_min_microversion = '%s'" % microversion.MIN_VERSION
            in conf)
    assert ("os_api_ref_max_microversion = '%s'" % microversion.MAX_VERSION
            in conf)


def test_each_method_and_path_is_routed_once():
    served = [(route.method, route.path) for route in routes.ROUTES]
    assert len(served) == len(set(served))


@pytest.mark.parametrize('path_info,expected', [
    ('/', '/'), ('', '/'), ('/v2', '/v2'), ('/v2/', '/v2'),
    ('/devices', '/v2/devices'), ('/v2/devices/', '/v2/devices'),
    ('/v2x', '/v2/v2x'),
])
def test_paths_without_v2_are_served_as_v2(path_info, expected):
    assert routes.normalize_path(path_info) == expected


def test_only_the_version_documents_are_public():
    assert routes.is_public('/') and routes.is_public('/v2/')
    assert not routes.is_public('/v2/devices')
    assert not routes.is_public('/devices')


def test_matching_finds_parameters_and_methods():
    table = routes.RouteTable()
    template, methods, params = table.match(
        '/v2/accelerator_requests/abc')
    assert template == '/v2/accelerator_requests/{uuid}'
    assert sorted(methods) == ['DELETE', 'GET', 'PATCH']
    assert params == {'uuid': 'abc'}
    assert table.match('/v2/accelerator_requests/abc/def') is None
