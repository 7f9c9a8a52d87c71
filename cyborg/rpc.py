"""oslo.messaging plumbing: transport, context serializer, clients, servers.

Contexts travel as dicts and become RequestContexts again on the far side;
arguments and results are plain JSON-able data (no versioned objects), so the
wire format is what the rpcapi modules document. Exceptions of
``cyborg.exception`` raised by a server are re-raised as themselves in the
caller, because that module is in ``allowed_remote_exmods``.
"""

import oslo_messaging as messaging

from cyborg import context as cyborg_context
from cyborg import library_patches

CONTROL_EXCHANGE = 'cyborg'
ALLOWED_EXMODS = ['cyborg.exception']

CONDUCTOR_TOPIC = 'cyborg-conductor'
AGENT_TOPIC = 'cyborg-agent'


class ContextSerializer(messaging.Serializer):
    """Sends our RequestContext as a dict; entities pass through as they are."""

    def serialize_entity(self, ctxt, entity):
        return entity

    def deserialize_entity(self, ctxt, entity):
        return entity

    def serialize_context(self, ctxt):
        return ctxt.to_dict()

    def deserialize_context(self, ctxt):
        return cyborg_context.RequestContext.from_dict(ctxt)


def set_defaults(conf):
    messaging.set_transport_defaults(control_exchange=CONTROL_EXCHANGE)


def register_client_opts(conf):
    """Register the options oslo.messaging's RPC client reads from conf
    (see ``library_patches.register_messaging_client_options``)."""
    library_patches.register_messaging_client_options(conf)


def get_transport(conf, url=None):
    """The RPC transport of ``url`` or [DEFAULT] transport_url.

    ``fake://`` is oslo.messaging's in-memory transport: every RPC client and
    server of one process meet there (the all-in-one service, tests).
    """
    set_defaults(conf)
    register_client_opts(conf)
    return messaging.get_rpc_transport(conf, url=url,
                                       allowed_remote_exmods=ALLOWED_EXMODS)


def get_client(transport, topic, version, server=None, timeout=None):
    target = messaging.Target(topic=topic, version=version, server=server)
    return messaging.get_rpc_client(transport, target,
                                    serializer=ContextSerializer(),
                                    timeout=timeout)


def get_server(transport, topic, server, endpoints, executor='threading'):
    target = messaging.Target(topic=topic, server=server)
    return messaging.get_rpc_server(transport, target, endpoints,
                                    executor=executor,
                                    serializer=ContextSerializer())
