"""devices.scrub_failure: a released function of the device failed its scrub.

Set by the conductor when a scrub between tenants fails; while it is set
the device is failed (shown with its health at API 2.6) and its Placement
inventory is wholly reserved. Unlike ``health``, which the agent's probes
rewrite every time they change their mind, only an operator clears it, by
enabling the device (``POST /v2/devices/{uuid}/enable``) after looking at
it. Nullable and added without touching existing rows, so conductors of
the previous release keep working against the upgraded schema.

Revision ID: 3b5d7f9a1c20
Revises: 8e2f4b6d1a37
Create Date: 2026-12-02 15:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by alembic.
revision = '3b5d7f9a1c20'
down_revision = '8e2f4b6d1a37'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('devices',
                  sa.Column('scrub_failure', sa.String(length=255),
                            nullable=True))
