"""Binds that program a real FPGA driver's card, end to end.

The conductor (its RPC endpoint) binds on the fake:// transport; the agent is
the real one (AgentManager, its Programmer) with the Intel FPGA driver on
a fake N3000 host tree, programming through the real privsep daemon with
a fake fpgaconf; bitstreams come from a stub Glance, function traits land
in the real Placement.
"""

import logging
import re
import uuid

import pytest

from cyborg.accelerator.drivers import intel_fpga
from cyborg.accelerator.drivers import xilinx_fpga
from cyborg.agent import manager as agent_manager
from cyborg.agent import programming as agent_programming
from cyborg import rpc
from cyborg.tests.fixtures import binding as seed
from cyborg.tests.fixtures import placement as placement_fixture
from cyborg.tests.fixtures import sysfs_fpga
from cyborg.tests.fixtures.agent import sysfs_tree  # noqa: F401
from cyborg.tests.fixtures.fpga_tools import fake_fpgaconf  # noqa: F401
from cyborg.tests.fixtures.fpga_tools import fake_xbmgmt  # noqa: F401

AFU_ONE = '11111111222233334444555555555555'
AFU_TWO = '99999999888877776666555555555555'


@pytest.fixture
def placement(placement_conf):
    return placement_fixture.make_client(placement_conf)


@pytest.fixture
def conductor_placement(placement):
    return placement


@pytest.fixture
def card(bind_conf, sysfs_tree, fake_fpgaconf):  # noqa: F811
    """A PAC N3000 host; the fake fpgaconf updates its port's afu_id."""
    pf, _vfs = sysfs_fpga.build_pac_n3000_host(sysfs_tree)
    afu_id_file = sysfs_fpga.port_afu_id_path(sysfs_tree, pf)
    fake_fpgaconf.set_mode('ok', afu_id_file=afu_id_file)
    return {'pf': pf, 'afu_id_file': afu_id_file}


@pytest.fixture
def intel_agent(bind_conf, rpc_servers, card):
    driver = intel_fpga.IntelFpgaDriver(bind_conf)
    programmer = agent_programming.Programmer(bind_conf, [driver])
    endpoint = agent_manager.AgentManager([driver], programmer)
    rpc_servers.serve(rpc.AGENT_TOPIC, 'test-host', [endpoint])
    return driver


@pytest.fixture
def deployable(db, placement, card):
    """The card's deployable (two VF handles) under a real provider."""
    root_uuid, name = placement_fixture.create_compute_node(placement)
    rp_uuid = str(uuid.uuid4())
    placement.create_provider(rp_uuid, '%s_%s' % (name, card['pf']),
                              root_uuid)
    return seed.create_deployable(db, rp_uuid=rp_uuid, driver_name='intel',
                                  address=card['pf'], num_handles=2,
                                  attach_type='PCI')


def _image(stub_glance, afu_id):
    return stub_glance.add_image(('AFU:%s' % afu_id).encode(),
                                 properties={'accel:function_id': afu_id})


def _bind(db, conductor, deployable, image, count=1):
    uuids = seed.seed_binds(db, deployable, count, groups=[
        {'resources:FPGA': '1', 'accel:bitstream_id': image['id']}])
    return uuids, conductor.bind(db, uuids)


def _loaded(card):
    return card['afu_id_file'].read_text().strip()


def _function_traits(placement, rp_uuid):
    _generation, traits = placement.get_provider_traits(rp_uuid)
    return sorted(t for t in traits if t.startswith('CUSTOM_FPGA_FUNCTION'))


def test_a_bind_programs_the_card_with_fpgaconf(
        db, bind_conf, conductor, intel_agent, stub_glance, placement,
        card, deployable, fake_fpgaconf):  # noqa: F811
    image = _image(stub_glance, AFU_ONE)

    [arq_uuid], rows = _bind(db, conductor, deployable, image)

    assert rows[arq_uuid]['state'] == 'Bound'
    [argv] = fake_fpgaconf.calls()
    assert argv[:-1] == ['--bus', '0xb2', '--device', '0x00',
                         '--function', '0x0']
    # The agent's download, removed once programmed.
    assert re.fullmatch(r'.*/downloads/%s.*\.gbs' % image['id'], argv[-1])
    assert _loaded(card) == AFU_ONE
    row = seed.deployable_row(db, deployable)
    assert (row['bitstream_id'], row['function_id']) == (image['id'],
                                                         AFU_ONE)
    assert row['program_lease_owner'] is None
    assert _function_traits(placement, deployable['rp_uuid']) == [
        'CUSTOM_FPGA_FUNCTION_ID_INTEL_%s' % AFU_ONE.upper()]


