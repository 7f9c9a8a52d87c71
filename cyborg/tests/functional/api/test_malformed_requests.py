"""Thousands of generated bad requests: each a 4xx, none changes anything.

Every kind of client mistake the API must refuse is generated here:
malformed ids in paths, wrong methods, bodies that are not JSON, nest too
deep, break the schemas, come in another media type or charset, resource
amounts beyond Placement's range, delete lists naming nothing, odd
microversion headers, list filters that would do nothing, bind or
unbind batches in which one ARQ cannot take its op, and (2.4) device
contexts: bad groups and config data, a bind of a context's ARQ to a
second instance, the delete of a context in use, context fields below
2.4. After each request
the answer must be a 4xx in upstream's error format, and a snapshot of
every table must be exactly what it was: a refused request writes nothing.
"""

import json
import uuid

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest
import sqlalchemy as sa
import webob

from cyborg.api import app as api_app
from cyborg.db import models
from cyborg.tests.fixtures import binding as seed

transport = seed.transport

EXAMPLES = 2500
HOST = 'test-host'
ADMIN_NOVA = {'X-Roles': 'admin', 'X-Service-Roles': 'service',
              'X-Project-Id': 'project'}
V2_4 = {'OpenStack-API-Version': 'accelerator 2.4'}
BOUND_INSTANCE = str(uuid.uuid4())


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    """The app and its seeded database, shared by every example."""
    from cyborg.tests.fixtures import config as config_fixture
    from cyborg.tests.fixtures import database as db_fixture
    tmp = tmp_path_factory.mktemp('malformed')
    conf = config_fixture.make_conf(tmp)
    with db_fixture.schema_database('sqlite', tmp) as engine:
        deployable = seed.create_deployable(engine, hostname=HOST)
        profile = seed.create_device_profile(
            engine, [{'resources:FPGA': '1'}], name='one-fpga')
        initial = seed.create_arqs(engine, profile, 3)
        [started] = seed.create_arqs(engine, profile, 1)
        seed.start_bind(engine, started, deployable['rp_uuid'])
        with engine.begin() as conn:
            conn.execute(sa.insert(models.Attribute.__table__).values(
                uuid=str(uuid.uuid4()), key='firmware', value='1.0',
                deployable_id=deployable['deployable_id']))
        # Device contexts: one Unbound with ARQs, one Bound to an instance
        # whose ARQ is bound and which has an ARQ still Initial.
        free_context, free_context_uuid = seed.create_device_context(
            engine, [{'resources:FPGA': '1'}], {'k': 'v'})
        context_initial = seed.create_arqs(engine, None, 2,
                                           context_id=free_context)
        bound_context, bound_context_uuid = seed.create_device_context(
            engine, [{'resources:FPGA': '1'}], state='Bound',
            instance_uuid=BOUND_INSTANCE)
        [bound_context_arq, bound_context_initial] = seed.create_arqs(
            engine, None, 2, context_id=bound_context)
        seed.start_bind(engine, bound_context_arq, deployable['rp_uuid'],
                        instance_uuid=BOUND_INSTANCE)
        transport_ = seed.fake_transport(conf)
        yield {'app': api_app.build_app(conf, transport_), 'engine': engine,
               'deployable': deployable, 'initial': initial,
               'started': started,
               'free_context': free_context_uuid,
               'context_initial': context_initial,
               'bound_context': bound_context_uuid,
               'bound_context_initial': bound_context_initial}
        transport_.cleanup()


def _snapshot(engine):
    """Every row of every table, in a comparable form."""
    state = {}
    with engine.connect() as conn:
        for table in models.BASE.metadata.sorted_tables:
            rows = conn.execute(sa.select(table)).all()
            state[table.name] = sorted(repr(tuple(row)) for row in rows)
    return state


# What the generated requests are made of.

