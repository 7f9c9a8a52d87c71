"""The upstream half of the import tests; runs in upstream's own venv.

This file is executed by the Python of a separate virtualenv holding the
real ``openstack-cyborg`` 17.0.0 package (see ``upstream_venv.py``), with
``python -I`` so that ``import cyborg`` is upstream's package and never
ours. It drives upstream's own code, as its services would:

* ``populate --phase N``: upstream's conductor (``ConductorManager`` behind
  an in-process ``fake://`` RPC server, its real Placement client pointed at
  the test's Placement) and upstream's API application (pecan, requests
  sent in-process with webob) write what a small deployment holds: an
  agent's report of a fake FPGA and a GPU (DB rows plus the Placement
  providers upstream creates), device profiles, ARQs created, bound
  (Nova's external-event call is the one thing stubbed: it is Nova's HTTP
  API), one bind left in BindStarted as a dead conductor leaves it, and a
  device disabled. Prints what it made as JSON.
* ``answers``: reads a JSON list of API paths on stdin and prints what
  upstream's API answers for each (status and body), as JSON.

It only calls upstream's code; nothing of upstream's is copied into ours.
"""

import argparse
import json
import sys
import uuid

import webob

from cyborg.api import app as upstream_app
from cyborg.common import nova_client
from cyborg.common import rpc
from cyborg.conductor import manager
from cyborg.conductor import rpcapi
from cyborg.conf import CONF
from cyborg import context as upstream_context
from cyborg import objects
from cyborg.objects import base as objects_base
from cyborg.objects.driver_objects import driver_attach_handle
from cyborg.objects.driver_objects import driver_attribute
from cyborg.objects.driver_objects import driver_controlpath_id
from cyborg.objects.driver_objects import driver_deployable
from cyborg.objects.driver_objects import driver_device
from cyborg.accelerator.drivers import fake as fake_driver
import oslo_messaging as messaging

ADMIN_PROJECT = 'a0000000000000000000000000000000'
PROJECT_1 = 'b1111111111111111111111111111111'
PROJECT_2 = 'c2222222222222222222222222222222'
API_VERSION = 'accelerator 2.3'

# Nova's HTTP API is the boundary we stub: what upstream would have sent.
NOVA_EVENTS = []


def _record_nova_events(self, instance_uuid, arq_bind_statuses):
    NOVA_EVENTS.append({'instance_uuid': instance_uuid,
                        'statuses': [list(s) for s in arq_bind_statuses]})


class Upstream:
    """Upstream's conductor on fake:// RPC and its API app, in-process."""

    def __init__(self):
        objects.register_all()
        rpc.init(CONF)
        target = messaging.Target(topic='cyborg-conductor', server=CONF.host)
        self.conductor = manager.ConductorManager('cyborg-conductor',
                                                  CONF.host)
        self.server = rpc.get_server(
            target, [self.conductor], objects_base.CyborgObjectSerializer())
        self.server.start()
        self.rpc = rpcapi.ConductorAPI()
        self.app = upstream_app.setup_app()
        # Nova is not there: its client records instead of connecting.
        nova_client.NovaAPI.__init__ = lambda self: None
        nova_client.NovaAPI.notify_binding = _record_nova_events

    def stop(self):
        self.server.stop()
        self.server.wait()

    def request(self, method, path, body=None, project=ADMIN_PROJECT,
                admin=True, service=False):
        headers = {'X-Project-Id': project, 'X-User-Id': 'user',
                   'X-Roles': 'admin,member,reader' if admin
                   else 'member,reader',
                   'OpenStack-API-Version': API_VERSION}
        if service:
            headers['X-Service-Roles'] = 'service'
        req = webob.Request.blank(path, method=method, headers=headers)
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = 'application/json'
        resp = req.get_response(self.app)
        try:
            data = json.loads(resp.body) if resp.body else None
        except ValueError:
            data = resp.text
        return resp.status_int, data

    def checked(self, method, path, body=None, **kwargs):
        status, data = self.request(method, path, body, **kwargs)
        if status >= 400:
            raise RuntimeError('%s %s -> %s %s' % (method, path, status, data))
        return data

    # What an agent sends ----------------------------------------------------

    def report(self, hostname, devices):
        """Upstream's agent path: report_data over RPC to the conductor."""
        context = upstream_context.get_admin_context()
        self.rpc.report_data(context, hostname, devices)


def gpu_device(hostname, bus):
    """A pGPU as upstream's NVIDIA driver reports one (PCI handle)."""
    address = {'domain': '0000', 'bus': bus, 'device': '00',
               'function': '0'}
    cpid = driver_controlpath_id.DriverControlPathID(
        cpid_type='PCI', cpid_info=json.dumps(address, sort_keys=True))
    attributes = [
        driver_attribute.DriverAttribute(key='rc', value='PGPU'),
        driver_attribute.DriverAttribute(key='trait0', value='OWNER_CYBORG'),
        driver_attribute.DriverAttribute(key='trait1',
                                         value='CUSTOM_NVIDIA_1EB8'),
    ]
    handle = driver_attach_handle.DriverAttachHandle(
        attach_type='PCI', in_use=False,
        attach_info=json.dumps(address, sort_keys=True))
    deployable = driver_deployable.DriverDeployable(
        name='%s_0000:%s:00.0' % (hostname, bus), num_accelerators=1,
        driver_name='NVIDIA', attribute_list=attributes,
        attach_handle_list=[handle])
    return driver_device.DriverDevice(
        vendor='10de', model='1eb8', type='GPU', stub=False,
        std_board_info=json.dumps({'controller': '3D controller',
                                   'product_id': '1eb8'}),
        vendor_board_info='', controlpath_id=cpid,
        deployable_list=[deployable])


