"""SQLite takes concurrent read-then-write transactions without failing.

Without BEGIN IMMEDIATE for writers, a transaction that read and then
writes gets "database is locked" at once when another writer holds the
lock; the API answered some concurrent binds with 500 because of it.
"""

from concurrent import futures
import threading

import sqlalchemy as sa

from cyborg import context as cyborg_context
from cyborg.db import engine
from cyborg.db import models

_DP = models.DeviceProfile.__table__


@engine.writer
def _increment(context, name):
    # Read, compute, then write: the pattern that deadlocks a deferred
    # SQLite transaction against another writer.
    value = context.session.execute(
        sa.select(_DP.c.description).where(_DP.c.name == name)).scalar()
    context.session.execute(_DP.update().where(_DP.c.name == name).values(
        description=str(int(value) + 1)))


@engine.reader
def _read(context, name):
    return context.session.execute(
        sa.select(_DP.c.description).where(_DP.c.name == name)).scalar()


def test_concurrent_read_modify_write_transactions_all_commit(db):
    with db.begin() as connection:
        connection.execute(_DP.insert().values(
            uuid='u', name='counter', profile_json='{}', description='0'))
    threads, rounds = 8, 25
    start = threading.Barrier(threads)

    def work(_):
        start.wait()
        for _ in range(rounds):
            _increment(cyborg_context.get_admin_context(), 'counter')

    with futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))   # re-raises any failure

    assert _read(cyborg_context.get_admin_context(), 'counter') == str(
        threads * rounds)


def test_writers_begin_immediate_and_readers_deferred(db):
    statements = []
    sa.event.listen(db, 'before_cursor_execute',
                    lambda conn, cur, stmt, *a: statements.append(stmt))
    with db.begin() as connection:
        connection.execute(_DP.insert().values(
            uuid='u', name='counter', profile_json='{}', description='0'))
    statements.clear()
    _read(cyborg_context.get_admin_context(), 'counter')
    assert statements[0] == 'BEGIN'
    statements.clear()
    _increment(cyborg_context.get_admin_context(), 'counter')
    assert statements[0] == 'BEGIN IMMEDIATE'
