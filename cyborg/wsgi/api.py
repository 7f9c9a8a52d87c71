"""The cyborg-api WSGI application for uwsgi, gunicorn or mod_wsgi.

``cyborg.wsgi.api:application`` builds the application on its first
request, from the config files named in ``CYBORG_CONFIG_FILE`` (comma
separated) or, by default, ``/etc/cyborg/cyborg.conf`` when it exists.
Building late means each pre-forked worker gets its own database engine
and RPC transport. ``init_application`` is the factory pbr's
``wsgi_scripts`` entry point calls.
"""

import os
import threading

from cyborg.api import app as api_app
from cyborg import service

CONFIG_FILE_ENV = 'CYBORG_CONFIG_FILE'
DEFAULT_CONFIG_FILE = '/etc/cyborg/cyborg.conf'


def _config_files():
    names = os.environ.get(CONFIG_FILE_ENV)
    if names:
        return [name.strip() for name in names.split(',') if name.strip()]
    return [DEFAULT_CONFIG_FILE] if os.path.exists(DEFAULT_CONFIG_FILE) else []


def init_application():
    """Parse the configuration and build the API application."""
    argv = ['cyborg-api']
    for name in _config_files():
        argv += ['--config-file', name]
    # The WSGI server's own command line is not ours to parse.
    conf = service.prepare_service(argv)
    return api_app.build_app(conf)


class _LazyApplication:
    """Builds the real application once, on the first request."""

    def __init__(self):
        self._app = None
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = init_application()
        return self._app(environ, start_response)


application = _LazyApplication()
