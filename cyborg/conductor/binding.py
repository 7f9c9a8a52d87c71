"""The bind algorithm: from an ARQ in BindStarted to Bound or BindFailed.

The API moves ARQs to BindStarted and casts ``bind_arqs``; recovery finds
binds nobody is working on. Either way a conductor runs, per ARQ:

1. take the bind lease (compare-and-swap; the loser of a race skips);
2. read the ARQ, its profile group and the deployable behind
   ``device_rp_uuid``;
3. when the group names a bitstream: look it up in Glance, take the
   deployable's programming lease, have the host's agent program it unless
   the deployable already holds it, record it and move the function trait
   in Placement (``bitstreams.py``);
4. claim a free attach handle (compare-and-swap in the DB; still under the
   programming lease when there was one);
5. for an MDEV handle, have the agent create the mdev (its uuid is the
   handle's);
6. for an ARQ of a device context with config data (API 2.4), have the
   agent hand it to the deployable's driver (its prepare step; a conductor
   whose ``[upgrade_levels] agent`` cap is older than that call fails
   such a bind before step 3);
7. commit the outcome together with its Nova event (:func:`record_outcome`).

Steps 1, 2, 4 and 7 of a bind that needs no remote call (no bitstream, a
handle that is not an mdev, no config data: most binds) are one
transaction (:func:`start_bind`): the lease then only guards the slower
binds, and a conductor that dies in the middle leaves nothing behind but
BindStarted.

The decisions are made here, the writes by the tables' owners in
``cyborg.db`` (``arq_states``, ``attach_handles``, ``nova_event_outbox``),
joined in one transaction where a step must be atomic.

Every step is idempotent, so a bind re-run after a conductor died picks up
what the dead one left (the handle it claimed, the bitstream it recorded).
No DB transaction stays open across a remote call; the lease is renewed in
the background while one runs, and remote calls are bounded so that the
bind ends within ``[DEFAULT] bind_timeout`` of its start. A failure frees
what the bind claimed (mdev removed first, then the handle freed with the
outcome) and is told to Nova as a ``failed`` event.
"""

from concurrent import futures
import dataclasses
import datetime
import functools
import logging
import uuid

from oslo_utils import timeutils

from cyborg.accelerator import scrub_policy
from cyborg.conductor import agent_calls
from cyborg.conductor import bitstreams
from cyborg.conductor import lease_keeper
from cyborg.db import agent_hosts
from cyborg.db import arq_states
from cyborg.db import arqs
from cyborg.db import attach_handles
from cyborg.db import devices
from cyborg.db import engine as db_engine
from cyborg.db import nova_event_outbox
from cyborg import exception
from cyborg import notifications

LOG = logging.getLogger(__name__)


def remove_released_mdev(context, agent, handle,
                         timeout=agent_calls.CLEANUP_TIMEOUT):
    """Remove the mdev of a handle an unbind or delete freed (best effort).

    Skipped when the handle was claimed again meanwhile: its new holder
    uses the very same mdev (same uuid, same type). A failure is logged;
    the mdev then lingers until the handle's next bind reuses it.
    """
    if handle['attach_type'] != 'MDEV':
        return False
    if attach_handles.is_in_use(context, handle['uuid']):
        return False
    host = agent_hosts.get_rpc_host(context, handle['hostname'])
    try:
        agent.remove_mdev(context, host, handle, timeout=timeout)
    except Exception as exc:
        LOG.warning('Could not remove mdev %s on host %s: %s',
                    handle['uuid'], host, agent_calls.describe_error(exc))
        return False
    return True


@dataclasses.dataclass
class BindStart:
    """What :func:`start_bind` did: lease taken, inputs read, and maybe more.

    ``outcome`` is BOUND when the bind was finished in the same
    transaction, else None: the caller holds the lease and goes on step by
    step. ``handle`` is the attach handle claimed, if one was.
    """

    inputs: arqs.BindInputs
    outcome: str = None
    handle: dict = None

    @property
    def arq(self):
        return self.inputs.arq