def create_profile(up, name, groups, description=None, profile_uuid=None):
    body = {'name': name, 'groups': groups}
    if description is not None:
        body['description'] = description
    if profile_uuid is not None:
        body['uuid'] = profile_uuid
    return up.checked('POST', '/v2/device_profiles', [body])


def create_arqs(up, profile_name, project):
    data = up.checked('POST', '/v2/accelerator_requests',
                      {'device_profile_name': profile_name},
                      project=project, admin=False)
    return [arq['uuid'] for arq in data['arqs']]


def bind(up, arq_uuids, hostname, rp_uuid, instance, project):
    patch = {arq: [
        {'op': 'add', 'path': '/hostname', 'value': hostname},
        {'op': 'add', 'path': '/device_rp_uuid', 'value': rp_uuid},
        {'op': 'add', 'path': '/instance_uuid', 'value': instance},
        {'op': 'add', 'path': '/project_id', 'value': project}]
        for arq in arq_uuids}
    up.checked('PATCH', '/v2/accelerator_requests', patch, service=True)


def leave_bind_started(arq_uuids, hostname, rp_uuid, instance):
    """What a conductor that died right after start_bind_job leaves."""
    context = upstream_context.get_admin_context()
    for arq_uuid in arq_uuids:
        extarq = objects.ExtARQ.get(context, arq_uuid)
        extarq.arq.hostname = hostname
        extarq.arq.device_rp_uuid = rp_uuid
        extarq.arq.instance_uuid = instance
        extarq.update_check_state(context, 'BindStarted')


def deployable_by_name(name):
    context = upstream_context.get_admin_context()
    return objects.Deployable.get_by_name(context, name)


def populate(up, phase, hostname):
    made = {'hostname': hostname, 'instances': {}, 'arqs': {},
            'profiles': {}}
    fake_name = '%s_FakeDevice' % hostname
    gpu_name = '%s_0000:3b:00.0' % hostname
    if phase == 1:
        # The agent's first report: upstream creates the rows and the
        # Placement providers (rc, trait* attributes -> RC and traits).
        up.report(hostname, fake_driver.FakeDriver().discover() +
                  [gpu_device(hostname, '3b')])
        fake_rp = deployable_by_name(fake_name).rp_uuid
        gpu_rp = deployable_by_name(gpu_name).rp_uuid
        made['profiles']['fake-dp'] = create_profile(
            up, 'fake-dp', [{'resources:FPGA': '2',
                             'trait:CUSTOM_FAKE_DEVICE': 'required'}],
            description='two fake FPGA functions')
        made['profiles']['gpu-dp'] = create_profile(
            up, 'gpu-dp', [{'resources:PGPU': '1'}],
            profile_uuid=str(uuid.uuid4()))
        # Bound: two fake functions for instance 1 (project 1).
        inst1 = str(uuid.uuid4())
        arqs = create_arqs(up, 'fake-dp', PROJECT_1)
        bind(up, arqs, hostname, fake_rp, inst1, PROJECT_1)
        made['instances']['bound_fake'] = inst1
        made['arqs']['bound_fake'] = arqs
        # Bound: the GPU for instance 2 (project 2), then the GPU is put
        # in maintenance through the API (reserved = total in Placement).
        inst2 = str(uuid.uuid4())
        arqs = create_arqs(up, 'gpu-dp', PROJECT_2)
        bind(up, arqs, hostname, gpu_rp, inst2, PROJECT_2)
        made['instances']['bound_gpu'] = inst2
        made['arqs']['bound_gpu'] = arqs
        gpu_device_uuid = [d for d in up.checked('GET', '/v2/devices')[
            'devices'] if d['vendor'] == '10de'][0]['uuid']
        up.checked('POST', '/v2/devices/%s/disable' % gpu_device_uuid)
        # A bind no conductor finishes (its conductor died mid-bind).
        inst3 = str(uuid.uuid4())
        arqs = create_arqs(up, 'fake-dp', PROJECT_1)
        leave_bind_started(arqs, hostname, fake_rp, inst3)
        made['instances']['bind_started'] = inst3
        made['arqs']['bind_started'] = arqs
        # Created by Nova, never bound.
        made['arqs']['initial'] = create_arqs(up, 'gpu-dp', PROJECT_2)
    else:
        # Rows added after a first import: a profile and a bound ARQ.
        fake_rp = deployable_by_name(fake_name).rp_uuid
        made['profiles']['late-dp'] = create_profile(
            up, 'late-dp', [{'resources:FPGA': '1'}])
        inst4 = str(uuid.uuid4())
        arqs = create_arqs(up, 'late-dp', PROJECT_1)
        bind(up, arqs, hostname, fake_rp, inst4, PROJECT_1)
        made['instances']['late_bound'] = inst4
        made['arqs']['late_bound'] = arqs
    made['nova_events'] = NOVA_EVENTS
    return made


def answers(up, paths):
    result = {}
    for path in paths:
        status, body = up.request('GET', path)
        result[path] = {'status': status, 'body': body}
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--config-file', required=True)
    sub = parser.add_subparsers(dest='command', required=True)
    pop = sub.add_parser('populate')
    pop.add_argument('--phase', type=int, choices=(1, 2), required=True)
    pop.add_argument('--hostname', required=True)
    sub.add_parser('answers')
    args = parser.parse_args()
    CONF(['--config-file', args.config_file], project='cyborg')
    up = Upstream()
    try:
        if args.command == 'populate':
            out = populate(up, args.phase, args.hostname)
        else:
            out = answers(up, json.load(sys.stdin))
    finally:
        up.stop()
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
