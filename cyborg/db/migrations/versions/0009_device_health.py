"""devices.health, health_reason, health_since: what the agent's probes say.

Agents probe their devices' health every few seconds (``[agent]
health_interval``) and report changes; the conductor records them here and
keeps a failed or degraded device's Placement inventory reserved. Added
without touching existing rows: ``health`` is not null with a server
default of ``healthy`` (every device was, as far as anyone knew), the
reason and the time of the last change are nullable, so conductors of the
previous release keep working against the upgraded schema.

Revision ID: 8e2f4b6d1a37
Revises: 8e2c4a6b1d35
Create Date: 2026-12-02 14:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by alembic.
revision = '8e2f4b6d1a37'
down_revision = '8e2c4a6b1d35'
branch_labels = None
depends_on = None

HEALTH_STATES = ('healthy', 'degraded', 'failed')


def upgrade():
    health = sa.Enum(*HEALTH_STATES, name='device_health',
                     create_constraint=False)
    # PostgreSQL's enum is a type of its own, which add_column does not
    # create; elsewhere this is a no-op.
    health.create(op.get_bind(), checkfirst=True)
    op.add_column('devices',
                  sa.Column('health', health, nullable=False,
                            server_default='healthy'))
    op.add_column('devices',
                  sa.Column('health_reason', sa.String(length=255),
                            nullable=True))
    op.add_column('devices',
                  sa.Column('health_since', sa.DateTime(), nullable=True))
