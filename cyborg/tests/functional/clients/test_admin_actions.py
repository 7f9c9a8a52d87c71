"""Device maintenance and deployable programming through HTTP, all the way.

openstacksdk calls the API, which calls the real conductor, which drives
the real Placement and the agent (fake driver, whose programming is
recorded on disk); the tests read back what each layer holds.
"""

import openstack
from openstack import exceptions as sdk_exc
import pytest
import sqlalchemy as sa

from cyborg.accelerator.drivers import fake
from cyborg.accelerator.drivers import fpga
from cyborg.tests.fixtures import placement as placement_fixture


@pytest.fixture
def sdk(cloud):
    endpoint, rp_uuid, host = cloud
    conn = openstack.connection.Connection(
        auth_type='none', auth={'endpoint': endpoint})
    return conn.accelerator, rp_uuid


def _device_status(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text('SELECT status FROM devices')).scalar()


def test_disable_and_enable_a_device(db, sdk, placement_conf):
    acc, rp_uuid = sdk
    placement = placement_fixture.make_client(placement_conf)
    [device] = list(acc.devices())

    acc.disable_device(device.uuid)
    assert _device_status(db) == 'maintaining'
    shown = acc.get('/devices/%s' % device.uuid, microversion='2.3').json()
    assert shown['status'] == 'maintaining'
    # Maintenance reserves the whole inventory: nothing more is scheduled.
    inventory = placement.get_inventories(rp_uuid)[1]['FPGA']
    assert inventory['reserved'] == inventory['total'] == 16

    acc.enable_device(device.uuid)
    assert _device_status(db) == 'enabled'
    assert placement.get_inventories(rp_uuid)[1]['FPGA']['reserved'] == 0


def test_program_a_deployable(db, sdk, placement_conf, stub_glance,
                              bind_conf):
    acc, rp_uuid = sdk
    placement = placement_fixture.make_client(placement_conf)
    image = stub_glance.add_image(b'bitstream-a',
                                  {'accel:function_id': 'f00d'})
    [deployable] = list(acc.deployables())

    programmed = acc.patch_deployable(deployable.id, [{
        'op': 'replace', 'path': '/program',
        'value': [{'image_uuid': image['id']}]}])

    assert programmed.id == deployable.id
    shown = acc.get('/deployables/%s' % deployable.id).json()
    assert shown['bitstream_id'] == image['id']
    # The agent's driver really loaded it ...
    [record] = fake.read_regions(bind_conf.state_path).values()
    assert record['times_programmed'] == 1
    # ... and Placement shows the new function on the provider.
    _generation, traits = placement.get_provider_traits(rp_uuid)
    assert fpga.function_trait('fake', 'f00d') in traits


def test_programming_an_unknown_image_is_a_404(sdk):
    acc, _rp = sdk
    [deployable] = list(acc.deployables())
    with pytest.raises(sdk_exc.NotFoundException) as raised:
        acc.patch_deployable(deployable.id, [{
            'op': 'replace', 'path': '/program',
            'value': [{'image_uuid': '5d4b7a2c-0c52-4d8b-9b8e-3f8c7d6e5a41'}]}])
    assert 'could not be found' in str(raised.value)


def test_programming_without_a_reachable_image_service_is_a_503(
        sdk, stub_glance):
    acc, _rp = sdk
    [deployable] = list(acc.deployables())
    stub_glance.stop()
    resp = acc.patch(
        '/deployables/%s/program' % deployable.id,
        json=[{'op': 'replace', 'path': '/program',
               'value': [{'image_uuid':
                          '5d4b7a2c-0c52-4d8b-9b8e-3f8c7d6e5a41'}]}],
        raise_exc=False)
    assert resp.status_code == 503
    assert 'the image service could not be reached' in resp.text
