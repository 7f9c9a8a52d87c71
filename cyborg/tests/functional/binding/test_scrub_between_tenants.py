"""Scrub between tenants, through the whole service in one process.

The API on a loopback port, a conductor, an agent with the fake driver
(whose scrubs are recorded in its state directory), the real Placement.
Nova's part is played with HTTP calls. What is guarded: a handle one
tenant let go is scrubbed before another tenant can get it, the
deployable's ``reserved`` in Placement covers it meanwhile, and a failed
scrub keeps it out of service, with the audit route telling admins all
of it.
"""

import uuid

import pytest
import requests
import sqlalchemy as sa

from cyborg.accelerator.drivers import fake
from cyborg.db import models
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import cloud as cloud_fixture
from cyborg.tests.fixtures import placement as placement_fixture

HEADERS = {
    'Content-Type': 'application/json', 'Accept': 'application/json',
    'X-Project-Id': 'tenant-project', 'X-User-Id': 'nova',
    'X-Roles': 'admin', 'X-Service-Roles': 'service',
    'OpenStack-API-Version': 'accelerator 2.5',
}


@pytest.fixture
def service(db, bind_conf, placement_conf, transport):
    with cloud_fixture.running_service(db, bind_conf, placement_conf,
                                       transport) as running:
        yield running


@pytest.fixture
def placement(placement_conf):
    return placement_fixture.make_client(placement_conf)


@pytest.fixture
def session():
    session = requests.Session()
    session.headers.update(HEADERS)
    return session


def _bind_one(session, service, project='tenant-project'):
    """Create a one-FPGA ARQ and bind it like Nova; the ARQ once Bound."""
    profile = 'fpga-%s' % uuid.uuid4().hex[:8]
    resp = session.post(service.endpoint + '/v2/device_profiles', json=[{
        'name': profile, 'groups': [{'resources:FPGA': '1'}]}])
    assert resp.status_code == 201, resp.text
    resp = session.post(service.endpoint + '/v2/accelerator_requests',
                        json={'device_profile_name': profile},
                        headers={'X-Project-Id': project})
    assert resp.status_code == 201, resp.text
    [arq] = resp.json()['arqs']
    instance = str(uuid.uuid4())
    resp = session.patch(service.endpoint + '/v2/accelerator_requests', json={
        arq['uuid']: [
            {'op': 'add', 'path': '/hostname', 'value': service.host},
            {'op': 'add', 'path': '/device_rp_uuid',
             'value': service.rp_uuid},
            {'op': 'add', 'path': '/instance_uuid', 'value': instance}]})
    assert resp.status_code == 202, resp.text
    return seed.wait_for(
        lambda: _resolved(session, service, arq['uuid']),
        what='the bind of %s' % arq['uuid'])


def _resolved(session, service, arq_uuid):
    arq = session.get(service.endpoint + '/v2/accelerator_requests/%s'
                      % arq_uuid).json()
    return arq if arq['state'] in ('Bound', 'BindFailed') else None


def _delete_instance(session, service, instance):
    resp = session.delete(service.endpoint + '/v2/accelerator_requests',
                          params={'instance': instance})
    assert resp.status_code == 204, resp.text


def _reserved(placement, rp_uuid):
    """The FPGA inventory's reserved; None until the agent's first report
    reached Placement."""
    _generation, inventories = placement.get_inventories(rp_uuid)
    return inventories.get('FPGA', {}).get('reserved')


def _releases(session, service, handle_uuid, **headers):
    return session.get(service.endpoint + '/v2/attach_handles/%s/releases'
                       % handle_uuid, headers=headers)


def _scrub_state(db, handle_uuid):
    table = models.AttachHandle.__table__
    with db.connect() as conn:
        return conn.execute(sa.select(table.c.scrub_state).where(
            table.c.uuid == handle_uuid)).scalar_one()


def _only_release(session, service, handle_uuid, outcome):
    releases = _releases(session, service, handle_uuid).json()['releases']
    if len(releases) == 1 and releases[0]['scrub_outcome'] == outcome:
        return releases[0]
    return None


def test_a_rebind_never_gets_the_handle_the_last_tenant_left_dirty(
        db, bind_conf, service, placement, session):
    state_path = bind_conf.state_path
    # Slow enough that the second bind certainly runs mid-scrub.
    fake.slow_scrubs(state_path, 3)
    first = _bind_one(session, service)
    assert first['state'] == 'Bound'
    dirty = first['attach_handle_uuid']
    seed.wait_for(lambda: _reserved(placement, service.rp_uuid) == 0,
                  what='the fake card in Placement')

    _delete_instance(session, service, first['instance_uuid'])
    second = _bind_one(session, service, project='next-tenant')

    # The second tenant skipped the handle being scrubbed.
    assert second['state'] == 'Bound'
    assert second['attach_handle_uuid'] != dirty
    assert _scrub_state(db, dirty) == 'scrubbing'
    # Nova's allocation is gone, so Placement must hold the handle back.
    seed.wait_for(lambda: _reserved(placement, service.rp_uuid) == 1,
                  what='reserved to cover the scrubbing handle')
    assert fake.read_scrubs(state_path) == []

    release = seed.wait_for(
        lambda: _only_release(session, service, dirty, 'scrubbed'),
        timeout=30, what='the scrub to end')
    [scrub] = fake.read_scrubs(state_path)
    assert scrub['attach_handle_uuid'] == dirty
    assert scrub['attach_info'] == first['attach_handle_info']
    assert release['project_id'] == 'tenant-project'
    assert release['instance_uuid'] == first['instance_uuid']
    assert release['scrub_driver'] == 'fake'
    assert release['scrub_reason'] is None
    assert release['finished_at'] >= release['released_at']
    assert _scrub_state(db, dirty) is None
    seed.wait_for(lambda: _reserved(placement, service.rp_uuid) == 0,
                  what='reserved to drop after the scrub')


def test_a_failed_scrub_keeps_the_handle_out_of_service(
        db, bind_conf, service, placement, session):
    fake.fail_scrubs(bind_conf.state_path, 'the blank image did not load')
    bound = _bind_one(session, service)
    handle = bound['attach_handle_uuid']

    _delete_instance(session, service, bound['instance_uuid'])

    release = seed.wait_for(
        lambda: _only_release(session, service, handle, 'failed'),
        timeout=30, what='the scrub to fail')
    assert 'the blank image did not load' in release['scrub_reason']
    assert _scrub_state(db, handle) == 'scrub_failed'
    # The device failed its scrub: wholly reserved until an operator
    # enables it.
    seed.wait_for(lambda: _reserved(placement, service.rp_uuid) == 16,
                  what='the whole device reserved')
    # The handle is never handed out again, even once the driver would
    # scrub fine.
    fake.fail_scrubs(bind_conf.state_path, None)
    again = _bind_one(session, service)
    assert again['attach_handle_uuid'] != handle
    assert _reserved(placement, service.rp_uuid) == 16

    # Admins only.
    resp = _releases(session, service, handle, **{'X-Roles': 'member'})
    assert resp.status_code == 403, resp.text
