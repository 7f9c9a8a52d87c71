"""A project's accelerator usage per resource class, counted in SQL.

Usage is every ARQ row of the project, whatever its state: an ARQ holds
its accelerator from its create to its delete. It is counted from the
ARQ table each time, never kept in a counter that could drift; the
``(project_id, resource_class)`` index makes it a range scan.
"""

import sqlalchemy as sa

from cyborg.db import engine
from cyborg.db import models

_ARQ = models.ExtendedAcceleratorRequest.__table__


def count_in_session(session, project_id):
    """{resource class: ARQs} of a project, in the caller's transaction.

    ARQs without a class (made by an API of the previous release) count
    against no limit and are left out.
    """
    rows = session.execute(
        sa.select(_ARQ.c.resource_class, sa.func.count())
        .where(_ARQ.c.project_id == project_id,
               _ARQ.c.resource_class.is_not(None))
        .group_by(_ARQ.c.resource_class))
    return {resource_class: count for resource_class, count in rows}


@engine.reader
def usage_by_class(context, project_id):
    """{resource class: ARQs} of a project (GET /v2/quotas/usage)."""
    return count_in_session(context.session, project_id)
