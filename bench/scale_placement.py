"""Placement for bench/scale.py: gunicorn-served, on MariaDB, counted.

Each gunicorn worker loads :data:`application`: the ``openstack-placement``
WSGI app (``auth_strategy = noauth2``) on the database named by
``SCALE_PLACEMENT_DB`` (an SQLAlchemy URL), wrapped in
:class:`CountingMiddleware`, which counts every request by method and route
template (uuids and names replaced by placeholders) and status class, and
writes its worker's counts to ``$SCALE_COUNTS_DIR/placement-<pid>.json``
every half second. The benchmark sums the files: the calls are counted
where Placement serves them, whoever made them.

``python bench/scale_placement.py migrate`` creates Placement's tables
(once, before the workers start: several workers migrating at once race).
"""

import collections
import json
import os
import re
import sys
import threading
import time

_UUID = re.compile(r'[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?'
                   r'[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}')
_NAMED = re.compile(r'^/(traits|resource_classes)/[^/]+')


def route_template(path):
    """``/resource_providers/<uuid>/traits`` -> ``.../{uuid}/traits``."""
    path = _UUID.sub('{uuid}', path)
    return _NAMED.sub(lambda m: '/%s/{name}' % m.group(1), path)


class CountingMiddleware:
    """Counts requests as 'METHOD /route?query-keys STATUSxx'."""

    def __init__(self, app, counts_dir):
        self._app = app
        self._path = os.path.join(counts_dir, 'placement-%d.json'
                                  % os.getpid())
        self._counts = collections.Counter()
        self._lock = threading.Lock()
        self._dirty = False
        threading.Thread(target=self._dump_forever, daemon=True).start()

    def __call__(self, environ, start_response):
        route = route_template(environ.get('PATH_INFO', ''))
        query = environ.get('QUERY_STRING')
        if query:
            keys = sorted({item.split('=', 1)[0]
                           for item in query.split('&')})
            route += '?' + ','.join(keys)
        method = environ['REQUEST_METHOD']

        def counting_start_response(status, headers, exc_info=None):
            key = '%s %s %sxx' % (method, route, status[:1])
            with self._lock:
                self._counts[key] += 1
                self._dirty = True
            return start_response(status, headers, exc_info)

        return self._app(environ, counting_start_response)

    def _dump_forever(self):
        while True:
            time.sleep(0.5)
            with self._lock:
                if not self._dirty:
                    continue
                data, self._dirty = dict(self._counts), False
            tmp = self._path + '.tmp'
            with open(tmp, 'w') as handle:
                json.dump(data, handle)
            os.replace(tmp, self._path)


def _conf(sync_on_startup):
    from oslo_config import cfg
    from placement import conf as placement_conf

    conf = cfg.ConfigOpts()
    placement_conf.register_opts(conf)
    conf.set_default('connection', os.environ['SCALE_PLACEMENT_DB'],
                     group='placement_database')
    conf([], project='placement', default_config_files=[],
         default_config_dirs=[])
    conf.set_override('sync_on_startup', sync_on_startup,
                      group='placement_database')
    conf.set_override('auth_strategy', 'noauth2', group='api')
    # Enough connections for gunicorn's threads of one worker.
    conf.set_override('max_pool_size', 16, group='placement_database')
    return conf


def _load():
    from placement import db_api
    from placement import deploy

    from cyborg import embedded_placement
    conf = _conf(sync_on_startup=False)
    db_api.configure(conf)
    # Cyborg's service user holds the service role in a deployment, which
    # Placement's default policy asks of POST /reshaper; noauth2 gives
    # our token the admin role only.
    embedded_placement.allow_reshape_to_admin(conf)
    app = deploy.loadapp(conf)
    return CountingMiddleware(app, os.environ['SCALE_COUNTS_DIR'])


if __name__ == '__main__':
    if sys.argv[1:] == ['migrate']:
        from placement import db_api
        from placement import deploy
        conf = _conf(sync_on_startup=True)
        db_api.configure(conf)
        deploy.update_database(conf)
        print('Placement database ready')
    else:
        sys.exit('usage: scale_placement.py migrate')
else:
    application = _load()
