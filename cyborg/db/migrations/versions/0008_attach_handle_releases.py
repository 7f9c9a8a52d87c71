"""Scrub between tenants: attach_handles.scrub_state, attach_handle_releases.

A released handle whose device is scrubbed on release leaves service
(``scrub_state``) until its driver has cleaned it; every release gets an
audit row in ``attach_handle_releases``, which is also the conductors'
durable work item for the scrub. The column is nullable (NULL: in
service), so it is added without touching existing rows, and conductors
of the previous release keep working against the upgraded schema (they
never set it and never release into it).

Revision ID: 8e2c4a6b1d35
Revises: 7d1b9e3a5c24
Create Date: 2026-12-02 14:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by alembic.
revision = '8e2c4a6b1d35'
down_revision = '7d1b9e3a5c24'
branch_labels = None
depends_on = None

SCRUB_STATES = ('scrubbing', 'scrub_failed')
SCRUB_OUTCOMES = ('pending', 'scrubbed', 'failed', 'skipped', 'not_required')


def _enum(values, name):
    return sa.Enum(*values, name=name, create_constraint=False)


def upgrade():
    scrub_state = _enum(SCRUB_STATES, 'attach_handle_scrub_state')
    # PostgreSQL needs the type before a column of an existing table uses
    # it; create_table makes its own types.
    scrub_state.create(op.get_bind(), checkfirst=True)
    op.add_column('attach_handles',
                  sa.Column('scrub_state', scrub_state, nullable=True))
    op.create_table(
        'attach_handle_releases',
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('attach_handle_id', sa.Integer(), nullable=False),
        sa.Column('attach_handle_uuid', sa.String(length=36),
                  nullable=False),
        sa.Column('deployable_uuid', sa.String(length=36), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        sa.Column('instance_uuid', sa.String(length=36), nullable=True),
        sa.Column('released_at', sa.DateTime(), nullable=False),
        sa.Column('scrub_driver', sa.String(length=255), nullable=True),
        sa.Column('scrub_outcome', _enum(SCRUB_OUTCOMES, 'scrub_outcome'),
                  nullable=False),
        sa.Column('scrub_reason', sa.Text(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('lease_owner', sa.String(length=255), nullable=True),
        sa.Column('lease_expires_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('uuid', name='uniq_attach_handle_releases0uuid'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4')
    op.create_index('attach_handle_releases_handle_uuid_idx',
                    'attach_handle_releases', ['attach_handle_uuid'])
    op.create_index('attach_handle_releases_outcome_idx',
                    'attach_handle_releases', ['scrub_outcome'])