@db_engine.retry_on_contention
def start_bind(context, arq_uuid, owner, seconds, finishes_at_once,
               nova_enabled=True, now=None):
    """Take the bind lease and read the inputs; bind at once if it can be.

    ``finishes_at_once(inputs, now)`` says whether the bind needs no remote
    call (no bitstream to program, not past its deadline). Then a free
    attach handle is claimed and, unless it is an mdev (the agent must
    create it), the ARQ is Bound and its Nova event queued: lease, claim,
    outcome and event commit together, one transaction instead of four.
    In any other case the lease (and the claim, for an mdev) is committed
    and the caller takes the remaining steps.

    None when the lease was not taken (another worker holds the bind).
    """
    now = now or timeutils.utcnow()
    with db_engine.write_transaction(context):
        if not arq_states.take_bind_lease(context, arq_uuid, owner, seconds,
                                          now):
            return None
        inputs = arqs.read_bind_inputs(context, arq_uuid,
                                       with_controlpaths=False)
        start = BindStart(inputs)
        arq = inputs.arq
        if arq['attach_handle_id'] is None and finishes_at_once(inputs, now):
            start.handle = attach_handles.take_free(
                context, inputs.deployable['id'], now,
                hostname=inputs.hostname)
        link = None
        if start.handle is not None:
            link = (start.handle['id'], inputs.deployable['id'])
            if start.handle['attach_type'] != 'MDEV':
                # Claimed, and nothing remote to do: the claim and the
                # outcome in one UPDATE, its event with it.
                if arq_states.finish_bind(context, arq, arq_states.BOUND,
                                          lease_owner=owner, now=now,
                                          link=link):
                    nova_event_outbox.queue_event(
                        context, arq, arq_states.BOUND, nova_enabled, now)
                    start.outcome = arq_states.BOUND
                    return start
            arq_states.link_handle(context, arq['id'], *link)
        # The rest takes remote calls (or a retry): commit the lease, and
        # the claim when there is one.
        if inputs.deployable is not None:
            inputs.controlpaths = devices.controlpaths(
                context, inputs.deployable['device_id'])
        return start


@db_engine.retry_on_contention
def record_outcome(context, arq, outcome, lease_owner=None, error=None,
                   nova_enabled=True, scrub_policy=None):
    """End a bind as Bound or BindFailed and queue Nova's event, atomically.

    Returns ``arq_states.finish_bind``'s result, or None when the bind is
    no longer this worker's (nothing written then). ``scrub_policy``
    decides whether the handle a failed bind let go is scrubbed.
    """
    now = timeutils.utcnow()
    with db_engine.write_transaction(context):
        result = arq_states.finish_bind(context, arq, outcome,
                                        lease_owner=lease_owner, error=error,
                                        now=now, scrub_policy=scrub_policy)
        if result is not None:
            nova_event_outbox.queue_event(context, result['arq'], outcome,
                                          nova_enabled, now)
        return result


@dataclasses.dataclass
class _Attempt:
    """One worker's run of one bind, under its lease."""

    arq: dict
    owner: str
    deadline: datetime.datetime
    # What the bind read when it took the lease (names for notifications).
    inputs: arqs.BindInputs = None
    # The MDEV handle whose mdev this run asked an agent to create.
    mdev_handle: dict = None
    mdev_host: str = None


