"""The threaded HTTP server cyborg-api and cyborg-all-in-one serve WSGI with.

cheroot (CherryPy's server): HTTP/1.1 with keep-alive and a thread pool,
in-process, so the all-in-one service can run it beside the conductor and
agent threads. Deployments behind uwsgi/gunicorn/Apache use
``cyborg.wsgi.api:application`` instead.
"""

import logging

from cheroot import wsgi

LOG = logging.getLogger(__name__)


def make_server(app, host, port, threads=16):
    """A cheroot server for app on host:port (not started)."""
    server = wsgi.Server((host, port), app, numthreads=threads,
                         server_name='cyborg')
    # Large device-profile deletes carry every name in the query string.
    server.max_request_header_size = 1024 * 1024
    return server


def serve_forever(server):
    """Serve until stop() is called from another thread (or a signal)."""
    server.prepare()
    LOG.info('Serving on http://%s:%s', *server.bind_addr[:2])
    server.serve()
