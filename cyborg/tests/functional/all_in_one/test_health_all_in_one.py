"""The issue's "done when" for device health, in ``cyborg-all-in-one`` with
its defaults: writing "failed" to the fake device's health file reserves
its inventory in Placement within 10 s and shows in the API at 2.5;
writing "healthy" gives it back within 10 s plus the hysteresis.
"""

import time

import requests

from cyborg.accelerator.drivers import fake
from cyborg.api.handlers import devices as device_handlers
from cyborg import exception
from cyborg.tests.functional.all_in_one import service as aio
from cyborg.tests.functional.all_in_one import test_fpga_all_in_one

HOST = 'aio-health-host'
HEALTH_VERSION = 'accelerator %d.%d' % device_handlers.HEALTH_VERSION
HEADERS = {'Accept': 'application/json',
           'OpenStack-API-Version': HEALTH_VERSION}
# The targets; recovery adds the default hysteresis
# ([agent] health_recovery_probes x health_interval = 3 x 2 s).
FAULT_SECONDS = 10
RECOVERY_SECONDS = 10 + 3 * 2


def _device(api):
    response = requests.get(api + '/v2/devices', headers=HEADERS, timeout=10)
    [device] = response.json()['devices']
    return device


def _reserved(placement, rp_uuid):
    try:
        _generation, inventories = placement.get_inventories(rp_uuid)
    except exception.ResourceProviderNotFound:
        # The device is in the DB a moment before its provider is made.
        return None
    return inventories['FPGA']['reserved']


def _timed(service, predicate, what):
    started = time.monotonic()
    service.wait(predicate, what, timeout=60)
    return time.monotonic() - started


def test_a_failed_fake_device_is_reserved_then_given_back(tmp_path):
    state = tmp_path / 'state'
    with aio.running(tmp_path, {
            'DEFAULT': {'host': HOST, 'state_path': str(state)}}) as service:
        api = service.api
        [deployable] = service.wait(
            lambda: requests.get(api + '/v2/deployables', headers=HEADERS,
                                 timeout=10).json()['deployables'],
            'the fake FPGA to be reported')
        placement = test_fpga_all_in_one._placement(tmp_path,
                                                    service.placement_port)
        service.wait(lambda: _reserved(placement, deployable['rp_uuid'])
                     == 0 or None, 'the provider inventory')
        assert _device(api)['health'] == 'healthy'

        fake.write_health(str(state), 'failed', 'injected by the test')
        fault = _timed(service, lambda: _reserved(
            placement, deployable['rp_uuid']) == 16, 'the fault reserving')
        device = _device(api)
        assert (device['health'], device['health_reason']) == (
            'failed', 'injected by the test')

        fake.write_health(str(state), 'healthy')
        recovery = _timed(service, lambda: _reserved(
            placement, deployable['rp_uuid']) == 0, 'the recovery')
        device = _device(api)
        assert (device['health'], device['health_reason']) == ('healthy',
                                                               None)
    print('fault reserved in %.1f s, recovery unreserved in %.1f s'
          % (fault, recovery))
    assert fault < FAULT_SECONDS, service.log_tail()
    assert recovery < RECOVERY_SECONDS, service.log_tail()
