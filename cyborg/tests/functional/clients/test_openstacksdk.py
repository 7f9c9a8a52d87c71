"""openstacksdk's accelerator proxy against the service, as users call it.

No identity headers and no extra configuration: the noauth service acts
as Keystone would for a cloud admin holding Nova's service token, and
openstacksdk discovers the v2 API from ``GET /`` itself. Every call goes
through the real API, conductor, agent (fake driver) and Placement.
"""

import json
import time
import uuid

import openstack
from openstack import exceptions as sdk_exc
import pytest
import sqlalchemy as sa



@pytest.fixture
def sdk(cloud):
    endpoint, rp_uuid, host = cloud
    conn = openstack.connection.Connection(
        auth_type='none', auth={'endpoint': endpoint})
    return conn.accelerator, rp_uuid, host


def _wait_for_state(acc, arq_uuid, states, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        arq = acc.get_accelerator_request(arq_uuid)
        if arq.state in states or time.monotonic() > deadline:
            return arq
        time.sleep(0.05)


def _handles_in_use(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            'SELECT count(*) FROM attach_handles WHERE in_use')).scalar()


def test_device_profile_lifecycle(sdk):
    acc, _rp, _host = sdk
    created = acc.create_device_profile(
        name='sdk-fpga', description='one fake FPGA',
        groups=[{'resources:FPGA': '1',
                 'trait:CUSTOM_FAKE_DEVICE': 'required'}])
    assert created.name == 'sdk-fpga'

    assert [p.name for p in acc.device_profiles()] == ['sdk-fpga']
    shown = acc.get_device_profile(created.uuid)
    assert (shown.name, shown.description, shown.groups) == (
        'sdk-fpga', 'one fake FPGA',
        [{'resources:FPGA': '1', 'trait:CUSTOM_FAKE_DEVICE': 'required'}])

    acc.delete_device_profile(created)
    assert list(acc.device_profiles()) == []
    with pytest.raises(sdk_exc.NotFoundException):
        acc.get_device_profile(created.uuid)


def test_accelerator_request_lifecycle(db, sdk):
    # Create, list, show, bind, unbind, bind again, delete: every call
    # openstacksdk users (and the openstack CLI) make on ARQs.
    acc, rp_uuid, host = sdk
    acc.create_device_profile(name='sdk-arq-dp',
                              groups=[{'resources:FPGA': '1'}])
    arq = acc.create_accelerator_request(device_profile_name='sdk-arq-dp')
    assert arq.state == 'Initial'
    assert [a.uuid for a in acc.accelerator_requests()] == [arq.uuid]

    instance = str(uuid.uuid4())
    acc.patch_accelerator_request(arq.uuid, [
        {'op': 'add', 'path': '/hostname', 'value': host},
        {'op': 'add', 'path': '/device_rp_uuid', 'value': rp_uuid},
        {'op': 'add', 'path': '/instance_uuid', 'value': instance}])
    bound = _wait_for_state(acc, arq.uuid, ('Bound', 'BindFailed'))
    assert (bound.state, bound.instance_uuid, bound.device_rp_uuid) == (
        'Bound', instance, rp_uuid)
    assert bound.attach_handle_type == 'TEST_PCI'
    assert set(bound.attach_handle_info) == {'domain', 'bus', 'device',
                                             'function'}
    assert _handles_in_use(db) == 1

    acc.patch_accelerator_request(arq.uuid, [
        {'op': 'remove', 'path': '/hostname'},
        {'op': 'remove', 'path': '/instance_uuid'},
        {'op': 'remove', 'path': '/device_rp_uuid'}])
    unbound = acc.get_accelerator_request(arq.uuid)
    assert (unbound.state, unbound.instance_uuid) == ('Unbound', None)
    assert _handles_in_use(db) == 0

    # An unbound ARQ binds again, to the same instance.
    acc.patch_accelerator_request(arq.uuid, [
        {'op': 'add', 'path': '/hostname', 'value': host},
        {'op': 'add', 'path': '/device_rp_uuid', 'value': rp_uuid},
        {'op': 'add', 'path': '/instance_uuid', 'value': instance}])
    assert _wait_for_state(acc, arq.uuid, ('Bound',)).state == 'Bound'

    acc.delete_accelerator_request(arq.uuid)
    assert list(acc.accelerator_requests()) == []
    assert _handles_in_use(db) == 0
    with pytest.raises(sdk_exc.NotFoundException):
        acc.get_accelerator_request(arq.uuid)
    with pytest.raises(sdk_exc.NotFoundException):
        acc.delete_accelerator_request(arq.uuid, ignore_missing=False)


def test_a_bad_bind_is_refused_with_the_reason(sdk):
    acc, rp_uuid, _host = sdk
    acc.create_device_profile(name='sdk-bad-bind',
                              groups=[{'resources:FPGA': '1'}])
    arq = acc.create_accelerator_request(device_profile_name='sdk-bad-bind')
    with pytest.raises(sdk_exc.BadRequestException) as raised:
        acc.patch_accelerator_request(arq.uuid, [
            {'op': 'add', 'path': '/hostname', 'value': 'elsewhere'},
            {'op': 'add', 'path': '/device_rp_uuid', 'value': rp_uuid},
            {'op': 'add', 'path': '/instance_uuid',
             'value': str(uuid.uuid4())}])
    assert 'cannot be bound on host elsewhere' in str(raised.value)
    assert acc.get_accelerator_request(arq.uuid).state == 'Initial'


def test_devices_and_deployables(sdk):
    acc, _rp, host = sdk
    [device] = list(acc.devices())
    assert (device.type, device.hostname) == ('FPGA', host)
    assert acc.get_device(device.uuid).uuid == device.uuid
    [deployable] = list(acc.deployables())
    assert acc.get_deployable(deployable.id).name == deployable.name


def test_discovered_attributes_are_recorded(sdk):
    # The agent's report became one attribute row per key (rc, trait<N>),
    # which /v2/attributes lists and attributes_list mirrors.
    acc, _rp, _host = sdk
    [deployable] = list(acc.deployables())
    rows = {(a.key, a.value) for a in acc.attributes()}
    assert rows == {('rc', 'FPGA'), ('trait0', 'CUSTOM_FAKE_DEVICE')}
    shown = acc.get('/deployables/%s' % deployable.id).json()
    assert json.loads(shown['attributes_list']) == [
        {'rc': 'FPGA'}, {'trait0': 'CUSTOM_FAKE_DEVICE'}]
