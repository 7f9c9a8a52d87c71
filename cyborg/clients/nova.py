"""Nova client: sends ``accelerator-request-bound`` external events.

A keystoneauth adapter configured by [nova] (service type ``compute``),
speaking compute microversion 2.82, the one that knows this event name.

What Nova's answers mean for us (one POST carries many events):

* 200: every event was accepted.
* 207: per-event codes. 422 means the instance is not on a host yet, so
  Nova has nobody waiting for the event; that counts as delivered. Other
  4xx codes are refusals that a retry will not change.
* 5xx, or no connection: Nova is unavailable; NovaUnavailable, the caller
  retries later. No answer within the timeout is NovaTimedOut (a
  NovaUnavailable): Nova may have taken the events all the same.
* Any other status refuses the whole request: NovaEventRejected.
"""

import dataclasses
import logging
import typing

from keystoneauth1 import exceptions as ks_exc

from cyborg.clients import placement
from cyborg.conf import ksa
from cyborg import exception

LOG = logging.getLogger(__name__)

GROUP = 'nova'
MICROVERSION = '2.82'
EVENT_NAME = 'accelerator-request-bound'
# Nova's code for "the instance has no host yet" in a 207 answer.
NOT_ON_A_HOST = 422


def configure_noauth(conf, endpoint, token='admin'):
    """Point [nova] at an endpoint with a fixed token (tests, all-in-one)."""
    ksa.use_fixed_token(conf, GROUP, endpoint, token)


def make_event(instance_uuid, arq_uuid, status):
    """One event as Nova's API takes it; ``status`` completed or failed."""
    return {'name': EVENT_NAME, 'server_uuid': instance_uuid,
            'tag': arq_uuid, 'status': status}


@dataclasses.dataclass
class EventResults:
    """Nova's verdict on each event sent, in the order they were sent.

    ``codes[i]`` is the HTTP code Nova gave event ``i`` (200 on a plain
    200 answer).
    """

    codes: typing.List[int]

    def delivered(self, index):
        return self.codes[index] in (200, NOT_ON_A_HOST)

    def transient(self, index):
        return self.codes[index] >= 500


class NovaClient:
    """The calls the conductor makes to Nova."""

    def __init__(self, adapter, timeout=30):
        self._adapter = adapter
        self._timeout = timeout

    @classmethod
    def from_conf(cls, conf, timeout=30):
        return cls(placement.make_adapter(conf, group=GROUP), timeout=timeout)

    def send_external_events(self, events):
        """POST the events in one request; EventResults, or raise.

        ``events`` are dicts from make_event. Events of one instance are
        sent next to each other (Nova handles them per instance). Raises
        NovaUnavailable for a 5xx or a connection failure, NovaEventRejected
        when Nova refuses the whole request.
        """
        order = sorted(range(len(events)),
                       key=lambda i: (events[i]['server_uuid'], i))
        body = {'events': [events[i] for i in order]}
        try:
            resp = self._adapter.post('/os-server-external-events',
                                      json=body, microversion=MICROVERSION,
                                      raise_exc=False,
                                      timeout=self._timeout)
        except ks_exc.ConnectTimeout as exc:
            # keystoneauth raises it for a connect or a read timeout alike;
            # after a read timeout Nova may have the events.
            raise exception.NovaTimedOut(reason=str(exc))
        except (ks_exc.ConnectionError, ks_exc.EndpointNotFound) as exc:
            raise exception.NovaUnavailable(reason=str(exc))
        if resp.status_code >= 500:
            raise exception.NovaUnavailable(
                reason='HTTP %s %s' % (resp.status_code, resp.text[:200]))
        if resp.status_code == 200:
            return EventResults([200] * len(events))
        if resp.status_code != 207:
            raise exception.NovaEventRejected(
                reason='HTTP %s %s' % (resp.status_code, resp.text[:200]))
        sorted_codes = _codes_of_207(resp, len(events))
        codes = [0] * len(events)
        for position, index in enumerate(order):
            codes[index] = sorted_codes[position]
        for index, code in enumerate(codes):
            if code == NOT_ON_A_HOST:
                LOG.info('Nova: instance %s is not on a host yet; event %s '
                         'for ARQ %s is not needed',
                         events[index]['server_uuid'],
                         events[index]['status'], events[index]['tag'])
        return EventResults(codes)


def _codes_of_207(resp, count):
    # Nova answers the events in the order it received them, each with its
    # own code; an answer we cannot read is a refusal of the whole request.
    try:
        answered = resp.json()['events']
        codes = [int(event['code']) for event in answered]
    except (ValueError, KeyError, TypeError) as exc:
        raise exception.NovaEventRejected(
            reason='unreadable 207 answer (%s): %s' % (exc, resp.text[:200]))
    if len(codes) != count:
        raise exception.NovaEventRejected(
            reason='207 answer has %d events for %d sent'
                   % (len(codes), count))
    return codes
