"""The alembic migrations build exactly the models' schema, on every backend."""

import contextlib
import tempfile
import pathlib
import unittest

from oslo_db.sqlalchemy import test_migrations
import pytest
import sqlalchemy as sa

from cyborg.db import migration
from cyborg.db import models
from cyborg.tests.fixtures import database as db_fixture


class _ModelsMigrationsSync(test_migrations.ModelsMigrationsSync):
    """oslo.db's comparison of a migrated database with the models."""

    DATABASE_TYPE = None

    def setUp(self):
        super().setUp()
        stack = contextlib.ExitStack()
        self.addCleanup(stack.close)
        tmp = pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory()))
        self.engine = stack.enter_context(
            db_fixture.empty_database(self.DATABASE_TYPE, tmp))

    def get_engine(self):
        return self.engine

    def get_metadata(self):
        return models.BASE.metadata

    def db_sync(self, engine):
        migration.upgrade('head', engine=engine)


class TestModelsMigrationsSyncSQLite(_ModelsMigrationsSync, unittest.TestCase):
    DATABASE_TYPE = 'sqlite'


class TestModelsMigrationsSyncMySQL(_ModelsMigrationsSync, unittest.TestCase):
    DATABASE_TYPE = 'mysql'


class TestModelsMigrationsSyncPostgreSQL(_ModelsMigrationsSync,
                                         unittest.TestCase):
    DATABASE_TYPE = 'postgresql'


@pytest.mark.parametrize('database_type', db_fixture.BACKENDS)
def test_upgrade_from_empty_then_again_is_a_noop(database_type, tmp_path):
    with db_fixture.empty_database(database_type, tmp_path) as engine:
        assert migration.version(engine=engine) is None
        migration.upgrade('head', engine=engine)
        assert migration.version(engine=engine) == migration.head()
        tables = set(sa.inspect(engine).get_table_names())
        assert set(models.BASE.metadata.tables) <= tables

        migration.upgrade('head', engine=engine)
        assert migration.version(engine=engine) == migration.head()
        assert set(sa.inspect(engine).get_table_names()) == tables


def test_every_filter_column_is_indexed():
    """The API's list filters must not scan: each has an index."""
    wanted = {
        'extended_accelerator_requests': {'instance_uuid', 'state',
                                          'project_id', 'device_rp_uuid'},
        'devices': {'hostname', 'type', 'vendor'},
        'device_profiles': {'name'},
    }
    for table_name, columns in wanted.items():
        table = models.BASE.metadata.tables[table_name]
        leading = {idx.columns[0].name for idx in table.indexes}
        leading |= {c.columns[0].name for c in table.constraints
                    if isinstance(c, sa.UniqueConstraint)}
        assert columns <= leading, (table_name, columns - leading)


@pytest.mark.parametrize('database_type', db_fixture.BACKENDS)
def test_migrated_schema_takes_what_the_families_need(database_type,
                                                      tmp_path):
    # PostgreSQL's enum values are not compared by the sync test above.
    with db_fixture.empty_database(database_type, tmp_path) as engine:
        migration.upgrade('head', engine=engine)
        devices = models.Device.__table__
        with engine.begin() as conn:
            conn.execute(sa.insert(devices).values(
                uuid='00000000-0000-0000-0000-000000000001', type='PCI',
                vendor='1af4', model='1041', hostname='host-a'))
            assert conn.execute(sa.select(devices.c.type)).scalar() == 'PCI'
        columns = {c['name'] for c in
                   sa.inspect(engine).get_columns('attach_handles')}
        assert 'missing_since' in columns


