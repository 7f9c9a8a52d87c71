"""A failed bind ends BindFailed with a clear reason and a `failed` event,
and leaves nothing behind: no handle held, no lease, no mdev."""

import logging

from cyborg.conductor import service as conductor_service
from cyborg import context as cyborg_context
from cyborg.tests.fixtures import binding as seed

GROUP = {'resources:FPGA': '1'}


def _assert_failed_cleanly(engine, deployable, arq_uuid, stub_nova, reason):
    row = seed.arq(engine, arq_uuid)
    assert row['state'] == 'BindFailed'
    assert reason in row['bind_error']
    assert row['attach_handle_id'] is None
    assert row['bind_lease_owner'] is None
    assert not any(h['in_use'] for h in seed.handles(
        engine, deployable['deployable_id']))
    events = seed.wait_for(lambda: stub_nova.events_by_tag().get(arq_uuid),
                           what='the failed event')
    assert [e['status'] for e in events] == ['failed']


def test_bitstream_image_missing_in_glance(db, conductor, stub_nova):
    deployable = seed.create_deployable(db)
    [arq_uuid] = seed.seed_binds(db, deployable, 1, groups=[dict(
        GROUP, **{'accel:bitstream_id': 'b3c2a3a4-2a6e-4f7b-9d43-2e8c4b1d1e10'})])
    conductor.bind(db, [arq_uuid])
    _assert_failed_cleanly(db, deployable, arq_uuid, stub_nova,
                           'b3c2a3a4-2a6e-4f7b-9d43-2e8c4b1d1e10 could not '
                           'be found')


def test_both_bitstream_and_function_id(db, conductor, stub_nova,
                                        stub_glance):
    image = stub_glance.add_image(b'bits')
    deployable = seed.create_deployable(db)
    [arq_uuid] = seed.seed_binds(db, deployable, 1, groups=[dict(
        GROUP, **{'accel:bitstream_id': image['id'],
                  'accel:function_id': 'f1'})])
    conductor.bind(db, [arq_uuid])
    _assert_failed_cleanly(db, deployable, arq_uuid, stub_nova,
                           'names both accel:bitstream_id and '
                           'accel:function_id')
    assert stub_glance.requests == []


def test_function_id_matching_two_images(db, conductor, stub_nova,
                                         stub_glance):
    for data in (b'one', b'two'):
        stub_glance.add_image(data, properties={'accel:function_id': 'f2'})
    deployable = seed.create_deployable(db)
    [arq_uuid] = seed.seed_binds(db, deployable, 1, groups=[dict(
        GROUP, **{'accel:function_id': 'f2'})])
    conductor.bind(db, [arq_uuid])
    _assert_failed_cleanly(db, deployable, arq_uuid, stub_nova,
                           '2 images have accel:function_id=f2')


def test_agent_unreachable(db, bind_conf, conductor, stub_nova, stub_glance):
    # No agent RPC server listens for 'test-host' on the transport.
    bind_conf.set_override('agent_rpc_timeout', 1, group='conductor')
    image = stub_glance.add_image(b'bits')
    deployable = seed.create_deployable(db)
    [arq_uuid] = seed.seed_binds(db, deployable, 1, groups=[dict(
        GROUP, **{'accel:bitstream_id': image['id']})])
    conductor.bind(db, [arq_uuid])
    _assert_failed_cleanly(db, deployable, arq_uuid, stub_nova,
                           'The agent on host test-host did not answer')
    # Nothing was programmed, so nothing is recorded as programmed.
    assert seed.deployable_row(db, deployable)['bitstream_id'] is None


def test_no_deployable_behind_the_provider(db, conductor, stub_nova):
    deployable = seed.create_deployable(db)
    profile = seed.create_device_profile(db, [GROUP])
    [arq_uuid] = seed.create_arqs(db, profile, 1)
    seed.start_bind(db, arq_uuid, 'c0ffee00-0000-4000-8000-000000000000')
    conductor.bind(db, [arq_uuid])
    _assert_failed_cleanly(db, deployable, arq_uuid, stub_nova,
                           'No deployable is behind resource provider '
                           'c0ffee00-0000-4000-8000-000000000000')


def test_deployable_missing_from_its_host_is_not_bound(db, conductor,
                                                       stub_nova):
    deployable = seed.create_deployable(db)
    with db.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE deployables SET missing_since = '2026-01-01 00:00:00' "
            "WHERE id = %d" % deployable['deployable_id'])
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    conductor.bind(db, [arq_uuid])
    _assert_failed_cleanly(db, deployable, arq_uuid, stub_nova,
                           'missing from its host')


