"""The ``config`` quota driver: limits read from ``[quota]`` options.

For clouds without Keystone unified limits (noauth, the all-in-one
service) and for tests. ``default_limits`` gives every project's limit
per resource class (``FPGA:10,CUSTOM_QAT:4``); ``project_limits``
overrides it for one project, keyed ``<project_id>/<class>``
(``0a1b.../FPGA:20``). A class named in neither is unlimited, as is a
limit of -1.

Every driver answers the same two questions, as ``{class: limit}`` dicts
where None means unlimited: :meth:`limits_for` (the classes of one
create) and :meth:`all_limits` (every class that has a limit, for
``GET /v2/quotas/usage``).
"""

from cyborg import exception
from cyborg.quota import enforcement
from cyborg.quota import unified_limits


def _parse_limit(option, key, value):
    try:
        return int(value)
    except ValueError:
        raise exception.InvalidConfig(
            option='[quota] %s' % option,
            reason='the limit of %s must be an integer (-1: unlimited), '
                   'not %r' % (key, value))


def _parse_project_limits(raw):
    """{project_id: {class: limit}} from the ``project_limits`` dict."""
    parsed = {}
    for key, value in raw.items():
        project_id, sep, resource_class = key.rpartition('/')
        if not sep or not project_id or not resource_class:
            raise exception.InvalidConfig(
                option='[quota] project_limits',
                reason='key %r is not "<project_id>/<resource class>"'
                       % key)
        parsed.setdefault(project_id, {})[resource_class] = _parse_limit(
            'project_limits', key, value)
    return parsed


class ConfigLimits:
    """Limits from configuration: defaults, then per-project overrides."""

    def __init__(self, default_limits, project_limits):
        self.default_limits = {
            rc: _parse_limit('default_limits', rc, value)
            for rc, value in default_limits.items()}
        self.project_limits = _parse_project_limits(project_limits)

    @classmethod
    def from_conf(cls, conf):
        return cls(conf.quota.default_limits, conf.quota.project_limits)

    def all_limits(self, project_id):
        merged = dict(self.default_limits)
        merged.update(self.project_limits.get(project_id, {}))
        return {rc: enforcement.limit_or_unlimited(value)
                for rc, value in merged.items()}

    def limits_for(self, project_id, resource_classes):
        limits = self.all_limits(project_id)
        return {rc: limits.get(rc) for rc in resource_classes}


def from_conf(conf):
    """The quota driver ``[quota] driver`` names."""
    if conf.quota.driver == 'unified_limits':
        return unified_limits.UnifiedLimits(conf)
    return ConfigLimits.from_conf(conf)
