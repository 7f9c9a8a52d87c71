"""Recovery: no bind stays in BindStarted, no Nova event stays unsent.

Run by every conductor every ``[conductor] recovery_interval`` seconds.
A pass:

1. lists ARQs in BindStarted that nobody works on: their lease expired
   (their conductor died), or no conductor took them within a lease period
   of their start (the ``bind_arqs`` cast was lost);
2. runs their binds again, each under a new lease (the bind is idempotent,
   so what a dead conductor did is reused). A bind past ``bind_started_at
   + [DEFAULT] bind_timeout`` is not retried but failed, with the reason,
   its claims released and a ``failed`` event queued;
3. runs the scrubs of released attach handles nobody works on
   (``scrubbing.Scrubber.recover``): their conductor died, the request
   was lost, or their agent did not answer last time;
4. delivers every Nova event that is due;
5. drops event rows sent or abandoned long ago.

Several conductors may run passes at the same moment: each bind and each
event is taken with a compare-and-swap lease, so one of them does the work
and the others skip it.
"""

import datetime
import logging

from oslo_utils import timeutils

from cyborg.db import arqs
from cyborg.db import nova_event_outbox

LOG = logging.getLogger(__name__)

# Binds re-run per pass; the rest wait for the next pass.
BINDS_PER_PASS = 100
# Sent events are kept this long, for whoever investigates a bind.
EVENT_RETENTION = datetime.timedelta(days=7)


class Recovery:
    """One conductor's recovery worker; ``run_once`` is one pass.

    ``binder``, ``events`` and ``scrubber`` (optional) are the
    conductor's own (one of each per conductor, built by
    ``service.Conductor``).
    """

    def __init__(self, conf, binder, events, scrubber=None):
        self._conf = conf
        self.binder = binder
        self.events = events
        self.scrubber = scrubber

    def run_once(self, context):
        """One pass; returns {'binds': {uuid: outcome}, 'scrubs': {release
        uuid: outcome}, 'events_sent': n}."""
        now = timeutils.utcnow()
        orphans = arqs.list_binds_needing_recovery(
            context, now, limit=BINDS_PER_PASS,
            grace_seconds=self._conf.bind_lease_seconds)
        outcomes = {}
        if orphans:
            # Events are delivered at the end of the pass, all in one go.
            outcomes = self.binder.bind_batch(context, orphans,
                                              deliver_events=False)
            finished = {u: o for u, o in outcomes.items() if o}
            if finished:
                LOG.info('Recovery finished %d bind(s): %s', len(finished),
                         ', '.join('%s %s' % item
                                   for item in sorted(finished.items())))
        scrubs = {}
        if self.scrubber is not None:
            scrubs = self.scrubber.recover(context, now)
            if scrubs:
                LOG.info('Recovery ran %d scrub(s): %s', len(scrubs),
                         ', '.join('%s %s' % item
                                   for item in sorted(scrubs.items(),
                                                      key=str)))
        sent = self.events.deliver_due(context)
        nova_event_outbox.purge_finished_events(context,
                                                now - EVENT_RETENTION)
        return {'binds': outcomes, 'scrubs': scrubs, 'events_sent': sent}
