"""cyborg-dbsync: create and upgrade the database schema.

    cyborg-dbsync --config-file cyborg.conf upgrade [--revision REV]
    cyborg-dbsync --config-file cyborg.conf version
    cyborg-dbsync --config-file cyborg.conf stamp [--revision REV]
    cyborg-dbsync --config-file cyborg.conf revision -m MSG [--autogenerate]
    cyborg-dbsync --config-file cyborg.conf import-upstream --from URL
                  [--no-placement]

``import-upstream`` copies an upstream OpenStack Cyborg 17.0.0 database into
ours (see cyborg/upstream_import.py and
doc/source/admin/upgrade-from-upstream.rst).
"""

import sys

from alembic.util import exc as alembic_exc
from oslo_config import cfg
from oslo_db import exception as db_exc
import sqlalchemy.exc

from cyborg.clients import placement as placement_client
from cyborg import conf as cyborg_conf
from cyborg import context as cyborg_context
from cyborg.db import engine as db_engine
from cyborg.db import migration
from cyborg import exception
from cyborg import service
from cyborg import upstream_import


def _upgrade(conf):
    migration.upgrade(conf.command.revision)
    print('Database is at revision %s.' % migration.version())


def _stamp(conf):
    migration.stamp(conf.command.revision)


def _version(conf):
    print(migration.version() or 'None (database not under migration '
                                 'control)')


def _revision(conf):
    migration.revision(message=conf.command.message,
                       autogenerate=conf.command.autogenerate)


def _import_upstream(conf):
    current, head = migration.version(), migration.head()
    if current != head:
        raise upstream_import.ImportRefused(
            reason='this database is at schema revision %s, not at head %s; '
                   'run "cyborg-dbsync upgrade" first' % (current, head))
    upstream = upstream_import.read_upstream(conf.command.source)
    compute_nodes = {}
    if conf.command.no_placement or not conf.placement.auth_type:
        print('Compute node providers not looked up (%s): each host\'s '
              'providers are adopted at its agent\'s first report.'
              % ('--no-placement' if conf.command.no_placement
                 else 'no [placement] auth_type configured'))
    else:
        # A read, before our transaction: the reconciler then adopts the
        # providers of every host found here without waiting for agents.
        compute_nodes = upstream_import.find_compute_nodes(
            placement_client.PlacementClient.from_conf(conf),
            upstream.hostnames)
        missing = sorted(set(upstream.hostnames) - set(compute_nodes))
        if missing:
            print('No compute node provider in Placement for: %s; their '
                  'providers are adopted at their agent\'s first report.'
                  % ', '.join(missing))
    summary = upstream_import.import_upstream(
        cyborg_context.get_admin_context(), upstream, compute_nodes)
    for line in summary.lines():
        print(line)
    print('Imported %d row(s) from upstream Cyborg %s.'
          % (summary.inserted, upstream_import.UPSTREAM_RELEASE))


def _add_command_parsers(subparsers):
    parser = subparsers.add_parser(
        'upgrade', help='Upgrade the schema to the newest (or a given) '
                        'revision. Running it again is a no-op.')
    parser.add_argument('--revision', default='head')
    parser.set_defaults(func=_upgrade)

    parser = subparsers.add_parser(
        'stamp', help='Mark the database as being at a revision without '
                      'running migrations.')
    parser.add_argument('--revision', default='head')
    parser.set_defaults(func=_stamp)

    parser = subparsers.add_parser(
        'version', help='Print the revision the database is at.')
    parser.set_defaults(func=_version)

    parser = subparsers.add_parser(
        'revision', help='Write a new migration script (developers).')
    parser.add_argument('-m', '--message')
    parser.add_argument('--autogenerate', action='store_true')
    parser.set_defaults(func=_revision)

    parser = subparsers.add_parser(
        'import-upstream',
        help='Copy an upstream OpenStack Cyborg %s database into this one '
             '(which must be at head), in one transaction. Running it again '
             'copies only rows added upstream since.'
             % upstream_import.UPSTREAM_RELEASE)
    parser.add_argument('--from', dest='source', required=True,
                        metavar='URL',
                        help='SQLAlchemy URL of the upstream database, e.g. '
                             'mysql+pymysql://cyborg:secret@db/cyborg')
    parser.add_argument('--no-placement', action='store_true',
                        help='Do not look up compute node providers in '
                             'Placement; hosts are then adopted at their '
                             'agent\'s first report.')
    parser.set_defaults(func=_import_upstream)


command_opt = cfg.SubCommandOpt('command', title='Commands',
                                help='Available commands',
                                handler=_add_command_parsers)

# What a wrong URL, an unreachable server or an unknown revision raise; each
# is reported as one line.
_USER_ERRORS = (alembic_exc.CommandError, db_exc.DBError,
                sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError,
                exception.CyborgException)


def main(argv=None):
    argv = sys.argv if argv is None else argv
    conf = cfg.ConfigOpts()
    conf.register_cli_opt(command_opt)
    cyborg_conf.register_opts(conf)
    # Fail fast on an unreachable database instead of oslo.db's default of
    # ten connection retries ten seconds apart; a config file may override.
    conf.set_default('max_retries', 0, group='database')
    service.prepare_service(argv, conf,
                            description='Manage the cyborg database schema.')
    try:
        db_engine.configure(conf)
        conf.command.func(conf)
    except _USER_ERRORS as exc:
        service.fail(argv, service.one_line(exc))
    return 0



if __name__ == '__main__':
    sys.exit(main())
