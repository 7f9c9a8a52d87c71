"""The Notifier: off by default, what it sends, and that it never raises.

oslo.messaging's in-memory ``test`` driver stands for the broker here;
``cyborg/tests/functional/notifications`` receives the real thing from
RabbitMQ.
"""

import logging

from oslo_messaging.notify import _impl_test
import pytest

from cyborg import context as cyborg_context
from cyborg import notifications

GROUP = 'oslo_messaging_notifications'


@pytest.fixture
def recorded():
    _impl_test.reset()
    yield _impl_test.NOTIFICATIONS
    _impl_test.reset()


def _notifier(conf, driver):
    notifications.register_opts(conf)
    conf.set_override('driver', [driver], group=GROUP)
    conf.set_override('transport_url', 'fake:/', group=GROUP)
    return notifications.Notifier.from_conf(conf)


def test_default_configuration_is_off(conf):
    notifier = notifications.Notifier.from_conf(conf)
    assert not notifier.enabled
    # Nothing to send through, nothing to close.
    notifier.info(None, notifications.DEVICE_CREATE_END, {'x': 1})
    notifier.close()


def test_noop_driver_is_off(conf):
    assert not _notifier(conf, 'noop').enabled


def test_sends_payload_version_and_only_the_context_ids(conf, recorded):
    notifier = _notifier(conf, 'test')
    ctx = cyborg_context.RequestContext(
        user_id='u', project_id='p', auth_token='secret-token',
        is_admin=True)
    notifier.error(ctx, notifications.ARQ_BIND_ERROR,
                   notifications.arq_payload({'uuid': 'a'}, state='BindFailed',
                                             error='why'))
    notifier.close()
    [(sent_ctxt, message, priority, _retry)] = _impl_test.NOTIFICATIONS
    assert priority == 'ERROR'
    assert message['event_type'] == notifications.ARQ_BIND_ERROR
    assert message['publisher_id'] == 'accelerator.%s' % conf.host
    assert message['payload']['payload_version'] == (
        notifications.PAYLOAD_VERSION)
    assert (message['payload']['arq_uuid'], message['payload']['state'],
            message['payload']['error']) == ('a', 'BindFailed', 'why')
    assert sent_ctxt == {'request_id': ctx.request_id,
                         'global_request_id': None, 'user_id': 'u',
                         'project_id': 'p'}


class _BrokenSender:
    """oslo.messaging's Notifier when the broker refuses everything."""

    def info(self, *args):
        raise ConnectionError('broker down')


def test_a_failed_send_is_logged_not_raised(caplog):
    notifier = notifications.Notifier(_BrokenSender())
    with caplog.at_level(logging.ERROR, logger='cyborg.notifications'):
        notifier.info(None, notifications.DEVICE_ENABLE_END, {})
    assert 'Could not send notification device.enable.end' in caplog.text
