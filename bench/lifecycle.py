#!/usr/bin/env python3
"""Drive a v2 accelerator API through the Nova lifecycle and time each step.

Each of C client threads repeatedly does what Nova does for one instance:
create ARQs from a profile, bind them to a deployable, wait until they are
Bound, read them back by instance, and delete them by instance. Before that,
the profile phases create, list and read device profiles. Every phase prints
one line: operations, throughput, and p50/p95/p99 latency.

    python3 bench/lifecycle.py --endpoint http://127.0.0.1:6666 \
        --clients 4 --profiles 1000 --instances 64

Only loopback endpoints you run yourself. Needs ``requests``.
"""

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from concurrent import futures

import requests

IDENTITY_HEADERS = {
    # What keystonemiddleware would inject for an admin user holding a
    # service token; a noauth cyborg reads the same headers.
    'X-User-Id': 'bench-user',
    'X-Project-Id': 'bench-project',
    'X-Roles': 'admin,member,reader',
    'X-Service-Roles': 'service',
    'OpenStack-API-Version': 'accelerator 2.3',
}


class Timings:
    """Latencies of one phase, appended from many threads."""

    def __init__(self, name):
        self.name = name
        self.samples = []
        self.errors = []
        self.lock = threading.Lock()
        self.started = time.perf_counter()

    def record(self, seconds, error=None):
        with self.lock:
            self.samples.append(seconds)
            if error:
                self.errors.append(error)

    def summary(self):
        wall = time.perf_counter() - self.started
        ordered = sorted(self.samples)

        def pct(p):
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1,
                                     int(p / 100.0 * len(ordered)))] * 1000, 2)

        return {
            'phase': self.name, 'ops': len(ordered),
            'errors': len(self.errors),
            'ops_per_s': round(len(ordered) / wall, 1) if wall else None,
            'p50_ms': pct(50), 'p95_ms': pct(95), 'p99_ms': pct(99),
            'mean_ms': (round(statistics.fmean(ordered) * 1000, 2)
                        if ordered else None),
            'first_errors': self.errors[:3],
        }


class Api:
    """A requests session per thread against one endpoint."""

    def __init__(self, endpoint, timeout):
        self.endpoint = endpoint.rstrip('/')
        self.timeout = timeout
        self._local = threading.local()

    def _session(self):
        session = getattr(self._local, 'session', None)
        if session is None:
            session = requests.Session()
            session.headers.update(IDENTITY_HEADERS)
            self._local.session = session
        return session

    def call(self, timings, method, path, expect, **kwargs):
        start = time.perf_counter()
        error = None
        resp = None
        try:
            resp = self._session().request(method, self.endpoint + path,
                                           timeout=self.timeout, **kwargs)
            if resp.status_code not in expect:
                error = '%s %s -> %s %s' % (method, path, resp.status_code,
                                            resp.text[:200])
        except requests.RequestException as exc:
            error = '%s %s -> %s' % (method, path, exc)
        if timings is not None:
            timings.record(time.perf_counter() - start, error)
        return resp if error is None else None


def find_target(api):
    """The first deployable with a provider: rp_uuid, capacity, group, host."""
    resp = api.call(None, 'GET', '/v2/deployables', (200,))
    if resp is None:
        sys.exit('cannot list deployables at %s' % api.endpoint)
    deployables = [d for d in resp.json()['deployables'] if d.get('rp_uuid')]
    if not deployables:
        sys.exit('no deployable with a resource provider to bind to')
    dep = deployables[0]
    group = {}
    for item in json.loads(dep.get('attributes_list') or '[]'):
        for key, value in item.items():
            if key == 'rc':
                group['resources:%s' % value] = '1'
            elif key.startswith('trait'):
                group['trait:%s' % value] = 'required'
    group = group or {'resources:FPGA': '1'}
    devices = api.call(None, 'GET', '/v2/devices', (200,)).json()['devices']
    host = next((d['hostname'] for d in devices
                 if dep['name'].startswith(d['hostname'])),
                devices[0]['hostname'] if devices else 'localhost')
    return {'rp_uuid': dep['rp_uuid'], 'capacity': dep['num_accelerators'],
            'group': group, 'hostname': host}


