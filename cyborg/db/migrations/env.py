"""alembic environment: runs migrations on the engine cyborg hands over."""

from alembic import context

from cyborg.db import models

config = context.config
target_metadata = models.BASE.metadata


def run_migrations_online():
    engine = config.attributes['engine']
    with engine.begin() as connection:
        context.configure(connection=connection,
                          target_metadata=target_metadata,
                          render_as_batch=True,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit('cyborg migrations run online only: use cyborg-dbsync.')
run_migrations_online()
