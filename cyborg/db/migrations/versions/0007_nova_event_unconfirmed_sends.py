"""nova_events.unconfirmed_sends: sends of an event whose outcome is unknown.

Event leases are short and renewed while a POST is in flight, so another
conductor takes over the events of a dead one within seconds. A row taken
over may already have reached Nova (its conductor died between Nova's
answer and recording it), and so may a row whose POST timed out waiting
for Nova's answer. The column counts such sends, so that the possible
duplicates are visible. Not null with a server default of 0: the column is
added without touching existing rows, and conductors of the previous
release (which do not write it) keep working against the upgraded schema.

Revision ID: 7d1b9e3a5c24
Revises: 6c4e2a8f0b13
Create Date: 2026-12-02 11:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by alembic.
revision = '7d1b9e3a5c24'
down_revision = '6c4e2a8f0b13'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('nova_events',
                  sa.Column('unconfirmed_sends', sa.Integer(),
                            nullable=False, server_default='0'))
