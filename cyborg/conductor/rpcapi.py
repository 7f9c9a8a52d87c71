"""Client side of the conductor's RPC API (topic ``cyborg-conductor``).

Callers: the API (ARQ bind, unbind/delete follow-up, device enable/disable,
deployable programming) and agents (reports and heartbeats). Any conductor
may serve any call: they are active-active on one topic.

Version history (bump the minor for an additive change, and pin each method
to the version that introduced it):

* 1.0 - report_data, heartbeat, bind_arqs, arqs_deleted,
        set_device_status, program_deployable (unbind_arqs, never
        released, was dropped: the API unbinds in its own transaction)
* 1.1 - report_data and heartbeat take ``agent_rpc_version``, the agent
        RPC API version the host serves, which the conductor records for
        ``cyborg-status upgrade check``. A client capped at 1.0
        (``[upgrade_levels] conductor``) sends the 1.0 form; 1.1
        conductors serve both.
* 1.2 - report_health (cast): an agent's health probes changed a
        device's state; report_data takes ``health``, every probed
        device's state, so a lost report_health is corrected by the next
        full report. A client capped at 1.1 sends neither (its host's
        devices keep the health last recorded); 1.2 conductors serve the
        1.0 and 1.1 forms too.
* 1.3 - bind_arqs_and_answer: bind_arqs as a call, answered once the
        binds that need no remote call are done (the API waits for it,
        bounded, so that Nova's first read already sees Bound). A client
        capped below 1.3, or answered by an older conductor, casts
        bind_arqs instead.
* 1.4 - explain_groups (call): why a device profile's or context's request
        groups can or cannot be scheduled now (API 2.8). It has no older
        form: a client capped below 1.4, or answered by an older
        conductor, raises ConductorTooOld (the API's 503).
"""

import oslo_messaging as messaging

from cyborg import exception
from cyborg import rpc

RPC_API_VERSION = '1.4'
# Every version of this API, oldest first: what [upgrade_levels] conductor
# may name.
RPC_VERSIONS = ('1.0', '1.1', '1.2', '1.3', '1.4')
# The version that brought device health.
HEALTH_VERSION = '1.2'
# The version that brought explain_groups.
EXPLAIN_VERSION = '1.4'


