"""The conductor's RPC endpoint for binding: bind, the host-side follow-up of
unbind and delete, and admin programming of a deployable.

Thin on purpose: the bind algorithm is ``binding.py``, programming
``programming.py``, the Nova outbox ``nova_events.py`` and the data access
``cyborg.db.bindings``. Served next to ``ConductorManager`` on the same RPC
server (topic ``cyborg-conductor``); the client side is
``cyborg.conductor.rpcapi``.
"""

import logging
import uuid

import oslo_messaging as messaging

from cyborg.conductor import binding
from cyborg.conductor import nova_events
from cyborg.conductor import programming
from cyborg.db import bindings
from cyborg.db import deployables as deployables_db
from cyborg import exception

LOG = logging.getLogger(__name__)


class ARQManager:
    """bind_arqs, arqs_deleted, program_deployable (RPC 1.0)."""

    target = messaging.Target(version='1.0')

    def __init__(self, conf, transport, placement_client, nova_client=None,
                 glance_client=None):
        self._conf = conf
        self.events = nova_events.EventDelivery(conf, nova_client)
        self.binder = binding.Binder(conf, transport, placement_client,
                                     glance_client, events=self.events,
                                     nova_enabled=self.events.enabled)

    def bind_arqs(self, context, arq_uuids):
        """Run the binds the API started (a cast: nobody waits for this).

        Outcomes and their Nova events are committed per ARQ; the events of
        the batch are sent once all its binds are done.
        """
        self.binder.bind_batch(context, arq_uuids)

    def arqs_deleted(self, context, released_handles):
        """Remove the mdevs among the handles the API freed (a cast).

        The API frees handles in the transaction that unbinds or deletes
        their ARQs; what is left is the host side.
        """
        for handle in released_handles:
            binding.remove_released_mdev(context, self.binder.agent, handle)

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
            bindings.get_deployable_for_programming(context, deployable_uuid))
        programmer = self.binder.programmer
        image = programmer.glance.get_image(image_uuid)
        timeout = self._conf.conductor.agent_rpc_timeout
        owner = '%s:program:%s' % (self._conf.host, uuid.uuid4().hex)
        # Waits for a bind programming it now, for about as long as one
        # programming may take.
        with programming.programming_lease(
                context, deployable, owner, programming.lease_end(timeout),
                hold_seconds=timeout + 30) as deployable:
            programmer.ensure_programmed(
                context, deployable, controlpaths, agent_host, image,
                programming.image_function_id(image), timeout=timeout,
                force=True, lease_owner=owner)
        return deployables_db.get_deployable(context, deployable_uuid)