class Binder:
    """Runs binds on a thread pool; one per conductor process.

    ``agent`` is the conductor's AgentCalls, ``programmer`` its
    bitstreams.Programmer, ``events`` its nova_events.EventDelivery,
    ``notifier`` its notifications.Notifier (none sent without one),
    ``scrubber`` its scrubbing.Scrubber (the handle of a failed bind is
    then scrubbed as ``[agent] scrub_on_release`` says; without one it
    is freed at once).
    """

    def __init__(self, conf, agent, programmer, events, notifier=None,
                 scrubber=None):
        self._conf = conf
        self.agent = agent
        self.programmer = programmer
        self.scrubber = scrubber
        self._scrub_policy = (scrub_policy.ScrubPolicy.from_conf(conf)
                              if scrubber is not None else None)
        self._events = events
        self._notifier = notifier or notifications.Notifier()
        # False without a Nova to tell: outcomes' events are recorded as
        # given up (see nova_event_outbox.queue_event), none delivered.
        self._nova_enabled = events.enabled
        self._pool = futures.ThreadPoolExecutor(
            max_workers=conf.thread_pool_size, thread_name_prefix='bind')

    def close(self):
        self._pool.shutdown(wait=True)

    def bind_batch(self, context, arq_uuids, deliver_events=True):
        """Run the binds concurrently; {uuid: 'Bound'|'BindFailed'|None}.

        None: this worker did not finish that bind (another one holds it,
        or it was unbound or deleted meanwhile). Once all outcomes are
        committed, the batch's Nova events are delivered.
        """
        arq_uuids = list(dict.fromkeys(arq_uuids))
        if len(arq_uuids) == 1:
            # Nothing to overlap: skip the hand-off to a pool thread.
            outcomes = {arq_uuids[0]: self.bind_one(context, arq_uuids[0])}
        else:
            running = {arq_uuid: self._pool.submit(self.bind_one, context,
                                                   arq_uuid)
                       for arq_uuid in arq_uuids}
            outcomes = {arq_uuid: future.result()
                        for arq_uuid, future in running.items()}
        finished = [u for u, outcome in outcomes.items() if outcome]
        if deliver_events and finished and self._nova_enabled:
            self._deliver(context, finished)
        return outcomes

    def bind_answering(self, context, arq_uuids):
        """Finish now the binds that need no remote call; {uuid: outcome}.

        The others go on in the pool (their outcome here is None, as for a
        bind another worker holds), each delivering its own Nova event;
        the events of the binds finished now are delivered from the pool
        too, so that the caller gets its answer first.
        """
        arq_uuids = list(dict.fromkeys(arq_uuids))
        remote = []
        outcomes = {arq_uuid: self.bind_one(
            context, arq_uuid, remote_steps=lambda *later: remote.append(later))
            for arq_uuid in arq_uuids}
        for arq_uuid, steps in remote:
            self._pool.submit(self._run_and_deliver, context, arq_uuid, steps)
        finished = [u for u, outcome in outcomes.items() if outcome]
        if finished and self._nova_enabled:
            self._pool.submit(self._deliver, context, finished)
        return outcomes

    def _run_and_deliver(self, context, arq_uuid, steps):
        if steps() and self._nova_enabled:
            self._deliver(context, [arq_uuid])

    def _deliver(self, context, finished):
        try:
            self._events.deliver_due(context, arq_uuids=finished)
        except Exception:
            # The events are safe in the outbox; recovery sends them.
            LOG.exception('Delivering the events of %d binds failed',
                          len(finished))

    def bind_one(self, context, arq_uuid, remote_steps=None):
        """Bind one ARQ if nobody else is; its outcome, or None. Never raises.

        A bind that needs no remote call is done in one transaction
        (:func:`start_bind`); the others go on step by step under the lease
        that transaction took, or, given ``remote_steps``, are handed to it
        (``remote_steps(arq_uuid, steps)``, ``steps()`` returning the
        outcome) and None is returned.
        """
        owner = '%s:%s' % (self._conf.host, uuid.uuid4().hex)
        try:
            start = start_bind(
                context, arq_uuid, owner, self._conf.bind_lease_seconds,
                self._finishes_at_once, nova_enabled=self._nova_enabled)
        except Exception:
            LOG.exception('Could not take the bind lease of ARQ %s', arq_uuid)
            return None
        if start is None:
            return None
        if start.outcome == arq_states.BOUND:
            self._log_bound(start.arq, start.handle)
            self._notify_outcome(context, start.inputs, arq_states.BOUND,
                                 start.handle)
            return arq_states.BOUND
        steps = functools.partial(self._bind_remotely, context, arq_uuid,
                                  start, owner)
        if remote_steps is not None:
            remote_steps(arq_uuid, steps)
            return None
        return steps()

    def _bind_remotely(self, context, arq_uuid, start, owner):
        """The steps of a bind after start_bind; its outcome, or None."""
        arq = start.arq
        attempt = _Attempt(arq, owner, self._deadline(arq), start.inputs)
        try:
            if timeutils.utcnow() >= attempt.deadline:
                raise exception.BindTimedOut(seconds=self._conf.bind_timeout)
            handle = self._bind(context, attempt, start.inputs, start.handle)
        except exception.BindNotOwned:
            self._after_losing_bind(context, attempt)
            return None
        except Exception as exc:
            if not isinstance(exc, exception.CyborgException):
                LOG.exception('Unexpected error binding ARQ %s', arq_uuid)
            return self._fail(context, attempt, agent_calls.describe_error(exc))
        try:
            result = record_outcome(context, arq, arq_states.BOUND,
                                    lease_owner=owner,
                                    nova_enabled=self._nova_enabled)
        except Exception:
            # The lease lapses and recovery finishes the bind.
            LOG.exception('Could not record the outcome of ARQ %s', arq_uuid)
            return None
        if result is None:
            self._after_losing_bind(context, attempt)
            return None
        self._log_bound(arq, handle)
        self._notify_outcome(context, start.inputs, arq_states.BOUND, handle)
        return arq_states.BOUND

    def _notify_outcome(self, context, inputs, outcome, handle=None,
                        error=None):
        """accelerator_request.bind.end or .error, once it is committed."""
        if not self._notifier.enabled:
            return  # every bind passes here: build no payload for nobody
        arq = dict(inputs.arq, device_profile_name=inputs.device_profile_name)
        deployable = inputs.deployable or {}
        payload = notifications.arq_payload(
            arq, state=outcome, previous_state=inputs.arq['state'],
            error=error, attach_handle=handle,
            deployable_uuid=deployable.get('uuid'),
            device_uuid=inputs.device_uuid)
        if outcome == arq_states.BOUND:
            self._notifier.info(context, notifications.ARQ_BIND_END, payload)
        else:
            self._notifier.error(context, notifications.ARQ_BIND_ERROR,
                                 payload)

    def _deadline(self, arq):
        started = arq['bind_started_at'] or timeutils.utcnow()
        return started + datetime.timedelta(seconds=self._conf.bind_timeout)

    def _finishes_at_once(self, inputs, now):
        """Whether a bind needs no remote call before its handle is taken.

        The handle's type is the last word (an mdev needs the agent); that
        is ``start_bind``'s to check once it holds one.
        """
        return (inputs.group is not None and inputs.deployable is not None
                and inputs.deployable['missing_since'] is None
                and not bitstreams.wants_bitstream(inputs.group)
                and not inputs.config_data
                and now < self._deadline(inputs.arq))

    def _log_bound(self, arq, handle):
        LOG.info('Bound ARQ %s (instance %s) to %s handle %s%s', arq['uuid'],
                 arq['instance_uuid'], handle['attach_type'], handle['uuid'],
                 '' if self._nova_enabled or not arq['instance_uuid'] else
                 '. No Nova configured: not sending its event')

    def _bind(self, context, attempt, inputs, handle=None):
        """Steps 2 to 6 of the module docstring; the handle claimed.

        ``inputs`` were read when the lease was taken; ``handle`` is the
        one claimed then, if any.
        """
        arq = attempt.arq
        if inputs.group is None:
            raise exception.Invalid(
                reason='the device profile has no request group %s'
                       % arq['device_profile_group_id'])
        deployable = inputs.deployable
        if deployable is None:
            raise exception.NoDeployableForProvider(
                rp_uuid=arq['device_rp_uuid'])
        if deployable['missing_since'] is not None:
            # Its provider is kept (reserved) only for the ARQs holding it.
            raise exception.DeployableMissing(name=deployable['name'])
        if inputs.config_data:
            # Before anything is programmed or claimed: an agent RPC cap
            # below prepare's version (a rolling upgrade) fails the bind
            # now, saying why, instead of after the work.
            self.agent.check_can_prepare()
        if bitstreams.wants_bitstream(inputs.group):
            with self._keep_lease(context, attempt, until=attempt.deadline):
                image, function_id = self.programmer.requested_image(
                    inputs.group)
                # Held until the handle is claimed: see bitstreams.py.
                with bitstreams.programming_lease(
                        context, deployable, attempt.owner,
                        attempt.deadline) as deployable:
                    self.programmer.ensure_programmed(
                        context, deployable, inputs.controlpaths,
                        inputs.agent_host, image, function_id,
                        timeout=self._remote_timeout(attempt),
                        arq_id=arq['id'], lease_owner=attempt.owner,
                        arq_uuid=arq['uuid'])
                    if handle is None:
                        handle = self._claim(context, attempt, deployable,
                                             image['id'])
        if handle is None:
            handle = self._claim(context, attempt, deployable, None)
        if handle['attach_type'] == 'MDEV':
            attempt.mdev_handle, attempt.mdev_host = handle, inputs.agent_host
            with self._keep_lease(context, attempt, until=attempt.deadline):
                self.agent.create_mdev(context, inputs.agent_host, handle,
                                       timeout=self._remote_timeout(attempt))
        if inputs.config_data:
            self._prepare(context, attempt, inputs, handle)
        return handle

    def _prepare(self, context, attempt, inputs, handle):
        """Have the driver apply the device context's config data.

        Last, once everything else the ARQ holds is in place, so that the
        driver configures the very function the instance gets. A failure
        fails the bind (the handle is freed with the outcome).
        """
        if len(inputs.controlpaths) != 1:
            raise exception.ConfigDataRefused(
                driver=inputs.deployable['driver_name'],
                reason='the device of deployable %s has %d control paths, '
                       'config data needs exactly one'
                       % (inputs.deployable['uuid'],
                          len(inputs.controlpaths)))
        with self._keep_lease(context, attempt, until=attempt.deadline):
            self.agent.prepare(context, inputs.agent_host,
                               inputs.controlpaths[0], handle,
                               inputs.deployable['driver_name'],
                               inputs.config_data,
                               timeout=self._remote_timeout(attempt))

    @staticmethod
    def _claim(context, attempt, deployable, bitstream_id):
        arq = attempt.arq
        try:
            return attach_handles.claim_attach_handle(
                context, arq['id'], deployable['id'],
                bind_seq=arq['bind_seq'], lease_owner=attempt.owner,
                bitstream_id=bitstream_id)
        except exception.NoFreeAttachHandle:
            raise exception.NoFreeAttachHandle(deployable=deployable['uuid'])

    def _fail(self, context, attempt, reason):
        arq = attempt.arq
        # Undo the host side while the ARQ still holds its handle: once the
        # handle is free, another bind may claim it and need its mdev.
        self._remove_held_mdev(context, attempt)
        try:
            result = record_outcome(context, arq, arq_states.BIND_FAILED,
                                    lease_owner=attempt.owner, error=reason,
                                    nova_enabled=self._nova_enabled,
                                    scrub_policy=self._scrub_policy)
        except Exception:
            LOG.exception('Could not record the failure of ARQ %s',
                          arq['uuid'])
            return None
        if result is None:
            self._after_losing_bind(context, attempt)
            return None
        if result['released'] is not None and self.scrubber is not None:
            # The function may have been programmed or configured for this
            # tenant before the failure.
            self.scrubber.scrub_released(context, [result['released']])
        LOG.warning('Binding ARQ %s (instance %s) failed: %s', arq['uuid'],
                    arq['instance_uuid'], reason)
        self._notify_outcome(context, attempt.inputs, arq_states.BIND_FAILED,
                             error=reason)
        return arq_states.BIND_FAILED

    def _remove_held_mdev(self, context, attempt):
        try:
            # A re-run (recovery) may find a handle a dead worker claimed.
            handle = attempt.mdev_handle or attach_handles.get_held(
                context, attempt.arq['uuid'])
            if handle is None or handle['attach_type'] != 'MDEV':
                return
            host = attempt.mdev_host or agent_hosts.get_rpc_host(
                context, handle['hostname'])
            with self._keep_lease(context, attempt):
                self.agent.remove_mdev(context, host, handle,
                                       timeout=agent_calls.CLEANUP_TIMEOUT)
        except Exception as exc:
            LOG.warning('Could not remove the mdev of failed bind %s: %s',
                        attempt.arq['uuid'], agent_calls.describe_error(exc))

    def _after_losing_bind(self, context, attempt):
        """The bind stopped being ours: leave everything to its new owner.

        Only an mdev this run created for a handle that nobody holds any
        more (the ARQ was unbound or deleted meanwhile) is removed.
        """
        LOG.info('The bind of ARQ %s was taken over, unbound or deleted; '
                 'leaving it', attempt.arq['uuid'])
        if attempt.mdev_handle is not None:
            handle = dict(attempt.mdev_handle)
            remove_released_mdev(context, self.agent, handle)

    def _keep_lease(self, context, attempt, until=None):
        """Renew the bind lease while a remote call runs, up to ``until``
        (the bind's deadline): a conductor stuck past it lets the lease
        lapse, and recovery fails the bind on time."""
        arq = attempt.arq
        seconds = self._conf.bind_lease_seconds
        return lease_keeper.LeaseKeeper(
            lambda: arq_states.renew_bind_lease(
                context, arq['uuid'], attempt.owner, seconds,
                bind_seq=arq['bind_seq']),
            seconds, 'the bind lease of ARQ %s' % arq['uuid'], until=until)

    def _remote_timeout(self, attempt):
        """Agent call timeout: the configured one, cut to the deadline."""
        left = (attempt.deadline - timeutils.utcnow()).total_seconds()
        return max(1, min(self._conf.conductor.agent_rpc_timeout, int(left)))
