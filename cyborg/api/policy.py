"""Policy enforcement: the Enforcer, and the API's request context.

The Enforcer is built once per application from the ConfigOpts it is
given. New (role and scope based) defaults are enforced unless an operator
sets ``[oslo_policy] enforce_new_defaults = false``; ``policy.yaml``
overrides any rule. Rules are read once when the application is built and
never again on the request path, so a changed policy file takes effect on
restart.

Handlers check a rule as their first statement: ``context.can(RULE)``.
"""

from oslo_config import cfg
from oslo_policy import opts as policy_opts
from oslo_policy import policy

from cyborg.api import policies
from cyborg import context as cyborg_context
from cyborg import exception
from cyborg import library_patches


def build_enforcer(conf):
    """A ready Enforcer for conf, rules loaded."""
    library_patches.cache_policy_check_argspecs()
    # Defaults the operator may still override in the config file.
    policy_opts.set_defaults(conf, policy_file='policy.yaml',
                             enforce_scope=True, enforce_new_defaults=True)
    enforcer = policy.Enforcer(conf)
    enforcer.register_defaults(policies.list_policies())
    enforcer.load_rules()
    # Rules are in memory now; stop oslo.policy from stat-ing the policy
    # file and searching the config dirs for policy.d on every check.
    enforcer.use_conf = False
    return enforcer


def get_enforcer():
    """The ``oslo.policy.enforcer`` entry point for the oslopolicy tools."""
    conf = cfg.ConfigOpts()
    conf([], project='cyborg')
    return build_enforcer(conf)


class APIRequestContext(cyborg_context.RequestContext):
    """A RequestContext that can check API policy rules.

    The enforcer is an attribute of the instance, not a global, so two
    applications with different configuration can live in one process
    (as the tests do).
    """

    def __init__(self, enforcer=None, **kwargs):
        super().__init__(**kwargs)
        self._enforcer = enforcer

    def can(self, rule, project_id=None):
        """Raise exception.PolicyNotAuthorized unless the caller may perform rule.

        The target is the caller's own project: isolation between projects
        is done by the queries, not by policy. A rule about another
        project's data (``project_id``: quota usage) targets that project.
        """
        target = {'project_id': project_id or self.project_id,
                  'user_id': self.user_id}
        try:
            allowed = self._enforcer.enforce(rule, target, self)
        except policy.InvalidScope:
            allowed = False
        if not allowed:
            raise exception.PolicyNotAuthorized(action=rule)

    def has_service_token(self, service_roles):
        """Whether a valid service token with one of service_roles came."""
        return bool(set(self.service_roles) & set(service_roles))
