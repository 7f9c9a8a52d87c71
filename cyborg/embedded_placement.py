"""A real Placement service in this process, on a loopback port.

Used by ``cyborg-all-in-one`` (so a laptop needs nothing else) and by the
tests (so they talk to the real thing). It runs the ``openstack-placement``
package's WSGI app with ``auth_strategy = noauth2`` and its own SQLite file,
served by a threaded HTTP server, so other processes on the machine (agents
started by a test, curl) can reach it too. Placement keeps its database
configuration process-global, so there is one embedded Placement per process.
"""

import functools
import logging
import socketserver
import threading
from wsgiref import simple_server

LOG = logging.getLogger(__name__)

# The token noauth2 Placement reads as "user admin, roles admin".
ADMIN_TOKEN = 'admin'

_started = None
_lock = threading.Lock()


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):
        LOG.debug('placement: ' + format, *args)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn,
                           simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class EmbeddedPlacement:
    """A started Placement: ``endpoint`` is its base URL."""

    def __init__(self, server, thread, database_path):
        self._server = server
        self._thread = thread
        self.database_path = database_path
        host, port = server.server_address[:2]
        self.endpoint = 'http://%s:%d' % (host, port)

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


def start(database_path, host='127.0.0.1', port=0):
    """Start Placement on host:port (0 = any free port), once per process.

    A second call returns the Placement already running.
    """
    global _started
    with _lock:
        if _started is not None:
            return _started
        app = _load_app(database_path)
        server = simple_server.make_server(
            host, port, app, server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever,
                                  name='embedded-placement', daemon=True)
        thread.start()
        _started = EmbeddedPlacement(server, thread, database_path)
        LOG.info('Embedded Placement listening on %s', _started.endpoint)
        return _started


# What a deployment grants cyborg's service user through the ``service``
# role: POST /reshaper, which sets many providers' inventories in one call.
# noauth2 gives our token the admin role only.
RESHAPE_RULE = 'role:admin or role:service'


def allow_reshape_to_admin(conf):
    """Set up Placement's policy with :data:`RESHAPE_RULE` for reshapes.

    Before ``deploy.loadapp``, which keeps an enforcer already set up.
    """
    from oslo_policy import policy as oslo_policy
    from placement import policies
    from placement.policies import reshaper
    from placement import policy

    rules = [oslo_policy.RuleDefault(rule.name, RESHAPE_RULE)
             if rule.name == reshaper.RESHAPE else rule
             for rule in policies.list_rules()]
    policy.init(conf, rules=rules)


def _load_app(database_path):
    # Imported here: openstack-placement is only needed where it is used.
    from oslo_config import cfg
    from placement import conf as placement_conf
    from placement import db_api
    from placement import deploy

    from cyborg.db import engine as cyborg_engine

    conf = cfg.ConfigOpts()
    placement_conf.register_opts(conf)
    # connection is a required option: set it before parsing.
    conf.set_default('connection', 'sqlite:///%s' % database_path,
                     group='placement_database')
    conf([], project='placement', default_config_files=[],
         default_config_dirs=[])
    conf.set_override('sync_on_startup', True, group='placement_database')
    conf.set_override('auth_strategy', 'noauth2', group='api')
    # Placement reads then writes in one transaction, which SQLite refuses
    # at once ("database is locked", a 500) while another connection
    # writes. Beginning every transaction IMMEDIATE makes them queue for
    # the lock instead (a real deployment's MySQL needs none of this).
    db_api.placement_context_manager.append_on_engine_create(
        functools.partial(cyborg_engine.prepare_sqlite_engine,
                          immediate_always=True))
    allow_reshape_to_admin(conf)
    return deploy.loadapp(conf)


def main(argv=None):
    """Serve Placement standalone: ``python -m cyborg.embedded_placement``.

    For benchmarks and development deployments that run cyborg's services
    as separate processes and need a Placement without installing one.
    """
    import argparse
    import signal
    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument('--database', required=True,
                        help='path of the SQLite file Placement keeps')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=8778)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    placement = start(args.database, host=args.host, port=args.port)
    print('Placement listening on %s' % placement.endpoint, flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stopped.set())
    signal.signal(signal.SIGINT, lambda *a: stopped.set())
    stopped.wait()
    placement.stop()


if __name__ == '__main__':
    main()
