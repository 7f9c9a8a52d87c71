"""Notifications arrive on a real RabbitMQ queue, one per event, with the
ids operators join on; with the default configuration none is sent.

The service runs in this process (see conftest.py) and is driven as Nova,
an operator and an agent drive it: HTTP calls to the API, the agent's own
reports, and for the device that disappears, the report the agent would
send once its card is gone. What is asserted is what a consumer of the
topic received.
"""

import uuid

import requests

from cyborg.accelerator.drivers import fake
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg import context as cyborg_context
from cyborg import notifications
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import cloud as cloud_fixture
from cyborg.tests.fixtures import processes
from cyborg.tests.functional.notifications import conftest

HEADERS = {
    'Content-Type': 'application/json', 'Accept': 'application/json',
    'X-Project-Id': 'demo-project', 'X-User-Id': 'nova',
    'X-Roles': 'admin', 'X-Service-Roles': 'service',
    'OpenStack-API-Version': 'accelerator 2.0',
}
PROJECT = 'demo-project'


class Nova:
    """What Nova (and an operator) send to the API."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.session = requests.Session()
        self.session.headers.update(HEADERS)

    def call(self, method, path, expected, **kwargs):
        resp = self.session.request(method, self.endpoint + path, **kwargs)
        assert resp.status_code == expected, resp.text
        return resp

    def profile(self, name, group):
        self.call('POST', '/v2/device_profiles', 201,
                  json=[{'name': name, 'groups': [group]}])

    def arq(self, profile):
        resp = self.call('POST', '/v2/accelerator_requests', 201,
                         json={'device_profile_name': profile})
        [arq] = resp.json()['arqs']
        return arq['uuid']

    def bind(self, arq_uuid, host, rp_uuid, instance):
        self.call('PATCH', '/v2/accelerator_requests', 202, json={arq_uuid: [
            {'op': 'add', 'path': '/hostname', 'value': host},
            {'op': 'add', 'path': '/device_rp_uuid', 'value': rp_uuid},
            {'op': 'add', 'path': '/instance_uuid', 'value': instance}]})

    def unbind(self, arq_uuid):
        self.call('PATCH', '/v2/accelerator_requests', 202, json={arq_uuid: [
            {'op': 'remove', 'path': '/hostname'},
            {'op': 'remove', 'path': '/device_rp_uuid'},
            {'op': 'remove', 'path': '/instance_uuid'}]})

    def program(self, deployable_uuid, image_uuid, expected):
        return self.call(
            'PATCH', '/v2/deployables/%s/program' % deployable_uuid, expected,
            json=[{'op': 'replace', 'path': '/program',
                   'value': [{'image_uuid': image_uuid}]}])


def _assert_arq_ids(note, arq_uuid, instance, host, rp_uuid, profile):
    assert note.payload['arq_uuid'] == arq_uuid
    assert note.payload['instance_uuid'] == instance
    assert note.payload['project_id'] == PROJECT
    assert note.payload['hostname'] == host
    assert note.payload['device_rp_uuid'] == rp_uuid
    assert note.payload['device_profile_name'] == profile
    assert note.payload['payload_version'] == notifications.PAYLOAD_VERSION


def _play_empty_report(conf, transport, service):
    """Send the report the host's agent sends once its card is gone."""
    service.stop_agent()
    conductor = conductor_rpcapi.ConductorAPI(transport, timeout=30)
    return conductor.report_data(
        cyborg_context.get_admin_context(), service.host, conf.host,
        service.compute_rp_uuid, [], 'no-devices')


