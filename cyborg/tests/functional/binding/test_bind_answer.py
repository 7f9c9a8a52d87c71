"""bind_arqs_and_answer (conductor RPC 1.3): the API's bounded wait.

The conductor answers once the binds that need no remote call are done,
so the 202 of a bind PATCH comes with the ARQ already Bound; a bind that
needs an agent goes on after the answer, as a cast one would.
"""

import threading

from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg.tests.fixtures import binding as seed


def test_the_answer_comes_once_the_bind_is_committed(db, conductor,
                                                      stub_nova):
    deployable = seed.create_deployable(db)
    uuids = seed.seed_binds(db, deployable, 2)
    answer = conductor.api.bind_arqs_and_answer(conductor.context, uuids,
                                                timeout=30)
    assert answer == {uuid: 'Bound' for uuid in uuids}
    # Nothing left to wait for: the rows say so at once.
    assert {row['state'] for row in seed.arqs(db, uuids).values()} == {
        'Bound'}
    # Their events still go out (after the answer, from the bind pool).
    seed.wait_for(lambda: sorted(stub_nova.events_by_tag()) == sorted(uuids),
                  what='both events')


def test_a_bind_needing_the_agent_goes_on_after_the_answer(db, conductor,
                                                            agent, stub_nova):
    release = threading.Event()
    deployable = seed.create_deployable(db, attach_type='MDEV')
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    agent.create_mdev = _held(agent.create_mdev, release)

    answer = conductor.api.bind_arqs_and_answer(conductor.context,
                                                [arq_uuid], timeout=30)
    assert answer == {arq_uuid: None}
    assert seed.arq(db, arq_uuid)['state'] == 'BindStarted'

    release.set()
    seed.wait_for(lambda: seed.arq(db, arq_uuid)['state'] == 'Bound',
                  what='the mdev bind')
    seed.wait_for(lambda: list(stub_nova.events_by_tag()) == [arq_uuid],
                  what='its event')


def test_a_client_capped_below_1_3_casts_instead(db, bind_conf, transport,
                                                 conductor):
    deployable = seed.create_deployable(db)
    [arq_uuid] = seed.seed_binds(db, deployable, 1)
    capped = conductor_rpcapi.ConductorAPI(transport, timeout=30,
                                           version_cap='1.2')
    assert capped.bind_arqs_and_answer(conductor.context, [arq_uuid],
                                       timeout=30) is None
    seed.wait_for(lambda: seed.arq(db, arq_uuid)['state'] == 'Bound',
                  what='the cast bind')


def _held(method, release):
    """method, made to wait until release is set."""
    def held(*args, **kwargs):
        release.wait(30)
        return method(*args, **kwargs)
    return held