@pytest.mark.parametrize('failure, why', [
    ('fail', 'exited with status 2: Error: the card refused the image'),
    ('hang', 'did not finish within 1 s and was killed'),
    ('missing', 'cannot be run: .* does not exist'),
])
def test_a_failing_tool_fails_the_bind_cleanly(
        db, bind_conf, conductor, intel_agent, stub_glance, stub_nova,
        card, deployable, fake_fpgaconf, tmp_path, caplog,  # noqa: F811
        failure, why):
    bind_conf.set_override('program_timeout', 1, group='intel_fpga')
    if failure == 'missing':
        bind_conf.set_override('fpgaconf_path', str(tmp_path / 'no-opae'),
                               group='intel_fpga')
    else:
        fake_fpgaconf.set_mode(failure)
    image = _image(stub_glance, AFU_ONE)

    [arq_uuid], rows = _bind(db, conductor, deployable, image)

    row = rows[arq_uuid]
    assert row['state'] == 'BindFailed'
    assert re.fullmatch(r'Programming 0000:b2:00.0 failed: fpgaconf \(.*\) '
                        + why, row['bind_error']), row['bind_error']
    assert row['attach_handle_id'] is None
    assert not any(h['in_use'] for h in seed.handles(
        db, deployable['deployable_id']))
    dep = seed.deployable_row(db, deployable)
    assert (dep['bitstream_id'], dep['program_lease_owner']) == (None, None)
    assert _loaded(card) == sysfs_fpga.NLB0_AFU_ID
    assert [e['status'] for e in stub_nova.events()] == ['failed']
    # One line on the agent's side says which tool failed and why.
    tool_lines = [r.getMessage() for r in caplog.records
                  if r.levelno >= logging.ERROR and 'fpgaconf' in
                  r.getMessage() and r.name.startswith('cyborg.accel')]
    assert len(tool_lines) == 1


def test_concurrent_binds_for_different_bitstreams_take_turns(
        db, bind_conf, conductor, intel_agent, stub_glance, card,
        deployable, fake_fpgaconf):  # noqa: F811
    # Property: two binds that want different bitstreams on one free card
    # never program it at the same time, and the ARQ that ends Bound
    # always has its own bitstream on the card (the other one fails
    # cleanly: the card is in use).
    fake_fpgaconf.set_mode('ok', delay=0.2, afu_id_file=card['afu_id_file'])
    images = {AFU_ONE: _image(stub_glance, AFU_ONE),
              AFU_TWO: _image(stub_glance, AFU_TWO)}
    for _round in range(6):
        wanted = {}
        uuids = []
        for afu_id, image in images.items():
            [arq_uuid] = seed.seed_binds(db, deployable, 1, groups=[
                {'resources:FPGA': '1', 'accel:bitstream_id': image['id']}])
            wanted[arq_uuid] = afu_id
            uuids.append(arq_uuid)

        rows = conductor.bind(db, uuids)

        bound = [u for u in uuids if rows[u]['state'] == 'Bound']
        failed = [u for u in uuids if rows[u]['state'] == 'BindFailed']
        assert len(bound) == 1 and len(failed) == 1, rows
        assert 'cannot be reprogrammed' in rows[failed[0]]['bind_error']
        assert _loaded(card) == wanted[bound[0]]
        assert seed.deployable_row(db, deployable)['function_id'] == (
            wanted[bound[0]])
        assert fake_fpgaconf.overlaps() == 0
        conductor.unbind(bound)


def test_both_arqs_of_an_alveo_bind_with_one_programming(
        db, bind_conf, conductor, rpc_servers, stub_glance,
        sysfs_tree, placement, fake_xbmgmt):  # noqa: F811
    # The two ARQs of one Xilinx FPGA (management and user PF) want the
    # same image: one programs it under the lease, the other finds it
    # loaded; both are Bound, one to each function.
    cards = sysfs_fpga.build_alveo_host(sysfs_tree)
    mgmt, _user = cards['u250']
    driver = xilinx_fpga.XilinxFpgaDriver(bind_conf)
    programmer = agent_programming.Programmer(bind_conf, [driver])
    rpc_servers.serve(rpc.AGENT_TOPIC, 'test-host', [
        agent_manager.AgentManager([driver], programmer)])
    root_uuid, name = placement_fixture.create_compute_node(placement)
    rp_uuid = str(uuid.uuid4())
    placement.create_provider(rp_uuid, '%s_%s' % (name, mgmt), root_uuid)
    deployable = seed.create_deployable(
        db, rp_uuid=rp_uuid, driver_name='XILINX', address=mgmt,
        num_handles=2, attach_type='PCI')
    image = stub_glance.add_image(b'xclbin2\0 a kernel',
                                  properties={'accel:function_id': 'gemm'})
    fake_xbmgmt.set_mode('ok', delay=0.2)

    uuids = seed.seed_binds(db, deployable, 2, groups=[
        {'resources:FPGA': '1', 'trait:CUSTOM_FPGA_XILINX': 'required',
         'accel:bitstream_id': image['id']}])
    rows = conductor.bind(db, uuids)

    assert {rows[u]['state'] for u in uuids} == {'Bound'}
    [argv] = fake_xbmgmt.calls()
    assert argv[:3] == ['program', '--device', mgmt]
    assert argv[3] == '--user' and argv[-1] == '--force'
    assert len({rows[u]['attach_handle_id'] for u in uuids}) == 2
    assert _function_traits(placement, rp_uuid) == [
        'CUSTOM_FPGA_FUNCTION_ID_XILINX_GEMM']