@pytest.mark.parametrize('database_type', db_fixture.BACKENDS)
def test_device_contexts_migration_keeps_the_arqs(database_type, tmp_path):
    # 0005 rebuilds the ARQ table on SQLite (nullable profile, new foreign
    # key, CHECK): rows made before it, and their profile link, survive.
    arqs = models.ExtendedAcceleratorRequest.__table__
    with db_fixture.empty_database(database_type, tmp_path) as engine:
        migration.upgrade('3f1c9a7be2d4', engine=engine)
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO device_profiles (uuid, name, profile_json) "
                "VALUES ('00000000-0000-0000-0000-0000000000dd', 'old', "
                "'{\"groups\": [{\"resources:FPGA\": \"1\"}]}')"))
            profile_id = conn.execute(sa.text(
                'SELECT id FROM device_profiles')).scalar()
            conn.execute(sa.text(
                "INSERT INTO extended_accelerator_requests (uuid, state, "
                "substate, device_profile_id, device_profile_group_id, "
                "instance_uuid, bind_seq) VALUES "
                "('00000000-0000-0000-0000-0000000000a1', 'Bound', "
                "'Initial', :profile, 0, "
                "'00000000-0000-0000-0000-0000000000c1', 3)"),
                {'profile': profile_id})

        migration.upgrade('head', engine=engine)

        with engine.connect() as conn:
            row = conn.execute(sa.select(arqs)).mappings().one()
        assert (row['uuid'], row['state'], row['device_profile_id'],
                row['device_context_id'], row['instance_uuid'],
                row['bind_seq']) == (
            '00000000-0000-0000-0000-0000000000a1', 'Bound', profile_id,
            None, '00000000-0000-0000-0000-0000000000c1', 3)
        contexts = models.DeviceContext.__table__
        with engine.begin() as conn:
            context_id = conn.execute(sa.insert(contexts).values(
                uuid='00000000-0000-0000-0000-0000000000cc',
                state='Released', groups_json='{"groups": []}',
                config_data='{}')).inserted_primary_key[0]
            conn.execute(sa.insert(arqs).values(
                uuid='00000000-0000-0000-0000-0000000000a2',
                state='Initial', substate='Initial',
                device_context_id=context_id, device_profile_group_id=0))


@pytest.mark.parametrize('database_type', db_fixture.BACKENDS)
def test_quotas_migration_gives_existing_arqs_their_class(database_type,
                                                          tmp_path):
    # 0011 backfills resource_class from each ARQ's profile or context
    # group, by the create path's rule, so usage counts old ARQs at once.
    arqs = models.ExtendedAcceleratorRequest.__table__
    with db_fixture.empty_database(database_type, tmp_path) as engine:
        migration.upgrade('3b5d7f9a1c20', engine=engine)
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO device_profiles (uuid, name, profile_json) "
                "VALUES ('00000000-0000-0000-0000-0000000000dd', 'two', "
                "'{\"groups\": [{\"resources:FPGA\": \"1\"}, "
                "{\"trait:CUSTOM_X\": \"required\", "
                "\"resources:CUSTOM_QAT\": \"1\", \"resources:PGPU\": "
                "\"1\"}, {\"accel:x\": \"y\"}]}')"))
            profile_id = conn.execute(sa.text(
                'SELECT id FROM device_profiles')).scalar()
            conn.execute(sa.text(
                "INSERT INTO device_contexts (uuid, state, groups_json, "
                "config_data) VALUES ('00000000-0000-0000-0000-0000000000cc'"
                ", 'Unbound', '{\"groups\": [{\"resources:VGPU\": \"2\"}]}', "
                "'{}')"))
            context_id = conn.execute(sa.text(
                'SELECT id FROM device_contexts')).scalar()
            for number, (source, source_id, group) in enumerate([
                    ('device_profile_id', profile_id, 0),
                    ('device_profile_id', profile_id, 1),
                    ('device_profile_id', profile_id, 1),
                    ('device_profile_id', profile_id, 2),
                    ('device_context_id', context_id, 0)]):
                conn.execute(sa.text(
                    "INSERT INTO extended_accelerator_requests (uuid, "
                    "state, substate, project_id, %s, "
                    "device_profile_group_id) VALUES (:uuid, 'Initial', "
                    "'Initial', 'p', :source, :group)" % source),
                    {'uuid': '00000000-0000-0000-0000-%012d' % number,
                     'source': source_id, 'group': group})

        migration.upgrade('head', engine=engine)

        with engine.connect() as conn:
            classes = conn.execute(
                sa.select(arqs.c.uuid, arqs.c.resource_class)
                .order_by(arqs.c.uuid)).all()
        # Group 1 asks for two classes: its first counts; group 2 none.
        assert [resource_class for _, resource_class in classes] == [
            'FPGA', 'CUSTOM_QAT', 'CUSTOM_QAT', None, 'VGPU']
        assert 'quota_project_locks' in sa.inspect(engine).get_table_names()
