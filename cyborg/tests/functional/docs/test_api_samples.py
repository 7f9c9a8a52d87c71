"""The api-ref's request and response samples agree with the live API.

One scripted session (``STEPS``) drives the real API application on a
seeded SQLite database (the gabbi ``InventoryFixture``: one host, an FPGA
and a GPU, a bound ARQ), through every route of the route table. Each
request sample under ``api-ref/source/samples`` is sent as the body of its
step, with only its identifiers swapped for live ones (``SAMPLE_IDS``), and
must get the documented status. Each response sample is compared with the
live response of the step(s) naming it:

* the same keys at every level, and the same number of list items;
* the same JSON type for every value (a ``null`` in the sample means
  ``null`` live, so a sample cannot show a field filled that the API
  leaves empty, or the reverse);
* the same value, except where a value is an identifier or a time
  (``VOLATILE``: uuids, internal ids, project ids, timestamps, link
  hrefs), which differ on every run.

After an API change, ``CYBORG_REGENERATE_API_SAMPLES=1
./tools/run-tests.sh cyborg/tests/functional/docs/test_api_samples.py``
rewrites the response samples from the live responses (request samples
are written by hand); review the diff and commit it.
"""

import json
import os
import pathlib

import pytest
import webob

from cyborg.api import routes
from cyborg.tests.functional.api import fixtures

SAMPLES = (pathlib.Path(__file__).resolve().parents[4] / 'api-ref' /
           'source' / 'samples')
API_REF = SAMPLES.parent
REGENERATE = bool(os.environ.get('CYBORG_REGENERATE_API_SAMPLES'))

# Links in the samples look as they do behind uwsgi under /accelerator.
BASE_URL = 'https://cloud.example.com/accelerator'

# Identifiers written in the request samples -> the live value's name in
# the session's state (filled from the fixture and from earlier steps).
SAMPLE_IDS = {
    '7c8c29d4-3a52-4f0e-9d5b-2d6f1c0b8e41': 'arq_a',
    'b2e4f6a8-1c3d-4e5f-8a7b-9c0d1e2f3a4b': 'arq_b',
    '0f9b6a7e-3c1d-4e8a-b2f5-6d4c8e1a9b30': 'FPGA_DEPLOYABLE_RP',
    '5e1d7c3a-8b2f-4a6e-9c0d-3f7b1e5a2c84': 'INSTANCE_UUID',
    '9a3c5e7f-2b4d-4f6a-8c1e-0d2f4a6b8c9e': 'INSTANCE_UUID_3',
    '3d1f7a2c-6e4b-4c8d-9a0f-5b2e7c9d1a63': 'dc_uuid',
}
# Integers the request samples use as ids, likewise.
SAMPLE_INT_IDS = {('attributes/create-request.json', 'deployable_id'):
                  'FPGA_DEPLOYABLE_ID'}

# Keys whose values are identifiers or times: compared by type only.
VOLATILE = {'uuid', 'created_at', 'updated_at', 'href', 'project_id',
            'device_id', 'deployable_id', 'rp_uuid', 'next', 'expires_at',
            'released_at', 'finished_at',
            # Placement's error in explain names a port of the test's own.
            'error'}


class Step:
    """One request of the session, and what it must get."""

    def __init__(self, method, path, status, route, request=None,
                 body=None, response=None, version=None, save=None):
        self.method = method
        self.path = path          # formatted with the state
        self.status = status
        self.route = route        # the route-table path it exercises
        self.request = request    # a request sample, sent as the body
        self.body = body          # or an inline body (setup only)
        self.response = response  # the response sample to compare
        self.version = version    # OpenStack-API-Version, if any
        self.save = save or {}    # state name -> JSON key of the answer

    def __repr__(self):
        return '%s %s' % (self.method, self.path)


