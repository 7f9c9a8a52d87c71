"""A stand-in conductor on the far side of the RPC boundary.

(Its explain_groups is the real one: :class:`ExplainingConductor`.)

The API's half of every conductor interaction is an RPC message; this
endpoint, served by a real oslo.messaging RPC server on the in-memory
``fake://`` transport, records each message it gets and answers calls the
way the conductor's RPC API documents. The conductor's own behaviour
(binding, Placement, agents) is tested by the conductor's tests; here we
test that the API sends the right messages and handles the answers,
including remote domain errors.

Tests read the record through ``GET /_test/conductor_calls`` on the
intercepted application (see fixtures.py).
"""

import threading

import oslo_messaging as messaging

from cyborg.conductor import explain
from cyborg import exception

# Programming this image fails on the "host", as a broken bitstream would.
FAILING_IMAGE = '00000000-0000-0000-0000-00000000dead'
# An ARQ seeded in BindStarted, whose bind no conductor is running.
BIND_STARTED_ARQ = '00000000-0000-0000-0000-0000000000ba'


class RecordingConductor:
    """Implements conductor RPC API 1.0 by recording what it is asked."""

    target = messaging.Target(version='1.0')

    def __init__(self):
        self._lock = threading.Lock()
        self.calls = []

    def _record(self, method, **kwargs):
        with self._lock:
            self.calls.append({'method': method, 'args': kwargs})

    def bind_arqs(self, context, arq_uuids):
        self._record('bind_arqs', arq_uuids=sorted(arq_uuids))

    def arqs_deleted(self, context, released_handles):
        self._record('arqs_deleted', released_handles=sorted(
            released_handles, key=lambda handle: handle['uuid']))

    def set_device_status(self, context, device_uuid, status):
        self._record('set_device_status', device_uuid=device_uuid,
                     status=status)
        return {'uuid': device_uuid, 'status': status}

    @messaging.expected_exceptions(exception.ProgrammingFailed)
    def program_deployable(self, context, deployable_uuid, image_uuid):
        self._record('program_deployable', deployable_uuid=deployable_uuid,
                     image_uuid=image_uuid)
        if image_uuid == FAILING_IMAGE:
            raise exception.ProgrammingFailed(target=deployable_uuid,
                                              reason='the agent said no')
        return {'uuid': deployable_uuid}


class ExplainingConductor:
    """Serves RPC 1.4 explain_groups with the conductor's real Explainer.

    A second endpoint beside :class:`RecordingConductor`: the groups are
    explained from the fixture's database, and ``placement_client``
    points at no Placement (a closed port), so each answer shows our
    providers with Placement's error, as a conductor whose Placement is
    down answers.
    """

    target = messaging.Target(version='1.4')

    def __init__(self, placement_client):
        self._explainer = explain.Explainer(placement_client)

    def explain_groups(self, context, groups):
        return self._explainer.explain_groups(context, groups)
