"""pytest fixtures shared by every cyborg test."""

import os

import pytest

# This machine kind runs MariaDB and PostgreSQL on loopback with these
# accounts; CI and developers may point elsewhere by setting the variable.
os.environ.setdefault(
    'OS_TEST_DBAPI_ADMIN_CONNECTION',
    'mysql+pymysql://root@127.0.0.1:3306/test;'
    'postgresql+psycopg2://postgres@127.0.0.1:5432/postgres')

from cyborg import context as cyborg_context  # noqa: E402
from cyborg.tests.fixtures import config as config_fixture  # noqa: E402
from cyborg.tests.fixtures import database as db_fixture  # noqa: E402
from cyborg.tests.fixtures.privsep import privsep_daemon  # noqa: E402,F401
from cyborg.tests.fixtures.processes import rabbit  # noqa: E402,F401


@pytest.fixture
def conf(tmp_path):
    """A private, parsed ConfigOpts (noauth, host 'test-host')."""
    return config_fixture.make_conf(tmp_path)


@pytest.fixture
def db(tmp_path):
    """A real SQLite database file with the schema, used by @reader/@writer."""
    with db_fixture.schema_database('sqlite', tmp_path) as engine:
        yield engine


@pytest.fixture(params=db_fixture.BACKENDS)
def any_db(request, tmp_path):
    """Like db, once per backend: SQLite, MariaDB, PostgreSQL (or skipped)."""
    with db_fixture.schema_database(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
def admin_context():
    return cyborg_context.get_admin_context()


@pytest.fixture(scope='session')
def placement_service(tmp_path_factory):
    """A real Placement (openstack-placement) on a loopback port.

    One per test process: Placement's database setup is process-global.
    Tests share it, so each creates providers under names of its own.
    """
    from cyborg import embedded_placement
    path = tmp_path_factory.mktemp('placement') / 'placement.sqlite'
    return embedded_placement.start(str(path))


@pytest.fixture
def placement_conf(conf, placement_service):
    """conf with [placement] pointing at the real test Placement."""
    from cyborg.clients import placement as placement_client
    placement_client.configure_noauth(conf, placement_service.endpoint)
    return conf
