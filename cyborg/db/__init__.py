"""Persistence: SQLAlchemy models, alembic migrations and data-access modules."""
