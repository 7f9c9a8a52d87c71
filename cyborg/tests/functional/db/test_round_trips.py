"""A MySQL transaction costs its statements and one COMMIT or ROLLBACK.

Without ``engine.trim_round_trips`` every transaction also pinged the
server at checkout and rolled the connection back a second time on its
way back to the pool: four round trips for a one-statement read. These
tests count what the server saw (its per-session counters, read on the
same pooled connection) and check that dropping those round trips kept
what they were for: a connection that died while idle is replaced before
use, and one returned with a transaction open is rolled back.
"""

import time

import pytest
import sqlalchemy as sa

from cyborg import context as cyborg_context
from cyborg.db import engine as db_engine
from cyborg.tests.fixtures import database as db_fixture


@pytest.fixture
def mysql(tmp_path):
    # The fixture prepares its engine with engine.trim_round_trips, as
    # the transaction context does the services' engines.
    with db_fixture.schema_database('mysql', tmp_path) as engine:
        yield engine


@db_engine.reader
def _session_counters(context):
    rows = context.session.execute(sa.text(
        "SHOW SESSION STATUS WHERE Variable_name IN "
        "('Com_rollback', 'Com_commit', 'Com_admin_commands')")).all()
    counters = {name: int(value) for name, value in rows}
    counters['id'] = context.session.execute(
        sa.text('SELECT CONNECTION_ID()')).scalar()
    return counters


@db_engine.reader
def _read(context):
    return context.session.execute(sa.text('SELECT 1')).scalar()


@db_engine.writer
def _write(context, name):
    context.session.execute(sa.text(
        "INSERT INTO device_profiles (uuid, name, profile_json) "
        "VALUES (:name, :name, '{}')"), {'name': name})


def _deltas(before, after):
    assert before['id'] == after['id'], 'the pool changed connection'
    return {name: after[name] - before[name] for name in before
            if name != 'id'}


def test_transactions_end_once_and_do_not_ping(mysql):
    context = cyborg_context.get_admin_context()
    _read(context)
    before = _session_counters(context)
    for _ in range(5):
        _read(context)
    for index in range(3):
        _write(context, 'dp-%d' % index)
    after = _session_counters(context)
    # The five reads and the first counters read end with one ROLLBACK
    # each, the writes with one COMMIT each; no ping (an admin command).
    assert _deltas(before, after) == {'Com_rollback': 6, 'Com_commit': 3,
                                      'Com_admin_commands': 0}


def test_connection_dropped_while_idle_is_replaced(mysql, monkeypatch):
    monkeypatch.setattr(db_engine, 'PING_AFTER_IDLE_SECONDS', 0.05)
    context = cyborg_context.get_admin_context()
    victim = _session_counters(context)['id']
    killer = sa.create_engine(mysql.url, poolclass=sa.pool.NullPool)
    with killer.connect() as other:
        other.exec_driver_sql('KILL %d' % victim)
    time.sleep(0.1)
    assert _read(context) == 1
    assert _session_counters(context)['id'] != victim


def test_connection_returned_mid_transaction_is_rolled_back(mysql):
    raw = mysql.raw_connection()
    cursor = raw.cursor()
    cursor.execute("INSERT INTO device_profiles (uuid, name, profile_json) "
                   "VALUES ('left-open', 'left-open', '{}')")
    cursor.close()
    raw.close()  # back to the pool with the INSERT neither committed nor not
    with mysql.connect() as check:
        assert check.exec_driver_sql(
            "SELECT COUNT(*) FROM device_profiles WHERE name = 'left-open'"
        ).scalar() == 0