UUIDS = st.uuids().map(str)
NOT_UUIDS = st.one_of(
    st.text(alphabet='abcdefghijklmnopqrstuvwxyz-_.0123456789',
            min_size=1, max_size=40).filter(lambda s: s.strip('.') != ''),
    UUIDS.map(lambda u: u[:-1]), UUIDS.map(lambda u: u + 'ff'))
ITEM_PATHS = ('/v2/devices/%s', '/v2/deployables/%s',
              '/v2/accelerator_requests/%s', '/v2/attributes/%s',
              '/v2/devices/%s/enable', '/v2/devices/%s/disable',
              '/v2/deployables/%s/program', '/v2/device_contexts/%s')
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(),
                    st.floats(allow_nan=False), st.text(max_size=20))
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)


def _req(method, path, body=None, headers=None, content_type=None,
         raw=None):
    return {'method': method, 'path': path, 'body': body, 'raw': raw,
            'headers': headers or {}, 'content_type': content_type}


@st.composite
def malformed_item_paths(draw):
    path = draw(st.sampled_from(ITEM_PATHS)) % draw(NOT_UUIDS)
    method = {'enable': 'POST', 'disable': 'POST',
              'program': 'PATCH'}.get(path.rsplit('/', 1)[-1],
                                      draw(st.sampled_from(
                                          ['GET', 'DELETE', 'PATCH'])))
    # Device contexts exist from 2.4 (below, the path is a plain 404).
    headers = draw(st.sampled_from([V2_4, {}]))
    return _req(method, path, body=[], headers=headers)


@st.composite
def wrong_methods(draw):
    path, allowed = draw(st.sampled_from([
        ('/v2/attributes', {'GET', 'POST'}),
        ('/v2/devices', {'GET'}),
        ('/v2/deployables', {'GET'}),
        ('/v2/devices/%s' % uuid.uuid4(), {'GET'}),
        ('/v2/deployables/%s' % uuid.uuid4(), {'GET'}),
        ('/v2/device_profiles', {'GET', 'POST', 'DELETE'}),
        ('/v2/accelerator_requests', {'GET', 'POST', 'PATCH', 'DELETE'}),
        ('/v2', {'GET'}),
        ('/', {'GET'}),
        ('/v2/device_contexts', {'GET', 'POST'}),
        ('/v2/device_contexts/%s' % uuid.uuid4(), {'GET', 'DELETE'}),
    ]))
    method = draw(st.sampled_from(
        sorted({'GET', 'POST', 'PUT', 'PATCH', 'DELETE'} - allowed)))
    return _req(method, path, body={}, headers=V2_4)


@st.composite
def deep_bodies(draw):
    depth = draw(st.integers(min_value=33, max_value=3000))
    opener, closer = draw(st.sampled_from([('[', ']'), ('{"a":', '}')]))
    path, method = draw(st.sampled_from([
        ('/v2/device_profiles', 'POST'), ('/v2/accelerator_requests', 'POST'),
        ('/v2/accelerator_requests', 'PATCH'), ('/v2/attributes', 'POST'),
        ('/v2/device_contexts', 'POST')]))
    raw = (opener * depth + '1' + closer * depth).encode()
    return _req(method, path, raw=raw, headers=dict(ADMIN_NOVA, **V2_4))


@st.composite
def bad_media_types(draw):
    content_type = draw(st.one_of(
        st.sampled_from(['text/plain', 'application/xml',
                         'application/x-www-form-urlencoded',
                         'multipart/form-data']),
        st.text(alphabet='abcdefghijklmnopqrstuvwxyz0123456789-',
                min_size=1, max_size=12).map(
            lambda cs: 'application/json; charset=x%s' % cs)))
    path, method = draw(st.sampled_from([
        ('/v2/device_profiles', 'POST'), ('/v2/accelerator_requests', 'POST'),
        ('/v2/attributes', 'POST'), ('/v2/device_contexts', 'POST')]))
    return _req(method, path, raw=b'{}', content_type=content_type,
                headers=V2_4)


