"""FPGA programming: the function a deployable runs, and its programming lease.

Revision ID: 3b1f9c2d7e41
Revises: 3b1e5f0a7c42
Create Date: 2026-12-02 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by alembic.
revision = '3b1f9c2d7e41'
down_revision = '3b1e5f0a7c42'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('deployables',
                  sa.Column('function_id', sa.String(length=255),
                            nullable=True))
    op.add_column('deployables',
                  sa.Column('program_lease_owner', sa.String(length=255),
                            nullable=True))
    op.add_column('deployables',
                  sa.Column('program_lease_expires_at', sa.DateTime(),
                            nullable=True))


def downgrade():
    with op.batch_alter_table('deployables') as batch:
        batch.drop_column('program_lease_expires_at')
        batch.drop_column('program_lease_owner')
        batch.drop_column('function_id')