@processes.rabbitmq
def test_every_event_is_notified(db, bind_conf, placement_conf, transport,
                                 stub_glance, topic, sink):
    conftest.point_notifications(bind_conf, topic)
    with cloud_fixture.running_service(db, bind_conf, placement_conf,
                          transport) as service:
        host, rp_uuid = service.host, service.rp_uuid
        publisher = 'accelerator.%s' % host
        nova = Nova(service.endpoint)

        # The agent's first report brought the fake card.
        created = sink.wait_for(notifications.DEVICE_CREATE_END,
                                hostname=host)
        assert (created.priority, created.publisher_id) == ('info', publisher)
        device_uuid = created.payload['device_uuid']
        assert (created.payload['type'], created.payload['vendor'],
                created.payload['model']) == ('FPGA', fake.VENDOR, fake.MODEL)
        [deployable] = created.payload['deployables']
        assert deployable['resource_provider_uuid'] == rp_uuid
        dep_uuid = deployable['deployable_uuid']

        # A bind that succeeds, and one that fails (its bitstream is not
        # in Glance).
        nova.profile('plain', {'resources:FPGA': '1'})
        missing_image = str(uuid.uuid4())
        nova.profile('missing-bitstream', {
            'resources:FPGA': '1', 'accel:bitstream_id': missing_image})
        bound_arq = nova.arq('plain')
        failed_arq = nova.arq('missing-bitstream')
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        nova.bind(bound_arq, host, rp_uuid, first)
        nova.bind(failed_arq, host, rp_uuid, second)

        bound = sink.wait_for(notifications.ARQ_BIND_END, arq_uuid=bound_arq)
        assert (bound.priority, bound.publisher_id) == ('info', publisher)
        _assert_arq_ids(bound, bound_arq, first, host, rp_uuid, 'plain')
        assert bound.payload['state'] == 'Bound'
        assert bound.payload['attach_handle_type'] == 'TEST_PCI'
        assert bound.payload['attach_handle_uuid']
        assert (bound.payload['deployable_uuid'],
                bound.payload['device_uuid']) == (dep_uuid, device_uuid)
        # The context travels without the caller's token.
        assert 'auth_token' not in bound.context

        failed = sink.wait_for(notifications.ARQ_BIND_ERROR,
                               arq_uuid=failed_arq)
        assert (failed.priority, failed.publisher_id) == ('error', publisher)
        _assert_arq_ids(failed, failed_arq, second, host, rp_uuid,
                        'missing-bitstream')
        assert failed.payload['state'] == 'BindFailed'
        assert missing_image in failed.payload['error']

        # Unbind the first, delete the second with its instance.
        handle_uuid = bound.payload['attach_handle_uuid']
        nova.unbind(bound_arq)
        unbound = sink.wait_for(notifications.ARQ_UNBIND_END,
                                arq_uuid=bound_arq)
        _assert_arq_ids(unbound, bound_arq, first, host, rp_uuid, 'plain')
        assert (unbound.payload['state'], unbound.payload['previous_state'],
                unbound.payload['attach_handle_uuid']) == (
            'Unbound', 'Bound', handle_uuid)

        nova.call('DELETE', '/v2/accelerator_requests', 204,
                  params={'instance': second})
        deleted = sink.wait_for(notifications.ARQ_DELETE_END,
                                arq_uuid=failed_arq)
        _assert_arq_ids(deleted, failed_arq, second, host, rp_uuid,
                        'missing-bitstream')
        assert deleted.payload['state'] == 'BindFailed'

        # An operator takes the card out of service and back.
        nova.call('POST', '/v2/devices/%s/disable' % device_uuid, 200)
        disabled = sink.wait_for(notifications.DEVICE_DISABLE_END,
                                 device_uuid=device_uuid)
        assert disabled.payload['status'] == 'maintaining'
        assert disabled.payload['hostname'] == host
        nova.call('POST', '/v2/devices/%s/enable' % device_uuid, 200)
        enabled = sink.wait_for(notifications.DEVICE_ENABLE_END,
                                device_uuid=device_uuid)
        assert enabled.payload['status'] == 'enabled'
        assert enabled.payload['deployables'][0][
            'resource_provider_uuid'] == rp_uuid

        # An admin programs the region, then an image that fails.
        good = stub_glance.add_image(b'a bitstream')
        nova.program(dep_uuid, good['id'], 200)
        programmed = sink.wait_for(notifications.DEPLOYABLE_PROGRAM_END,
                                   image_uuid=good['id'])
        assert (programmed.priority, programmed.publisher_id) == (
            'info', publisher)
        assert (programmed.payload['deployable_uuid'],
                programmed.payload['resource_provider_uuid'],
                programmed.payload['hostname']) == (dep_uuid, rp_uuid, host)
        bad = stub_glance.add_image(fake.FAIL_MARKER + b' broken')
        resp = nova.session.patch(
            service.endpoint + '/v2/deployables/%s/program' % dep_uuid,
            json=[{'op': 'replace', 'path': '/program',
                   'value': [{'image_uuid': bad['id']}]}])
        assert resp.status_code >= 400, resp.text
        refused = sink.wait_for(notifications.DEPLOYABLE_PROGRAM_ERROR,
                                image_uuid=bad['id'])
        assert refused.priority == 'error'
        assert refused.payload['deployable_uuid'] == dep_uuid
        assert refused.payload['error']

        # A bind whose profile wants another bitstream programs it first.
        wanted = stub_glance.add_image(b'another bitstream')
        nova.profile('with-bitstream', {
            'resources:FPGA': '1', 'accel:bitstream_id': wanted['id']})
        programmed_arq, third = nova.arq('with-bitstream'), str(uuid.uuid4())
        nova.bind(programmed_arq, host, rp_uuid, third)
        for_bind = sink.wait_for(notifications.DEPLOYABLE_PROGRAM_END,
                                 image_uuid=wanted['id'])
        assert (for_bind.payload['arq_uuid'],
                for_bind.payload['deployable_uuid']) == (programmed_arq,
                                                         dep_uuid)
        bound_after = sink.wait_for(notifications.ARQ_BIND_END,
                                    arq_uuid=programmed_arq)
        _assert_arq_ids(bound_after, programmed_arq, third, host, rp_uuid,
                        'with-bitstream')
        nova.call('DELETE', '/v2/accelerator_requests', 204,
                  params={'instance': third})
        deleted = sink.wait_for(notifications.ARQ_DELETE_END,
                                arq_uuid=programmed_arq)
        assert (deleted.payload['state'], deleted.payload['instance_uuid'],
                deleted.payload['attach_handle_uuid']) == (
            'Bound', third, bound_after.payload['attach_handle_uuid'])

        # The card is gone from the host's next report.
        summary = _play_empty_report(bind_conf, transport, service)
        assert summary['deleted'] == 1
        removed = sink.wait_for(notifications.DEVICE_DELETE_END,
                                device_uuid=device_uuid)
        assert removed.payload['hostname'] == host
        assert removed.payload['deployables'][0]['deployable_uuid'] == (
            dep_uuid)

    # One notification per event, none twice.
    counts = sink.counts()
    assert counts == {
        notifications.DEVICE_CREATE_END: 1,
        notifications.ARQ_BIND_END: 2, notifications.ARQ_BIND_ERROR: 1,
        notifications.ARQ_UNBIND_END: 1, notifications.ARQ_DELETE_END: 2,
        notifications.DEVICE_DISABLE_END: 1,
        notifications.DEVICE_ENABLE_END: 1,
        notifications.DEPLOYABLE_PROGRAM_END: 2,
        notifications.DEPLOYABLE_PROGRAM_ERROR: 1,
        notifications.DEVICE_DELETE_END: 1}, counts


