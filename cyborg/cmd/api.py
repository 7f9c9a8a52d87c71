"""cyborg-api: serve the REST API on ``[api] host_ip:port``.

``[api] api_workers`` processes (default: one per CPU) each run the
project's threaded cheroot server (``cyborg.wsgi_server``) with
``[api] api_threads`` threads, on one port shared through SO_REUSEPORT so
the kernel spreads connections. Each worker builds its own application
after the fork: no database or RPC connection crosses processes. The
parent only supervises: SIGTERM or SIGINT stops every worker. Behind
uwsgi or Apache use ``cyborg.wsgi.api:application`` instead.
"""

import logging
import os
import signal
import sys

from oslo_concurrency import processutils

from cyborg.api import app as api_app
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg import exception
from cyborg import rpc
from cyborg import service
from cyborg import wsgi_server

LOG = logging.getLogger(__name__)


def _make_server(conf, shared_port):
    api = conf.api
    server = wsgi_server.make_server(api_app.build_app(conf), api.host_ip,
                                     api.port, threads=api.api_threads)
    server.reuse_port = shared_port
    if api.enable_ssl_api:
        from cheroot.ssl import builtin
        server.ssl_adapter = builtin.BuiltinSSLAdapter(api.ssl_cert_file,
                                                       api.ssl_key_file)
    return server


def _serve(conf, shared_port):
    server = _make_server(conf, shared_port)

    def stop(signum, frame):
        # Unwinds cheroot's serve loop in this (main) thread; stopping the
        # server from inside the handler would wait on that same loop.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        wsgi_server.serve_forever(server)
    except SystemExit:
        pass
    finally:
        server.stop()


def _supervise(conf, workers):
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                _serve(conf, shared_port=True)
            finally:
                os._exit(0)
        children.append(pid)

    def stop(signum, frame):
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOG.info('Started %d cyborg-api workers: %s', workers, children)
    for pid in children:
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                break


def main(argv=None):
    argv = sys.argv if argv is None else argv
    conf = service.prepare_service(
        argv, description='The cyborg REST API server.')
    api = conf.api
    if api.enable_ssl_api and not (api.ssl_cert_file and api.ssl_key_file):
        service.fail(argv, '[api] enable_ssl_api needs ssl_cert_file and '
                           'ssl_key_file')
    try:
        # Checked here, before any worker forks: each would build its app
        # and die on it with a traceback.
        rpc.version_cap(conf, 'conductor', conductor_rpcapi.RPC_VERSIONS)
    except exception.InvalidConfig as exc:
        service.fail(argv, service.one_line(exc))
    workers = api.api_workers or processutils.get_worker_count()
    if workers == 1:
        _serve(conf, shared_port=False)
    else:
        _supervise(conf, workers)


if __name__ == '__main__':
    main()
