"""Client side of the conductor's RPC API (topic ``cyborg-conductor``).

Callers: the API (ARQ bind, unbind/delete follow-up, device enable/disable,
deployable programming) and agents (reports and heartbeats). Any conductor
may serve any call: they are active-active on one topic.

Version history (bump the minor for an additive change, and pin each method
to the version that introduced it):

* 1.0 - report_data, heartbeat, bind_arqs, arqs_deleted,
        set_device_status, program_deployable (unbind_arqs, never
        released, was dropped: the API unbinds in its own transaction)
"""

from cyborg import rpc

RPC_API_VERSION = '1.0'


class ConductorAPI:
    """Calls into whichever conductor picks the message up."""

    def __init__(self, transport, timeout=None):
        self._client = rpc.get_client(transport, rpc.CONDUCTOR_TOPIC,
                                      RPC_API_VERSION, timeout=timeout)

    def report_data(self, context, hostname, rpc_host, compute_rp_uuid,
                    report, fingerprint):
        """Apply a host's full discovery report (agent -> conductor).

        ``hostname`` is the agent's compute node provider name, ``rpc_host``
        its RPC server name, ``report`` a list of
        ``cyborg.accelerator.discovery.Device.to_dict()``. Raises
        InvalidReport (nothing written) for a malformed report.
        """
        cctxt = self._client.prepare(version='1.0')
        return cctxt.call(context, 'report_data', hostname=hostname,
                          rpc_host=rpc_host, compute_rp_uuid=compute_rp_uuid,
                          report=report, fingerprint=fingerprint)

    def heartbeat(self, context, hostname, fingerprint):
        """Tell the conductor the host is alive and what it last discovered.

        Returns True when the conductor wants a full report (it has never
        applied this fingerprint for this host), False otherwise.
        """
        cctxt = self._client.prepare(version='1.0')
        return cctxt.call(context, 'heartbeat', hostname=hostname,
                          fingerprint=fingerprint)

    def bind_arqs(self, context, arq_uuids):
        """Run the binds of ARQs the API moved to BindStarted (cast).

        The work is durable in the database: if this message is lost or its
        conductor dies, recovery finishes or fails the binds.
        """
        cctxt = self._client.prepare(version='1.0')
        cctxt.cast(context, 'bind_arqs', arq_uuids=arq_uuids)

    def arqs_deleted(self, context, released_handles):
        """Clean up on hosts after ARQs were deleted or unbound (cast).

        ``released_handles``: dicts with ``hostname``, ``attach_type``,
        ``attach_info`` (dict) and ``uuid`` of each handle the API freed;
        the conductor asks agents to remove the mdevs among them.
        """
        cctxt = self._client.prepare(version='1.0')
        cctxt.cast(context, 'arqs_deleted', released_handles=released_handles)

    def set_device_status(self, context, device_uuid, status):
        """Enable ('enabled') or disable ('maintaining') a device (call).

        Updates the row, then reserves (or unreserves) the inventory of its
        deployables' providers in Placement.
        """
        cctxt = self._client.prepare(version='1.0')
        return cctxt.call(context, 'set_device_status',
                          device_uuid=device_uuid, status=status)

    def program_deployable(self, context, deployable_uuid, image_uuid):
        """Program a bitstream on a deployable through its host's agent (call).

        Returns the deployable as a dict after programming.
        """
        cctxt = self._client.prepare(version='1.0')
        return cctxt.call(context, 'program_deployable',
                          deployable_uuid=deployable_uuid,
                          image_uuid=image_uuid)
