"""A list without ``limit`` is one page of ``[api] max_limit`` at most.

A cloud with a million ARQs must not answer ``GET
/v2/accelerator_requests`` with a million rows; like Nova's lists, ours
stop at ``max_limit`` and give the ``next`` link to the rest. A smaller
collection keeps upstream's body exactly (no ``next`` key), so clients
that read only the first page see what they always saw.
"""

import json
import urllib.parse

import pytest
import webob

from cyborg.api import app as api_app
from cyborg.tests.fixtures import binding as seed

transport = seed.transport

MAX_LIMIT = 3
ADMIN = {'X-Roles': 'admin', 'X-Project-Id': 'project'}


@pytest.fixture
def api(db, conf, transport):
    conf.set_override('max_limit', MAX_LIMIT, group='api')
    return api_app.build_app(conf, transport)


def _get(api, path):
    resp = webob.Request.blank(path, headers=ADMIN).get_response(api)
    assert resp.status_int == 200, resp.text
    return json.loads(resp.body)


def _walk(api, path, key):
    """Every item of a list, following ``next``; and the pages' sizes."""
    items, sizes = [], []
    while path:
        body = _get(api, path)
        items += body[key]
        sizes.append(len(body[key]))
        path = body.get('next')
        if path:
            path = urllib.parse.urlsplit(path)._replace(
                scheme='', netloc='').geturl()
    return items, sizes


def test_a_list_without_limit_is_cut_at_max_limit_with_a_next_link(db, api):
    profile = seed.create_device_profile(db, [{'resources:FPGA': '1'}])
    created = seed.create_arqs(db, profile, 2 * MAX_LIMIT + 1)

    first = _get(api, '/v2/accelerator_requests')
    assert len(first['arqs']) == MAX_LIMIT
    assert 'next' in first

    arqs, sizes = _walk(api, '/v2/accelerator_requests', 'arqs')
    assert sizes == [MAX_LIMIT, MAX_LIMIT, 1]
    assert sorted(arq['uuid'] for arq in arqs) == sorted(created)


def test_a_larger_limit_is_clamped_to_max_limit(db, api):
    profile = seed.create_device_profile(db, [{'resources:FPGA': '1'}])
    seed.create_arqs(db, profile, MAX_LIMIT + 1)
    body = _get(api, '/v2/accelerator_requests?limit=%d' % (MAX_LIMIT * 10))
    assert len(body['arqs']) == MAX_LIMIT
    assert 'limit=%d' % MAX_LIMIT in body['next']


def test_below_max_limit_the_body_is_upstreams(db, api):
    profile = seed.create_device_profile(db, [{'resources:FPGA': '1'}])
    seed.create_arqs(db, profile, MAX_LIMIT - 1)
    assert list(_get(api, '/v2/accelerator_requests')) == ['arqs']


def test_every_list_is_paged_by_default(db, api):
    for name in ('a', 'b', 'c', 'd'):
        seed.create_device_profile(db, [{'resources:FPGA': '1'}],
                                   name=name)
    profiles, sizes = _walk(api, '/v2/device_profiles', 'device_profiles')
    assert sizes == [MAX_LIMIT, 1]
    assert sorted(p['name'] for p in profiles) == ['a', 'b', 'c', 'd']
