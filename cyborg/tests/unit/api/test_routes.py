"""The route table: its shape, and the api-ref that documents it."""

import pathlib
import re

import pytest

from cyborg.api import routes

API_REF = (pathlib.Path(__file__).parents[4] / 'api-ref' / 'source' /
           'index.rst')
# A row of the api-ref's endpoint table: "PATCH   ``/v2/...``   202".
ROW = re.compile(r'^(GET|HEAD|POST|PUT|PATCH|DELETE)\s+``([^`]+)``\s+\S',
                 re.MULTILINE)


def test_api_ref_lists_exactly_the_routes():
    documented = ROW.findall(API_REF.read_text())
    served = [(route.method, route.path) for route in routes.ROUTES]
    assert len(documented) == len(set(documented)), 'a row is repeated'
    assert sorted(documented) == sorted(served)


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