@st.composite
def not_json(draw):
    raw = draw(st.one_of(
        st.binary(min_size=1, max_size=40).filter(_not_parsable),
        st.just(b'{"device_profile_name": "one-fpga"'),
        st.just(b'\xff\xfe{}'),
        st.just(('{"deployable_id": %s, "key": "k", "value": "v"}'
                 % ('7' * 5000)).encode())))
    path, method = draw(st.sampled_from([
        ('/v2/device_profiles', 'POST'), ('/v2/accelerator_requests', 'POST'),
        ('/v2/accelerator_requests', 'PATCH'), ('/v2/attributes', 'POST'),
        ('/v2/device_contexts', 'POST')]))
    return _req(method, path, raw=raw, headers=dict(ADMIN_NOVA, **V2_4))


def _not_parsable(raw):
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return True
    return False


@st.composite
def schema_violations(draw):
    kind = draw(st.sampled_from(['profile', 'arq', 'attribute', 'program']))
    if kind == 'profile':
        body = draw(st.one_of(
            JSON_VALUES.filter(lambda v: not isinstance(v, list)),
            st.lists(JSON_VALUES.filter(lambda v: not isinstance(v, dict)),
                     min_size=1, max_size=2),
            st.just([]),
            st.builds(lambda name: [{'name': name, 'groups': []}],
                      st.text(max_size=10))))
        return _req('POST', '/v2/device_profiles', body)
    if kind == 'arq':
        body = draw(st.one_of(
            JSON_VALUES.filter(lambda v: not isinstance(v, dict)),
            st.dictionaries(st.text(max_size=10).filter(
                lambda k: k != 'device_profile_name'), JSON_VALUES,
                max_size=3),
            st.builds(lambda v: {'device_profile_name': v},
                      SCALARS.filter(lambda v: not isinstance(v, str)))))
        return _req('POST', '/v2/accelerator_requests', body)
    if kind == 'attribute':
        body = draw(st.one_of(
            JSON_VALUES.filter(lambda v: not isinstance(v, dict)),
            st.builds(lambda d, k: {'deployable_id': d, 'key': k},
                      st.integers(), st.text(max_size=5)),
            st.builds(lambda d: {'deployable_id': d, 'key': 'k',
                                 'value': 'v'},
                      st.one_of(st.text(max_size=5), st.integers(
                          max_value=0), st.floats(allow_nan=False).filter(
                          # JSON Schema counts 1.0 as the integer 1: a
                          # valid id, not a malformed one.
                          lambda f: not f.is_integer() or f < 1)))))
        return _req('POST', '/v2/attributes', body, headers={
            'X-Roles': 'admin'})
    body = draw(st.one_of(
        JSON_VALUES.filter(lambda v: not isinstance(v, list)),
        st.just([]), st.just([{'op': 'replace', 'path': '/program',
                               'value': []}]),
        st.builds(lambda i: [{'op': 'replace', 'path': '/program',
                              'value': [{'image_uuid': i}]}], NOT_UUIDS)))
    return _req('PATCH', '/v2/deployables/%s/program' % uuid.uuid4(), body)


@st.composite
def out_of_range_amounts(draw):
    amount = draw(st.one_of(
        st.integers(min_value=2 ** 31, max_value=10 ** 300).map(str),
        st.integers(max_value=0).map(str),
        st.sampled_from(['1.5', ' 1', '+1', '1_0', '0x10', '', 'one'])))
    return _req('POST', '/v2/device_profiles', [{
        'name': 'p%s' % uuid.uuid4().hex[:8],
        'groups': [{'resources:FPGA': amount}]}])


@st.composite
def empty_delete_lists(draw):
    value = draw(st.one_of(
        st.text(alphabet=', ', min_size=1, max_size=6),
        st.lists(NOT_UUIDS, min_size=1, max_size=3).map(','.join)))
    return _req('DELETE', '/v2/accelerator_requests?arqs=%s'
                % value.replace(' ', '%20'), headers=ADMIN_NOVA)


