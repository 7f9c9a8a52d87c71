"""Scrub between tenants: clean a released attach handle before reuse.

An unbind, a delete or a failed bind that releases a handle the scrub
policy applies to (``accelerator/scrub_policy.py``) leaves it
``scrubbing`` and writes a pending release row in the same transaction
(``db/attach_handles.release``); a claim never takes such a handle. Then a
conductor, per pending release:

1. leases the release row (compare-and-swap; the loser of a race skips);
2. raises the deployable's Placement ``reserved`` by its handles out of
   service (``placement_sync.wanted_provider`` counts them), so Nova does
   not schedule onto a function that cannot be handed out;
3. asks the handle's agent to run its driver's ``scrub()`` (agent RPC
   1.2), renewing the lease while it runs;
4. ends the release and the handle's state in one transaction:
   ``scrubbed`` (the handle is free), ``failed`` (the handle stays
   ``scrub_failed`` and :func:`mark_device_failed` takes the device out
   of service) or ``skipped`` (an agent too old for scrub, or no driver
   there that scrubs: released as it is, with a WARNING);
5. syncs Placement again, so ``reserved`` drops.

Durable like binds: the lease lapses when its conductor dies and any
conductor's recovery pass runs the scrub again (drivers' scrubs are
idempotent). An agent that does not answer leaves the scrub pending for
the next pass; past ``[conductor] scrub_timeout`` from the release it has
failed. So no handle stays ``scrubbing`` longer than that timeout plus a
recovery interval and an agent call.
"""

import datetime
import logging
import uuid

from oslo_utils import timeutils

from cyborg.conductor import agent_calls
from cyborg.conductor import lease_keeper
from cyborg.db import agent_hosts
from cyborg.db import attach_handles
from cyborg.db import devices
from cyborg.db import engine as db_engine
from cyborg.db import handle_releases
from cyborg import exception

LOG = logging.getLogger(__name__)

# Pending scrubs a recovery pass runs; the rest wait for the next pass.
SCRUBS_PER_PASS = 50
# The agent RPC version that serves scrub.
SCRUB_RPC_VERSION = (1, 2)


def mark_device_failed(context, device_id, reason):
    """Take a device whose function could not be scrubbed out of service.

    The one place a failed scrub reaches the device: it counts as failed
    (API 2.6) and its whole inventory is reserved at the scrubber's next
    Placement sync, until an operator enables the device again, which
    also puts its ``scrub_failed`` handles back in service.
    """
    devices.set_scrub_failure(context, device_id, reason)
    LOG.error('Device %s failed: %s. It stays out of service until an '
              'operator enables it (POST /v2/devices/{uuid}/enable).',
              device_id, reason)


def _version_tuple(text):
    try:
        return tuple(int(part) for part in str(text).split('.'))
    except ValueError:
        return (0,)


