"""agent_hosts.agent_rpc_version: what RPC version each agent speaks.

Conductor RPC 1.1 has agents state the agent RPC API version they serve
with every report and heartbeat; ``cyborg-status upgrade check`` lists the
hosts still on an older release. Nullable: NULL is an agent that spoke
1.0 (every host until its agent is upgraded), so the column is added
without touching existing rows, and conductors of the previous release
keep working against the upgraded schema.

Revision ID: 6c4e2a8f0b13
Revises: 5a7d3c9e1f20
Create Date: 2026-12-02 11:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by alembic.
revision = '6c4e2a8f0b13'
down_revision = '5a7d3c9e1f20'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('agent_hosts',
                  sa.Column('agent_rpc_version', sa.String(length=16),
                            nullable=True))