STEPS = [
    Step('GET', '/', 200, '/', response='versions/root-response.json'),
    Step('GET', '/v2', 200, '/v2', response='versions/v2-response.json'),

    Step('POST', '/v2/device_profiles', 201, '/v2/device_profiles',
         request='device_profiles/create-request.json',
         response='device_profiles/create-response.json',
         save={'dp_uuid': 'uuid', 'dp_name': 'name'}),
    Step('GET', '/v2/device_profiles?name={dp_name}', 200,
         '/v2/device_profiles',
         response='device_profiles/list-response.json'),
    Step('GET', '/v2/device_profiles/{dp_uuid}', 200,
         '/v2/device_profiles/{ident}',
         response='device_profiles/show-response.json'),
    Step('GET', '/v2/device_profiles/{dp_name}', 200,
         '/v2/device_profiles/{ident}', version='accelerator 2.2',
         response='device_profiles/show-response.json'),
    # No Placement serves the fixture: the answer says so (the api-ref
    # shows a schedulable one besides).
    Step('GET', '/v2/device_profiles/{dp_name}/explain', 200,
         '/v2/device_profiles/{ident}/explain', version='accelerator 2.8',
         response='device_profiles/explain-response.json'),

    Step('POST', '/v2/device_contexts', 201, '/v2/device_contexts',
         version='accelerator 2.4',
         request='device_contexts/create-request.json',
         response='device_contexts/create-response.json',
         save={'dc_uuid': 'uuid'}),
    Step('GET', '/v2/device_contexts', 200, '/v2/device_contexts',
         version='accelerator 2.4',
         response='device_contexts/list-response.json'),
    Step('GET', '/v2/device_contexts/{dc_uuid}', 200,
         '/v2/device_contexts/{uuid}', version='accelerator 2.4',
         response='device_contexts/show-response.json'),
    Step('GET', '/v2/device_contexts/{dc_uuid}/explain', 200,
         '/v2/device_contexts/{uuid}/explain', version='accelerator 2.8',
         response='device_contexts/explain-response.json'),
    Step('POST', '/v2/accelerator_requests', 201, '/v2/accelerator_requests',
         version='accelerator 2.4',
         request='accelerator_requests/create-from-context-request.json',
         response='accelerator_requests/create-from-context-response.json'),
    # Deletes the context's unbound ARQ along with it.
    Step('DELETE', '/v2/device_contexts/{dc_uuid}', 204,
         '/v2/device_contexts/{uuid}', version='accelerator 2.4'),

    Step('POST', '/v2/accelerator_requests', 201, '/v2/accelerator_requests',
         request='accelerator_requests/create-request.json',
         response='accelerator_requests/create-response.json',
         save={'arq_a': 'arqs.0.uuid'}),
    Step('POST', '/v2/accelerator_requests', 201, '/v2/accelerator_requests',
         request='accelerator_requests/create-request.json',
         response='accelerator_requests/create-response.json',
         save={'arq_b': 'arqs.0.uuid'}),
    Step('GET', '/v2/quotas/usage', 200, '/v2/quotas/usage',
         version='accelerator 2.7', response='quotas/usage-response.json'),
    Step('PATCH', '/v2/accelerator_requests', 202,
         '/v2/accelerator_requests',
         request='accelerator_requests/bind-request.json'),
    Step('PATCH', '/v2/accelerator_requests', 202,
         '/v2/accelerator_requests',
         request='accelerator_requests/unbind-request.json'),
    Step('PATCH', '/v2/accelerator_requests/{arq_b}', 202,
         '/v2/accelerator_requests/{uuid}',
         request='accelerator_requests/bind-one-request.json'),
    Step('GET', '/v2/accelerator_requests?instance={INSTANCE_UUID_ALT}'
         '&bind_state=resolved', 200, '/v2/accelerator_requests',
         response='accelerator_requests/list-response.json'),
    Step('GET', '/v2/accelerator_requests/{BOUND_ARQ_UUID}', 200,
         '/v2/accelerator_requests/{uuid}',
         response='accelerator_requests/show-response.json'),
    Step('DELETE', '/v2/accelerator_requests?arqs={arq_a}', 204,
         '/v2/accelerator_requests'),
    Step('DELETE', '/v2/accelerator_requests/{arq_b}', 204,
         '/v2/accelerator_requests/{uuid}'),
    Step('DELETE', '/v2/accelerator_requests?instance={INSTANCE_UUID_ALT}',
         204, '/v2/accelerator_requests'),
    # That delete released the handle the seeded bound ARQ held.
    Step('GET', '/v2/attach_handles/{BOUND_HANDLE_UUID}/releases', 200,
         '/v2/attach_handles/{uuid}/releases', version='accelerator 2.5',
         response='attach_handles/releases-response.json'),

    Step('DELETE', '/v2/device_profiles/{dp_uuid}', 204,
         '/v2/device_profiles/{ident}'),
    Step('POST', '/v2/device_profiles', 201, '/v2/device_profiles',
         body=[{'name': 'old-profile', 'groups': [{'resources:GPU': '1'}]}]),
    Step('DELETE', '/v2/device_profiles?value=old-profile', 204,
         '/v2/device_profiles'),

    Step('GET', '/v2/devices', 200, '/v2/devices', version='accelerator 2.6',
         response='devices/list-response.json'),
    Step('GET', '/v2/devices/{FPGA_DEVICE_UUID}', 200, '/v2/devices/{uuid}',
         version='accelerator 2.6', response='devices/show-response.json'),
    Step('POST', '/v2/devices/{FPGA_DEVICE_UUID}/disable', 200,
         '/v2/devices/{uuid}/disable'),
    Step('POST', '/v2/devices/{FPGA_DEVICE_UUID}/enable', 200,
         '/v2/devices/{uuid}/enable'),

    Step('GET', '/v2/deployables', 200, '/v2/deployables',
         response='deployables/list-response.json'),
    Step('GET', '/v2/deployables/{FPGA_DEPLOYABLE_UUID}', 200,
         '/v2/deployables/{uuid}', response='deployables/show-response.json'),
    # The ARQ holding the FPGA is gone (above), so it may be programmed.
    Step('PATCH', '/v2/deployables/{FPGA_DEPLOYABLE_UUID}/program', 200,
         '/v2/deployables/{uuid}/program',
         request='deployables/program-request.json',
         response='deployables/program-response.json'),
    Step('PATCH', '/v2/deployables/{FPGA_DEPLOYABLE_UUID}/program/'
         '{FPGA_DEPLOYABLE_UUID}', 200,
         '/v2/deployables/{uuid}/program/{same_uuid}',
         request='deployables/program-request.json',
         response='deployables/program-response.json'),

    Step('GET', '/v2/attributes?deployable_id={FPGA_DEPLOYABLE_ID}', 200,
         '/v2/attributes', response='attributes/list-response.json'),
    Step('POST', '/v2/attributes', 201, '/v2/attributes',
         request='attributes/create-request.json',
         response='attributes/create-response.json',
         save={'attribute': 'uuid'}),
    Step('GET', '/v2/attributes/{FPGA_ATTRIBUTE_UUID}', 200,
         '/v2/attributes/{uuid}', response='attributes/show-response.json'),
    Step('DELETE', '/v2/attributes/{attribute}', 204,
         '/v2/attributes/{uuid}'),
]