@processes.rabbitmq
def test_nothing_is_sent_by_default(db, bind_conf, placement_conf,
                                    transport, topic, sink):
    # Only the topic is set, as an operator might leave it: no driver, so
    # the same operations as above send nothing.
    conftest.point_notifications(bind_conf, topic, driver=None)
    with cloud_fixture.running_service(db, bind_conf, placement_conf,
                          transport) as service:
        nova = Nova(service.endpoint)
        nova.profile('plain', {'resources:FPGA': '1'})
        arq_uuid = nova.arq('plain')
        nova.bind(arq_uuid, service.host, service.rp_uuid, str(uuid.uuid4()))
        seed.wait_for(
            lambda: seed.arqs(db, [arq_uuid])[arq_uuid]['state']
            == 'Bound', what='the bind')
        nova.unbind(arq_uuid)
        nova.call('DELETE', '/v2/accelerator_requests', 204,
                  params={'arqs': arq_uuid})
        _play_empty_report(bind_conf, transport, service)

    # Then a notifier that is on sends one marker per priority on the same
    # queues: once both arrived, anything sent before them has too.
    marker_conf = bind_conf
    marker_conf.set_override('driver', ['messagingv2'],
                             group='oslo_messaging_notifications')
    marker = notifications.Notifier.from_conf(marker_conf)
    marker.info(None, 'test.marker', {})
    marker.error(None, 'test.marker', {})
    marker.close()
    seed.wait_for(lambda: len(sink.of('test.marker')) == 2,
                           what='the markers')
    assert [n.event_type for n in sink.received()] == ['test.marker'] * 2


@processes.rabbitmq
def test_deleting_a_device_context_notifies_its_arqs(
        db, bind_conf, placement_conf, transport, topic, sink):
    conftest.point_notifications(bind_conf, topic)
    with cloud_fixture.running_service(db, bind_conf, placement_conf,
                          transport) as service:
        nova = Nova(service.endpoint)
        nova.session.headers['OpenStack-API-Version'] = 'accelerator 2.4'
        context_uuid = nova.call(
            'POST', '/v2/device_contexts', 201,
            json={'groups': [{'resources:FPGA': '1'}]}).json()['uuid']
        resp = nova.call('POST', '/v2/accelerator_requests', 201,
                         json={'device_context_uuid': context_uuid})
        [arq_uuid] = [arq['uuid'] for arq in resp.json()['arqs']]
        nova.call('DELETE', '/v2/device_contexts/%s' % context_uuid, 204)
        deleted = sink.wait_for(notifications.ARQ_DELETE_END,
                                arq_uuid=arq_uuid)
    # Never bound: no host, instance or provider; made from a context,
    # so no profile either.
    assert deleted.payload['state'] == 'Initial'
    assert deleted.payload['project_id'] == PROJECT
    assert [deleted.payload[key] for key in (
        'instance_uuid', 'hostname', 'device_rp_uuid',
        'device_profile_name')] == [None] * 4
