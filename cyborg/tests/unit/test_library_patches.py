"""Each library patch still reaches what it patches.

A library release that renames the private name a patch relies on must
fail here, not silently undo the patch (or break the service).
"""

import inspect

from oslo_config import cfg
from oslo_db.sqlalchemy import engines
from oslo_limit import limit as oslo_limit
import oslo_messaging as messaging
from oslo_policy import _checks as policy_checks
from oslo_policy import policy
import pytest
import sqlalchemy
from sqlalchemy.pool import base as pool_base

from cyborg import library_patches
from cyborg import rpc


def test_policy_checks_look_signatures_up_through_the_cache():
    cache = library_patches.cache_policy_check_argspecs()
    assert policy_checks.inspect is cache
    conf = cfg.ConfigOpts()
    conf([], project='cyborg-test')
    enforcer = policy.Enforcer(conf)
    enforcer.register_default(policy.RuleDefault(
        'a_rule', 'role:admin or project_id:%(project_id)s'))
    enforcer.load_rules()
    cache.specs.clear()

    assert enforcer.enforce('a_rule', {'project_id': 'p'},
                            {'roles': ['admin'], 'project_id': 'q'})
    # oslo.policy asked our cache: were it to stop using
    # inspect.getfullargspec, the cache would stay empty (a dead patch).
    assert cache.specs


def test_sqlalchemy_pools_still_have_the_switches_we_turn_off():
    engine = sqlalchemy.create_engine('sqlite://', pool_pre_ping=True,
                                      poolclass=sqlalchemy.pool.QueuePool)
    pool = engine.pool
    assert pool._pre_ping is True
    assert pool._reset_on_return is not None
    # ... and the pool code still reads them.
    source = inspect.getsource(pool_base)
    assert 'pool._pre_ping' in source
    assert '_reset_on_return' in source

    library_patches.skip_pool_ping_and_reset(pool)

    assert (pool._pre_ping, pool._reset_on_return) == (False, None)


def test_rpc_calls_work_on_a_private_conf_once_options_are_registered():
    conf = cfg.ConfigOpts()
    conf([], project='cyborg-test')
    transport = messaging.get_rpc_transport(conf, url='fake:/')

    class Echo:
        target = messaging.Target(version='1.0')

        def echo(self, context, value):
            return value

    server = rpc.get_server(transport, 'patch-test', 'host', [Echo()])
    server.start()
    try:
        client = rpc.get_client(transport, 'patch-test', '1.0', timeout=5)
        # Without the options the client fails on the private conf.
        with pytest.raises(cfg.NoSuchOptError):
            client.call(_Context(), 'echo', value=1)
        library_patches.register_messaging_client_options(conf)
        assert client.call(_Context(), 'echo', value=2) == 2
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


class _Context:
    """The least a context must be for rpc.ContextSerializer."""

    def to_dict(self):
        return {}


def test_oslo_db_sqlite_engines_still_have_the_begin_listener_we_drop():
    engine = engines.create_engine('sqlite://')
    names = [getattr(listener, '__name__', '')
             for listener in engine.dispatch.begin]
    assert library_patches.OSLO_DB_SQLITE_BEGIN in names

    assert library_patches.drop_oslo_db_sqlite_begin(engine)

    assert library_patches.OSLO_DB_SQLITE_BEGIN not in [
        getattr(listener, '__name__', '')
        for listener in engine.dispatch.begin]


def test_oslo_limit_still_reads_the_module_globals_we_point():
    assert oslo_limit.CONF is cfg.CONF or isinstance(oslo_limit.CONF,
                                                     cfg.ConfigOpts)
    assert hasattr(oslo_limit, '_SDK_CONNECTION')
    saved = oslo_limit.CONF, oslo_limit._SDK_CONNECTION
    conf = cfg.ConfigOpts()
    try:
        oslo_limit._SDK_CONNECTION = object()
        library_patches.point_oslo_limit_at(conf)
        assert oslo_limit.CONF is conf
        assert oslo_limit._SDK_CONNECTION is None
        # The connection oslo.limit builds reads our conf's [oslo_limit].
        assert 'CONF' in oslo_limit._get_keystone_connection.__code__.co_names
    finally:
        oslo_limit.CONF, oslo_limit._SDK_CONNECTION = saved
