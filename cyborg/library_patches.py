"""Every change we make to another project's library, in one place.

Each function here reaches into a library's private parts for a reason the
library gives no public way to serve; each has a test in
``cyborg/tests/unit/test_library_patches.py`` that fails when the library
changes under it, so an upgrade cannot silently undo a patch (or break on
one). Nothing else in cyborg may touch a library's private names.

* :func:`cache_policy_check_argspecs` - oslo.policy re-inspects every
  check's signature on every evaluation (speed);
* :func:`skip_pool_ping_and_reset` - SQLAlchemy's pool pings and rolls
  back on every checkout and checkin of an oslo.db engine (speed: two of
  the four round trips of a short MySQL transaction);
* :func:`register_messaging_client_options` - oslo.messaging's RPC client
  reads options it only registers on the global ConfigOpts (correctness
  with our private ConfigOpts);
* :func:`drop_oslo_db_sqlite_begin` - oslo.db begins every SQLite
  transaction deferred, which fails concurrent writers (correctness);
* :func:`point_oslo_limit_at` - oslo.limit reads its options from the
  global cfg.CONF only (correctness with our private ConfigOpts).
"""

import inspect

from oslo_limit import limit as oslo_limit
from oslo_messaging._metrics import client as messaging_metrics
from oslo_messaging._tracing import client as messaging_tracing
from oslo_policy import _checks as policy_checks
import sqlalchemy

# The name of oslo.db's SQLite "begin" listener.
OSLO_DB_SQLITE_BEGIN = '_sqlite_emit_begin'


class PolicyArgspecCache:
    """``inspect`` for oslo.policy, with getfullargspec computed once per
    function.

    oslo.policy asks for the signature of every check's ``__call__`` each
    time it evaluates the check, to know whether to pass the rule name:
    about 0.1 to 0.2 ms of a policy check made of a handful of checks, for
    a value that never changes. Keyed by the function under a bound
    method, so the cache holds one entry per check class.
    """

    def __init__(self):
        self.specs = {}

    def getfullargspec(self, func):
        key = getattr(func, '__func__', func)
        spec = self.specs.get(key)
        if spec is None:
            spec = self.specs[key] = inspect.getfullargspec(func)
        return spec

    def __getattr__(self, name):
        # Anything else oslo.policy may take from inspect.
        return getattr(inspect, name)


def cache_policy_check_argspecs():
    """Make oslo.policy's checks look signatures up once (idempotent)."""
    if not isinstance(policy_checks.inspect, PolicyArgspecCache):
        policy_checks.inspect = PolicyArgspecCache()
    return policy_checks.inspect


def skip_pool_ping_and_reset(pool):
    """Turn off the pool's own pre-ping and reset-on-return.

    SQLAlchemy has no public switch for these once the engine exists, and
    oslo.db creates it. The caller (``cyborg.db.engine.trim_round_trips``)
    puts event listeners in their place that ping only long-idle
    connections and roll back only connections that may hold a
    transaction.
    """
    pool._pre_ping = False
    pool._reset_on_return = None


def register_messaging_client_options(conf):
    """Register the options oslo.messaging's RPC client reads from conf.

    Its client reads [oslo_messaging_metrics] and [oslo_messaging_tracing]
    from the transport's ConfigOpts but registers them on the global
    cfg.CONF only; with our private ConfigOpts every call and cast would
    fail. Registering again is harmless.
    """
    conf.register_opts(messaging_metrics.oslo_messaging_metrics,
                       group='oslo_messaging_metrics')
    conf.register_opts(messaging_tracing.oslo_messaging_tracing,
                       group='oslo_messaging_tracing')


def drop_oslo_db_sqlite_begin(engine):
    """Remove oslo.db's SQLite "begin" listener from engine.

    It always emits a deferred ``BEGIN``; ``cyborg.db.engine`` listens in
    its place with one that begins writers ``IMMEDIATE``. Returns whether
    the listener was found.
    """
    found = False
    for listener in list(engine.dispatch.begin):
        if getattr(listener, '__name__', '') == OSLO_DB_SQLITE_BEGIN:
            sqlalchemy.event.remove(engine, 'begin', listener)
            found = True
    return found


def point_oslo_limit_at(conf):
    """Make oslo.limit read [oslo_limit] from conf (idempotent).

    oslo.limit reads its options, and builds its one cached Keystone
    connection, from the module global ``CONF`` (cfg.CONF), while our
    services pass their own ConfigOpts. A process runs one configuration,
    so pointing the global at it is enough; the cached connection is
    dropped when the configuration changes (tests build several).
    """
    if oslo_limit.CONF is not conf:
        oslo_limit.CONF = conf
        oslo_limit._SDK_CONNECTION = None
