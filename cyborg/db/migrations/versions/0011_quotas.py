"""Quotas: the class each ARQ counts against, and per-project lock rows.

``extended_accelerator_requests.resource_class`` is the resource class an
ARQ counts against (``cyborg.quota.resource_classes``), indexed with the
project so the usage count of one project is an index range scan.
Existing ARQs get it from their device profile's or device context's
group, by the same rule the create path uses, so usage counts them as
soon as the upgrade is done. ``quota_project_locks`` holds one row per
project, the row a quota-checked create locks first.

Additive: API services of the previous release keep creating ARQs (with
no class: they count against no limit until they are deleted) against the
upgraded schema.

Revision ID: 5c7e9a1b3d42
Revises: 3b5d7f9a1c20
Create Date: 2026-12-03 08:10:00.000000
"""

import json

from alembic import op
import sqlalchemy as sa

from cyborg.quota import resource_classes


# revision identifiers, used by alembic.
revision = '5c7e9a1b3d42'
down_revision = '3b5d7f9a1c20'
branch_labels = None
depends_on = None

_ARQS = sa.table('extended_accelerator_requests',
                 sa.column('id', sa.Integer),
                 sa.column('device_profile_id', sa.Integer),
                 sa.column('device_context_id', sa.Integer),
                 sa.column('device_profile_group_id', sa.Integer),
                 sa.column('resource_class', sa.String))
_PROFILES = sa.table('device_profiles', sa.column('id', sa.Integer),
                     sa.column('profile_json', sa.Text))
_CONTEXTS = sa.table('device_contexts', sa.column('id', sa.Integer),
                     sa.column('groups_json', sa.Text))


def upgrade():
    op.add_column('extended_accelerator_requests',
                  sa.Column('resource_class', sa.String(length=255),
                            nullable=True))
    op.create_index('extended_accelerator_requests_project_id_rc_idx',
                    'extended_accelerator_requests',
                    ['project_id', 'resource_class'])
    op.create_table(
        'quota_project_locks',
        sa.Column('project_id', sa.String(length=255), primary_key=True),
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        mysql_engine='InnoDB', mysql_charset='utf8mb4')
    _backfill_resource_classes(op.get_bind())


def _classes(connection, table, json_column, key):
    """{row id: [class of each group]} of every profile or context."""
    return {
        row.id: resource_classes.classes_of_groups(
            json.loads(row[1])[key])
        for row in connection.execute(sa.select(table.c.id, json_column))}


def _backfill_resource_classes(connection):
    # One UPDATE per (source, group) that has a class: a few hundred at
    # most (profiles and contexts x groups), whatever the number of ARQs.
    sources = (
        (_ARQS.c.device_profile_id,
         _classes(connection, _PROFILES, _PROFILES.c.profile_json,
                  'groups')),
        (_ARQS.c.device_context_id,
         _classes(connection, _CONTEXTS, _CONTEXTS.c.groups_json,
                  'groups')),
    )
    for source_column, classes_by_id in sources:
        for source_id, classes in classes_by_id.items():
            for group_id, resource_class in enumerate(classes):
                if resource_class is None:
                    continue
                connection.execute(
                    sa.update(_ARQS)
                    .where(source_column == source_id,
                           _ARQS.c.device_profile_group_id == group_id)
                    .values(resource_class=resource_class))
