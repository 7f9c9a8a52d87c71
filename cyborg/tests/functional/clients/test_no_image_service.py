"""Programming where no image service is configured (the all-in-one)."""

import openstack
import pytest



@pytest.fixture
def bind_conf(conf, stub_nova):
    # As the shared bind_conf, but [glance] names no endpoint at all.
    conf.set_override('endpoint_override', stub_nova.endpoint, group='nova')
    conf.set_override('agent_rpc_timeout', 5, group='conductor')
    return conf


def test_programming_without_an_image_service_is_a_503(cloud):
    endpoint, _rp, _host = cloud
    acc = openstack.connection.Connection(
        auth_type='none', auth={'endpoint': endpoint}).accelerator
    [deployable] = list(acc.deployables())
    resp = acc.patch(
        '/deployables/%s/program' % deployable.id,
        json=[{'op': 'replace', 'path': '/program',
               'value': [{'image_uuid':
                          '5d4b7a2c-0c52-4d8b-9b8e-3f8c7d6e5a41'}]}],
        raise_exc=False)
    assert resp.status_code == 503
    assert 'no image service is configured' in resp.text