@st.composite
def bad_microversions(draw):
    value = draw(st.one_of(
        st.sampled_from(['latest latest', 'accelerator', 'accelerator 3.0',
                         'accelerator 2.99', 'accelerator 2.1.1', 'foo',
                         '2.x', 'accelerator 1.0', ' , ']),
        st.text(alphabet='abcxyz .,', min_size=1, max_size=12).filter(
            lambda v: v.strip() and not v.strip().startswith(
                'accelerator'))))
    if _other_services_only(value):
        value = 'accelerator %s' % value
    path = draw(st.sampled_from(['/v2/devices', '/v2/device_profiles',
                                 '/v2/accelerator_requests']))
    return _req('GET', path, headers={'OpenStack-API-Version': value})


def _other_services_only(value):
    # "abc x.y"-shaped items are another service's versions: valid, ignored.
    items = [item.split() for item in value.split(',')]
    return all(len(item) == 2 and item[0] != 'latest' and
               item[1].replace('.', '').isdigit() for item in items)


@st.composite
def useless_filters(draw):
    path = draw(st.sampled_from(['/v2/devices', '/v2/deployables']))
    query = draw(st.one_of(
        st.sampled_from(['parent_uuid', 'root_uuid', 'board', 'availability',
                         'interface_type', 'instance_uuid', 'color']).map(
            lambda f: 'filters.field=%s&filters.value=x' % f),
        st.just('filters.field=limit'),
        st.just('filters.value=3'),
        NOT_UUIDS.map(lambda m: 'filters.field=marker&filters.value=%s' % m),
        NOT_UUIDS.map(lambda m: 'marker=%s' % m),
        st.sampled_from(['limit=0', 'limit=-1', 'limit=x', 'sort_dir=up',
                         'sort_key=secret', 'limit=1&limit=2'])))
    return _req('GET', '%s?%s' % (path, query))


@st.composite
def failing_patch_batches(draw, world):
    good = draw(st.sampled_from(world['initial']))
    rp_uuid = world['deployable']['rp_uuid']
    instance = str(uuid.uuid4())
    bind = [{'op': 'add', 'path': '/hostname', 'value': HOST},
            {'op': 'add', 'path': '/device_rp_uuid', 'value': rp_uuid},
            {'op': 'add', 'path': '/instance_uuid', 'value': instance}]
    unknown_arq = str(uuid.uuid4())
    bad = draw(st.sampled_from([
        (unknown_arq, bind),
        (unknown_arq, [{'op': 'remove', 'path': '/hostname'}]),
        (world['started'], bind),
        (draw(st.sampled_from(world['initial'])),
         [dict(op, value='elsewhere') if op['path'] == '/hostname' else op
          for op in bind]),
        (draw(st.sampled_from(world['initial'])),
         [dict(op, value=str(uuid.uuid4()))
          if op['path'] == '/device_rp_uuid' else op for op in bind]),
        (draw(st.sampled_from(world['initial'])),
         [{'op': 'add', 'path': '/state', 'value': 'Bound'}]),
        # The context is Bound to another instance.
        (world['bound_context_initial'], bind),
    ]))
    good_ops = draw(st.sampled_from([bind, [
        {'op': 'remove', 'path': '/hostname'}]]))
    batch = {good: good_ops}
    batch.setdefault(bad[0], bad[1])
    if len(batch) == 1:
        # Both picked the same ARQ: make it the failing one alone.
        batch = {bad[0]: bad[1]}
    if draw(st.booleans()):
        # The two ARQs of one context, for two instances.
        first, second = world['context_initial']
        batch = {first: bind, second: [
            dict(op, value=str(uuid.uuid4()))
            if op['path'] == '/instance_uuid' else op for op in bind]}
    return _req('PATCH', '/v2/accelerator_requests', batch,
                headers=dict(ADMIN_NOVA, **draw(st.sampled_from(
                    [V2_4, {}]))))


