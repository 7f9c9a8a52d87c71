"""The Nova client against a stub Nova on loopback (Nova is not ours)."""

import socket

import pytest

from cyborg.clients import nova as nova_client
from cyborg import exception
from cyborg.tests.fixtures import nova as nova_fixture


@pytest.fixture
def client(conf, stub_nova):
    # The noauth helper, as the all-in-one service would use it.
    nova_fixture.configure(conf, stub_nova.endpoint)
    return nova_client.NovaClient.from_conf(conf, timeout=5)


EVENTS = [nova_client.make_event('inst-b', 'arq-1', 'completed'),
          nova_client.make_event('inst-a', 'arq-2', 'failed'),
          nova_client.make_event('inst-b', 'arq-3', 'completed')]


def test_one_post_with_events_grouped_by_instance(client, stub_nova):
    results = client.send_external_events(EVENTS)
    assert [results.delivered(i) for i in range(3)] == [True] * 3
    [request] = stub_nova.requests
    assert [e['tag'] for e in request['events']] == ['arq-2', 'arq-1',
                                                     'arq-3']
    assert request['events'][0] == {
        'name': 'accelerator-request-bound', 'server_uuid': 'inst-a',
        'tag': 'arq-2', 'status': 'failed'}
    assert request['microversion'] == 'compute 2.82'


def test_207_all_422_counts_as_delivered(client, stub_nova):
    stub_nova.mode = 'not_on_host'
    results = client.send_external_events(EVENTS)
    assert results.codes == [422, 422, 422]
    assert all(results.delivered(i) for i in range(3))


def test_207_mixed_maps_codes_back_to_the_events_sent(client, stub_nova):
    # The stub answers 200 for the first event it got (inst-a's, after
    # grouping) and 404 for the others.
    stub_nova.mode = 'mixed'
    results = client.send_external_events(EVENTS)
    assert results.codes == [404, 200, 404]
    assert [results.delivered(i) for i in range(3)] == [False, True, False]
    assert not any(results.transient(i) for i in range(3))


def test_5xx_is_transient(client, stub_nova):
    stub_nova.mode = 'error'
    with pytest.raises(exception.NovaUnavailable):
        client.send_external_events(EVENTS)


def test_no_answer_in_time_is_a_timeout(conf, stub_nova):
    # Nova may have acted on it: the caller counts the send as unconfirmed.
    nova_fixture.configure(conf, stub_nova.endpoint)
    client = nova_client.NovaClient.from_conf(conf, timeout=0.3)
    stub_nova.delay = 1
    with pytest.raises(exception.NovaTimedOut):
        client.send_external_events(EVENTS)
    assert len(stub_nova.events()) == len(EVENTS)


def test_no_nova_listening_is_not_a_timeout(conf):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    nova_fixture.configure(conf, 'http://127.0.0.1:%d/v2.1' % port)
    client = nova_client.NovaClient.from_conf(conf, timeout=2)
    with pytest.raises(exception.NovaUnavailable) as raised:
        client.send_external_events(EVENTS)
    assert not isinstance(raised.value, exception.NovaTimedOut)


def test_other_4xx_refuses_the_request(client, stub_nova):
    stub_nova.mode = 'bad_request'
    with pytest.raises(exception.NovaEventRejected):
        client.send_external_events(EVENTS)


def test_no_nova_listening_is_transient(conf):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    nova_fixture.configure(conf, 'http://127.0.0.1:%d/v2.1' % port)
    client = nova_client.NovaClient.from_conf(conf, timeout=2)
    with pytest.raises(exception.NovaUnavailable):
        client.send_external_events(EVENTS)
