"""Concurrent requests at the API, on SQLite, MariaDB and PostgreSQL.

Real threads send real requests to the application; the database decides
who wins. What must hold whatever the interleaving:

* two binds of different ARQs to one instance: exactly one is accepted,
  the other refused, and the refused ARQ is untouched ("an instance gets
  its ARQs once", which a read before the write cannot guarantee);
* a delete that lands while a conductor binds the ARQ: the ARQ is gone
  and no attach handle stays in use;
* two binds of ARQs of one device context to two instances: exactly one
  is accepted, the context records that instance, the other ARQ is
  untouched ("a context's ARQs are never bound to two instances");
* a context's delete racing a bind of its ARQ, or the creation of ARQs
  from it: one order or the other, never both halves, never a 500 (the
  transactions take the context row first, then the ARQs: no deadlock).
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


def _request(app, method, path, body=None, version=None):
    headers = dict(NOVA)
    if version:
        headers['OpenStack-API-Version'] = 'accelerator %s' % version
    req = webob.Request.blank(path, method=method, headers=headers)
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


def test_two_instances_race_for_one_context_one_wins(any_db, api,
                                                     deployable):
    for _round in range(ROUNDS):
        context_id, context_uuid = seed.create_device_context(
            any_db, [{'resources:FPGA': '2'}], {'k': 'v'})
        first, second = seed.create_arqs(any_db, None, 2,
                                         context_id=context_id)
        instances = [str(uuid.uuid4()), str(uuid.uuid4())]

        statuses = _run_together(*[
            lambda arq=arq, instance=instance: _request(
                api, 'PATCH', '/v2/accelerator_requests/%s' % arq,
                _bind_ops('test-host', deployable['rp_uuid'],
                          instance)).status_int
            for arq, instance in zip((first, second), instances,
                                     strict=True)])

        assert sorted(statuses) == [202, 409], statuses
        won = statuses.index(202)
        winner, loser = (first, second) if won == 0 else (second, first)
        rows = seed.arqs(any_db, [first, second])
        assert rows[winner]['instance_uuid'] == instances[won]
        assert (rows[loser]['state'], rows[loser]['instance_uuid'],
                rows[loser]['bind_seq']) == ('Initial', None, 0)
        bound = seed.device_context(any_db, context_uuid)
        assert (bound['state'], bound['instance_uuid']) == (
            'Bound', instances[won])
        assert _claims(any_db, instances[1 - won]) == 0


def test_a_context_delete_racing_a_bind_of_its_arq(any_db, api,
                                                   deployable):
    for _round in range(ROUNDS):
        context_id, context_uuid = seed.create_device_context(
            any_db, [{'resources:FPGA': '1'}])
        [arq] = seed.create_arqs(any_db, None, 1, context_id=context_id)
        instance = str(uuid.uuid4())

        bind, delete = _run_together(
            lambda arq=arq, instance=instance: _request(
                api, 'PATCH', '/v2/accelerator_requests/%s' % arq,
                _bind_ops('test-host', deployable['rp_uuid'],
                          instance)).status_int,
            lambda context_uuid=context_uuid: _request(
                api, 'DELETE', '/v2/device_contexts/%s' % context_uuid,
                version='2.4').status_int)

        left = seed.device_context(any_db, context_uuid)
        if (bind, delete) == (202, 409):
            assert left['instance_uuid'] == instance
            assert seed.arqs(any_db, [arq])[arq]['state'] == 'BindStarted'
        else:
            # The delete came first: the ARQ went with the context.
            assert (bind, delete) == (404, 204)
            assert left is None and seed.arqs(any_db, [arq]) == {}
            assert _claims(any_db, instance) == 0


def test_a_context_delete_racing_arq_creation_from_it(any_db, api):
    for _round in range(ROUNDS):
        _id, context_uuid = seed.create_device_context(
            any_db, [{'resources:FPGA': '1'}])

        create, delete = _run_together(
            lambda context_uuid=context_uuid: _request(
                api, 'POST', '/v2/accelerator_requests',
                {'device_context_uuid': context_uuid},
                version='2.4').status_int,
            lambda context_uuid=context_uuid: _request(
                api, 'DELETE', '/v2/device_contexts/%s' % context_uuid,
                version='2.4').status_int)

        # Created then deleted with the context, or never created.
        assert delete == 204 and create in (201, 404), (create, delete)
        assert seed.device_context(any_db, context_uuid) is None
        table = models.ExtendedAcceleratorRequest.__table__
        with any_db.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(
                table)).scalar() == 0
