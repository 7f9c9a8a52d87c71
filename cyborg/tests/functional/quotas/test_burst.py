"""A burst of ARQ creates from one project never ends over its limit.

Two cyborg-api processes of two workers each share one database; 50
threads create one-FPGA ARQs at once for a project whose FPGA limit is
10. Exactly 10 creates succeed and the other 40 are quota 403s, on
SQLite, MariaDB and PostgreSQL: the per-project quota lock
(``cyborg.db.quota_locks``) serialises check and insert across
processes. Without it, on MariaDB and PostgreSQL, concurrent creates
count the same usage and the burst ends over the limit.
"""

import concurrent.futures
import threading

import pytest
import requests
import sqlalchemy as sa

from cyborg.db import migration
from cyborg.db import models
from cyborg.tests.fixtures import database as db_fixture
from cyborg.tests.fixtures import processes

LIMIT = 10
THREADS = 50
PROJECT = 'burst-project'
MEMBER = {'X-Project-Id': PROJECT, 'X-Roles': 'member,reader',
          'OpenStack-API-Version': 'accelerator 2.7'}
QUOTA_EXCEEDED = 'cyborg.quota.exceeded'


@pytest.fixture(params=db_fixture.BACKENDS)
def burst_apis(request, tmp_path):
    """Two API processes (2 workers each) on one migrated database."""
    with db_fixture.empty_database(request.param, tmp_path) as engine:
        migration.upgrade('head', engine=engine)
        url = engine.url.render_as_string(hide_password=False)
        procs = processes.Processes(tmp_path)
        try:
            endpoints = [procs.start_api(
                'api-%d' % index, url, workers=2, sections={'quota': {
                    'driver': 'config', 'default_limits': 'FPGA:%d' % LIMIT}})
                for index in range(2)]
            yield engine, endpoints
        finally:
            procs.stop()


def test_a_burst_of_creates_ends_exactly_at_the_limit(burst_apis):
    engine, endpoints = burst_apis
    created = requests.post(endpoints[0] + '/v2/device_profiles', json=[{
        'name': 'one-fpga', 'groups': [{'resources:FPGA': '1'}]}],
        timeout=30)
    assert created.status_code == 201, created.text
    start = threading.Barrier(THREADS)

    def create(index):
        session = requests.Session()
        start.wait()
        response = session.post(
            endpoints[index % 2] + '/v2/accelerator_requests',
            json={'device_profile_name': 'one-fpga'}, headers=MEMBER,
            timeout=120)
        return (response.status_code,
                response.headers.get('OpenStack-Error-Code'), response.text)

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(create, range(THREADS)))

    statuses = sorted((status, code) for status, code, _ in answers)
    assert statuses == ([(201, None)] * LIMIT
                        + [(403, QUOTA_EXCEEDED)] * (THREADS - LIMIT)), [
        answer for answer in answers if answer[0] not in (201, 403)]
    arqs = models.ExtendedAcceleratorRequest.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(arqs.c.project_id, arqs.c.resource_class,
                                      sa.func.count())
                            .group_by(arqs.c.project_id,
                                      arqs.c.resource_class)).all()
    assert [tuple(row) for row in rows] == [(PROJECT, 'FPGA', LIMIT)]
    refused = next(text for status, _, text in answers if status == 403)
    assert ('Quota exceeded for class:FPGA: requested 1, but already used '
            '10 of 10 accelerators.') in refused

    usage = requests.get(endpoints[1] + '/v2/quotas/usage', headers=MEMBER,
                         timeout=30)
    assert usage.json() == {'usages': [
        {'resource_class': 'FPGA', 'in_use': LIMIT, 'limit': LIMIT}]}
