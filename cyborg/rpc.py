"""oslo.messaging plumbing: transport, context serializer, clients, servers.

Contexts travel as dicts and become RequestContexts again on the far side;
arguments and results are plain JSON-able data (no versioned objects), so the
wire format is what the rpcapi modules document. Exceptions of
``cyborg.exception`` raised by a server are re-raised as themselves in the
caller, because that module is in ``allowed_remote_exmods``.
"""

import oslo_messaging as messaging
from oslo_messaging import server as messaging_server

from cyborg import context as cyborg_context
from cyborg import exception
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


def version_cap(conf, service, known_versions):
    """The cap ``[upgrade_levels] <service>`` sets, checked; None if unset.

    ``known_versions`` is the version history of that service's RPC API in
    this release. Anything else is refused here, at start, with
    InvalidConfig: oslo.messaging would take a typo (``1.O``, ``11``) and
    fail every call later, far from the option that caused it.
    """
    value = getattr(conf.upgrade_levels, service)
    if value is None or value.strip() == '':
        return None
    value = value.strip()
    if value not in known_versions:
        raise exception.InvalidConfig(
            option='[upgrade_levels] %s' % service,
            reason='%r is not a version of the %s RPC API; this release '
                   'knows %s. Set the version the oldest %s still running '
                   'serves, or leave the option unset.'
                   % (value, service, ', '.join(known_versions), service))
    return value


def get_client(transport, topic, version, server=None, timeout=None,
               version_cap=None):
    """An RPC client of ``topic`` at ``version``.

    With ``version_cap`` (see :func:`version_cap`) the client refuses to
    send a newer message; its ``can_send_version`` tells the rpcapi
    modules which form of a call to send.
    """
    target = messaging.Target(topic=topic, version=version, server=server)
    return messaging.get_rpc_client(transport, target,
                                    serializer=ContextSerializer(),
                                    timeout=timeout, version_cap=version_cap)


def executor_threads(conf):
    """The number of threads an RPC server of conf runs calls on.

    oslo.messaging registers ``executor_thread_pool_size`` when it builds
    a server; this registers it earlier (its own option object, so the
    registration is the same) to read it before.
    """
    conf.register_opts(messaging_server._pool_opts)
    return conf.executor_thread_pool_size


def get_server(transport, topic, server, endpoints, executor='threading'):
    target = messaging.Target(topic=topic, server=server)
    return messaging.get_rpc_server(transport, target, endpoints,
                                    executor=executor,
                                    serializer=ContextSerializer())
