"""Operator notifications over oslo.messaging's notifier.

Off unless ``[oslo_messaging_notifications] driver`` names a driver, as in
every OpenStack service: then no transport is built and each ``emit`` is
one attribute check. When on, every event is sent with publisher
``accelerator.<[DEFAULT] host>`` on the topics and transport that section
names (its ``transport_url``, else ``[DEFAULT] transport_url``).

Events are sent by the service layer (API handlers, conductor) once the
transaction that made the change has committed, with what the write
returned: a notification never describes a change that was rolled back.
Sending is best effort: a notifier failure is logged and never fails the
operation that caused it.

The payloads are plain JSON dicts built by the ``*_payload`` functions
below, each carrying ``payload_version``; ``doc/source/admin/
notifications.rst`` documents every event type and its fields. A new
field is a minor version bump; a field renamed or removed is a major one.
"""

import logging

import oslo_messaging as messaging
from oslo_messaging import opts as messaging_opts

from cyborg import rpc

LOG = logging.getLogger(__name__)

PAYLOAD_VERSION = '1.0'
PUBLISHER = 'accelerator'

ARQ_BIND_END = 'accelerator_request.bind.end'
ARQ_BIND_ERROR = 'accelerator_request.bind.error'
ARQ_UNBIND_END = 'accelerator_request.unbind.end'
ARQ_DELETE_END = 'accelerator_request.delete.end'
DEVICE_CREATE_END = 'device.create.end'
DEVICE_DELETE_END = 'device.delete.end'
DEVICE_ENABLE_END = 'device.enable.end'
DEVICE_DISABLE_END = 'device.disable.end'
DEVICE_HEALTH_UPDATE = 'device.health.update'
DEPLOYABLE_PROGRAM_END = 'deployable.program.end'
DEPLOYABLE_PROGRAM_ERROR = 'deployable.program.error'

_GROUP = 'oslo_messaging_notifications'


def register_opts(conf):
    """Register [oslo_messaging_notifications] without building a transport.

    oslo.messaging registers the group only when a notification transport
    is made; we read ``driver`` first to decide whether to make one.
    """
    for group, opts in messaging_opts.list_opts():
        if group == _GROUP:
            conf.register_opts(opts, group=_GROUP)


def drivers_configured(conf):
    """The configured notification drivers, ``noop`` left out."""
    register_opts(conf)
    return [name for name in conf.oslo_messaging_notifications.driver
            if name != 'noop']


class NotificationContext(messaging.Serializer):
    """Sends only the ids of the request context, never its token.

    A notification is read by whoever consumes the topic (billing,
    auditing); the caller's credentials are none of their business.
    """

    FIELDS = ('request_id', 'global_request_id', 'user_id', 'project_id')

    def serialize_entity(self, ctxt, entity):
        return entity

    def deserialize_entity(self, ctxt, entity):
        return entity

    def serialize_context(self, ctxt):
        if ctxt is None:
            return {}
        return {field: getattr(ctxt, field, None) for field in self.FIELDS}

    def deserialize_context(self, ctxt):
        return ctxt


class Notifier:
    """Emits cyborg's notifications; a disabled one emits nothing.

    Wraps an oslo.messaging Notifier (``notifier``; None: disabled).
    Services build theirs with :meth:`from_conf`.
    """

    def __init__(self, notifier=None):
        self._notifier = notifier

    @classmethod
    def from_conf(cls, conf):
        """The Notifier [oslo_messaging_notifications] describes."""
        if not drivers_configured(conf):
            return cls()
        # The exchange notifications go to is [DEFAULT] control_exchange,
        # "cyborg" unless an operator changed it, as for our RPC.
        rpc.set_defaults(conf)
        transport = messaging.get_notification_transport(conf)
        return cls(messaging.Notifier(
            transport, publisher_id='%s.%s' % (PUBLISHER, conf.host),
            serializer=NotificationContext()))

    @property
    def enabled(self):
        return self._notifier is not None

    def close(self):
        """Release the notification transport's connections."""
        if self._notifier is not None:
            self._notifier.transport.cleanup()
            self._notifier = None

    def info(self, context, event_type, payload):
        self._emit(context, event_type, payload, 'info')

    def error(self, context, event_type, payload):
        self._emit(context, event_type, payload, 'error')

    def _emit(self, context, event_type, payload, priority):
        if self._notifier is None:
            return
        try:
            getattr(self._notifier, priority)(
                context, event_type,
                dict(payload, payload_version=PAYLOAD_VERSION))
        except Exception:
            # The change is committed; losing its notification must not
            # turn it into a failure for the caller.
            LOG.exception('Could not send notification %s', event_type)


# Payloads. Each names the ids an operator joins on; a value unknown at
# the time of the event is None, never left out.

def arq_payload(arq, state=None, error=None, attach_handle=None,
                deployable_uuid=None, device_uuid=None, previous_state=None):
    """An ARQ event's payload, from an ARQ dict (``arq_states`` rows).

    ``state``: the state the event leaves the ARQ in, when the row passed
    is from before the change.
    """
    handle = attach_handle or {}
    return {
        'arq_uuid': arq['uuid'],
        'state': state or arq.get('state'),
        'previous_state': previous_state,
        'instance_uuid': arq.get('instance_uuid'),
        'project_id': arq.get('project_id'),
        'hostname': arq.get('hostname'),
        'device_rp_uuid': arq.get('device_rp_uuid'),
        'device_profile_name': arq.get('device_profile_name'),
        'device_profile_group_id': arq.get('device_profile_group_id'),
        'device_uuid': device_uuid,
        'deployable_uuid': deployable_uuid,
        'attach_handle_uuid': handle.get('uuid'),
        'attach_handle_type': handle.get('attach_type'),
        'error': error,
    }


def device_payload(device, deployables=()):
    """A device event's payload, from a device dict and its deployables."""
    return {
        'device_uuid': device['uuid'],
        'hostname': device['hostname'],
        'type': device['type'],
        'vendor': device['vendor'],
        'model': device['model'],
        'status': device.get('status'),
        'deployables': [
            {'deployable_uuid': dep['uuid'], 'name': dep['name'],
             'resource_provider_uuid': dep.get('rp_uuid'),
             'resource_class': dep.get('resource_class'),
             'num_accelerators': dep.get('num_accelerators')}
            for dep in deployables],
    }


def device_health_payload(device, deployables=()):
    """A health change's payload: the device's, with its new and previous
    health (a ``devices.set_health`` result)."""
    since = device.get('health_since')
    return dict(
        device_payload(device, deployables),
        health=device['health'],
        health_reason=device.get('health_reason'),
        # Naive UTC from the DB, written as the API writes times.
        health_since=(since.isoformat() + '+00:00'
                      if since is not None else None),
        previous_health=device.get('previous_health'),
        previous_health_reason=device.get('previous_health_reason'))


def program_payload(deployable, hostname, image_uuid, function_id=None,
                    arq_uuid=None, error=None):
    """A programming event's payload, from the deployable programmed."""
    return {
        'deployable_uuid': deployable['uuid'],
        'deployable_name': deployable['name'],
        'resource_provider_uuid': deployable.get('rp_uuid'),
        'hostname': hostname,
        'image_uuid': image_uuid,
        'function_id': function_id,
        'arq_uuid': arq_uuid,
        'error': error,
    }
