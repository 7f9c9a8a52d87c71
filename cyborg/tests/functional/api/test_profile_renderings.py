"""Device profiles rendered once per API process (profile_renderings).

Two applications built on one database stand for two API processes: what
one keeps rendered must never hide what the other changed. The bodies
served from kept renderings must be the ones rendered from the rows.
(On SQLite nothing kept is used; the tests pass there all the same.)
"""

import json

import pytest
import webob

from cyborg.api import app as api_app
from cyborg.api.handlers import common
from cyborg.api import profile_renderings
from cyborg.tests.fixtures import binding as seed

transport = seed.transport

ADMIN = {'X-Roles': 'admin', 'X-Project-Id': 'project',
         'OpenStack-API-Version': 'accelerator 2.2'}
GROUPS = [{'resources:FPGA': '1', 'trait:CUSTOM_FUER_ALLE': 'required'}]


def _request(api, method, path, body=None):
    req = webob.Request.blank(path, method=method, headers=ADMIN)
    if body is not None:
        req.body = json.dumps(body).encode('utf-8')
        req.content_type = 'application/json'
    return req.get_response(api)


def _json(api, path):
    resp = _request(api, 'GET', path)
    assert resp.status_int == 200, resp.text
    assert resp.content_type == 'application/json'
    return json.loads(resp.body)


def _create(api, name, uuid=None, description='Prüfprofil ✓ "quoted"'):
    profile = {'name': name, 'description': description, 'groups': GROUPS}
    if uuid:
        profile['uuid'] = uuid
    resp = _request(api, 'POST', '/v2/device_profiles', [profile])
    assert resp.status_int == 201, resp.text
    return json.loads(resp.body)


@pytest.fixture
def apis(any_db, conf, transport):
    """Two API "processes" on one database (of each backend)."""
    return api_app.build_app(conf, transport), api_app.build_app(
        conf, transport)


def test_kept_renderings_are_what_the_rows_render_to(apis):
    first, _ = apis
    created = [_create(first, 'dp-%d' % i) for i in range(3)]
    # The first read renders from the rows, the second from what it kept.
    rendered = [_json(first, '/v2/device_profiles') for _ in range(2)]
    assert rendered[0] == rendered[1]
    assert [p['uuid'] for p in rendered[0]['device_profiles']] == [
        p['uuid'] for p in created]
    profile = rendered[0]['device_profiles'][0]
    assert profile['description'] == 'Prüfprofil ✓ "quoted"'
    assert profile['groups'] == GROUPS
    assert profile['links'] == [{
        'href': 'http://localhost/v2/device_profiles/%s' % profile['uuid'],
        'rel': 'self'}]
    for path in ('/v2/device_profiles/%s' % profile['uuid'],
                 '/v2/device_profiles/%s' % profile['name']):
        shown = [_json(first, path) for _ in range(2)]
        assert shown[0] == shown[1]
        assert shown[0]['device_profile']['name'] == profile['name']
        # GET shows upstream's str() of the timestamps, lists ISO 8601.
        assert shown[0]['device_profile']['created_at'].endswith('+00:00')
        assert 'T' not in shown[0]['device_profile']['created_at']
        assert shown[0]['device_profile']['updated_at'] == 'None'
    # The name filter and a page with its next link, from kept renderings.
    assert [p['name'] for p in _json(
        first, '/v2/device_profiles?name=dp-1')['device_profiles']] == [
        'dp-1']
    page = _json(first, '/v2/device_profiles?limit=2')
    assert len(page['device_profiles']) == 2
    assert page['next'].endswith('marker=%s' % created[1]['uuid'])


def test_a_profile_deleted_by_another_process_is_gone_here(apis):
    first, second = apis
    kept = _create(first, 'kept')
    doomed = _create(first, 'doomed')
    _json(first, '/v2/device_profiles')
    _json(first, '/v2/device_profiles/%s' % doomed['uuid'])

    resp = _request(second, 'DELETE', '/v2/device_profiles/%s'
                    % doomed['uuid'])
    assert resp.status_int == 204

    assert _request(first, 'GET', '/v2/device_profiles/%s'
                    % doomed['uuid']).status_int == 404
    assert _request(first, 'GET', '/v2/device_profiles/doomed'
                    ).status_int == 404
    assert [p['uuid'] for p in _json(
        first, '/v2/device_profiles')['device_profiles']] == [kept['uuid']]


def test_a_profile_created_again_under_its_uuid_is_the_new_one(apis):
    first, second = apis
    old = _create(first, 'old-name', description='old')
    _json(first, '/v2/device_profiles')
    _json(first, '/v2/device_profiles/%s' % old['uuid'])

    assert _request(second, 'DELETE', '/v2/device_profiles/%s'
                    % old['uuid']).status_int == 204
    _create(second, 'new-name', uuid=old['uuid'], description='new')

    shown = _json(first, '/v2/device_profiles/%s' % old['uuid'])
    assert shown['device_profile']['name'] == 'new-name'
    assert shown['device_profile']['description'] == 'new'
    [listed] = _json(first, '/v2/device_profiles')['device_profiles']
    assert (listed['name'], listed['description']) == ('new-name', 'new')


def test_a_delete_drops_the_renderings_it_deleted():
    renderings = profile_renderings.ProfileRenderings()
    profile = {'id': 1, 'uuid': 'u1'}
    renderings.add(profile, {'uuid': 'u1'}, {'uuid': 'u1'})
    renderings.add({'id': 2, 'uuid': 'u2'}, {'uuid': 'u2'}, {'uuid': 'u2'})
    renderings.forget([(1, 'u1')])
    assert list(renderings.snapshot()) == [(2, 'u2')]


def test_at_most_max_entries_are_kept_the_oldest_go_first():
    renderings = profile_renderings.ProfileRenderings(max_entries=3)
    for i in range(5):
        renderings.add({'id': i, 'uuid': 'u%d' % i}, {}, {})
    assert list(renderings.snapshot()) == [(2, 'u2'), (3, 'u3'), (4, 'u4')]


@pytest.mark.parametrize('body', [
    {'name': 'Prüfprofil ✓', 'quote': 'a "b" \\ c', 'control': '\x00\x1f\n',
     'separators': '\u2028\u2029', 'emoji': '🚀'},
    {'list': [1, 2.5, None, True, False, {'nested': []}], 'empty': {}},
    {'arqs': [{'created_at': '2026-12-02T14:00:00+00:00',
               'attach_handle_info': {'bus': '0c', 'domain': '0000'}}]},
])
def test_response_json_is_the_json_modules(body):
    encoded = common.json_response(body).body
    assert json.loads(encoded) == json.loads(json.dumps(body)) == body
    encoded.decode('utf-8')  # UTF-8, as the content type says


def test_non_string_keys_become_strings_as_with_the_json_module():
    body = {1: 'one', 'two': {2: True}}
    assert json.loads(common.json_response(body).body) == json.loads(
        json.dumps(body))
