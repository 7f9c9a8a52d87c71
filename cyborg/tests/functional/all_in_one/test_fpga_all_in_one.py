"""cyborg-all-in-one pointed at a fake N3000 host with a fake fpgaconf
binds and programs an ARQ end to end, through its HTTP API.

The process is the real command; around it only what a laptop lacks: the
sysfs tree on disk, the fake tool, and a stub Glance holding the
bitstream.
"""

import uuid

import pytest
import requests

from cyborg.clients import placement as placement_client
from cyborg.tests.fixtures import fpga_tools
from cyborg.tests.fixtures import glance as glance_fixture
from cyborg.tests.fixtures import sysfs as sysfs_fixture
from cyborg.tests.fixtures import sysfs_fpga
from cyborg.tests.functional.all_in_one import service as aio

AFU_ID = '0123456789abcdef00112233445566ff'
HOST = 'aio-fpga-host'
HEADERS = {'Accept': 'application/json'}


@pytest.fixture
def stub_glance():
    glance = glance_fixture.StubGlance().start()
    yield glance
    glance.stop()


def _get(api, path):
    try:
        response = requests.get(api + path, headers=HEADERS, timeout=10)
    except requests.ConnectionError:
        return None
    return response.json() if response.status_code == 200 else None


def test_all_in_one_binds_and_programs_an_n3000(tmp_path, stub_glance):
    tree = sysfs_fixture.FakeSysfs(tmp_path / 'sys')
    pf, _vfs = sysfs_fpga.build_pac_n3000_host(tree)
    afu_id_file = sysfs_fpga.port_afu_id_path(tree, pf)
    tool = fpga_tools.FakeTool(tmp_path / 'tools', 'fpgaconf')
    tool.set_mode('ok', afu_id_file=afu_id_file)
    image = stub_glance.add_image(('AFU:%s' % AFU_ID).encode(),
                                  properties={'accel:function_id': AFU_ID})
    with aio.running(tmp_path, {
        'DEFAULT': {'host': HOST, 'state_path': str(tmp_path / 'state'),
                    'debug': 'true'},
        'agent': {'enabled_drivers': 'intel_fpga_driver',
                  'sysfs_root': str(tree.root)},
        'intel_fpga': {'fpgaconf_path': tool.path, 'program_timeout': 20},
        'glance': {'auth_type': 'admin_token', 'token': 'admin',
                   'endpoint': stub_glance.endpoint},
    }) as service:
        _bind_and_program(tmp_path, service, pf, tool, afu_id_file, image)


def _bind_and_program(tmp_path, service, pf, tool, afu_id_file, image):
    api = service.api
    deployables = service.wait(
        lambda: (_get(api, '/v2/deployables') or {}).get('deployables'),
        'the N3000 to be reported')
    [deployable] = deployables
    assert deployable['name'] == '%s_%s' % (HOST, pf)
    assert deployable['driver_name'] == 'intel'

    response = requests.post(api + '/v2/device_profiles', json=[{
        'name': 'n3000-nlb',
        'groups': [{'resources:FPGA': '1',
                    'trait:CUSTOM_FPGA_INTEL_PAC_N3000': 'required',
                    'accel:bitstream_id': image['id']}]}],
        headers=HEADERS, timeout=10)
    assert response.status_code == 201, response.text
    response = requests.post(
        api + '/v2/accelerator_requests',
        json={'device_profile_name': 'n3000-nlb'}, headers=HEADERS,
        timeout=10)
    assert response.status_code == 201, response.text
    [arq] = response.json()['arqs']
    response = requests.patch(api + '/v2/accelerator_requests', json={
        arq['uuid']: [
            {'op': 'add', 'path': '/hostname', 'value': HOST},
            {'op': 'add', 'path': '/device_rp_uuid',
             'value': deployable['rp_uuid']},
            {'op': 'add', 'path': '/instance_uuid',
             'value': str(uuid.uuid4())}]},
        # As Nova binds: with a service token.
        headers=dict(HEADERS, **{'X-Service-Roles': 'service'}),
        timeout=10)
    assert response.status_code == 202, response.text

    bound = service.wait(
        lambda: (lambda a: a if a and a['state'] in (
            'Bound', 'BindFailed') else None)(
            _get(api, '/v2/accelerator_requests/%s' % arq['uuid'])),
        'the bind', timeout=60)
    assert bound['state'] == 'Bound', service.log_tail(4000)
    assert bound['attach_handle_type'] == 'PCI'
    [argv] = tool.calls()
    assert argv[:-1] == ['--bus', '0xb2', '--device', '0x00',
                         '--function', '0x0']
    assert afu_id_file.read_text().strip() == AFU_ID
    assert _get(api, '/v2/deployables/%s' % deployable['uuid'])[
        'bitstream_id'] == image['id']
    placement = _placement(tmp_path, service.placement_port)
    _generation, traits = placement.get_provider_traits(
        deployable['rp_uuid'])
    assert 'CUSTOM_FPGA_FUNCTION_ID_INTEL_%s' % AFU_ID.upper() in traits
    # The card's own traits stay; only the function moved.
    assert 'CUSTOM_FPGA_INTEL_PAC_N3000' in traits
    assert 'CUSTOM_FPGA_REGION_INTEL_%s' % (
        sysfs_fpga.N3000_INTERFACE_ID.upper()) in traits
    assert 'CUSTOM_FPGA_FUNCTION_ID_INTEL_%s' % (
        sysfs_fpga.NLB0_AFU_ID.upper()) not in traits


def _placement(tmp_path, port):
    from cyborg.tests.fixtures import config as config_fixture
    conf = config_fixture.make_conf(tmp_path)
    placement_client.configure_noauth(conf, 'http://127.0.0.1:%d' % port)
    return placement_client.PlacementClient.from_conf(conf)
