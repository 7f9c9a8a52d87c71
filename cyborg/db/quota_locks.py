"""The quota_project_locks table: the per-project lock of quota checks.

A quota-checked create counts the project's ARQs, compares with the
limits and inserts, all in one transaction. Two such transactions of one
project running side by side (two API workers, two threads) would each
count the same usage and both insert: a burst ends over the limit. So
each create first upserts its project's row here, which takes that row's
write lock until the transaction ends, on every backend:

* MySQL/MariaDB: ``INSERT ... ON DUPLICATE KEY UPDATE`` locks the row
  (exclusive) whether it inserts or updates;
* PostgreSQL: ``INSERT ... ON CONFLICT DO UPDATE`` locks the conflicting
  row, waiting for a concurrent inserter of the same key to finish;
* SQLite: the same statement; the database lock (``BEGIN IMMEDIATE``)
  already serialises writers.

:func:`lock_project` must be the first statement of the create
transaction. On MySQL (REPEATABLE READ) a transaction reads from the
snapshot of its first plain read: a SELECT before the lock would pin a
snapshot taken before the previous holder committed, and the usage count
would miss that holder's ARQs. The lock order of a create is therefore
quota lock, then device context (``device_contexts``), then ARQs
(``arq_states``); nothing else takes the quota lock, so no cycle exists.
Rows are never deleted: one small row per project that ever created ARQs.
"""

from oslo_utils import timeutils
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from cyborg.db import models

_LOCKS = models.QuotaProjectLock.__table__


def _upsert(dialect_name, project_id, now):
    # The update must write something for every backend to lock the row
    # on a conflict: the lock's time.
    values = {'project_id': project_id, 'created_at': now,
              'updated_at': now}
    if dialect_name == 'mysql':
        return mysql.insert(_LOCKS).values(values).on_duplicate_key_update(
            updated_at=now)
    if dialect_name == 'postgresql':
        statement = postgresql.insert(_LOCKS).values(values)
    else:
        statement = sqlite.insert(_LOCKS).values(values)
    return statement.on_conflict_do_update(
        index_elements=[_LOCKS.c.project_id], set_={'updated_at': now})


def lock_project(session, project_id):
    """Take the quota lock of ``project_id`` until the transaction ends.

    Call it first in the transaction (see the module docstring).
    """
    dialect_name = session.get_bind().dialect.name
    session.execute(_upsert(dialect_name, project_id, timeutils.utcnow()))
