"""Client side of the agent's RPC API (topic ``cyborg-agent``, server = host).

Callers: conductors. Every method is idempotent on the agent: a retry after
a lost answer returns the earlier result instead of repeating the work.

Version history (bump the minor for an additive change, and pin each method
to the version that introduced it):

* 1.0 - program, create_mdev, remove_mdev (rediscover, never called by
        any conductor, was dropped before release)
* 1.1 - prepare: the config data of a device context (API 2.4) for the
        driver, at bind. Additive: a conductor sends it only for a bind
        that carries config data, so 1.0 agents serve every other bind.
        A conductor capped at 1.0 (``[upgrade_levels] agent``) fails such
        a bind with AgentRPCCapped instead of sending it.
* 1.2 - scrub: clean a released attach handle through its driver before
        the next tenant gets it. Additive: a conductor capped below 1.2,
        or facing an agent that stated an older version, releases the
        handle unscrubbed (a WARNING and the audit row say so).
"""

from cyborg import exception
from cyborg import rpc

RPC_API_VERSION = '1.2'
# Every version of this API, oldest first: what [upgrade_levels] agent may
# name.
RPC_VERSIONS = ('1.0', '1.1', '1.2')


class AgentAPI:
    """Calls to the agent of one host (its [DEFAULT] host).

    ``version_cap``: the newest version to send, from
    ``rpc.version_cap(conf, 'agent', RPC_VERSIONS)``; None sends the newest.
    """

    def __init__(self, transport, timeout=None, version_cap=None):
        self._version_cap = version_cap
        self._client = rpc.get_client(transport, rpc.AGENT_TOPIC,
                                      RPC_API_VERSION, timeout=timeout,
                                      version_cap=version_cap)

    def check_can_prepare(self):
        """Raise AgentRPCCapped when the cap forbids :meth:`prepare`.

        prepare has no older form to fall back to: config data only a
        1.1 agent can apply must fail the bind, clearly, rather than be
        dropped.
        """
        if not self._client.can_send_version('1.1'):
            raise exception.AgentRPCCapped(
                what='Config data of a device context (agent RPC prepare)',
                version='1.1', cap=self._version_cap)

    def can_scrub(self):
        """Whether the version cap lets :meth:`scrub` be sent."""
        return self._client.can_send_version('1.2')

    def program(self, context, host, controlpath, image_uuid, driver_name,
                checksum=None, checksum_algo=None):
        """Program a bitstream (Glance image) onto the device at controlpath.

        ``controlpath`` is ``discovery.ControlPath.to_dict()``. The agent
        downloads the image, verifies it against ``checksum`` (its
        os_hash_value, with os_hash_algo ``checksum_algo``; md5 ``checksum``
        when no algo), programs through the driver, and skips the work when
        the region already holds this image. Returns True.
        """
        cctxt = self._client.prepare(server=host, version='1.0')
        return cctxt.call(context, 'program', controlpath=controlpath,
                          image_uuid=image_uuid, driver_name=driver_name,
                          checksum=checksum, checksum_algo=checksum_algo)

    def create_mdev(self, context, host, pci_address, mdev_type, mdev_uuid):
        """Create the mdev of that uuid and type on the GPU (idempotent)."""
        cctxt = self._client.prepare(server=host, version='1.0')
        return cctxt.call(context, 'create_mdev', pci_address=pci_address,
                          mdev_type=mdev_type, mdev_uuid=mdev_uuid)

    def remove_mdev(self, context, host, pci_address, mdev_type, mdev_uuid):
        """Remove the mdev of that uuid (idempotent: absent is success)."""
        cctxt = self._client.prepare(server=host, version='1.0')
        return cctxt.call(context, 'remove_mdev', pci_address=pci_address,
                          mdev_type=mdev_type, mdev_uuid=mdev_uuid)

    def prepare(self, context, host, controlpath, attach_handle, driver_name,
                config_data=None):
        """Hand a device context's config data to the driver (1.1).

        ``controlpath`` is ``discovery.ControlPath.to_dict()`` of the
        device, ``attach_handle`` the claimed handle (``uuid``,
        ``attach_type``, ``attach_info``), ``driver_name`` the
        deployable's. Idempotent on the agent; ConfigDataRefused when the
        driver takes no (or not this) config data; AgentRPCCapped (nothing
        sent) when the version cap is below 1.1.
        """
        self.check_can_prepare()
        cctxt = self._client.prepare(server=host, version='1.1')
        return cctxt.call(context, 'prepare', controlpath=controlpath,
                          attach_handle=attach_handle,
                          driver_name=driver_name,
                          config_data=config_data or {})

    def scrub(self, context, host, controlpath, attach_handle, driver_name):
        """Have the handle's driver clean it for the next tenant (1.2).

        ``controlpath`` is ``discovery.ControlPath.to_dict()`` of the
        device, ``attach_handle`` the released handle (``uuid``,
        ``attach_type``, ``attach_info``), ``driver_name`` the
        deployable's. Returns ``{'scrubbed': bool, 'reason': str}``:
        False when no enabled driver of that name can scrub. ScrubFailed
        when the driver could not clean it; AgentRPCCapped (nothing sent)
        when the version cap is below 1.2.
        """
        if not self.can_scrub():
            raise exception.AgentRPCCapped(
                what='Scrubbing a released attach handle (agent RPC scrub)',
                version='1.2', cap=self._version_cap)
        cctxt = self._client.prepare(server=host, version='1.2')
        return cctxt.call(context, 'scrub', controlpath=controlpath,
                          attach_handle=attach_handle,
                          driver_name=driver_name)