def _swap_ids(value, state, sample):
    """The request sample with its identifiers replaced by live ones."""
    if isinstance(value, dict):
        swapped = {}
        for key, item in value.items():
            if (sample, key) in SAMPLE_INT_IDS:
                item = int(state[SAMPLE_INT_IDS[(sample, key)]])
            swapped[_swap_ids(key, state, sample)] = _swap_ids(
                item, state, sample)
        return swapped
    if isinstance(value, list):
        return [_swap_ids(item, state, sample) for item in value]
    if isinstance(value, str) and value in SAMPLE_IDS:
        return state[SAMPLE_IDS[value]]
    return value


def _dig(body, dotted):
    for part in dotted.split('.'):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


def _run(step, app, state):
    headers = {}
    if step.version:
        headers['OpenStack-API-Version'] = step.version
    request = webob.Request.blank(step.path.format(**state),
                                  base_url=BASE_URL, method=step.method,
                                  headers=headers)
    body = step.body
    if step.request:
        body = _swap_ids(json.loads((SAMPLES / step.request).read_text()),
                         state, step.request)
    if body is not None:
        request.body = json.dumps(body).encode('utf-8')
        request.content_type = 'application/json'
    response = request.get_response(app)
    assert response.status_int == step.status, (
        '%r answered %s: %s' % (step, response.status, response.text))
    live = response.json if response.body else None
    for name, key in step.save.items():
        state[name] = _dig(live, key)
    return live


