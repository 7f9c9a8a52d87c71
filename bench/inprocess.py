"""CPU and wall time per API request in-process, optionally profiled.

Drives the whole WSGI stack (middleware, dispatcher, handlers) with WebOb
requests, without an HTTP server, against the database a config file
names; creates 1000 device profiles there first if it has fewer. CPU
time (``time.process_time``) moves less than wall time on a shared
machine.

    .venv/bin/cyborg-dbsync --config-file C upgrade
    .venv/bin/python bench/inprocess.py --config-file C get 500
    .venv/bin/python bench/inprocess.py --config-file C list 20 --profile tottime

Phases: ``get`` (one profile by uuid), ``list`` (every profile),
``arq`` (create one ARQ).
"""

import argparse
import cProfile
import io
import json
import pstats
import time
import uuid

import webob

from cyborg.api import app as api_app
from cyborg import service

HEADERS = {'X-User-Id': 'admin',
           'X-Project-Id': '8a2f0c1e5b3d4e6f9a7b8c9d0e1f2a3b',
           'X-Roles': 'admin,member,reader', 'X-Service-Roles': 'service',
           'Accept': 'application/json'}
PROFILES = 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config-file', required=True)
    parser.add_argument('phase', choices=('get', 'list', 'arq'))
    parser.add_argument('count', type=int)
    parser.add_argument('--profile', metavar='SORT',
                        help='cProfile the timed loop, sorted by SORT')
    args = parser.parse_args()
    app = api_app.build_app(service.prepare_service(
        ['cyborg-api', '--config-file', args.config_file]))

    def call(method, path, body=None):
        req = webob.Request.blank(path, method=method, headers=HEADERS)
        if body is not None:
            req.body = json.dumps(body).encode('utf-8')
            req.content_type = 'application/json'
        resp = req.get_response(app)
        assert resp.status_int < 300, resp.text
        return resp

    profiles = call('GET', '/v2/device_profiles').json['device_profiles']
    for index in range(PROFILES - len(profiles)):
        call('POST', '/v2/device_profiles', [{
            'name': 'p-%s' % uuid.uuid4().hex, 'description': 'profile %d'
            % index, 'groups': [{'resources:FPGA': '1'}]}])
    profiles = call('GET', '/v2/device_profiles').json['device_profiles']
    uuids = [profile['uuid'] for profile in profiles]

    def run():
        for index in range(args.count):
            if args.phase == 'get':
                call('GET', '/v2/device_profiles/' + uuids[index % len(uuids)])
            elif args.phase == 'list':
                call('GET', '/v2/device_profiles')
            else:
                call('POST', '/v2/accelerator_requests',
                     {'device_profile_name': profiles[0]['name']})

    run()  # warm up: connections, caches
    profiler = cProfile.Profile() if args.profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    run()
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({'phase': args.phase, 'count': args.count,
                      'wall_ms': round(wall * 1000 / args.count, 3),
                      'cpu_ms': round(cpu * 1000 / args.count, 3)}))
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(
            args.profile).print_stats(35)
        print(out.getvalue())


if __name__ == '__main__':
    main()
