"""Which resource class an ARQ counts against.

One rule, used by the create path and by migration 0011's backfill: an
ARQ counts against the class of its request group, the class of the
group's first ``resources:<RC>`` key (every class a profile may name is
an accelerator class). A group asks for one class in practice; one with
several (``resources:FPGA`` and ``resources:CUSTOM_X``) counts all its
ARQs against the first, so each ARQ counts once. A group without a
``resources:`` key yields no ARQs and has no class (None).
"""

RESOURCES_PREFIX = 'resources:'


def class_of_group(group):
    """The resource class ARQs of one request group count against."""
    for key in group:
        if key.startswith(RESOURCES_PREFIX):
            return key[len(RESOURCES_PREFIX):].strip()
    return None


def classes_of_groups(groups):
    """The class of each group, in group order."""
    return [class_of_group(group) for group in groups]


def requested_per_class(classes, counts):
    """{class: ARQs asked for} of one create, from per-group lists."""
    requested = {}
    for resource_class, count in zip(classes, counts, strict=True):
        if count:
            requested[resource_class] = (requested.get(resource_class, 0)
                                         + count)
    return requested
