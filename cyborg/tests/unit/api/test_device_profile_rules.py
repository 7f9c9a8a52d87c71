"""Device profile group rules and how many ARQs a profile asks for."""

import pytest

from cyborg.api.handlers import accelerator_requests as arqs
from cyborg.api.handlers import device_profiles
from cyborg.api import errors


def test_keys_are_stripped():
    groups = device_profiles.normalize_groups(
        [{' resources: FPGA ': '1', 'trait:  CUSTOM_A': 'required',
          'accel:function_id': 'f'}])
    assert groups == [{'resources:FPGA': '1', 'trait:CUSTOM_A': 'required',
                       'accel:function_id': 'f'}]


@pytest.mark.parametrize('group', [
    {'resources:VCPU': '1'},
    {'resources:FPGA': 'x'},
    {'resources:FPGA': '0'},
    {'trait:OWNER_CYBORG': 'required'},
    {'trait:CUSTOM_A': 'maybe'},
    {'foo:bar': '1'},
    {'resources:': '1'},
])
def test_bad_groups_are_400(group):
    with pytest.raises(errors.BadRequest):
        device_profiles.normalize_groups([group])


def test_custom_resource_classes_are_accepted():
    assert device_profiles.normalize_groups(
        [{'resources:CUSTOM_PCI': '3'}]) == [{'resources:CUSTOM_PCI': '3'}]


def test_arq_count_is_the_sum_of_resources_per_group():
    assert arqs.count_arqs_per_group([
        {'resources:FPGA': '2', 'resources:CUSTOM_QAT': '1'},
        {'resources:PGPU': '1', 'trait:CUSTOM_X': 'required'},
        {'accel:bitstream_id': 'b'},
    ]) == [3, 1, 0]


def test_xilinx_fpga_takes_two_arqs_per_fpga():
    # Management and user physical functions are bound separately.
    assert arqs.count_arqs_per_group([
        {'resources:FPGA': '2', 'trait:CUSTOM_FPGA_XILINX': 'required'},
        {'resources:FPGA': '2', 'trait:CUSTOM_FPGA_XILINX': 'forbidden'},
    ]) == [4, 2]
