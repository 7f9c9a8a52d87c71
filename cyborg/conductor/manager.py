"""The conductor's RPC endpoint (topic ``cyborg-conductor``), thin on purpose.

Each method hands its arguments to the object that does the work and
declares the domain errors a caller should get back as themselves rather
than as a logged server-side failure:

* agents' reports and heartbeats: ``reports``, ``agent_hosts``;
* agents' health reports: ``health``;
* device enable/disable: ``placement_sync.PlacementSync``;
* binds and the host-side cleanup after unbinds and deletes:
  ``binding.Binder``, ``scrubbing.Scrubber``;
* an admin's programming of a deployable: ``bitstreams.Programmer``;
* the explain API's questions: ``explain.Explainer``.

The collaborators are built once per conductor by ``service.py`` and
passed in, the notifier too: device events are sent from here and from
``reports``, once the change is committed. The client side is
``cyborg.conductor.rpcapi``.
"""

import logging
import uuid

import oslo_messaging as messaging

from cyborg.conductor import binding
from cyborg.conductor import bitstreams
from cyborg.conductor import explain
from cyborg.conductor import health as device_health
from cyborg.conductor import reports
from cyborg.db import agent_hosts
from cyborg.db import deployables
from cyborg.db import devices
from cyborg import exception
from cyborg import notifications

LOG = logging.getLogger(__name__)


class ConductorManager:
    """RPC API 1.4: report_data, heartbeat, report_health (1.2),
    set_device_status, bind_arqs, bind_arqs_and_answer (1.3), arqs_deleted,
    program_deployable, explain_groups (1.4).

    1.0 to 1.3 callers (agents of earlier releases, or capped ones)
    are served too: the arguments 1.1 and 1.2 added are optional.
    """

    target = messaging.Target(version='1.4')

    def __init__(self, conf, placement_client, placement_sync, binder,
                 notifier=None, scrubber=None):
        self._conf = conf
        self.scrubber = scrubber
        self._placement = placement_client
        self.placement_sync = placement_sync
        self.binder = binder
        self.notifier = notifier or notifications.Notifier()
        self.explainer = explain.Explainer(placement_client)

    # Agents

    @messaging.expected_exceptions(exception.InvalidReport,
                                   exception.UnknownHost,
                                   exception.ReportConflict,
                                   exception.PlacementUnavailable)
    def report_data(self, context, hostname, rpc_host, compute_rp_uuid,
                    report, fingerprint, agent_rpc_version=None,
                    health=None):
        """Apply a host's full report; returns a summary of the changes.

        ``agent_rpc_version`` (1.1) is recorded with the host; a 1.0 call
        records none. ``health`` (1.2) is recorded on the devices; an
        older call leaves their health as it was.
        """
        return reports.apply_report(context, self.placement_sync,
                                    self._placement, hostname, rpc_host,
                                    compute_rp_uuid, report, fingerprint,
                                    agent_rpc_version=agent_rpc_version,
                                    notifier=self.notifier, health=health)

    def report_health(self, context, hostname, changes):
        """Apply the health changes an agent's probes saw (a cast, 1.2).

        Entries that cannot be applied are logged and skipped; nobody
        waits for an answer, and the host's next full report repeats
        every device's health.
        """
        device_health.apply_health(context, self.placement_sync, hostname,
                                   changes, notifier=self.notifier)

    @messaging.expected_exceptions(exception.InvalidReport)
    def heartbeat(self, context, hostname, fingerprint,
                  agent_rpc_version=None):
        """True when the conductor wants a full report from the host."""
        reports.check_agent_rpc_version(hostname, agent_rpc_version)
        return not agent_hosts.touch_host(context, hostname, fingerprint,
                                          agent_rpc_version)

    # Devices

    @messaging.expected_exceptions(exception.DeviceNotFound,
                                   exception.Invalid,
                                   exception.PlacementUnavailable,
                                   exception.PlacementConflict)
    def set_device_status(self, context, device_uuid, status):
        """Enable or disable a device; returns {uuid, status}.

        Notified once DB and Placement agree (a failed call is retried by
        its caller, and notified then).
        """
        result = self.placement_sync.set_device_status(context, device_uuid,
                                                       status)
        if self.notifier.enabled:
            try:
                self._notify_status(context, result)
            except Exception:
                LOG.exception('Could not notify the status of device %s',
                              device_uuid)
        return result

    def _notify_status(self, context, result):
        try:
            device = devices.get_device(context, result['uuid'])
        except exception.DeviceNotFound:
            return  # removed by a report meanwhile, which notified that
        # The status this call set, even if another call changed it since.
        device['status'] = result['status']
        payload = notifications.device_payload(
            device, deployables.list_of_device(context, device['id']))
        event = (notifications.DEVICE_ENABLE_END
                 if result['status'] == 'enabled'
                 else notifications.DEVICE_DISABLE_END)
        self.notifier.info(context, event, payload)

    # ARQs

    def bind_arqs(self, context, arq_uuids):
        """Run the binds the API started (a cast: nobody waits for this).

        Outcomes and their Nova events are committed per ARQ; the events of
        the batch are sent once all its binds are done.
        """
        self.binder.bind_batch(context, arq_uuids)

    def bind_arqs_and_answer(self, context, arq_uuids):
        """bind_arqs, answered once the binds needing no remote call are
        done: {uuid: 'Bound' | 'BindFailed' | None} (None: still going on,
        in the bind pool, or another worker's).
        """
        return self.binder.bind_answering(context, arq_uuids)

    def arqs_deleted(self, context, released_handles):
        """Remove the mdevs among the handles the API released and run
        the scrubs of those released for scrubbing (a cast).

        The API releases handles in the transaction that unbinds or
        deletes their ARQs; what is left is the host side. A scrub this
        cast does not run (lost, or this conductor died) is run by
        recovery.
        """
        for handle in released_handles:
            binding.remove_released_mdev(context, self.binder.agent, handle)
        if self.scrubber is not None:
            self.scrubber.scrub_released(context, released_handles)

    # Deployables

    @messaging.expected_exceptions(exception.DeployableNotFound,
                                   exception.ImageNotFound,
                                   exception.Invalid,
                                   exception.Conflict,
                                   exception.ServiceUnavailable,
                                   exception.ProgrammingFailed)
    def program_deployable(self, context, deployable_uuid, image_uuid):
        """Program an image onto a deployable now; the deployable's dict.

        The agent programs even when the deployable is recorded as holding
        the image already (an admin asking means: do it). Refused with
        DeployableInUse while ARQs hold handles of the deployable.
        """
        deployable, controlpaths, agent_host = (
            deployables.get_for_programming(context, deployable_uuid))
        programmer = self.binder.programmer
        image = programmer.glance.get_image(image_uuid)
        timeout = self._conf.conductor.agent_rpc_timeout
        owner = '%s:program:%s' % (self._conf.host, uuid.uuid4().hex)
        # Waits for a bind programming it now, for about as long as one
        # programming may take.
        with bitstreams.programming_lease(
                context, deployable, owner, bitstreams.lease_end(timeout),
                hold_seconds=timeout + 30) as deployable:
            programmer.ensure_programmed(
                context, deployable, controlpaths, agent_host, image,
                bitstreams.image_function_id(image), timeout=timeout,
                force=True, lease_owner=owner)
        return deployables.get_deployable(context, deployable_uuid)

    # The explain API

    def explain_groups(self, context, groups):
        """Why each request group can or cannot be scheduled now (1.4).

        Reads only; Placement being down is part of the answer.
        """
        return self.explainer.explain_groups(context, groups)
