"""Concurrent requests at the API, on SQLite, MariaDB and PostgreSQL.

Real threads send real requests to the application; the database decides
who wins. What must hold whatever the interleaving:

* two binds of different ARQs to one instance: exactly one is accepted,
  the other refused, and the refused ARQ is untouched ("an instance gets
  its ARQs once", which a read before the write cannot guarantee);
* a delete that lands while a conductor binds the ARQ: the ARQ is gone
  and no attach handle stays in use.
"""

import json
import threading
import uuid

import pytest
import sqlalchemy as sa
import webob

from cyborg.api import app as api_app
from cyborg.conductor import service as conductor_service
from cyborg import context as cyborg_context
from cyborg.db import models
from cyborg.tests.fixtures import binding as seed

# The shared fake:// transport fixture.
transport = seed.transport

ROUNDS = 12
# Nova's identity: any project's ARQs, with a service token.
NOVA = {'X-Roles': 'admin', 'X-Service-Roles': 'service',
        'X-Project-Id': 'project'}


def _request(app, method, path, body=None):
    req = webob.Request.blank(path, method=method, headers=dict(NOVA))
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = 'application/json'
    return req.get_response(app)


def _bind_ops(host, rp_uuid, instance):
    return [{'op': 'add', 'path': '/hostname', 'value': host},
            {'op': 'add', 'path': '/device_rp_uuid', 'value': rp_uuid},
            {'op': 'add', 'path': '/instance_uuid', 'value': instance}]


def _run_together(*calls):
    """Run the calls in threads released at once; their results."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(index, call))
               for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.fixture
def api(any_db, conf, transport):
    return api_app.build_app(conf, transport)


@pytest.fixture
def deployable(any_db):
    return seed.create_deployable(any_db, hostname='test-host',
                                  num_handles=4 * ROUNDS)


def _claims(engine, instance):
    table = models.InstanceClaim.__table__
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)
                            .where(table.c.instance_uuid == instance)
                            ).scalar()


def test_two_binds_for_one_instance_one_wins(any_db, api, deployable):
    profile = seed.create_device_profile(any_db, [{'resources:FPGA': '1'}])
    for _round in range(ROUNDS):
        first, second = seed.create_arqs(any_db, profile, 2)
        instance = str(uuid.uuid4())

        ops = _bind_ops('test-host', deployable['rp_uuid'], instance)
        statuses = _run_together(*[
            lambda arq=arq, ops=ops: _request(api, 'PATCH',
                                     '/v2/accelerator_requests/%s' % arq,
                                     ops).status_int
            for arq in (first, second)])

        assert sorted(statuses) == [202, 400], statuses
        rows = seed.arqs(any_db, [first, second])
        winner, loser = ((first, second) if statuses[0] == 202
                         else (second, first))
        assert rows[winner]['state'] == 'BindStarted'
        assert rows[winner]['instance_uuid'] == instance
        assert (rows[loser]['state'], rows[loser]['instance_uuid'],
                rows[loser]['bind_seq']) == ('Initial', None, 0)
        assert _claims(any_db, instance) == 1


def test_a_delete_during_a_bind_frees_the_handle(any_db, api, deployable,
                                                  conf, transport):
    manager = conductor_service.Conductor(conf, transport, None).manager
    context = cyborg_context.get_admin_context()
    try:
        for _round in range(ROUNDS):
            [arq] = seed.seed_binds(any_db, deployable, 1,
                                    instance_uuid=str(uuid.uuid4()))

            _outcome, response = _run_together(
                lambda arq=arq: manager.binder.bind_batch(context, [arq]),
                lambda arq=arq: _request(
                    api, 'DELETE', '/v2/accelerator_requests?arqs=%s' % arq))

            assert response.status_int == 204
            assert seed.arqs(any_db, [arq]) == {}
            assert not [h for h in seed.handles(
                any_db, deployable['deployable_id']) if h['in_use']]
    finally:
        manager.binder.close()
