"""The one oslo.db enginefacade transaction context of the process.

Data-access functions take a request context first and are decorated with
``@reader`` or ``@writer``; nested calls join the caller's transaction.

SQLite needs one more thing to take concurrent writers (the all-in-one
service, several conductor threads, tests): oslo.db starts every SQLite
transaction with a deferred ``BEGIN``, and a deferred transaction that has
read and then wants to write fails at once with "database is locked" when
another connection holds the write lock, because waiting could deadlock.
Write transactions therefore start with ``BEGIN IMMEDIATE``: they take the
write lock first and wait for it (up to the busy timeout) instead of
failing. Readers keep a deferred ``BEGIN`` and, in WAL mode, never block
writers.
"""

import contextvars
import functools

from oslo_db.sqlalchemy import enginefacade
import sqlalchemy

context_manager = enginefacade.transaction_context()
reader = context_manager.reader

# True while a @writer function runs in this thread (or task).
_writing = contextvars.ContextVar('cyborg_db_writing', default=False)

# How long a SQLite writer waits for the write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30000

_configured = False


def writer(fn):
    """Decorate a data function as a write transaction (joins an outer one)."""
    transactional = context_manager.writer(fn)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        token = _writing.set(True)
        try:
            return transactional(*args, **kwargs)
        finally:
            _writing.reset(token)
    return call


def prepare_sqlite_engine(engine):
    """Give a SQLite engine WAL, a busy timeout and BEGIN IMMEDIATE writers.

    Called for every engine the transaction context creates, and by test
    fixtures for the engines they create. A no-op for other databases.
    """
    if engine.dialect.name != 'sqlite':
        return

    @sqlalchemy.event.listens_for(engine, 'connect')
    def _on_connect(dbapi_connection, connection_record):
        dbapi_connection.execute('PRAGMA busy_timeout = %d'
                                 % SQLITE_BUSY_TIMEOUT_MS)
        if engine.url.database not in (None, '', ':memory:'):
            dbapi_connection.execute('PRAGMA journal_mode = WAL')

    # Ours replaces oslo.db's listener, which always emits a deferred
    # BEGIN. It keeps oslo.db's "in_transaction" marker, which oslo.db's
    # commit/rollback listener clears. (A test asserts writers really begin
    # IMMEDIATE, should oslo.db rename its listener.)
    for listener in list(engine.dispatch.begin):
        if getattr(listener, '__name__', '') == '_sqlite_emit_begin':
            sqlalchemy.event.remove(engine, 'begin', listener)
    sqlalchemy.event.listen(engine, 'begin', _begin_sqlite_transaction)


def _begin_sqlite_transaction(connection):
    if 'in_transaction' not in connection.info:
        connection.exec_driver_sql(
            'BEGIN IMMEDIATE' if _writing.get() else 'BEGIN')
        connection.info['in_transaction'] = True


context_manager.append_on_engine_create(prepare_sqlite_engine)


def configure(conf):
    """Point the transaction context at conf's [database] options, once."""
    configure_options(_database_options(conf))


def configure_options(options):
    """Configure the transaction context from enginefacade keyword options.

    The context can be configured once per process; later calls are no-ops
    (tests then swap engines in with ``context_manager.patch_engine``).
    """
    global _configured
    if _configured:
        return
    context_manager.configure(**options)
    _configured = True


def _database_options(conf):
    opts = dict(conf.database.items())
    # Options oslo.db accepts in its config group but not as keyword
    # arguments of configure().
    for name in ('backend', 'use_tpool', 'db_inc_retry_interval',
                 'db_max_retries', 'db_max_retry_interval',
                 'db_retry_interval', 'use_db_reconnect', 'mysql_engine'):
        opts.pop(name, None)
    return opts


def get_engine():
    return context_manager.writer.get_engine()
