#!/usr/bin/env python3
"""Nova's ARQ calls with 100 ARQs in the database, then with a million.

Against a running deployment (``bench/run-arq-volume.sh`` starts one with
``bench/run-deployment.sh``), one client does what Nova does for an
instance, ``--samples`` times per size: read an instance's ARQs (``GET
?instance=U``, with and without ``bind_state=resolved``), bind one ARQ
(the PATCH, and the time until it reads Bound) and delete by instance.
Between the two sizes the ARQ table is filled in bulk by SQL, to
``--total`` rows: half never bound, half failed binds that keep their
instance (two per instance, each instance with its claim row), which is
what a long-lived cloud accumulates. An unfiltered list (what
``openstack accelerator arq list`` sends) is timed every tenth sample and
must stay one page of ``[api] max_limit``. Each operation prints one JSON
line with p50/p99 at both sizes and the ratio of the p99s (target: at
most 2).

Only loopback endpoints and databases you run yourself.
"""

import argparse
import json
import statistics
import sys
import time
import uuid

import requests
import sqlalchemy as sa

HEADERS = {
    # Nova's identity as a noauth cyborg reads it: admin, service token.
    'X-User-Id': 'bench-user', 'X-Project-Id': 'bench-project',
    'X-Roles': 'admin,member,reader', 'X-Service-Roles': 'service',
}
PROFILE = 'volume-dp'
SEED_BATCH = 20000
# Seeded rows carry this hostname, so they are easy to find and drop.
SEED_HOST = 'volume-seed'


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


class Client:
    def __init__(self, endpoint):
        self.endpoint = endpoint.rstrip('/')
        self.session = requests.Session()
        self.session.headers.update(HEADERS)

    def call(self, method, path, expect, **kwargs):
        started = time.perf_counter()
        resp = self.session.request(method, self.endpoint + path,
                                    timeout=60, **kwargs)
        elapsed = time.perf_counter() - started
        if resp.status_code not in expect:
            sys.exit('%s %s: %d %s' % (method, path, resp.status_code,
                                       resp.text[:300]))
        return resp, elapsed


def ensure_profile(client):
    resp, _ = client.call('GET', '/v2/device_profiles?name=' + PROFILE,
                          (200,))
    if not resp.json()['device_profiles']:
        client.call('POST', '/v2/device_profiles', (201,), json=[{
            'name': PROFILE,
            'groups': [{'resources:FPGA': '1',
                        'trait:CUSTOM_FAKE_DEVICE': 'required'}]}])


def the_deployable(client, timeout=180):
    """The fake driver's deployable, once its agent has reported it."""
    deadline = time.monotonic() + timeout
    while True:
        resp, _ = client.call('GET', '/v2/deployables', (200,))
        found = [d for d in resp.json()['deployables'] if d['rp_uuid']]
        if found:
            break
        if time.monotonic() > deadline:
            sys.exit('no deployable with a provider after %d s' % timeout)
        time.sleep(0.5)
    deployable = found[0]
    resp, _ = client.call('GET', '/v2/devices', (200,))
    host = resp.json()['devices'][0]['hostname']
    return host, deployable['rp_uuid']


def seed(engine, rows_wanted, rp_uuid):
    """Fill the ARQ table to ``rows_wanted`` rows; the instances seeded."""
    meta = sa.MetaData()
    arqs = sa.Table('extended_accelerator_requests', meta,
                    autoload_with=engine)
    claims = sa.Table('instance_claims', meta, autoload_with=engine)
    profiles = sa.Table('device_profiles', meta, autoload_with=engine)
    with engine.begin() as conn:
        profile_id = conn.execute(sa.select(profiles.c.id).where(
            profiles.c.name == PROFILE)).scalar_one()
        have = conn.execute(sa.select(sa.func.count()).select_from(
            arqs)).scalar_one()
    instances, started = [], time.monotonic()
    while have < rows_wanted:
        batch = min(SEED_BATCH, rows_wanted - have)
        rows, batch_instances = [], []
        for index in range(batch):
            row = {'uuid': str(uuid.uuid4()), 'project_id': 'bench-project',
                   'device_profile_id': profile_id,
                   'device_profile_group_id': 0, 'state': 'Initial',
                   'substate': 'Initial', 'bind_seq': 0}
            if index % 2:
                if index % 4 == 1:
                    batch_instances.append(str(uuid.uuid4()))
                row.update(state='BindFailed', hostname=SEED_HOST,
                           device_rp_uuid=rp_uuid,
                           instance_uuid=batch_instances[-1],
                           bind_seq=1, bind_error='seeded')
            rows.append(row)
        with engine.begin() as conn:
            conn.execute(sa.insert(arqs), rows)
            if batch_instances:
                conn.execute(sa.insert(claims), [
                    {'instance_uuid': i} for i in batch_instances])
        have += batch
        instances += batch_instances
    return instances, time.monotonic() - started


