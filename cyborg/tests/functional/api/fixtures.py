"""Gabbi fixtures: the real API application on a real database.

Each YAML file names a fixture in its ``fixtures:`` list. ``APIFixture``
gives the file a fresh SQLite database file with the schema, a private
ConfigOpts (noauth), the stand-in conductor on a ``fake://`` RPC server
and the WSGI application. ``InventoryFixture`` also seeds a host's worth of
devices, deployables, traits, attributes (``rc`` and ``trait<N>`` too) and
attach handles straight into the database, as a conductor would after an
agent report.

The values tests need (project ids, uuids) are exported as environment
variables, read in YAML as ``$ENVIRON['NAME']``.
"""

import json
import os
import pathlib
import shutil
import tempfile

from gabbi import fixture
from oslo_utils import timeutils
from oslo_utils import uuidutils
import oslo_messaging as messaging
import sqlalchemy as sa

from cyborg.api import app as api_app
from cyborg.clients import placement as placement_client
from cyborg.db import attributes as db_attributes
from cyborg.db import engine as db_engine
from cyborg.db import models
from cyborg import rpc
from cyborg.tests.fixtures import config as config_fixture
from cyborg.tests.fixtures import database as db_fixture
from cyborg.tests.functional.all_in_one import service as aio
from cyborg.tests.functional.api import conductor

# Gabbi builds the intercepted application before fixtures start, so it
# gets a wrapper that looks up the application of the running fixture.
APP = None
CONDUCTOR = None

TEST_CALLS_PATH = '/_test/conductor_calls'


class LazyApp:
    """The intercepted WSGI app: the fixture's app, plus a test-only URL
    that shows what the stand-in conductor received."""

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO') == TEST_CALLS_PATH:
            body = json.dumps({'calls': CONDUCTOR.calls}).encode('utf-8')
            start_response('200 OK', [('Content-Type', 'application/json'),
                                      ('Content-Length', str(len(body)))])
            return [body]
        return APP(environ, start_response)


def setup_app():
    return LazyApp()


class APIFixture(fixture.GabbiFixture):
    """A running API over an empty database, for one YAML file."""

    # [group.]option -> value overrides of the test configuration.
    conf_overrides = {}

    def start_fixture(self):
        global APP, CONDUCTOR
        self.tmp_path = pathlib.Path(tempfile.mkdtemp(prefix='cyborg-api-'))
        self.conf = config_fixture.make_conf(self.tmp_path,
                                             **self.conf_overrides)
        self.conf.set_override(
            'connection', 'sqlite:///%s' % (self.tmp_path / 'cyborg.sqlite'),
            group='database')
        # The enginefacade must be configured once before it can be
        # patched; schema_database then points it at this file's database.
        db_engine.configure(self.conf)
        self.database = db_fixture.schema_database('sqlite', self.tmp_path)
        self.engine = self.database.__enter__()

        rpc.set_defaults(self.conf)
        self.transport = messaging.get_rpc_transport(
            self.conf, url='fake://', allowed_remote_exmods=rpc.ALLOWED_EXMODS)
        CONDUCTOR = conductor.RecordingConductor()
        # No Placement listens on a port just found free.
        placement_client.configure_noauth(
            self.conf, 'http://127.0.0.1:%d' % aio.free_port())
        self.server = rpc.get_server(
            self.transport, rpc.CONDUCTOR_TOPIC, 'test-conductor',
            [CONDUCTOR, conductor.ExplainingConductor(
                placement_client.PlacementClient.from_conf(self.conf))])
        self.server.start()
        APP = api_app.build_app(self.conf, self.transport)
        self.export_environment()
        self.seed(self.engine)

    def stop_fixture(self):
        global APP, CONDUCTOR
        self.server.stop()
        self.server.wait()
        self.transport.cleanup()
        self.database.__exit__(None, None, None)
        shutil.rmtree(self.tmp_path, ignore_errors=True)
        APP = CONDUCTOR = None

    def export_environment(self):
        for name in ('PROJECT_ID', 'PROJECT_ID_ALT', 'USER_ID',
                     'USER_ID_ALT', 'INSTANCE_UUID', 'INSTANCE_UUID_ALT',
                     'INSTANCE_UUID_3', 'RANDOM_UUID'):
            os.environ[name] = uuidutils.generate_uuid()
        os.environ['BIND_STARTED_ARQ'] = conductor.BIND_STARTED_ARQ
        os.environ['FAILING_IMAGE'] = conductor.FAILING_IMAGE

    def seed(self, engine):
        """Rows the file's tests start from; none by default."""


