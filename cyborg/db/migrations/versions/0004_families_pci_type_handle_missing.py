"""Device type PCI for the generic driver; attach handles can go missing.

* ``devices.type`` takes ``PCI``: the generic PCI driver labels a device by
  its PCI class, and a class that names no accelerator kind is ``PCI``.
* ``attach_handles.missing_since``: a handle that vanished from its host's
  report (a VF count lowered, say) while an ARQ held it is kept for that
  ARQ but marked, so that no later bind claims a function that is gone.

Revision ID: 3f1c9a7be2d4
Revises: 3b1f9c2d7e41
Create Date: 2026-12-02 10:15:00.000000
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by alembic.
revision = '3f1c9a7be2d4'
down_revision = '3b1f9c2d7e41'
branch_labels = None
depends_on = None

OLD_DEVICE_TYPES = ('GPU', 'FPGA', 'AICHIP', 'QAT', 'NIC', 'SSD')
NEW_DEVICE_TYPES = OLD_DEVICE_TYPES + ('PCI',)


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        # A named type of its own there; PostgreSQL 12+ adds a value inside
        # a transaction (the value is not used in this one).
        op.execute("ALTER TYPE device_type ADD VALUE IF NOT EXISTS 'PCI'")
    elif dialect == 'mysql':
        op.alter_column(
            'devices', 'type',
            existing_type=sa.Enum(*OLD_DEVICE_TYPES, name='device_type'),
            type_=sa.Enum(*NEW_DEVICE_TYPES, name='device_type'),
            existing_nullable=False)
    # SQLite keeps the enum as a VARCHAR without a CHECK: nothing to do,
    # and 'PCI' fits the width of the longest old value.
    op.add_column('attach_handles',
                  sa.Column('missing_since', sa.DateTime(), nullable=True))
