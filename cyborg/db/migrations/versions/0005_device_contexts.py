"""Device contexts (API 2.4): ARQs from a context instead of a profile.

* ``device_contexts``: request groups and config data for one instance,
  its state (Unbound, Bound, Released), the instance it is bound to and
  when it expires while unused.
* ``extended_accelerator_requests.device_context_id``: the context an ARQ
  was made from; ``device_profile_id`` becomes nullable, and a CHECK
  constraint keeps exactly one of the two set.

Revision ID: 5a7d3c9e1f20
Revises: 3f1c9a7be2d4
Create Date: 2026-12-03 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by alembic.
revision = '5a7d3c9e1f20'
down_revision = '3f1c9a7be2d4'
branch_labels = None
depends_on = None

STATES = ('Unbound', 'Bound', 'Released')
ONE_SOURCE = '(device_profile_id IS NULL) <> (device_context_id IS NULL)'


def upgrade():
    op.create_table('device_contexts',
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('state', sa.Enum(*STATES, name='device_context_state',
                               create_constraint=False),
              server_default='Unbound', nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=True),
    sa.Column('groups_json', sa.Text(), nullable=False),
    sa.Column('config_data', sa.Text(), nullable=False),
    sa.Column('device_profile_name', sa.String(length=255), nullable=True),
    sa.Column('released_at', sa.DateTime(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid', name='uniq_device_contexts0uuid'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index('device_contexts_project_id_idx', 'device_contexts',
                    ['project_id'])
    op.create_index('device_contexts_instance_uuid_idx', 'device_contexts',
                    ['instance_uuid'])
    op.create_index('device_contexts_expires_at_idx', 'device_contexts',
                    ['expires_at'])

    # Batch mode: SQLite rebuilds the table (it cannot alter a column's
    # nullability or add a constraint in place); the others alter it.
    with op.batch_alter_table('extended_accelerator_requests') as batch:
        batch.add_column(sa.Column('device_context_id', sa.Integer(),
                                   nullable=True))
        batch.alter_column('device_profile_id', existing_type=sa.Integer(),
                           nullable=True)
        batch.create_foreign_key(
            'extended_accelerator_requests_device_context_id_fkey',
            'device_contexts', ['device_context_id'], ['id'],
            ondelete='RESTRICT')
        batch.create_index(
            'extended_accelerator_requests_device_context_id_idx',
            ['device_context_id'])
        batch.create_check_constraint(
            'ck_extended_accelerator_requests0one_source', ONE_SOURCE)
