"""Schema migrations: alembic, driven from Python (cyborg-dbsync, tests)."""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script

from cyborg.db import engine as db_engine

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), 'migrations')


def _alembic_config(engine=None):
    config = alembic_config.Config()
    config.set_main_option('script_location', MIGRATIONS_DIR)
    # env.py runs the migrations on this engine (the configured database
    # unless a caller, such as a test, passes its own).
    config.attributes['engine'] = engine or db_engine.get_engine()
    return config


def upgrade(revision='head', engine=None):
    alembic_command.upgrade(_alembic_config(engine), revision or 'head')


def stamp(revision='head', engine=None):
    alembic_command.stamp(_alembic_config(engine), revision or 'head')


def revision(message=None, autogenerate=False, engine=None):
    alembic_command.revision(_alembic_config(engine), message=message,
                             autogenerate=autogenerate)


def version(engine=None):
    """The revision the database is at, or None for an unmigrated one."""
    engine = engine or db_engine.get_engine()
    with engine.connect() as connection:
        return alembic_migration.MigrationContext.configure(
            connection).get_current_revision()


def head():
    """The newest revision in the migration scripts."""
    config = _alembic_config(engine=object())
    return alembic_script.ScriptDirectory.from_config(config).get_current_head()
