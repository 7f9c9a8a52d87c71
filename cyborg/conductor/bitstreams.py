"""Bitstreams: FPGA programming as the conductor orchestrates it.

A device profile group asks for a bitstream with ``accel:bitstream_id`` (a
Glance image uuid) or ``accel:function_id`` (the image carrying that value
in its ``accel:function_id`` property, which must be exactly one). The
conductor looks the image up, asks the agent of the device's host to program
it (the agent downloads, verifies the checksum and is idempotent), records
what it loaded on the deployable (``bitstream_id``, ``function_id``), and
has the Placement sync move the provider's
``CUSTOM_FPGA_FUNCTION_ID_<DRIVER>_<FUNCTION_ID>`` trait so the scheduler
sees what the region now does (the reconciler rebuilds the same trait from
the record).

Used by binds (programming skipped when the deployable already holds the
image) and by the admin ``program_deployable`` call (always programs).
Reprogramming a deployable that other ARQs hold attached functions of would
pull the device from under their instances, so it is refused.

Programming happens under the deployable's programming lease
(:func:`programming_lease`, a compare-and-swap in the DB): two binds that
want different bitstreams on one free card take turns, and a bind keeps
the lease until it has claimed its attach handle, so the next one finds
the card in use and fails cleanly instead of reprogramming it from under
the first (or, wanting the same bitstream, skips programming).

Each programming the agent was asked for ends in one notification:
``deployable.program.end`` once it is recorded, ``deployable.program.error``
when the agent failed or the result could not be recorded.
"""

import contextlib
import datetime
import logging
import time

from oslo_utils import timeutils

from cyborg.accelerator.drivers import fpga
from cyborg.conductor import agent_calls
from cyborg.db import arqs
from cyborg.db import deployables
from cyborg import exception
from cyborg import notifications

LOG = logging.getLogger(__name__)

BITSTREAM_KEY = 'accel:bitstream_id'
FUNCTION_KEY = 'accel:function_id'


def wants_bitstream(group):
    """Whether a device profile group asks for a bitstream."""
    return bool(group.get(BITSTREAM_KEY) or group.get(FUNCTION_KEY))


def image_function_id(image):
    return (image.get('properties') or {}).get(FUNCTION_KEY)


# How often a request waiting for another's programming lease looks again.
LEASE_POLL_SECONDS = 0.2


@contextlib.contextmanager
def programming_lease(context, deployable, owner, until, hold_seconds=None,
                      poll=LEASE_POLL_SECONDS, sleep=time.sleep):
    """Hold the deployable's programming lease; yields the deployable.

    Waits while someone else holds it, until ``until`` (a UTC datetime);
    then DeployableBeingProgrammed. The lease lapses at ``until`` too (a
    bind's work is bounded by its deadline), or ``hold_seconds`` after it
    was taken when given. The deployable yielded is read after the lease
    was taken, so it says what the previous holder left.
    """
    started = timeutils.utcnow()
    while True:
        expires_at = (until if hold_seconds is None
                      else lease_end(hold_seconds))
        fresh = deployables.acquire_program_lease(
            context, deployable['id'], owner, expires_at)
        if fresh is not None:
            break
        now = timeutils.utcnow()
        if now >= until:
            raise exception.DeployableBeingProgrammed(
                deployable=deployable['uuid'],
                seconds=int((now - started).total_seconds()))
        sleep(poll)
    try:
        yield fresh
    finally:
        try:
            deployables.release_program_lease(context, deployable['id'],
                                                   owner)
        except Exception:
            # It lapses at ``until`` anyway.
            LOG.exception('Could not release the programming lease of '
                          'deployable %s', deployable['uuid'])


def lease_end(seconds):
    """When a lease taken now for work of ``seconds`` runs out."""
    return timeutils.utcnow() + datetime.timedelta(seconds=seconds)


