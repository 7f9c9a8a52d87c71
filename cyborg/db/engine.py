"""The one oslo.db enginefacade transaction context of the process.

Data-access functions take a request context first and are decorated with
``@reader`` or ``@writer``; nested calls join the caller's transaction. A
caller above ``cyborg.db`` that must make several data-access calls one
transaction (the conductor's bind steps) opens it with
:func:`write_transaction`, and retries it with :func:`retry_on_contention`.

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

import contextlib
import contextvars
import functools
import time

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
import sqlalchemy

from cyborg import library_patches

context_manager = enginefacade.transaction_context()
reader = context_manager.reader

# True while a @writer function runs in this thread (or task).
_writing = contextvars.ContextVar('cyborg_db_writing', default=False)

# How long a SQLite writer waits for the write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30000

_configured = False

# Engine settings that are not [database] options. oslo.db sleeps 0 s on
# every connection check-in so that eventlet green threads get a turn; our
# services run OS threads, where that sleep only hands the GIL away and
# costs about 0.1 ms a transaction (more on a busy host).
ENGINE_DEFAULTS = {'thread_checkin': False}


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


@contextlib.contextmanager
def write_transaction(context):
    """One write transaction for every data-access call made inside it."""
    token = _writing.set(True)
    try:
        with context_manager.writer.using(context):
            yield context
    finally:
        _writing.reset(token)


def _is_contention(exc):
    """Errors that mean "another transaction got in the way; try again"."""
    if isinstance(exc, db_exc.DBConsistencyError):
        return True
    # SQLite's lock refusal reaches us untranslated by oslo.db.
    return (isinstance(exc, (db_exc.DBError, sqlalchemy.exc.OperationalError))
            and 'database is locked' in str(exc))


# Retries a whole transaction that lost to a concurrent one (deadlocks,
# Galera certification failures, SQLite's lock refusal). Only for functions
# that open their own, outermost, transaction.
retry_on_contention = oslo_db_api.wrap_db_retry(
    max_retries=8, retry_interval=0.05, max_retry_interval=1,
    inc_retry_interval=True, retry_on_deadlock=True,
    exception_checker=_is_contention, jitter=True)


def prepare_sqlite_engine(engine, immediate_always=False):
    """Give a SQLite engine WAL, a busy timeout and BEGIN IMMEDIATE writers.

    Called for every engine the transaction context creates, and by test
    fixtures for the engines they create. A no-op for other databases.
    ``immediate_always`` begins every transaction IMMEDIATE, for an
    engine whose code does not say which transactions write (the embedded
    Placement's).
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
    # commit/rollback listener clears.
    library_patches.drop_oslo_db_sqlite_begin(engine)
    sqlalchemy.event.listen(
        engine, 'begin', _begin_immediate_transaction if immediate_always
        else _begin_sqlite_transaction)


# A pooled connection idle for longer than this is pinged before use.
PING_AFTER_IDLE_SECONDS = 1.0

# Keys of a pooled connection's info dict.
_CHECKED_IN_AT = 'cyborg_checked_in_at'
_MAY_HOLD_TRANSACTION = 'cyborg_may_hold_transaction'


def trim_round_trips(engine):
    """Drop two of the four round trips a short MySQL transaction costs.

    oslo.db makes every checkout ping the server first, and SQLAlchemy
    rolls a connection back when it returns to the pool although the
    Session already committed or rolled back: with the statement itself
    and the commit that is four round trips where two do. Instead:

    * a connection is pinged only when it sat in the pool for over
      ``PING_AFTER_IDLE_SECONDS`` (one the server dropped while idle is
      replaced before use, as before; one that breaks under load fails its
      first statement, and SQLAlchemy then recycles the whole pool);
    * the rollback on return happens unless SQLAlchemy ended the
      connection's last transaction itself, with no error after.

    Called for every engine the transaction context creates; SQLite (a
    local file, no round trips) keeps the defaults.
    """
    if engine.dialect.name == 'sqlite':
        return
    pool = engine.pool
    library_patches.skip_pool_ping_and_reset(pool)

    @sqlalchemy.event.listens_for(pool, 'connect')
    def _on_connect(dbapi_connection, record):
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @sqlalchemy.event.listens_for(pool, 'checkin')
    def _on_checkin(dbapi_connection, record):
        if dbapi_connection is not None:
            record.info[_CHECKED_IN_AT] = time.monotonic()

    @sqlalchemy.event.listens_for(pool, 'checkout')
    def _on_checkout(dbapi_connection, record, proxy):
        # Until SQLAlchemy ends a transaction on it (a raw DBAPI user
        # never does), the connection is rolled back on return.
        record.info[_MAY_HOLD_TRANSACTION] = True
        idle = time.monotonic() - record.info.get(_CHECKED_IN_AT, 0)
        if idle > PING_AFTER_IDLE_SECONDS:
            try:
                alive = engine.dialect.do_ping(dbapi_connection)
            except Exception:
                alive = False
            if not alive:
                # The pool discards the connection and checks out another.
                raise sqlalchemy.exc.DisconnectionError()

    def _may_hold(value):
        def listener(connection, *args):
            # An invalidated connection is discarded, not reset; asking
            # for its DBAPI connection would try to reconnect.
            if not (connection.closed or connection.invalidated):
                connection.connection.info[_MAY_HOLD_TRANSACTION] = value
        return listener

    sqlalchemy.event.listen(engine, 'begin', _may_hold(True))
    sqlalchemy.event.listen(engine, 'commit', _may_hold(False))
    sqlalchemy.event.listen(engine, 'rollback', _may_hold(False))

    @sqlalchemy.event.listens_for(engine, 'handle_error')
    def _on_error(context):
        # A failed COMMIT or ROLLBACK may have left a transaction open.
        connection = context.connection
        if connection is not None and not (connection.closed or
                                           connection.invalidated):
            connection.connection.info[_MAY_HOLD_TRANSACTION] = True

    @sqlalchemy.event.listens_for(pool, 'reset')
    def _on_reset(dbapi_connection, record, reset_state):
        if (not reset_state.terminate_only and
                record.info.get(_MAY_HOLD_TRANSACTION, True)):
            dbapi_connection.rollback()
            record.info[_MAY_HOLD_TRANSACTION] = False


def _begin_sqlite_transaction(connection):
    if 'in_transaction' not in connection.info:
        connection.exec_driver_sql(
            'BEGIN IMMEDIATE' if _writing.get() else 'BEGIN')
        connection.info['in_transaction'] = True


def _begin_immediate_transaction(connection):
    if 'in_transaction' not in connection.info:
        connection.exec_driver_sql('BEGIN IMMEDIATE')
        connection.info['in_transaction'] = True


context_manager.append_on_engine_create(prepare_sqlite_engine)
context_manager.append_on_engine_create(trim_round_trips)


def configure(conf, concurrent_transactions=None):
    """Point the transaction context at conf's [database] options, once.

    ``concurrent_transactions``: how many threads of the process may hold
    a transaction at once. The pool then keeps that many connections
    (unless ``[database] max_pool_size`` is set): above its size it opens
    a connection per transaction and closes it after, and a new pymysql
    connection costs 10-90 ms of CPU (it builds an SSL context each time,
    even for a server without TLS), which made a burst of concurrent binds
    spend a quarter of the conductor's time connecting.
    """
    size_pool(conf, concurrent_transactions)
    configure_options(_database_options(conf))


def size_pool(conf, concurrent_transactions):
    """Make ``max_pool_size`` default to concurrent_transactions (if more).

    A value set in the configuration files is kept.
    """
    if concurrent_transactions and (
            concurrent_transactions > conf.database.max_pool_size):
        conf.set_default('max_pool_size', concurrent_transactions,
                         group='database')


def configure_options(options):
    """Configure the transaction context from enginefacade keyword options.

    The context can be configured once per process; later calls are no-ops
    (tests then swap engines in with ``context_manager.patch_engine``).
    """
    global _configured
    if _configured:
        return
    context_manager.configure(**dict(ENGINE_DEFAULTS, **options))
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