class ConductorAPI:
    """Calls into whichever conductor picks the message up.

    ``version_cap``: the newest version to send (see
    :func:`from_conf`); None sends the newest.
    """

    def __init__(self, transport, timeout=None, version_cap=None):
        self._version_cap = version_cap
        self._client = rpc.get_client(transport, rpc.CONDUCTOR_TOPIC,
                                      RPC_API_VERSION, timeout=timeout,
                                      version_cap=version_cap)

    @classmethod
    def from_conf(cls, conf, transport, timeout=None):
        """A client capped by ``[upgrade_levels] conductor``.

        InvalidConfig when the cap names no version of this API.
        """
        return cls(transport, timeout=timeout, version_cap=rpc.version_cap(
            conf, 'conductor', RPC_VERSIONS))

    @property
    def can_report_health(self):
        """Whether the cap lets health reach the conductor (1.2)."""
        return self._client.can_send_version(HEALTH_VERSION)

    def _agent_call(self, context, method, agent_rpc_version, health=None,
                    **kwargs):
        """Call ``method`` in its newest form the cap allows.

        1.2 adds ``health`` (when given); the 1.0 form lacks
        ``agent_rpc_version`` too: the conductor then records the host as
        speaking an older release.
        """
        if health is not None and self.can_report_health:
            cctxt = self._client.prepare(version=HEALTH_VERSION)
            kwargs['agent_rpc_version'] = agent_rpc_version
            kwargs['health'] = health
        elif self._client.can_send_version('1.1'):
            cctxt = self._client.prepare(version='1.1')
            kwargs['agent_rpc_version'] = agent_rpc_version
        else:
            cctxt = self._client.prepare(version='1.0')
        return cctxt.call(context, method, **kwargs)

    def report_data(self, context, hostname, rpc_host, compute_rp_uuid,
                    report, fingerprint, agent_rpc_version=None,
                    health=None):
        """Apply a host's full discovery report (agent -> conductor).

        ``hostname`` is the agent's compute node provider name, ``rpc_host``
        its RPC server name, ``report`` a list of
        ``cyborg.accelerator.discovery.Device.to_dict()``,
        ``agent_rpc_version`` the agent RPC API version the host serves
        (1.1; not sent in the 1.0 form), ``health`` the devices' health as
        for :meth:`report_health`, every device probed so far (1.2; not
        sent capped below 1.2). Raises InvalidReport (nothing written) for
        a malformed report.
        """
        return self._agent_call(
            context, 'report_data', agent_rpc_version, health=health,
            hostname=hostname, rpc_host=rpc_host,
            compute_rp_uuid=compute_rp_uuid, report=report,
            fingerprint=fingerprint)

    def report_health(self, context, hostname, changes):
        """Tell the conductor devices' health changed, now (1.2, a cast).

        ``changes``: dicts of ``controlpath`` (a
        ``discovery.ControlPath.to_dict()``), ``state`` (one of
        ``discovery.HEALTH_STATES``) and ``reason``. Returns False, sending
        nothing, when capped below 1.2; True once sent. A lost message is
        corrected by the host's next full report, which carries health.
        """
        if not self.can_report_health:
            return False
        cctxt = self._client.prepare(version=HEALTH_VERSION)
        cctxt.cast(context, 'report_health', hostname=hostname,
                   changes=changes)
        return True

    def heartbeat(self, context, hostname, fingerprint,
                  agent_rpc_version=None):
        """Tell the conductor the host is alive and what it last discovered.

        Returns True when the conductor wants a full report (it has never
        applied this fingerprint for this host), False otherwise.
        ``agent_rpc_version`` as for :meth:`report_data`.
        """
        return self._agent_call(context, 'heartbeat', agent_rpc_version,
                                hostname=hostname, fingerprint=fingerprint)

    def bind_arqs(self, context, arq_uuids):
        """Run the binds of ARQs the API moved to BindStarted (cast).

        The work is durable in the database: if this message is lost or its
        conductor dies, recovery finishes or fails the binds.
        """
        cctxt = self._client.prepare(version='1.0')
        cctxt.cast(context, 'bind_arqs', arq_uuids=arq_uuids)

    def bind_arqs_and_answer(self, context, arq_uuids, timeout):
        """Run the binds; answer once those needing no remote call are done.

        A call (1.3) of at most ``timeout`` seconds (MessagingTimeout
        after): ``{uuid: 'Bound' | 'BindFailed' | None}``, None for a bind
        still going on (it needs an agent or Glance) or run by another
        worker. As with bind_arqs the work is durable: a lost message or
        a dead conductor leaves it to recovery. Capped below 1.3, this
        casts bind_arqs and returns None.
        """
        if not self._client.can_send_version('1.3'):
            self.bind_arqs(context, arq_uuids)
            return None
        cctxt = self._client.prepare(version='1.3', timeout=timeout)
        return cctxt.call(context, 'bind_arqs_and_answer',
                          arq_uuids=arq_uuids)

    def arqs_deleted(self, context, released_handles):
        """Clean up on hosts after ARQs were deleted or unbound (cast).

        ``released_handles``: dicts with ``hostname``, ``attach_type``,
        ``attach_info`` (dict) and ``uuid`` of each handle the API freed;
        the conductor asks agents to remove the mdevs among them. Those
        released for scrubbing also carry ``scrub`` (True) and the
        ``release_uuid`` of the scrub the conductor then runs (a 1.0
        conductor ignores both keys; recovery runs such scrubs anyway).
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

    def explain_groups(self, context, groups):
        """Explain request groups (a call, 1.4): one dict per group.

        ``groups`` in the device-profile syntax. ConductorTooOld when the
        cap forbids 1.4 (nothing is sent) or the conductor that took the
        message is older; ServiceUnavailable when the message could not be
        sent; MessagingTimeout when no conductor answered in time.
        """
        what = 'Explaining request groups'
        if not self._client.can_send_version(EXPLAIN_VERSION):
            raise exception.ConductorTooOld(
                what=what, version=EXPLAIN_VERSION,
                why='[upgrade_levels] conductor caps this service at %s'
                    % self._version_cap)
        cctxt = self._client.prepare(version=EXPLAIN_VERSION)
        try:
            return cctxt.call(context, 'explain_groups', groups=groups)
        except messaging.MessagingTimeout:
            raise
        except (messaging.UnsupportedVersion, messaging.NoSuchMethod) as exc:
            # The dispatcher of a conductor older than 1.4 refused it: its
            # error as itself (in-process transport) or, where its module
            # is not an allowed one (RabbitMQ), as a RemoteError below.
            raise exception.ConductorTooOld(
                what=what, version=EXPLAIN_VERSION,
                why='a conductor answered: %s' % exc)
        except messaging.RemoteError as exc:
            if exc.exc_type in ('UnsupportedVersion', 'NoSuchMethod'):
                raise exception.ConductorTooOld(
                    what=what, version=EXPLAIN_VERSION,
                    why='a conductor answered: %s' % exc.value)
            raise
        except messaging.MessagingException as exc:
            raise exception.ServiceUnavailable(
                reason='the conductor could not be reached: %s' % exc)
