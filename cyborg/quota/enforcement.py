"""Whether a create fits a project's limits: usage plus request vs limit.

Pure arithmetic on dicts, so it can run inside the create transaction
after the usage count (see ``cyborg.db.arq_states.create``) and be tested
on its own.
"""

import dataclasses

from cyborg import exception
from cyborg.quota import resource_classes as rc_rules


def limit_or_unlimited(value):
    """A stored limit as callers see it: a negative one (Keystone's and
    our configuration's -1) is unlimited, None."""
    return None if value < 0 else value


@dataclasses.dataclass
class QuotaCheck:
    """What a create asks for and the limits it must fit in.

    ``classes``: the resource class of each request group, in group
    order (the class each ARQ of that group is stored with).
    ``limits``: {class: limit or None for unlimited}, as the quota driver
    gave them before the create transaction began. None for the whole
    thing: quotas are not enforced (only the classes are recorded).
    """

    classes: list
    limits: dict | None = None

    @property
    def enforced(self):
        """Whether some class of the create has a limit.

        Only then does the create take the project's quota lock and count
        usage: with no limits (the default) creates run as fast as before.
        """
        return bool(self.limits) and any(
            limit is not None for limit in self.limits.values())

    def check(self, usage, counts):
        """Raise QuotaExceeded if the counts per group do not fit."""
        if not self.enforced:
            return
        requested = rc_rules.requested_per_class(self.classes, counts)
        check_usage(self.limits, usage, requested)


def check_usage(limits, usage, requested):
    """Raise QuotaExceeded for the first class (by name) over its limit.

    ``usage`` and ``requested`` are {class: count}; a class missing from
    ``limits`` (or limited by None) is unlimited.
    """
    for resource_class in sorted(requested, key=str):
        limit = limits.get(resource_class)
        if limit is None:
            continue
        used = usage.get(resource_class, 0)
        wanted = requested[resource_class]
        if used + wanted > limit:
            raise exception.QuotaExceeded(
                resource_class=resource_class, requested=wanted,
                used=used, limit=limit)
