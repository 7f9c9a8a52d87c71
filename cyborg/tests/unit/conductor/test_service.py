"""The conductor process's pieces: endpoints, periodic work, command line."""

import subprocess
import sys
import threading
import time

from cyborg.conductor import manager
from cyborg.conductor import rpcapi
from cyborg.conductor import service
from cyborg.db import engine as db_engine
from cyborg import rpc
from cyborg.tests.fixtures import config as config_fixture


def test_one_endpoint_serves_every_method_of_the_rpc_api(conf):
    # Each part is built once per conductor and shared: the endpoint's
    # Binder is the recovery worker's, its PlacementSync the reconciler's.
    conductor = service.Conductor(conf, None, None)
    try:
        endpoint = conductor.manager
        assert isinstance(endpoint, manager.ConductorManager)
        assert endpoint.target.version == rpcapi.RPC_API_VERSION == '1.4'
        called = {name for name, value in vars(rpcapi.ConductorAPI).items()
                  if callable(value) and not name.startswith('_')}
        assert called and all(callable(getattr(endpoint, name))
                              for name in called)
        assert conductor.recovery.binder is endpoint.binder
        assert endpoint.placement_sync is conductor.placement_sync
        assert endpoint.binder.programmer is conductor.programmer
    finally:
        conductor.close()


def test_periodic_tasks_run_at_start_then_every_interval():
    runs = {'fast': 0, 'once': 0, 'broken': 0}
    done = threading.Event()

    def fast():
        runs['fast'] += 1
        if runs['fast'] >= 3:
            done.set()

    def broken():
        runs['broken'] += 1
        raise RuntimeError('a failing pass must not end the thread')

    runner = service.PeriodicRunner([
        service.PeriodicTask('fast', fast, 0.05),
        service.PeriodicTask('once', lambda: runs.__setitem__(
            'once', runs['once'] + 1), None),
        service.PeriodicTask('broken', broken, 0.05),
    ])
    runner.start()
    try:
        assert done.wait(10)
    finally:
        runner.stop()
        runner.wait()
    assert runs['once'] == 1 and runs['broken'] >= 2


def test_stop_interrupts_a_long_wait():
    runner = service.PeriodicRunner([service.PeriodicTask(
        'slow', lambda: None, 3600)])
    runner.start()
    time.sleep(0.1)
    started = time.monotonic()
    runner.stop()
    runner.wait()
    assert time.monotonic() - started < 5


def _run_conductor(*args):
    return subprocess.run([sys.executable, '-m', 'cyborg.cmd.conductor',
                           *args], capture_output=True, text=True,
                          timeout=120)


def test_help_exits_zero():
    result = _run_conductor('--help')
    assert result.returncode == 0
    assert 'usage' in result.stdout.lower()


def test_start_failure_is_one_line(tmp_path):
    conf_file = tmp_path / 'cyborg.conf'
    conf_file.write_text(
        '[DEFAULT]\nstate_path = %s\ntransport_url = nosuchdriver://x/\n'
        '[database]\nconnection = sqlite:///%s/c.sqlite\n'
        % (tmp_path, tmp_path))
    result = _run_conductor('--config-file', str(conf_file))
    assert result.returncode != 0
    assert 'Traceback' not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and 'error' in lines[0], result.stderr


def test_an_unknown_agent_cap_stops_the_start_in_one_line(tmp_path):
    conf_file = tmp_path / 'cyborg.conf'
    conf_file.write_text(
        '[DEFAULT]\nstate_path = %s\ntransport_url = fake://\n'
        '[database]\nconnection = sqlite:///%s/c.sqlite\n'
        '[upgrade_levels]\nagent = 1.O\n' % (tmp_path, tmp_path))
    result = _run_conductor('--config-file', str(conf_file))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "conductor.py: error: Invalid configuration of [upgrade_levels] "
        "agent: '1.O' is not a version of the agent RPC API; this release "
        "knows 1.0, 1.1, 1.2. Set the version the oldest agent still running "
        "serves, or leave the option unset.")
    assert 'Traceback' not in result.stderr


def test_the_db_pool_keeps_a_connection_for_each_thread_that_may_use_one(
        tmp_path):
    # Above its size the pool opens and closes a connection per
    # transaction; a burst of binds on RPC threads then spent its time
    # connecting.
    conf = config_fixture.make_conf(tmp_path, thread_pool_size=4)
    rpc.executor_threads(conf)  # registers oslo.messaging's option
    conf.set_override('executor_thread_pool_size', 16)
    db_engine.size_pool(conf, service.concurrent_transactions(conf))
    assert conf.database.max_pool_size == 16 + 4 + 2


def test_a_pool_size_from_the_config_file_is_kept(tmp_path):
    conf_file = tmp_path / 'cyborg.conf'
    conf_file.write_text('[database]\nmax_pool_size = 3\n')
    conf = config_fixture.make_conf(tmp_path, config_files=[conf_file])
    db_engine.size_pool(conf, service.concurrent_transactions(conf))
    assert conf.database.max_pool_size == 3