@pytest.fixture(scope='module')
def session():
    """[(step, live response body)] of one run of STEPS."""
    fixture = fixtures.InventoryFixture()
    # Limits, so that the quota usage sample shows some.
    fixture.conf_overrides = {'quota.default_limits': {'FPGA': '10',
                                                       'CUSTOM_QAT': '4'}}
    saved_environ = dict(os.environ)
    fixture.start_fixture()
    try:
        state = dict(os.environ)
        results = [(step, _run(step, fixtures.APP, state))
                   for step in STEPS]
    finally:
        fixture.stop_fixture()
        os.environ.clear()
        os.environ.update(saved_environ)
    if REGENERATE:
        for step, live in results:
            if step.response:
                (SAMPLES / step.response).write_text(
                    json.dumps(live, indent=4) + '\n')
    return results


def _differences(sample, live, where='$'):
    """Where ``sample`` and ``live`` differ, as readable lines."""
    if type(sample) is not type(live):
        return ['%s: the sample has %s, the API %s'
                % (where, type(sample).__name__, type(live).__name__)]
    if isinstance(sample, dict):
        found = []
        if sample.keys() != live.keys():
            found.append('%s: keys only in the sample %s, only live %s' % (
                where, sorted(sample.keys() - live.keys()),
                sorted(live.keys() - sample.keys())))
        for key in sample.keys() & live.keys():
            if key in VOLATILE or key.endswith('_uuid'):
                if type(sample[key]) is not type(live[key]):
                    found.append('%s.%s: the sample has %s, the API %s' % (
                        where, key, type(sample[key]).__name__,
                        type(live[key]).__name__))
                continue
            found += _differences(sample[key], live[key],
                                  '%s.%s' % (where, key))
        return found
    if isinstance(sample, list):
        if len(sample) != len(live):
            return ['%s: %d items in the sample, %d live'
                    % (where, len(sample), len(live))]
        found = []
        for index, (item, live_item) in enumerate(zip(sample, live, strict=True)):
            found += _differences(item, live_item, '%s[%d]' % (where, index))
        return found
    if sample != live:
        return ['%s: the sample has %r, the API %r' % (where, sample, live)]
    return []


RESPONSE_SAMPLES = sorted({step.response for step in STEPS if step.response})


@pytest.mark.xdist_group(name='api-samples')
@pytest.mark.parametrize('sample', RESPONSE_SAMPLES)
def test_response_sample_matches_the_live_api(session, sample):
    expected = json.loads((SAMPLES / sample).read_text())
    compared = 0
    for step, live in session:
        if step.response == sample:
            compared += 1
            found = _differences(expected, live)
            assert not found, '%s differs from %r:\n%s' % (
                sample, step, '\n'.join(found))
    assert compared


@pytest.mark.xdist_group(name='api-samples')
def test_request_samples_get_their_documented_status(session):
    # _run asserted each step's status; here: every request sample ran.
    sent = {step.request for step, _live in session if step.request}
    assert sent == {str(path.relative_to(SAMPLES))
                    for path in SAMPLES.rglob('*-request.json')}


@pytest.mark.xdist_group(name='api-samples')
def test_the_session_exercises_every_route(session):
    exercised = {(step.method, step.route) for step, _live in session}
    assert exercised == {(route.method, route.path)
                         for route in routes.ROUTES}


def test_every_sample_is_checked_and_shown():
    """No sample file escapes the check, and each is in the api-ref."""
    on_disk = {str(path.relative_to(SAMPLES))
               for path in SAMPLES.rglob('*.json')}
    checked = ({step.request for step in STEPS if step.request}
               | set(RESPONSE_SAMPLES))
    assert on_disk == checked
    shown = set()
    for inc in API_REF.glob('*.inc'):
        for line in inc.read_text().splitlines():
            if line.startswith('.. literalinclude:: samples/'):
                shown.add(line.split('samples/', 1)[1].strip())
    assert shown == on_disk
