"""Why can (or can't) a request group get an accelerator now?

The work behind ``GET /v2/device_profiles/{id}/explain`` and
``GET /v2/device_contexts/{uuid}/explain`` (API 2.8, conductor RPC 1.4
``explain_groups``). For each request group of a profile or context:

1. our view, from the database: the deployables (one Placement provider
   each) of the group's resource class having every required trait and no
   forbidden one, each with its capacity, what ARQs hold of it (``used``:
   our records, which is what a bind claims from), what Placement reserves
   of it and why (the rule of ``placement_sync.reserved_amount`` and
   ``unusable_cause``, shared, not copied), its host, health, scrubs;
2. Placement's verdict: ``GET /allocation_candidates`` for the group as
   Nova asks it (one numbered group, ``OWNER_CYBORG`` required), and how
   many of our matching providers it offers;
3. a one-line summary naming the first reason the group cannot be
   scheduled, or "schedulable: K of N matching providers have room".

Everything here reads; nothing is written to the database or Placement.
Placement being down is part of the answer, not an error.
"""

import collections
import logging

from cyborg.conductor import placement_sync
from cyborg.db import deployables
from cyborg import exception

LOG = logging.getLogger(__name__)

# Why a matching provider has no room, besides placement_sync's causes.
FULL = 'full'
SCRUBBING = 'scrubbing'
# How each cause reads in "all N matching providers are ...".
_ALL_ARE = {
    FULL: 'full',
    placement_sync.DISABLED: 'reserved (disabled)',
    placement_sync.UNHEALTHY: 'reserved (unhealthy)',
    placement_sync.SCRUB_FAILED: 'reserved (scrub failed)',
    SCRUBBING: 'reserved (scrubbing)',
    placement_sync.MISSING: 'reserved (missing)',
}
# Placement's candidates are asked for at most this many, as Nova's
# scheduler asks ([scheduler] max_placement_results defaults to 1000), or
# for every provider we match where that is more.
CANDIDATE_LIMIT = 1000


def parse_group(group):
    """(resources {rc: amount}, required traits, forbidden traits) of a
    group in the device-profile syntax (already validated by the API)."""
    resources, required, forbidden = {}, [], []
    for key, value in group.items():
        prefix, _sep, name = key.partition(':')
        if prefix == 'resources':
            resources[name] = int(value)
        elif prefix == 'trait':
            (required if value == 'required' else forbidden).append(name)
    return resources, sorted(required), sorted(forbidden)


def _room_cause(state, free, amount):
    """Why an in-service provider cannot give ``amount`` (None: it can).

    ARQs holding it make it full; released handles out of service
    (scrubbing, or failed their scrub) make it reserved; the larger share
    names the cause.
    """
    if free >= amount:
        return None
    out_of_service = state.handles_scrubbing + state.handles_scrub_failed
    if state.used >= out_of_service:
        return FULL
    if state.handles_scrubbing >= state.handles_scrub_failed:
        return SCRUBBING
    return placement_sync.SCRUB_FAILED


def _health(state):
    # As GET /v2/devices shows it: a failed scrub makes the device failed.
    if state.device_scrub_failure is not None:
        return 'failed'
    return state.device_health


def provider_view(state, amount):
    """What the answer says of one matching provider (an ExplainState)."""
    total = state.num_accelerators
    reserved = placement_sync.reserved_amount(state)
    free = max(0, total - reserved - state.used)
    cause = placement_sync.unusable_cause(state)
    if cause is None:
        cause = _room_cause(state, free, amount)
    return {
        'provider_uuid': state.rp_uuid,
        'deployable_uuid': state.uuid,
        'deployable_name': state.name,
        'host': state.hostname,
        'capacity': total,
        'used': state.used,
        'reserved': reserved,
        'free': free,
        'disabled': state.device_status == 'maintaining',
        'health': _health(state),
        'scrub': {'scrubbing': state.handles_scrubbing,
                  'scrub_failed': state.handles_scrub_failed},
        'missing': state.missing,
        'has_room': cause is None,
        'cause': cause,
    }


