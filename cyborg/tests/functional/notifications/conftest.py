"""Fixtures of the notification tests: the service, and a notification sink.

The service is the one of ``cyborg.tests.fixtures.cloud`` (API on a
loopback port, conductor, an agent with the fake driver, real Placement,
stub Nova and Glance; RPC on fake://), as a ``Service`` whose agent a
test may stop half-way to play its last report itself.
Notifications go to a real RabbitMQ, each test on a topic of its own.
"""

import collections
import dataclasses
import threading
import uuid

import kombu
import oslo_messaging as messaging
import pytest

from cyborg import notifications
from cyborg import rpc
from cyborg.tests.fixtures import binding as binding_fixtures
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import processes

bind_conf = binding_fixtures.bind_conf
stub_glance = binding_fixtures.stub_glance
stub_nova = binding_fixtures.stub_nova
transport = binding_fixtures.transport

PRIORITIES = ('info', 'error')


@dataclasses.dataclass
class Notification:
    priority: str
    publisher_id: str
    event_type: str
    payload: dict
    context: dict


class Sink:
    """A notification listener's endpoint: keeps what it receives."""

    def __init__(self):
        self._received = []
        self._lock = threading.Lock()

    def _keep(self, priority, ctxt, publisher_id, event_type, payload):
        with self._lock:
            self._received.append(Notification(
                priority, publisher_id, event_type, payload, ctxt))

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep('info', ctxt, publisher_id, event_type, payload)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep('error', ctxt, publisher_id, event_type, payload)

    def received(self):
        with self._lock:
            return list(self._received)

    def of(self, event_type, **payload_values):
        """The notifications of ``event_type`` whose payload has the values."""
        return [n for n in self.received() if n.event_type == event_type
                and all(n.payload.get(k) == v
                        for k, v in payload_values.items())]

    def wait_for(self, event_type, **payload_values):
        """The one notification of that kind, once it arrived."""
        [found] = seed.wait_for(
            lambda: self.of(event_type, **payload_values),
            what='notification %s %s' % (event_type, payload_values))
        return found

    def counts(self):
        return collections.Counter(n.event_type for n in self.received())


def _delete_queues(topic):
    """Drop the queues the listener declared: RabbitMQ is shared."""
    url = 'amqp://' + processes.TRANSPORT_URL.split('://', 1)[1]
    with kombu.Connection(url, connect_timeout=5) as connection:
        channel = connection.channel()
        for priority in PRIORITIES:
            try:
                channel.queue_delete('%s.%s' % (topic, priority))
            except Exception:
                # Already gone, or never made: nothing to clean up.
                channel = connection.channel()


@pytest.fixture
def topic(rabbit):
    """A notification topic of this test's own on the real RabbitMQ."""
    name = 'cyborg-test-notifications-%s' % uuid.uuid4().hex[:12]
    yield name
    _delete_queues(name)


def point_notifications(conf, topic, driver='messagingv2'):
    """Notifications of conf to ``topic`` on RabbitMQ, through ``driver``
    (None: leave [oslo_messaging_notifications] driver at its default)."""
    notifications.register_opts(conf)
    group = 'oslo_messaging_notifications'
    if driver is not None:
        conf.set_override('driver', [driver], group=group)
    conf.set_override('transport_url', processes.TRANSPORT_URL, group=group)
    conf.set_override('topics', [topic], group=group)


@pytest.fixture
def sink(conf, topic):
    """A Sink listening on ``topic`` (started before anything is sent)."""
    point_notifications(conf, topic, driver=None)
    rpc.set_defaults(conf)
    listener_transport = messaging.get_notification_transport(conf)
    received = Sink()
    listener = messaging.get_notification_listener(
        listener_transport, [messaging.Target(topic=topic)], [received],
        executor='threading')
    listener.start()
    yield received
    listener.stop()
    listener.wait()
    listener_transport.cleanup()