def run_phase(name, items, work, clients):
    timings = Timings(name)
    with futures.ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda item: work(timings, item), items))
    line = timings.summary()
    print(json.dumps(line), flush=True)
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--endpoint', default='http://127.0.0.1:6666')
    parser.add_argument('--clients', type=int, default=1,
                        help='concurrent client threads')
    parser.add_argument('--profiles', type=int, default=200,
                        help='device profiles to create')
    parser.add_argument('--list-repeat', type=int, default=20)
    parser.add_argument('--instances', type=int, default=64,
                        help='instances taken through the ARQ lifecycle')
    parser.add_argument('--bind-timeout', type=float, default=60.0)
    parser.add_argument('--timeout', type=float, default=60.0)
    args = parser.parse_args()

    api = Api(args.endpoint, args.timeout)
    target = find_target(api)
    clients = max(1, min(args.clients, target['capacity']))
    prefix = 'bench-%s' % uuid.uuid4().hex[:6]
    profiles = {}

    def create_profile(timings, i):
        name = '%s-%05d' % (prefix, i)
        resp = api.call(timings, 'POST', '/v2/device_profiles', (201,),
                        json=[{'name': name, 'groups': [target['group']]}])
        if resp is not None:
            profiles[i] = resp.json()['uuid']

    run_phase('create_profile', range(args.profiles), create_profile,
              clients)
    run_phase('list_profiles', range(args.list_repeat),
              lambda t, _: api.call(t, 'GET', '/v2/device_profiles', (200,)),
              clients)
    run_phase('get_profile', list(profiles.values()),
              lambda t, u: api.call(t, 'GET', '/v2/device_profiles/' + u,
                                    (200,)), clients)

    profile_name = '%s-%05d' % (prefix, 0)
    arqs = {}
    timers = {name: Timings(name) for name in (
        'create_arq', 'bind_to_bound', 'list_by_instance',
        'delete_by_instance')}

    def instance_lifecycle(_timings, n):
        resp = api.call(timers['create_arq'], 'POST',
                        '/v2/accelerator_requests', (201,),
                        json={'device_profile_name': profile_name})
        if resp is None:
            return
        arq_uuid = resp.json()['arqs'][0]['uuid']
        instance = str(uuid.uuid4())
        arqs[n] = arq_uuid
        patch = {arq_uuid: [
            {'op': 'add', 'path': '/hostname', 'value': target['hostname']},
            {'op': 'add', 'path': '/device_rp_uuid',
             'value': target['rp_uuid']},
            {'op': 'add', 'path': '/instance_uuid', 'value': instance}]}
        start = time.perf_counter()
        state, error = None, None
        if api.call(None, 'PATCH', '/v2/accelerator_requests', (202,),
                    json=patch) is None:
            error = 'bind PATCH refused'
        deadline = start + args.bind_timeout
        while error is None and time.perf_counter() < deadline:
            got = api.call(None, 'GET', '/v2/accelerator_requests/' + arq_uuid,
                           (200,))
            state = got.json()['state'] if got is not None else None
            if state in ('Bound', 'BindFailed'):
                break
            time.sleep(0.002)
        if error is None and state != 'Bound':
            error = 'ARQ %s ended %s' % (arq_uuid, state)
        timers['bind_to_bound'].record(time.perf_counter() - start, error)
        api.call(timers['list_by_instance'], 'GET',
                 '/v2/accelerator_requests?instance=%s&bind_state=resolved'
                 % instance, (200,))
        api.call(timers['delete_by_instance'], 'DELETE',
                 '/v2/accelerator_requests?instance=%s' % instance, (204,))

    for timer in timers.values():
        timer.started = time.perf_counter()
    with futures.ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda n: instance_lifecycle(None, n),
                      range(args.instances)))
    for timer in timers.values():
        print(json.dumps(timer.summary()), flush=True)

    names = ','.join('%s-%05d' % (prefix, i) for i in sorted(profiles))
    run_phase('delete_profiles', [names],
              lambda t, v: api.call(t, 'DELETE',
                                    '/v2/device_profiles?value=' + v,
                                    (204,)), 1)


if __name__ == '__main__':
    main()
