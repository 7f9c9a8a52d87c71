"""Device contexts (cyborg API 2.4) as the scheduler needs them.

``parse_device_context`` is the parser of seed 002: it turns a device
context, as ``GET /v2/device_contexts/{uuid}`` returns it, into the
request groups Nova's scheduler asks Placement with, named as Nova names
those of a device profile (``device_profile_<N>`` for group N), so that the
ARQ of group N is later bound to the provider Placement chose for
requester ``device_profile_<N>``.
"""

import dataclasses
import typing

from os_acc import exception

# Nova's requester id of device profile group N (nova.accelerator.cyborg).
REQUESTER_ID_PREFIX = 'device_profile_'
TRAIT_VALUES = ('required', 'forbidden')


@dataclasses.dataclass(frozen=True)
class RequestGroup:
    """One Placement request group, the fields of Nova's RequestGroup.

    ``resources`` maps resource class to amount; the trait sets are
    sorted tuples. Every group's resources come from one provider
    (``use_same_provider``), as Nova asks for device profile groups.
    """

    requester_id: str
    resources: typing.Dict[str, int]
    required_traits: typing.Tuple[str, ...] = ()
    forbidden_traits: typing.Tuple[str, ...] = ()
    use_same_provider: bool = True

    def placement_query(self, suffix=None, in_tree=None):
        """The group as granular GET /allocation_candidates parameters.

        ``suffix`` defaults to ``_<requester id>`` (Placement 1.33 takes
        such suffixes, and its 1.34 ``mappings`` name the provider of each
        by it); forbidden traits are ``!TRAIT`` (1.22); ``in_tree`` keeps
        the group to one compute node's tree (1.31), as Nova does for the
        host it targets.
        """
        suffix = '_' + self.requester_id if suffix is None else str(suffix)
        params = {}
        if self.resources:
            params['resources' + suffix] = ','.join(
                '%s:%d' % item for item in sorted(self.resources.items()))
        traits = list(self.required_traits) + [
            '!' + trait for trait in self.forbidden_traits]
        if traits:
            params['required' + suffix] = ','.join(traits)
        if in_tree:
            params['in_tree' + suffix] = in_tree
        return params


def _groups_of(device_context):
    """The groups list of a context, its show wrapper, or a bare list."""
    if isinstance(device_context, dict):
        if 'device_context' in device_context:
            device_context = device_context['device_context']
        device_context = (device_context or {}).get('groups')
    if not isinstance(device_context, list):
        raise exception.InvalidDeviceContext(
            'a device context has a "groups" list; got %r'
            % (device_context,))
    return device_context


def parse_device_context(device_context):
    """The request groups of a device context, in group order.

    ``device_context`` is the context as the API shows it (a dict with
    ``groups``, or the ``{"device_context": {...}}`` of its show), or its
    list of groups. ``resources:<RC>: "<N>"`` keys make the resources,
    ``trait:<T>: required|forbidden`` the traits; ``accel:*`` keys are
    cyborg's, for the bind, and have no part in scheduling. A group
    without resources is kept (Nova keeps it too, as a traits-only
    group). InvalidDeviceContext for anything else.
    """
    groups = []
    for index, group in enumerate(_groups_of(device_context)):
        if not isinstance(group, dict):
            raise exception.InvalidDeviceContext(
                'group %d is not a map: %r' % (index, group))
        resources, required, forbidden = {}, set(), set()
        for key, value in group.items():
            prefix, _sep, name = str(key).partition(':')
            if prefix == 'resources':
                try:
                    amount = int(value)
                except (TypeError, ValueError):
                    amount = 0
                if amount < 1 or not name:
                    raise exception.InvalidDeviceContext(
                        'group %d: %s needs a positive amount, not %r'
                        % (index, key, value))
                resources[name] = resources.get(name, 0) + amount
            elif prefix == 'trait':
                if value not in TRAIT_VALUES or not name:
                    raise exception.InvalidDeviceContext(
                        'group %d: %s must be required or forbidden, not %r'
                        % (index, key, value))
                (required if value == 'required' else forbidden).add(name)
            elif prefix != 'accel':
                raise exception.InvalidDeviceContext(
                    'group %d: unknown key %r' % (index, key))
        groups.append(RequestGroup(
            requester_id='%s%d' % (REQUESTER_ID_PREFIX, index),
            resources=resources, required_traits=tuple(sorted(required)),
            forbidden_traits=tuple(sorted(forbidden))))
    return groups