class Scrubber:
    """Runs the scrubs of released handles; one per conductor process.

    ``agent`` is the conductor's AgentCalls, ``placement_sync`` its
    PlacementSync.
    """

    def __init__(self, conf, agent, placement_sync):
        self._conf = conf
        self.agent = agent
        self._placement_sync = placement_sync

    def scrub_released(self, context, handles):
        """Run the scrubs of the released handles marked ``scrub``."""
        outcomes = {}
        for handle in handles:
            if handle.get('scrub') and handle.get('release_uuid'):
                outcomes[handle['release_uuid']] = self.scrub(
                    context, handle['release_uuid'])
        return outcomes

    def recover(self, context, now=None):
        """Run the pending scrubs nobody works on: {release uuid: outcome}.

        A lease that lapsed (its conductor died) or none taken a lease
        period after the release (the request to scrub was lost).
        """
        now = now or timeutils.utcnow()
        orphans = handle_releases.list_needing_work(
            context, now, self._conf.bind_lease_seconds,
            limit=SCRUBS_PER_PASS)
        return {release: self.scrub(context, release) for release in orphans}

    def scrub(self, context, release_uuid):
        """Run one pending scrub if nobody else is; its outcome, or None.

        None: another conductor holds it, or its agent did not answer and
        the scrub is left for the next recovery pass. Never raises.
        """
        owner = '%s:scrub:%s' % (self._conf.host, uuid.uuid4().hex)
        try:
            release = handle_releases.take_lease(
                context, release_uuid, owner, self._conf.bind_lease_seconds)
        except Exception:
            LOG.exception('Could not take the lease of scrub %s',
                          release_uuid)
            return None
        if release is None:
            return None
        try:
            return self._run(context, release, owner)
        except Exception:
            # The lease lapses and recovery runs the scrub again.
            LOG.exception('Scrub %s failed unexpectedly', release_uuid)
            return None

    def _run(self, context, release, owner):
        deadline = release['released_at'] + datetime.timedelta(
            seconds=self._conf.conductor.scrub_timeout)
        target = attach_handles.get_scrub_target(context,
                                                 release['attach_handle_id'])
        if target is None or target['scrub_state'] is None:
            return self._finish(context, release, owner, target,
                                handle_releases.SKIPPED,
                                'the handle left scrubbing without it (a '
                                "report removed it, or an operator cleared "
                                'it)')
        self._sync_placement(context, target)
        if timeutils.utcnow() >= deadline:
            return self._finish(context, release, owner, target,
                                handle_releases.FAILED, self._too_late())
        host = agent_hosts.get_host(context, target['hostname']) or {}
        not_sent = self._why_not_sent(host)
        if not_sent:
            LOG.warning('Releasing attach handle %s unscrubbed: %s',
                        target['uuid'], not_sent)
            return self._finish(context, release, owner, target,
                                handle_releases.SKIPPED, not_sent)
        rpc_host = agent_hosts.rpc_host_of(target['hostname'],
                                           host.get('rpc_host'))
        try:
            answer = self._call_agent(context, release, owner, target,
                                      rpc_host, deadline)
        except exception.AgentUnreachable as exc:
            if timeutils.utcnow() < deadline:
                LOG.warning('Scrub of attach handle %s: %s; recovery '
                            'retries it', target['uuid'], exc)
                handle_releases.give_up_lease(context, release['uuid'], owner)
                return None
            return self._finish(context, release, owner, target,
                                handle_releases.FAILED,
                                '%s (%s)' % (self._too_late(), exc))
        except Exception as exc:
            return self._finish(context, release, owner, target,
                                handle_releases.FAILED,
                                agent_calls.describe_error(exc))
        if not answer.get('scrubbed'):
            LOG.warning('Releasing attach handle %s unscrubbed: %s',
                        target['uuid'], answer.get('reason'))
            return self._finish(context, release, owner, target,
                                handle_releases.SKIPPED, answer.get('reason'))
        return self._finish(context, release, owner, target,
                            handle_releases.SCRUBBED)

    def _too_late(self):
        return ('the scrub did not finish within [conductor] scrub_timeout '
                '(%d s) of the release' % self._conf.conductor.scrub_timeout)

    def _why_not_sent(self, host):
        """Why no scrub call goes to the host's agent; None when it can."""
        if not self.agent.can_scrub():
            return ('[upgrade_levels] agent caps this conductor below agent '
                    'RPC 1.2, which scrub needs')
        stated = host.get('agent_rpc_version')
        if stated is None or _version_tuple(stated) < SCRUB_RPC_VERSION:
            return ('the agent of host %s serves agent RPC %s, scrub needs '
                    '1.2' % (host.get('hostname', '(unknown)'),
                             stated or '1.0'))
        return None

    def _call_agent(self, context, release, owner, target, rpc_host,
                    deadline):
        controlpaths = devices.controlpaths(context, target['device_id'])
        if not controlpaths:
            raise exception.ScrubFailed(
                target=target['uuid'], reason='its device has no control '
                                              'path')
        left = (deadline - timeutils.utcnow()).total_seconds()
        timeout = max(1, min(self._conf.conductor.agent_rpc_timeout,
                             int(left)))
        seconds = self._conf.bind_lease_seconds
        with lease_keeper.LeaseKeeper(
                lambda: handle_releases.renew_lease(
                    context, release['uuid'], owner, seconds),
                seconds, 'the scrub lease of release %s' % release['uuid'],
                until=deadline):
            return self.agent.scrub(context, rpc_host, controlpaths[0],
                                    target, target['driver_name'],
                                    timeout=timeout)

    @db_engine.retry_on_contention
    def _commit(self, context, release, owner, target, outcome, reason):
        with db_engine.write_transaction(context):
            if not handle_releases.finish(context, release['uuid'], owner,
                                          outcome, reason):
                return False
            if target is not None:
                attach_handles.end_scrub(
                    context, target['id'],
                    failed=outcome == handle_releases.FAILED)
            return True

    def _finish(self, context, release, owner, target, outcome, reason=None):
        """Record the outcome with the handle's state, then tell Placement."""
        if not self._commit(context, release, owner, target, outcome,
                            reason):
            LOG.info('Scrub %s was taken over meanwhile; leaving it',
                     release['uuid'])
            return None
        if outcome == handle_releases.FAILED:
            mark_device_failed(context, target['device_id'],
                               'scrubbing attach handle %s failed: %s'
                               % (target['uuid'], reason))
        else:
            LOG.info('Attach handle %s released (%s)%s',
                     release['attach_handle_uuid'], outcome,
                     ': %s' % reason if reason else '')
        if target is not None:
            self._sync_placement(context, target)
        return outcome

    def _sync_placement(self, context, target):
        """Bring the deployable's ``reserved`` in line (best effort: the
        reconciler finishes what fails here)."""
        try:
            self._placement_sync.sync_host(context, target['hostname'],
                                           device_id=target['device_id'])
        except Exception as exc:
            LOG.warning('Could not sync Placement for the scrub of attach '
                        'handle %s: %s', target['uuid'], exc)