def _trait_reason(resource_class, required, forbidden, counts):
    """The first reason the traits leave no provider, or None."""
    for name in required:
        if counts.required_anywhere[name] == 0:
            return 'trait %s is on no provider' % name
        if counts.required_with_class[name] == 0:
            return ('trait %s is on no provider of resource class %s'
                    % (name, resource_class))
    if counts.with_required == 0:
        return ('no provider of resource class %s has all of %s'
                % (resource_class, ', '.join(required)))
    for name in forbidden:
        if counts.forbidden_hits[name] == counts.with_required:
            return ('every provider of resource class %s has forbidden '
                    'trait %s' % (resource_class, name))
    # Each forbidden trait leaves some, but together they leave none.
    return ('every provider of resource class %s has one of the forbidden '
            'traits %s' % (resource_class, ', '.join(forbidden)))


def _no_room_reason(providers):
    """"all N matching providers are ..." or, causes mixed, the counts."""
    causes = collections.Counter(p['cause'] for p in providers)
    if len(causes) == 1:
        return 'all %d matching providers are %s' % (
            len(providers), _ALL_ARE[next(iter(causes))])
    return 'none of %d matching providers has room: %s' % (
        len(providers), ', '.join('%d %s' % (count, cause) for cause, count
                                  in causes.most_common()))


class Explainer:
    """Explains request groups; one per conductor, shared by its threads."""

    def __init__(self, placement_client):
        self._placement = placement_client

    def explain_groups(self, context, groups):
        """One explanation (a dict, see the API reference) per group."""
        return [self.explain_group(context, index, group)
                for index, group in enumerate(groups)]

    def explain_group(self, context, index, group):
        resources, required, forbidden = parse_group(group)
        answer = {'group_id': index,
                  'resources': {rc: amount for rc, amount in
                                sorted(resources.items())},
                  'required_traits': required,
                  'forbidden_traits': forbidden,
                  'schedulable': False, 'summary': None, 'providers': [],
                  'placement': {'candidates': None, 'error': None}}
        if len(resources) != 1:
            # A deployable is one provider of one resource class: a group
            # asking for none or several can never be served by one.
            answer['summary'] = (
                'the group asks for no resources' if not resources else
                'no provider has all of the resource classes %s' %
                ', '.join(sorted(resources)))
            return answer
        [(resource_class, amount)] = resources.items()
        counts = deployables.count_explain_matches(
            context, resource_class, required, forbidden)
        states = deployables.list_explain_states(
            context, resource_class, required, forbidden)
        providers = [provider_view(state, amount) for state in states]
        answer['providers'] = providers
        answer['placement'] = self._placement_verdict(
            resources, required, forbidden, providers)
        if counts.with_class == 0:
            answer['summary'] = ('no provider has resource class %s'
                                 % resource_class)
        elif not providers:
            answer['summary'] = _trait_reason(resource_class, required,
                                              forbidden, counts)
        else:
            answer['schedulable'], answer['summary'] = self._verdict(
                providers, answer['placement'])
        return answer

    @staticmethod
    def _verdict(providers, placement):
        """(schedulable, summary) once some providers match."""
        with_room = sum(1 for p in providers if p['has_room'])
        if not with_room:
            return False, _no_room_reason(providers)
        room = '%d of %d matching providers have room' % (with_room,
                                                          len(providers))
        if placement['candidates'] is None:
            # Why is in placement.error; the summary stays one line.
            return False, ('Placement could not be asked; by our records '
                           '%s' % room)
        if placement['candidates'] == 0:
            return False, ('Placement offers no candidate although %d '
                           'matching providers have room' % with_room)
        return True, 'schedulable: ' + room

    def _placement_verdict(self, resources, required, forbidden, providers):
        """{candidates: how many of our matching providers Placement offers
        the group (None when it could not be asked), error}."""
        ours = {p['provider_uuid'] for p in providers}
        try:
            known = self._placement.existing_traits(required + forbidden)
            if set(required) - known:
                # Placement refuses a query naming a trait it does not
                # know; no provider has it, so nothing would be offered.
                return {'candidates': 0, 'error': None}
            offered = self._placement.get_allocation_candidates(
                resources,
                # As Nova asks for a device profile's group.
                required_traits=[placement_sync.OWNER_TRAIT] + required,
                forbidden_traits=[t for t in forbidden if t in known],
                limit=max(CANDIDATE_LIMIT, len(ours)))
        except exception.PlacementUnavailable as exc:
            LOG.warning('Explain could not ask Placement: %s', exc)
            return {'candidates': None, 'error': str(exc)}
        except exception.CyborgException as exc:
            # Refused (e.g. a resource class Placement does not know):
            # nothing offered, and why.
            return {'candidates': 0, 'error': str(exc)}
        return {'candidates': len(offered & ours), 'error': None}