def test_mdev_creation_failure_removes_the_mdev(db, conductor, agent,
                                                stub_nova):
    agent.fail['create_mdev'] = RuntimeError('no vGPU left')
    deployable = seed.create_deployable(db, attach_type='MDEV')
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    conductor.bind(db, [arq_uuid])
    _assert_failed_cleanly(db, deployable, arq_uuid, stub_nova,
                           'no vGPU left')
    [created] = agent.calls_of('create_mdev')
    [removed] = agent.calls_of('remove_mdev')
    assert removed == created


def test_nova_down_events_are_retried_then_delivered_once(
        db, bind_conf, transport, conductor, stub_nova):
    stub_nova.mode = 'error'
    deployable = seed.create_deployable(db)
    uuids = seed.seed_binds(db, deployable, 3)
    conductor.bind(db, uuids)
    seed.wait_for(lambda: stub_nova.requests, what='a POST to Nova')
    seed.wait_for(lambda: all(e['attempts'] == 1 and e['next_attempt_at']
                              for e in seed.events(db)),
                  what='the events to be rescheduled')
    assert stub_nova.accepted_events() == []

    stub_nova.mode = 'ok'
    worker = conductor_service.Conductor(bind_conf, transport, None).recovery
    context = cyborg_context.get_admin_context()
    # The first retry is due two seconds after the failure.
    seed.wait_for(lambda: worker.run_once(context)['events_sent'],
                  timeout=10, interval=0.5, what='the retried delivery')
    assert worker.run_once(context)['events_sent'] == 0
    by_tag = stub_nova.events_by_tag()
    assert sorted(by_tag) == sorted(uuids)
    assert all(len(events) == 1 for events in by_tag.values())
    assert all(e['sent_at'] and e['attempts'] == 2 for e in seed.events(db))


def test_nova_207_all_422_counts_as_delivered(db, conductor, stub_nova):
    stub_nova.mode = 'not_on_host'
    deployable = seed.create_deployable(db)
    uuids = seed.seed_binds(db, deployable, 2)
    conductor.bind(db, uuids)
    seed.wait_for(lambda: all(e['sent_at'] for e in seed.events(db)),
                  what='events marked sent')
    assert len(stub_nova.requests) == 1


def test_events_abandoned_after_max_attempts(db, bind_conf, conductor,
                                             stub_nova, caplog):
    bind_conf.set_override('nova_event_max_attempts', 1, group='conductor')
    stub_nova.mode = 'error'
    deployable = seed.create_deployable(db)
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    with caplog.at_level(logging.ERROR, logger='cyborg.conductor'):
        conductor.bind(db, [arq_uuid])
        [event] = seed.wait_for(
            lambda: [e for e in seed.events(db) if e['abandoned_at']],
            what='the event to be abandoned')
    assert event['sent_at'] is None
    assert any('Giving up telling Nova that ARQ %s' % arq_uuid in r.message
               for r in caplog.records if r.levelno == logging.ERROR)


def test_nova_refusing_some_events_gives_them_up(db, conductor, stub_nova):
    # 207 with one event accepted and one refused with 404: the refused one
    # is given up at once (a retry would get the same answer).
    stub_nova.mode = 'mixed'
    deployable = seed.create_deployable(db)
    uuids = seed.seed_binds(db, deployable, 2)
    conductor.bind(db, uuids)
    seed.wait_for(lambda: all(e['sent_at'] or e['abandoned_at']
                              for e in seed.events(db)),
                  what='events settled')
    assert sorted((bool(e['sent_at']), bool(e['abandoned_at']))
                  for e in seed.events(db)) == [(False, True), (True, False)]
    assert len(stub_nova.requests) == 1


def test_without_nova_events_are_given_up_not_retried(db, conf, transport,
                                                      rpc_servers, caplog):
    # The all-in-one service has no Nova: outcomes are still recorded, and
    # their events given up at once with a log line, never retried.
    from cyborg.tests.functional.binding.conftest import Conductor
    conductor = Conductor(conf, transport, rpc_servers)
    try:
        deployable = seed.create_deployable(db)
        [arq_uuid] = seed.seed_binds(db, deployable, 1)
        with caplog.at_level(logging.INFO, logger='cyborg.conductor'):
            rows = conductor.bind(db, [arq_uuid])
    finally:
        conductor.close()
    assert rows[arq_uuid]['state'] == 'Bound'
    [event] = seed.events(db)
    assert event['abandoned_at'] and not event['sent_at']
    assert event['attempts'] == 1
    assert 'No Nova configured' in caplog.text
