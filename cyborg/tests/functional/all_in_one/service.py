"""``cyborg-all-in-one`` run as the README runs it, for the tests here.

Only the ports move (free ones, so tests run side by side) and each test
adds the options it needs; everything else is the command's own default.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time

import requests

from cyborg.tests.fixtures import processes

BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class AllInOne:
    """One running ``cyborg-all-in-one``: its API URL, ports and log."""

    def __init__(self, tmp_path, process, api_port, placement_port):
        self.api = 'http://127.0.0.1:%d' % api_port
        self.placement_port = placement_port
        self.log_path = tmp_path / 'aio.log'
        self._process = process

    def log_tail(self, chars=6000):
        return self.log_path.read_text()[-chars:]

    def wait(self, predicate, what, timeout=120):
        """``predicate()``'s first true value; a service still starting
        (refused connections, error bodies) counts as not yet."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = predicate()
            except (requests.ConnectionError, ValueError, KeyError,
                    IndexError):
                value = None
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError('timed out waiting for %s; log:\n%s'
                             % (what, self.log_tail()))

    def stop(self):
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@contextlib.contextmanager
def running(tmp_path, sections):
    """Start the command with ``sections`` (config file sections; the API
    port is added) and stop it however the test ends."""
    api_port, placement_port = free_port(), free_port()
    sections = dict(sections, api=dict(sections.get('api', {}),
                                       port=api_port))
    config = processes.write_config(tmp_path / 'aio.conf', sections)
    with open(tmp_path / 'aio.log', 'w') as log:
        process = subprocess.Popen(
            [os.path.join(BIN, 'cyborg-all-in-one'), '--config-file',
             str(config), '--placement_port', str(placement_port)],
            stdout=log, stderr=subprocess.STDOUT)
    service = AllInOne(tmp_path, process, api_port, placement_port)
    try:
        yield service
    finally:
        service.stop()