def measure(client, host, rp_uuid, instances, samples):
    """Latencies (s) of each operation, ``samples`` of each."""
    times = {name: [] for name in (
        'get_by_instance', 'get_by_instance_resolved', 'bind_patch',
        'bind_to_bound', 'delete_by_instance', 'list_unfiltered')}
    for index in range(samples):
        if index % 10 == 0:
            # What `openstack accelerator arq list` sends: one page of
            # [api] max_limit at most, never the whole table.
            resp, elapsed = client.call('GET', '/v2/accelerator_requests',
                                        (200,))
            times['list_unfiltered'].append(elapsed)
            times.setdefault('list_unfiltered_items', []).append(
                len(resp.json()['arqs']))
        seeded = instances[index % len(instances)]
        _, elapsed = client.call(
            'GET', '/v2/accelerator_requests?instance=' + seeded, (200,))
        times['get_by_instance'].append(elapsed)
        _, elapsed = client.call(
            'GET', '/v2/accelerator_requests?instance=%s&bind_state=resolved'
            % seeded, (200,))
        times['get_by_instance_resolved'].append(elapsed)

        resp, _ = client.call('POST', '/v2/accelerator_requests', (201,),
                              json={'device_profile_name': PROFILE})
        arq = resp.json()['arqs'][0]['uuid']
        instance = str(uuid.uuid4())
        started = time.perf_counter()
        _, elapsed = client.call('PATCH', '/v2/accelerator_requests', (202,),
                                 json={arq: [
                                     {'op': 'add', 'path': '/hostname',
                                      'value': host},
                                     {'op': 'add', 'path': '/device_rp_uuid',
                                      'value': rp_uuid},
                                     {'op': 'add', 'path': '/instance_uuid',
                                      'value': instance}]})
        times['bind_patch'].append(elapsed)
        while True:
            resp, _ = client.call(
                'GET', '/v2/accelerator_requests?instance=%s&bind_state='
                'resolved' % instance, (200, 423))
            if resp.status_code == 200:
                break
        if resp.json()['arqs'][0]['state'] != 'Bound':
            sys.exit('bind failed: %s' % resp.text[:300])
        times['bind_to_bound'].append(time.perf_counter() - started)
        _, elapsed = client.call(
            'DELETE', '/v2/accelerator_requests?instance=' + instance, (204,))
        times['delete_by_instance'].append(elapsed)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--endpoint', required=True)
    parser.add_argument('--db-url', required=True)
    parser.add_argument('--small', type=int, default=100)
    parser.add_argument('--total', type=int, default=1000000)
    parser.add_argument('--samples', type=int, default=300)
    parser.add_argument('--warmup', type=int, default=50)
    args = parser.parse_args()

    client = Client(args.endpoint)
    engine = sa.create_engine(args.db_url)
    ensure_profile(client)
    host, rp_uuid = the_deployable(client)
    small_instances, _ = seed(engine, args.small, rp_uuid)
    # Warm the processes up (imports, connection pools, caches) before
    # the first figures, or the first size pays for it.
    measure(client, host, rp_uuid, small_instances, args.warmup)
    small = measure(client, host, rp_uuid, small_instances, args.samples)
    large_instances, seconds = seed(engine, args.total, rp_uuid)
    print(json.dumps({'phase': 'seed', 'rows': args.total,
                      'seconds': round(seconds, 1)}), flush=True)
    large = measure(client, host, rp_uuid, large_instances, args.samples)
    items = (max(small.pop('list_unfiltered_items')),
             max(large.pop('list_unfiltered_items')))
    for name in small:
        p99_small = percentile(small[name], 99)
        p99_large = percentile(large[name], 99)
        print(json.dumps({
            'phase': name, 'samples': args.samples,
            'small_rows': args.small, 'large_rows': args.total,
            'p50_ms_small': round(statistics.median(small[name]) * 1000, 2),
            'p99_ms_small': round(p99_small * 1000, 2),
            'p50_ms_large': round(statistics.median(large[name]) * 1000, 2),
            'p99_ms_large': round(p99_large * 1000, 2),
            'p99_ratio': round(p99_large / p99_small, 2),
            **({'items_small': items[0], 'items_large': items[1]}
               if name == 'list_unfiltered' else {})}), flush=True)


if __name__ == '__main__':
    main()
