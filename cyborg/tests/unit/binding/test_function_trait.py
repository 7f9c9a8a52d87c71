"""Function-id trait names and which groups ask for a bitstream."""

import re

import pytest

from cyborg.accelerator.drivers import fpga
from cyborg.conductor import bitstreams


@pytest.mark.parametrize('driver, function_id, expected', [
    ('intel', '3AFB-5e6d', 'CUSTOM_FPGA_FUNCTION_ID_INTEL_3AFB_5E6D'),
    ('fake', 'a.b c', 'CUSTOM_FPGA_FUNCTION_ID_FAKE_A_B_C'),
])
def test_function_trait_is_a_valid_custom_trait(driver, function_id,
                                                expected):
    trait = fpga.function_trait(driver, function_id)
    assert trait == expected
    assert re.fullmatch('CUSTOM_[A-Z0-9_]+', trait)


@pytest.mark.parametrize('group, wanted', [
    ({'resources:FPGA': '1'}, False),
    ({'resources:FPGA': '1', 'accel:bitstream_id': 'x'}, True),
    ({'resources:FPGA': '1', 'accel:function_id': 'f'}, True),
    ({'accel:function_id': ''}, False),
])
def test_wants_bitstream(group, wanted):
    assert bitstreams.wants_bitstream(group) is wanted
