"""Policy rules of /v2/quotas (microversion 2.7).

A project's readers see its usage and limits; admins see any project's
(``?project_id=``). Unlike the other resources, the target of the check
is the project asked about, so another project's usage is a policy 403.
"""

from cyborg.api.policies import base

GET_USAGE = 'cyborg:quota:get_usage'

rules = [
    base.api_rule(GET_USAGE, base.PROJECT_READER_OR_ADMIN,
                  'Show a project\'s accelerator usage and limits per '
                  'resource class.', 'GET', '/v2/quotas/usage'),
]


def list_rules():
    return rules
