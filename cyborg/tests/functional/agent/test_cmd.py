"""The cyborg-agent command, run as a process: help, failed starts in one
line, and a start and clean stop against the test Placement."""

import os
import signal
import subprocess
import sys
import uuid

from cyborg.accelerator.drivers import base
from cyborg.clients import placement as placement_client
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg.tests.fixtures import agent as agent_fixture

AGENT = os.path.join(os.path.dirname(sys.executable), 'cyborg-agent')


def _write_config(tmp_path, sections):
    """A config file of {section: {option: value}}; returns its path."""
    lines = []
    for section, options in sections.items():
        lines.append('[%s]' % section)
        lines += ['%s = %s' % item for item in options.items()]
    path = tmp_path / 'cyborg.conf'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def _base_config(tmp_path, placement_endpoint='http://127.0.0.1:9'):
    return {
        'DEFAULT': {'host': 'agent-under-test', 'state_path': str(tmp_path),
                    'transport_url': 'fake://'},
        'agent': {'resource_provider_startup_retries': 0},
        'placement': {'auth_type': 'admin_token',
                      'endpoint': placement_endpoint, 'token': 'admin'},
    }


def _run(config_path, timeout=60):
    return subprocess.run([AGENT, '--config-file', config_path],
                          capture_output=True, text=True, timeout=timeout)


def _error_lines(stderr):
    return [line for line in stderr.splitlines()
            if line.startswith('cyborg-agent: error:')]


def test_help_exits_0():
    result = subprocess.run([AGENT, '--help'], capture_output=True,
                            text=True, timeout=60)

    assert result.returncode == 0
    assert result.stdout.startswith('usage: cyborg-agent')


def test_an_unknown_driver_stops_the_start_with_one_line(tmp_path):
    config = _base_config(tmp_path)
    config['agent']['enabled_drivers'] = 'fake_driver,fpga_drvier'

    result = _run(_write_config(tmp_path, config))

    assert result.returncode == 1
    assert _error_lines(result.stderr) == [
        'cyborg-agent: error: Accelerator driver fpga_drvier cannot be '
        'loaded: no such driver in namespace cyborg.accelerator.driver '
        '(installed: %s)' % ', '.join(base.available_driver_names())]
    assert result.stderr.rstrip().splitlines()[-1] == _error_lines(
        result.stderr)[0]


def test_an_unknown_conductor_cap_stops_the_start_with_one_line(tmp_path):
    config = _base_config(tmp_path)
    config['agent']['enabled_drivers'] = 'fake_driver'
    config['upgrade_levels'] = {'conductor': '2.0'}

    result = _run(_write_config(tmp_path, config))

    assert result.returncode == 1
    assert _error_lines(result.stderr) == [
        "cyborg-agent: error: Invalid configuration of [upgrade_levels] "
        "conductor: '2.0' is not a version of the conductor RPC API; this "
        "release knows %s. Set the version the oldest conductor "
        "still running serves, or leave the option unset."
        % ', '.join(conductor_rpcapi.RPC_VERSIONS)]
    assert 'Traceback' not in result.stderr


def test_a_missing_compute_node_stops_the_start_with_one_line(
        tmp_path, placement_service):
    config = _base_config(tmp_path, placement_service.endpoint)
    name = 'absent-%s' % uuid.uuid4().hex[:12]
    config['agent']['resource_provider_name'] = name

    result = _run(_write_config(tmp_path, config))

    assert result.returncode == 1
    assert _error_lines(result.stderr) == [
        'cyborg-agent: error: No compute node resource provider named %s or '
        'agent-under-test in Placement after 1 attempt(s); set [agent] '
        'resource_provider_name to the name nova-compute registered for '
        'this host.' % name]


def test_a_started_agent_stops_cleanly_on_sigterm(tmp_path, placement_conf,
                                                 placement_service):
    # The report over a real broker is covered by the conductor's
    # multi-process test; a second suite serving the conductor topic on the
    # shared RabbitMQ would take its messages (topic queues are named by
    # topic alone), so this one stays on the in-process transport, where
    # its reports time out quickly.
    compute_name = 'compute-%s' % uuid.uuid4().hex[:12]
    placement_client.PlacementClient.from_conf(placement_conf)._request(
        'POST', '/resource_providers', json={'name': compute_name})
    config = _base_config(tmp_path, placement_service.endpoint)
    config['DEFAULT']['rpc_response_timeout'] = 1
    config['agent']['resource_provider_name'] = compute_name
    # Logs go to a file: an unread pipe could fill up and stall the agent.
    log_path = tmp_path / 'agent.log'
    with open(log_path, 'w') as log:
        process = subprocess.Popen(
            [AGENT, '--config-file', _write_config(tmp_path, config)],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        assert agent_fixture.wait_for(
            lambda: 'cyborg-agent serving as agent-under-test' in
            log_path.read_text(), 60), log_path.read_text()

        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=30) == 0
        assert 'cyborg-agent stopped' in log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

