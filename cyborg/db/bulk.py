"""Bulk statements for the modules that own tables: a few per table, always.

Applying a host's report touches hundreds of rows; these build one INSERT,
one UPDATE per set of changed columns (executemany) and one guarded DELETE
per table, whatever the number of rows. They write nothing on their own:
each table's owner module (see ``doc/source/contributor/architecture.rst``)
calls them with its table, so that one module writes each table.
"""

from oslo_utils import timeutils
import sqlalchemy as sa


class RowsChanged(Exception):
    """A guarded write matched fewer rows than read: roll back, retry."""


def insert_rows(session, table, rows):
    """Insert rows; return {uuid: id} when the table has uuids."""
    if not rows:
        return {}
    now = timeutils.utcnow()
    for row in rows:
        row.setdefault('created_at', now)
    session.execute(sa.insert(table), rows)
    if 'uuid' not in table.c:
        return {}
    # Re-read the generated ids: portable where RETURNING is not.
    uuids = [row['uuid'] for row in rows]
    return dict((r.uuid, r.id) for r in session.execute(
        sa.select(table.c.uuid, table.c.id).where(table.c.uuid.in_(uuids))))


def update_rows(session, table, changes):
    """Apply {id: {column: value}} with one executemany per column set."""
    now = timeutils.utcnow()
    by_columns = {}
    for row_id, values in changes.items():
        if values:
            params = {'v_' + key: value for key, value in values.items()}
            params.update(row_id=row_id, v_updated_at=now)
            by_columns.setdefault(tuple(sorted(values)), []).append(params)
    for columns, params in by_columns.items():
        # Bind names differ from column names: SQLAlchemy reserves those.
        stmt = (sa.update(table)
                .where(table.c.id == sa.bindparam('row_id'))
                .values({column: sa.bindparam('v_' + column)
                         for column in columns + ('updated_at',)}))
        session.execute(stmt, params)


def delete_rows(session, table, ids, *guards):
    """Delete rows by id under the given guards; all of them or none.

    The guards make the delete a compare-and-swap: a row that changed
    since the caller read it (an ARQ claimed it) is not deleted, and
    RowsChanged tells the caller to roll back and retry with fresh data.
    """
    if not ids:
        return
    stmt = sa.delete(table).where(table.c.id.in_(sorted(ids)), *guards)
    if session.execute(stmt).rowcount != len(ids):
        raise RowsChanged()