# Device contexts (2.4).

CONFIG_KEYS = st.text(min_size=1, max_size=20)
BAD_CONFIG = st.one_of(
    JSON_VALUES.filter(lambda v: not isinstance(v, dict)),
    st.dictionaries(CONFIG_KEYS, SCALARS.filter(
        lambda v: not isinstance(v, str)), min_size=1, max_size=3),
    st.dictionaries(CONFIG_KEYS, st.dictionaries(
        st.text(max_size=3), st.text(max_size=3), max_size=2),
        min_size=1, max_size=2),
    st.dictionaries(st.text(alphabet=' !?#%&*()[]{}<>|~"', min_size=1,
                            max_size=5), st.text(max_size=5),
                    min_size=1, max_size=2),
    st.text(min_size=1025, max_size=1100).map(lambda v: {'k': v}),
    st.integers(min_value=65, max_value=80).map(
        lambda n: {'k%d' % i: 'v' for i in range(n)}),
    st.text(min_size=256, max_size=300, alphabet='abc').map(
        lambda k: {k: 'v'}))
GOOD_GROUPS = st.just([{'resources:FPGA': '1'}])
BAD_GROUPS = st.one_of(
    JSON_VALUES.filter(lambda v: not isinstance(v, list)),
    st.just([]),
    st.lists(JSON_VALUES.filter(lambda v: not isinstance(v, dict)),
             min_size=1, max_size=2),
    st.lists(st.dictionaries(st.text(max_size=12), st.text(max_size=5),
                             min_size=1, max_size=3).filter(
        lambda g: any(not k.strip().startswith(('resources:', 'trait:',
                                                  'accel:'))
                      for k in g)), min_size=1, max_size=2),
    st.sampled_from([
        [{'trait:OWNER_CYBORG': 'required'}],
        [{'trait:CUSTOM_X': 'maybe'}],
        [{'resources:BANANA': '1'}],
        [{'resources:FPGA': '0'}],
        [{'resources:FPGA': '2147483648'}],
        [{'resources:FPGA': '257'}],
        [{'resources:FPGA': '1', ' resources:FPGA': '1'}],
        [{'resources:': '1'}]]))


@st.composite
def bad_device_contexts(draw, world):
    kind = draw(st.sampled_from(['groups', 'config', 'sources', 'field',
                                 'profile', 'old']))
    if kind == 'groups':
        body = {'groups': draw(BAD_GROUPS)}
    elif kind == 'config':
        body = {'groups': draw(GOOD_GROUPS), 'config_data': draw(BAD_CONFIG)}
    elif kind == 'sources':
        given = draw(st.sampled_from([
            (), ('groups', 'device_profile_name'),
            ('groups', 'device_profile_uuid'),
            ('device_profile_name', 'device_profile_uuid'),
            ('groups', 'device_profile_name', 'device_profile_uuid')]))
        values = {'groups': [{'resources:FPGA': '1'}],
                  'device_profile_name': 'one-fpga',
                  'device_profile_uuid': str(uuid.uuid4())}
        body = {key: values[key] for key in given}
        body['config_data'] = {'k': 'v'}
    elif kind == 'field':
        body = draw(st.dictionaries(
            st.text(max_size=10).filter(lambda k: k not in (
                'groups', 'config_data', 'device_profile_name',
                'device_profile_uuid')), JSON_VALUES, min_size=1,
            max_size=3))
        body['groups'] = [{'resources:FPGA': '1'}]
    elif kind == 'profile':
        body = draw(st.one_of(
            st.builds(lambda n: {'device_profile_name': n},
                      st.text(min_size=1, max_size=10).filter(
                          lambda n: n != 'one-fpga')),
            st.builds(lambda u: {'device_profile_uuid': u}, NOT_UUIDS),
            st.builds(lambda u: {'device_profile_uuid': u}, UUIDS),
            st.just({'device_profile_name': ''}),
            st.builds(lambda v: {'device_profile_name': v},
                      SCALARS.filter(lambda v: not isinstance(v, str)))))
    else:
        # A good body below 2.4: no such path.
        return _req('POST', '/v2/device_contexts',
                    {'groups': [{'resources:FPGA': '1'}]},
                    headers=draw(st.sampled_from([
                        {}, {'OpenStack-API-Version': 'accelerator 2.3'}])))
    return _req('POST', '/v2/device_contexts', body, headers=V2_4)


