"""Instance claims: an instance is bound once, even under concurrent binds.

Revision ID: 3b1e5f0a7c42
Revises: 70946673ce55
Create Date: 2026-12-02 08:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by alembic.
revision = '3b1e5f0a7c42'
down_revision = '70946673ce55'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('instance_claims',
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('instance_uuid'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    # Instances already holding ARQs are claimed from the start.
    op.execute(
        'INSERT INTO instance_claims (instance_uuid, created_at) '
        'SELECT DISTINCT instance_uuid, CURRENT_TIMESTAMP '
        'FROM extended_accelerator_requests '
        'WHERE instance_uuid IS NOT NULL')

