"""Delivery of the Nova event outbox (``nova_events`` rows).

A bind outcome and its event row are committed together (see
``binding.record_outcome``); this module gets the rows to Nova.
Rows are leased before sending, so two conductors never send one row at the
same time, and marked sent only after Nova accepted them. Nova being down
costs a retry with exponential backoff; after ``[conductor]
nova_event_max_attempts`` failed tries the row is abandoned with an ERROR.

The lease is short (``[conductor] nova_event_lease_seconds``) and renewed
by a ``lease_keeper.LeaseKeeper`` for as long as the POST is in flight,
however long that is: a slow POST of a live conductor keeps its rows, and
a dead conductor's rows are free one lease after its last renewal, for the
next delivery pass (every ``[conductor] nova_event_interval``) of any
conductor to send.

Delivery is at least once, in practice once: the only way to send a row
twice is its conductor dying (or stalling past its lease) between Nova's
answer and the commit of "sent", or Nova acting on a POST whose answer
timed out. Such a row is taken over with its lease still set, or
rescheduled after the timeout; either is counted on the row
(``unconfirmed_sends``) and its next send logged at WARNING. Nova ignores
an event it is not waiting for.
"""

import logging
import uuid

from cyborg.clients import nova as nova_client
from cyborg.conductor import lease_keeper
from cyborg import context as cyborg_context
from cyborg.db import nova_event_outbox
from cyborg import exception

LOG = logging.getLogger(__name__)

# Events per POST, and the HTTP timeout of one (connect, and each read).
# The lease does not depend on it: it is renewed while the POST runs.
BATCH_SIZE = 100
POST_TIMEOUT = 30


def client_from_conf(conf):
    """The NovaClient ``[nova]`` describes, or None when it names no Nova.

    No Nova to tell (the all-in-one service, a benchmark): events are still
    recorded, as given up in the transaction of their outcome (the
    Binder's nova_enabled), instead of being retried for minutes against
    nothing. Rows due all the same (written by a conductor that had a
    Nova) are given up when due.
    """
    if not (conf.nova.auth_type or conf.nova.endpoint_override):
        LOG.warning('[nova] names neither an auth_type nor an '
                    'endpoint_override: bind outcomes will not be sent '
                    'to Nova.')
        return None
    return nova_client.NovaClient.from_conf(conf, timeout=POST_TIMEOUT)


class EventDelivery:
    """Sends due outbox rows to Nova, one POST per claimed batch.

    ``nova`` is a NovaClient, or None for no Nova (see
    :func:`client_from_conf`).
    """

    def __init__(self, conf, nova):
        self._conf = conf
        self._nova = nova
        self._lease_seconds = conf.conductor.nova_event_lease_seconds

    @property
    def enabled(self):
        """Whether there is a Nova to send events to."""
        return self._nova is not None

    def deliver_due(self, context, arq_uuids=None):
        """Send every due event (only those of ``arq_uuids`` when given).

        Returns how many events were delivered. Stops early while Nova is
        unavailable: the rest waits for its next attempt time.
        """
        delivered = 0
        while True:
            owner = 'events:%s:%s' % (self._conf.host, uuid.uuid4().hex)
            events = nova_event_outbox.claim_due_events(
                context, owner, limit=BATCH_SIZE,
                lease_seconds=self._lease_seconds, arq_uuids=arq_uuids)
            if not events:
                return delivered
            sent, nova_down = self._deliver(context, owner, events)
            delivered += sent
            if nova_down or len(events) < BATCH_SIZE:
                return delivered

    def _deliver(self, context, owner, events):
        """Send one leased batch; (events delivered, whether Nova was down)."""
        if self._nova is None:
            for event in events:
                LOG.info('No Nova configured: not sending %s (%s) for ARQ '
                         '%s of instance %s', nova_client.EVENT_NAME,
                         event['status'], event['arq_uuid'],
                         event['instance_uuid'])
            nova_event_outbox.abandon_events(context, owner,
                                    [e['id'] for e in events])
            return 0, False
        payload = [nova_client.make_event(e['instance_uuid'], e['arq_uuid'],
                                          e['status']) for e in events]
        try:
            with self._keep_leases(owner, [e['id'] for e in events]):
                results = self._nova.send_external_events(payload)
        except exception.NovaTimedOut as exc:
            LOG.warning('Nova did not answer in time; it may have taken the '
                        '%d events all the same, which will be sent again: '
                        '%s', len(events), exc)
            self._reschedule(context, owner, events, unconfirmed=True)
            return 0, True
        except exception.NovaUnavailable as exc:
            LOG.warning('Nova is unavailable; %d events will be retried: %s',
                        len(events), exc)
            self._reschedule(context, owner, events)
            return 0, True
        except exception.NovaEventRejected as exc:
            # Refused as a whole: a configuration or auth problem more often
            # than a bad event, so it is retried like an outage, loudly.
            LOG.error('Nova refused %d events; they will be retried: %s',
                      len(events), exc)
            self._reschedule(context, owner, events)
            return 0, False
        sent = [e for i, e in enumerate(events) if results.delivered(i)]
        retry = [e for i, e in enumerate(events) if results.transient(i)]
        refused = [(e, results.codes[i]) for i, e in enumerate(events)
                   if not results.delivered(i) and not results.transient(i)]
        nova_event_outbox.mark_events_sent(context, owner,
                                           [e['id'] for e in sent])
        for event in sent:
            if event['unconfirmed_sends']:
                LOG.warning(
                    'Sent event %s (%s) for ARQ %s of instance %s after %d '
                    'send(s) whose outcome was never learned (a conductor '
                    'died or stalled mid-send, or Nova did not answer in '
                    'time): Nova may have had it twice',
                    nova_client.EVENT_NAME, event['status'],
                    event['arq_uuid'], event['instance_uuid'],
                    event['unconfirmed_sends'])
        if retry:
            self._reschedule(context, owner, retry)
        if refused:
            for event, code in refused:
                LOG.error('Nova refused event %s (%s) for ARQ %s of instance '
                          '%s with code %s; giving it up', event['status'],
                          nova_client.EVENT_NAME, event['arq_uuid'],
                          event['instance_uuid'], code)
            nova_event_outbox.abandon_events(context, owner,
                                    [e['id'] for e, _code in refused])
        return len(sent), False

    def _keep_leases(self, owner, event_ids):
        """Renew our lease on the events while their POST runs, however
        long: only a conductor that is gone (or cut off from the database)
        lets it lapse."""
        # Its own context: the sender's may be inside a transaction.
        context = cyborg_context.get_admin_context()
        seconds = self._lease_seconds

        def renew():
            held = nova_event_outbox.renew_event_leases(
                context, owner, event_ids, seconds)
            if held < len(event_ids):
                LOG.warning('Lost the lease on %d of %d Nova events while '
                            'sending them: another conductor may send them '
                            'too', len(event_ids) - held, len(event_ids))
            return held == len(event_ids)
        return lease_keeper.LeaseKeeper(
            renew, seconds, 'the lease on %d Nova events' % len(event_ids))

    def _reschedule(self, context, owner, events, unconfirmed=False):
        abandoned = nova_event_outbox.reschedule_events(
            context, owner, [e['id'] for e in events],
            self._conf.conductor.nova_event_max_attempts,
            unconfirmed=unconfirmed)
        for event in abandoned:
            LOG.error('Giving up telling Nova that ARQ %s of instance %s '
                      'is %s after %d attempts', event['arq_uuid'],
                      event['instance_uuid'], event['status'],
                      event['attempts'])
