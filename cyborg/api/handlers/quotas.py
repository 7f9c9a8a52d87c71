"""/v2/quotas/usage (2.7): a project's accelerators held, and its limits.

Usage is counted from the ARQ table (every ARQ of the project, whatever
its state); limits come from the quota driver (``[quota] driver``). The
body lists each resource class that has a limit or some usage::

    {"usages": [{"resource_class": "FPGA", "in_use": 3, "limit": 10}]}

``limit`` is null for an unlimited class.
"""

from cyborg.api.handlers import common
from cyborg.api.policies import quotas as policies
from cyborg.api.schemas import quotas as schemas
from cyborg.api import validation
from cyborg.db import quota_usage

USAGE_VERSION = (2, 7)


def usage_rows(usage, limits):
    """The body's rows, by class name: classes with a limit or usage."""
    classes = sorted(set(usage) | set(limits))
    return [{'resource_class': resource_class,
             'in_use': usage.get(resource_class, 0),
             'limit': limits.get(resource_class)}
            for resource_class in classes]


def show_usage(req):
    """GET /v2/quotas/usage[?project_id=P] (admins: any project)."""
    # The policy target is the project asked about (read raw here; a bad
    # value that passes policy is refused just after).
    ctx = req.authorize(policies.GET_USAGE,
                        project_id=req.GET.get('project_id'))
    params = validation.query(req, schemas.USAGE_QUERY)
    project_id = params.get('project_id', ctx.project_id)
    # Limits first: a remote call (unified limits) outside any transaction.
    limits = req.services.quota_limits.all_limits(project_id)
    usage = quota_usage.usage_by_class(ctx, project_id)
    return common.json_response({'usages': usage_rows(usage, limits)})
