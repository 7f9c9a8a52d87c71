"""Calls from a conductor to agents (programming, mdevs, config data,
scrubs), with timeouts.

One ``AgentCalls`` per conductor, shared by the binds, the admin
programming call and the cleanup after unbinds and deletes.
"""

import oslo_messaging as messaging

from cyborg.accelerator import discovery
from cyborg.agent import rpcapi as agent_rpcapi
from cyborg import exception
from cyborg import rpc

# Cleanup calls (mdev removal) run after the bind's own time may be up;
# they get this long at most, so a dead agent delays a failure only a bit.
CLEANUP_TIMEOUT = 10


def describe_error(exc):
    """A bind_error text: our messages as they are, others with their type."""
    if isinstance(exc, exception.CyborgException):
        return str(exc)
    if isinstance(exc, messaging.RemoteError):
        return '%s: %s' % (exc.exc_type, exc.value)
    return '%s: %s' % (type(exc).__name__, exc)


class AgentCalls:
    """Calls to agents, each with its own timeout.

    A call that gets no answer (no agent listening, agent too slow, broker
    trouble) raises AgentUnreachable; an exception the agent raised comes
    back as itself (cyborg's) or as a RemoteError.
    """

    def __init__(self, transport, default_timeout, version_cap=None):
        self._transport = transport
        self._default_timeout = default_timeout
        # [upgrade_levels] agent, checked once at start (rpc.version_cap).
        self._version_cap = version_cap

    @classmethod
    def from_conf(cls, conf, transport):
        """AgentCalls with ``[conductor] agent_rpc_timeout`` and the cap of
        ``[upgrade_levels] agent`` (InvalidConfig for a bad cap)."""
        return cls(transport, conf.conductor.agent_rpc_timeout,
                   version_cap=rpc.version_cap(conf, 'agent',
                                               agent_rpcapi.RPC_VERSIONS))

    def _api(self, timeout):
        return agent_rpcapi.AgentAPI(self._transport,
                                     timeout=timeout or self._default_timeout,
                                     version_cap=self._version_cap)

    def check_can_prepare(self):
        """AgentRPCCapped when the cap keeps config data from agents."""
        self._api(None).check_can_prepare()

    def _call(self, host, timeout, call):
        try:
            return call(self._api(timeout))
        except messaging.MessagingTimeout:
            raise exception.AgentUnreachable(
                host=host, reason='no answer within %s s'
                                  % (timeout or self._default_timeout))
        except messaging.RemoteError:
            raise
        except messaging.MessagingException as exc:
            raise exception.AgentUnreachable(host=host, reason=str(exc))

    def program(self, context, host, controlpath, image, driver_name,
                timeout=None):
        # The agent verifies the download against the strongest digest
        # Glance has: os_hash_value/os_hash_algo, else the md5 checksum.
        checksum, algo = image.get('os_hash_value'), image.get('os_hash_algo')
        if not checksum:
            checksum, algo = image.get('checksum'), None
        return self._call(host, timeout, lambda api: api.program(
            context, host, controlpath, image['id'], driver_name,
            checksum=checksum, checksum_algo=algo))

    def create_mdev(self, context, host, handle, timeout=None):
        info = handle['attach_info']
        return self._call(host, timeout, lambda api: api.create_mdev(
            context, host, discovery.pci_address_str(info),
            info['asked_type'], handle['uuid']))

    def remove_mdev(self, context, host, handle, timeout=None):
        info = handle['attach_info']
        return self._call(host, timeout, lambda api: api.remove_mdev(
            context, host, discovery.pci_address_str(info),
            info['asked_type'], handle['uuid']))

    def prepare(self, context, host, controlpath, handle, driver_name,
                config_data, timeout=None):
        """Hand a device context's config data to the handle's driver."""
        attach_handle = {key: handle[key] for key in
                         ('uuid', 'attach_type', 'attach_info')}
        return self._call(host, timeout, lambda api: api.prepare(
            context, host, controlpath, attach_handle, driver_name,
            config_data))

    def can_scrub(self):
        """Whether ``[upgrade_levels] agent`` lets scrub (1.2) be sent."""
        return self._api(None).can_scrub()

    def scrub(self, context, host, controlpath, handle, driver_name,
              timeout=None):
        """Have the handle's driver clean it; the agent's answer."""
        attach_handle = {key: handle[key] for key in
                         ('uuid', 'attach_type', 'attach_info')}
        return self._call(host, timeout, lambda api: api.scrub(
            context, host, controlpath, attach_handle, driver_name))
