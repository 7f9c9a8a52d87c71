"""cyborg-dbsync: create and upgrade the database schema.

    cyborg-dbsync --config-file cyborg.conf upgrade [--revision REV]
    cyborg-dbsync --config-file cyborg.conf version
    cyborg-dbsync --config-file cyborg.conf stamp [--revision REV]
    cyborg-dbsync --config-file cyborg.conf revision -m MSG [--autogenerate]
"""

import sys

from alembic.util import exc as alembic_exc
from oslo_config import cfg
from oslo_db import exception as db_exc
import sqlalchemy.exc

from cyborg import conf as cyborg_conf
from cyborg.db import engine as db_engine
from cyborg.db import migration
from cyborg import service


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


command_opt = cfg.SubCommandOpt('command', title='Commands',
                                help='Available commands',
                                handler=_add_command_parsers)

# What a wrong URL, an unreachable server or an unknown revision raise; each
# is reported as one line.
_USER_ERRORS = (alembic_exc.CommandError, db_exc.DBError,
                sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError)


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
