"""os_acc.parse_device_context: a device context as Nova's request groups."""

import pytest

import os_acc
from os_acc import attach

CONTEXT = {
    'uuid': '5c0e5d84-49b6-4d1e-a4c4-66b3d5b6c9a1',
    'groups': [
        {'resources:FPGA': '1', 'trait:CUSTOM_FPGA_INTEL': 'required',
         'trait:CUSTOM_SLOW': 'forbidden', 'accel:function_id': 'gzip'},
        {'resources:CUSTOM_NIC': '2', 'trait:CUSTOM_PHYSNET1': 'required',
         'trait:CUSTOM_VF': 'required'},
    ],
}


def test_groups_are_named_as_nova_names_device_profile_groups():
    first, second = os_acc.parse_device_context(CONTEXT)

    assert first == os_acc.RequestGroup(
        requester_id='device_profile_0', resources={'FPGA': 1},
        required_traits=('CUSTOM_FPGA_INTEL',),
        forbidden_traits=('CUSTOM_SLOW',))
    assert second.requester_id == 'device_profile_1'
    assert second.resources == {'CUSTOM_NIC': 2}
    assert second.required_traits == ('CUSTOM_PHYSNET1', 'CUSTOM_VF')
    assert second.use_same_provider


def test_the_show_wrapper_and_a_bare_list_parse_alike():
    parsed = os_acc.parse_device_context(CONTEXT)
    assert os_acc.parse_device_context({'device_context': CONTEXT}) == parsed
    assert os_acc.parse_device_context(CONTEXT['groups']) == parsed


def test_placement_query_of_a_group():
    [group, _] = os_acc.parse_device_context(CONTEXT)

    assert group.placement_query() == {
        'resources_device_profile_0': 'FPGA:1',
        'required_device_profile_0': 'CUSTOM_FPGA_INTEL,!CUSTOM_SLOW'}
    assert group.placement_query(suffix='1', in_tree='cn') == {
        'resources1': 'FPGA:1',
        'required1': 'CUSTOM_FPGA_INTEL,!CUSTOM_SLOW', 'in_tree1': 'cn'}


def test_a_group_of_traits_only_is_kept():
    [group] = os_acc.parse_device_context(
        [{'trait:CUSTOM_X': 'required'}])
    assert group.resources == {} and group.required_traits == ('CUSTOM_X',)
    assert group.placement_query() == {
        'required_device_profile_0': 'CUSTOM_X'}


@pytest.mark.parametrize('bad', [
    None, 'groups', {}, {'groups': 'x'}, {'device_context': None},
    [['resources:FPGA', '1']],
    [{'resources:FPGA': 'one'}], [{'resources:FPGA': '0'}],
    [{'resources:': '1'}], [{'trait:CUSTOM_X': 'maybe'}],
    [{'color': 'red'}],
])
def test_what_is_not_a_device_context(bad):
    with pytest.raises(os_acc.InvalidDeviceContext):
        os_acc.parse_device_context(bad)


def test_the_flavor_names_a_profile_or_a_context_not_both():
    with pytest.raises(os_acc.PlugException, match='name one'):
        attach._arq_request({'accel:device_profile': 'p',
                             'accel:device_context': 'c'})
    with pytest.raises(os_acc.PlugException, match='is not set'):
        attach._arq_request({'hw:cpu_policy': 'dedicated'})
    assert attach._arq_request({'accel:device_context': 'c'}) == (
        {'device_context_uuid': 'c'}, '2.4')
    assert attach._arq_request({'accel:device_profile': 'p'}) == (
        {'device_profile_name': 'p'}, '2.3')