@st.composite
def bad_arqs_from_contexts(draw, world):
    kind = draw(st.sampled_from(['below', 'both', 'bad_uuid', 'unknown',
                                 'bound', 'other_project']))
    if kind == 'below':
        body = {'device_context_uuid': world['free_context']}
        if draw(st.booleans()):
            body['device_profile_name'] = 'one-fpga'
        return _req('POST', '/v2/accelerator_requests', body,
                    headers={'OpenStack-API-Version': draw(st.sampled_from(
                        ['accelerator 2.0', 'accelerator 2.3']))})
    headers = dict(V2_4)
    if kind == 'both':
        body = {'device_context_uuid': world['free_context'],
                'device_profile_name': 'one-fpga'}
    elif kind == 'bad_uuid':
        body = {'device_context_uuid': draw(st.one_of(
            NOT_UUIDS, SCALARS.filter(lambda v: not isinstance(v, str))))}
    elif kind == 'unknown':
        body = {'device_context_uuid': draw(UUIDS)}
    elif kind == 'bound':
        body = {'device_context_uuid': world['bound_context']}
    else:
        body = {'device_context_uuid': world['free_context']}
        headers.update({'X-Roles': 'member', 'X-Project-Id': 'other'})
    return _req('POST', '/v2/accelerator_requests', body, headers=headers)


@st.composite
def refused_context_deletes(draw, world):
    target = draw(st.sampled_from([
        (world['bound_context'], {}),
        (world['free_context'], {'X-Roles': 'member',
                                 'X-Project-Id': 'other'}),
        (draw(UUIDS), {}),
        (world['free_context'], {'X-Roles': 'reader',
                                 'X-Project-Id': 'project'}),
    ]))
    return _req('DELETE', '/v2/device_contexts/%s' % target[0],
                headers=dict(V2_4, **target[1]))


def malformed_requests(world):
    return st.one_of(
        malformed_item_paths(), wrong_methods(), deep_bodies(),
        bad_media_types(), not_json(), schema_violations(),
        out_of_range_amounts(), empty_delete_lists(), bad_microversions(),
        useless_filters(), failing_patch_batches(world),
        bad_device_contexts(world), bad_arqs_from_contexts(world),
        refused_context_deletes(world))


def _send(app, request):
    headers = dict({'X-Roles': 'admin'}, **request['headers'])
    req = webob.Request.blank(request['path'], method=request['method'],
                              headers=headers)
    if request['raw'] is not None:
        req.body = request['raw']
    elif request['body'] is not None:
        req.body = json.dumps(request['body']).encode()
    if req.body:
        req.content_type = request['content_type'] or 'application/json'
    return req.get_response(app)


def test_malformed_requests_are_refused_and_change_nothing(world):
    before = _snapshot(world['engine'])
    app = world['app']

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              database=None,
              suppress_health_check=[HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(request=malformed_requests(world))
    def check(request):
        resp = _send(app, request)
        assert 400 <= resp.status_int < 500, (request, resp.status,
                                              resp.body[:300])
        fault = json.loads(json.loads(resp.body)['error_message'])
        assert fault['faultcode'] == 'Client'
        assert fault['faultstring']
        assert _snapshot(world['engine']) == before, request

    check()