class PublicEndpointFixture(APIFixture):
    """As APIFixture, with links built from [api] public_endpoint."""

    conf_overrides = {
        'api.public_endpoint': 'https://cloud.example.com/accelerator/'}


class QuotaFixture(APIFixture):
    """As APIFixture, with quota limits from configuration: 3 FPGAs and 2
    CUSTOM_QATs for every project, 1 FPGA for PROJECT_ID_ALT."""

    conf_overrides = {'quota.default_limits': {'FPGA': '3',
                                               'CUSTOM_QAT': '2'}}

    def start_fixture(self):
        global APP
        super().start_fixture()
        # The override names a project id made by export_environment, so
        # the application is built again once it is known.
        self.conf.set_override(
            'project_limits',
            {os.environ['PROJECT_ID_ALT'] + '/FPGA': '1'}, group='quota')
        APP = api_app.build_app(self.conf, self.transport)


def _insert(conn, orm_class, /, **values):
    values.setdefault('created_at', timeutils.utcnow())
    return conn.execute(sa.insert(orm_class.__table__), values
                        ).inserted_primary_key[0]


class InventoryFixture(APIFixture):
    """One host with an FPGA card (2 handles) and a GPU (1 handle).

    Exported: HOSTNAME, FPGA_DEVICE_UUID, GPU_DEVICE_UUID,
    FPGA_DEPLOYABLE_UUID/_ID/_RP, GPU_DEPLOYABLE_UUID/_ID/_RP,
    FPGA_ATTRIBUTE_UUID, and BOUND_ARQ_UUID (an ARQ of PROJECT_ID bound to
    the first FPGA handle, BOUND_HANDLE_UUID, for INSTANCE_UUID_ALT,
    through the profile named "seeded-fpga"; the other is
    FREE_HANDLE_UUID). The GPU's agent reported it degraded
    (GPU_HEALTH_REASON).
    """

    def seed(self, engine):
        env = os.environ
        env['HOSTNAME'] = 'compute-1'
        with engine.begin() as conn:
            fpga = self._device(conn, 'FPGA', '0x8086', '0x09c4', 'FPGA')
            gpu = self._device(conn, 'GPU', '10de', '1eb8', 'GPU')
            fpga_traits = ['CUSTOM_FPGA_INTEL',
                           'CUSTOM_FPGA_INTEL_PAC_ARRIA10']
            conn.execute(sa.insert(models.DeployableTrait.__table__), [
                {'deployable_id': fpga['deployable_id'], 'trait': trait}
                for trait in fpga_traits])
            # The attribute rows a report records: rc and trait<N> (see
            # cyborg/db/attributes.py), then the driver's own.
            for seeded, traits in ((fpga, fpga_traits), (gpu, [])):
                recorded = db_attributes.recorded_attributes(
                    seeded['resource_class'], traits, {})
                for key, value in recorded.items():
                    _insert(conn, models.Attribute,
                            uuid=uuidutils.generate_uuid(),
                            deployable_id=seeded['deployable_id'], key=key,
                            value=value)
            env['FPGA_ATTRIBUTE_UUID'] = uuidutils.generate_uuid()
            _insert(conn, models.Attribute, uuid=env['FPGA_ATTRIBUTE_UUID'],
                    deployable_id=fpga['deployable_id'], key='firmware',
                    value='1.2')
            profile_id = _insert(
                conn, models.DeviceProfile, uuid=uuidutils.generate_uuid(),
                name='seeded-fpga',
                profile_json=json.dumps({'groups': [{'resources:FPGA': '1'}]}))
            env['BOUND_ARQ_UUID'] = uuidutils.generate_uuid()
            _insert(conn, models.ExtendedAcceleratorRequest,
                    uuid=env['BOUND_ARQ_UUID'], state='Bound',
                    project_id=env['PROJECT_ID'],
                    device_profile_id=profile_id,
                    hostname=env['HOSTNAME'],
                    device_rp_uuid=fpga['rp_uuid'],
                    instance_uuid=env['INSTANCE_UUID_ALT'],
                    attach_handle_id=fpga['handles'][0],
                    deployable_id=fpga['deployable_id'])
            conn.execute(sa.update(models.AttachHandle.__table__).where(
                models.AttachHandle.id == fpga['handles'][0]).values(
                in_use=True))
            # An ARQ whose bind no conductor runs.
            _insert(conn, models.ExtendedAcceleratorRequest,
                    uuid=conductor.BIND_STARTED_ARQ, state='BindStarted',
                    project_id=env['PROJECT_ID'],
                    device_profile_id=profile_id)
            env['GPU_HEALTH_REASON'] = ('PCIe link trained at 8.0 GT/s x8, '
                                        'below its 16.0 GT/s x16')
            conn.execute(sa.update(models.Device.__table__).where(
                models.Device.uuid == gpu['device_uuid']).values(
                health='degraded', health_reason=env['GPU_HEALTH_REASON']))
        for kind, seeded in (('FPGA', fpga), ('GPU', gpu)):
            env['%s_DEVICE_UUID' % kind] = seeded['device_uuid']
            env['%s_DEPLOYABLE_UUID' % kind] = seeded['deployable_uuid']
            env['%s_DEPLOYABLE_ID' % kind] = str(seeded['deployable_id'])
            env['%s_DEPLOYABLE_RP' % kind] = seeded['rp_uuid']
        env['GPU_DEVICE_UUID_UPPER'] = gpu['device_uuid'].upper()
        handles = models.AttachHandle.__table__
        with engine.begin() as conn:
            env['BOUND_HANDLE_UUID'], env['FREE_HANDLE_UUID'] = conn.execute(
                sa.select(handles.c.uuid).where(
                    handles.c.deployable_id == fpga['deployable_id'])
                .order_by(handles.c.id)).scalars()

    @staticmethod
    def _device(conn, device_type, vendor, model, resource_class):
        seeded = {'device_uuid': uuidutils.generate_uuid(),
                  'deployable_uuid': uuidutils.generate_uuid(),
                  'rp_uuid': uuidutils.generate_uuid(),
                  'resource_class': resource_class}
        device_id = _insert(
            conn, models.Device, uuid=seeded['device_uuid'], type=device_type,
            vendor=vendor, model=model, hostname='compute-1',
            std_board_info=json.dumps({'device_id': model}),
            vendor_board_info='', status='enabled')
        bus = '5e' if device_type == 'FPGA' else '3b'
        cpid_id = _insert(
            conn, models.ControlpathID, uuid=uuidutils.generate_uuid(),
            device_id=device_id, cpid_type='PCI',
            cpid_info=json.dumps({'domain': '0000', 'bus': bus,
                                  'device': '00', 'function': '0'}))
        seeded['deployable_id'] = _insert(
            conn, models.Deployable, uuid=seeded['deployable_uuid'],
            name='compute-1_0000:%s:00.0' % bus,
            num_accelerators=2 if device_type == 'FPGA' else 1,
            device_id=device_id, rp_uuid=seeded['rp_uuid'],
            driver_name='intel' if device_type == 'FPGA' else 'nvidia',
            resource_class=resource_class)
        functions = ('1', '2') if device_type == 'FPGA' else ('0',)
        seeded['handles'] = [
            _insert(conn, models.AttachHandle, uuid=uuidutils.generate_uuid(),
                    deployable_id=seeded['deployable_id'], cpid_id=cpid_id,
                    in_use=False, attach_type='PCI',
                    attach_info=json.dumps(
                        {'bus': bus, 'device': '00', 'domain': '0000',
                         'function': function}, sort_keys=True))
            for function in functions]
        return seeded


class AdminBindFixture(InventoryFixture):
    """As InventoryFixture, with admins allowed to bind without a service
    token."""

    conf_overrides = {'api.require_service_token_for_bind': False}



class ConductorCappedFixture(InventoryFixture):
    """As InventoryFixture, with the API capped at conductor RPC 1.3 (a
    rolling upgrade whose conductors are not all at 1.4 yet)."""

    conf_overrides = {'upgrade_levels.conductor': '1.3'}