class Programmer:
    """Looks bitstreams up, programs them through agents, moves traits.

    ``glance`` is a GlanceClient; ``agent`` the conductor's agent caller
    (its ``program`` method raises AgentUnreachable when the agent does not
    answer in time); ``placement_sync`` the conductor's PlacementSync;
    ``notifier`` its notifications.Notifier (none sent without one).
    """

    def __init__(self, glance, agent, placement_sync, notifier=None):
        self.glance = glance
        self._agent = agent
        self._placement_sync = placement_sync
        self._notifier = notifier or notifications.Notifier()

    def requested_image(self, group):
        """(image dict, function id or None) the group asks for.

        Raises InvalidBitstreamRequest for a group naming both keys or a
        function id matching several images, ImageNotFound when no image
        matches.
        """
        bitstream_id = group.get(BITSTREAM_KEY)
        function_id = group.get(FUNCTION_KEY)
        if bitstream_id and function_id:
            raise exception.InvalidBitstreamRequest(
                reason='the device profile group names both %s and %s; '
                       'name one' % (BITSTREAM_KEY, FUNCTION_KEY))
        if bitstream_id:
            image = self.glance.get_image(bitstream_id)
            return image, image_function_id(image)
        if function_id:
            images = self.glance.find_images_by_function_id(function_id)
            if not images:
                raise exception.ImageNotFound(
                    image='with %s=%s' % (FUNCTION_KEY, function_id))
            if len(images) > 1:
                raise exception.InvalidBitstreamRequest(
                    reason='%d images have %s=%s (%s); exactly one must'
                           % (len(images), FUNCTION_KEY, function_id,
                              ', '.join(sorted(i['id'] for i in images))))
            return images[0], function_id
        raise exception.InvalidBitstreamRequest(
            reason='the device profile group names no bitstream')

    def ensure_programmed(self, context, deployable, controlpaths,
                          agent_host, image, function_id, timeout,
                          arq_id=None, force=False, lease_owner=None,
                          arq_uuid=None):
        """Make the deployable hold ``image``; True when it was programmed.

        Call it holding the deployable's :func:`programming_lease` as
        ``lease_owner``, with the deployable that lease yielded. Skips the
        agent when the deployable already holds the image (unless
        ``force``). ``arq_id``: the ARQ binding, whose own handle does not
        count as "in use by others" (``arq_uuid``: its uuid, for the
        notification). The function trait is brought in line
        either way (it is idempotent and cheap when already right).
        """
        programmed = False
        if force or deployable['bitstream_id'] != image['id']:
            holders = arqs.count_other_holders(context, deployable['id'],
                                                   arq_id)
            if holders:
                raise exception.DeployableInUse(
                    deployable=deployable['uuid'], count=holders,
                    image=image['id'])
            if len(controlpaths) != 1:
                raise exception.InvalidBitstreamRequest(
                    reason='the device of deployable %s has %d control '
                           'paths, programming needs exactly one'
                           % (deployable['uuid'], len(controlpaths)))
            payload = notifications.program_payload(
                deployable, agent_host, image['id'], function_id, arq_uuid)
            try:
                self._program(context, deployable, controlpaths[0],
                              agent_host, image, function_id, timeout,
                              lease_owner)
            except Exception as exc:
                payload['error'] = agent_calls.describe_error(exc)
                self._notifier.error(
                    context, notifications.DEPLOYABLE_PROGRAM_ERROR, payload)
                raise
            self._notifier.info(context, notifications.DEPLOYABLE_PROGRAM_END,
                                payload)
            programmed = True
            LOG.info('Programmed bitstream %s on deployable %s (host %s)',
                     image['id'], deployable['uuid'], agent_host)
        if deployable['rp_uuid']:
            trait = (fpga.function_trait(deployable['driver_name'],
                                         function_id)
                     if function_id else None)
            self._placement_sync.set_function_trait(deployable['rp_uuid'],
                                                    trait)
        return programmed

    def _program(self, context, deployable, controlpath, agent_host, image,
                 function_id, timeout, lease_owner):
        self._agent.program(context, agent_host, controlpath, image,
                            deployable['driver_name'], timeout=timeout)
        # Recorded only after the agent succeeded: a failed attempt must
        # not make the next bind skip programming.
        if not deployables.record_bitstream(
                context, deployable['id'], image['id'], function_id,
                lease_owner=lease_owner):
            raise exception.ProgrammingFailed(
                target='deployable %s' % deployable['uuid'],
                reason='its programming lease ran out before the result '
                       'was recorded')
