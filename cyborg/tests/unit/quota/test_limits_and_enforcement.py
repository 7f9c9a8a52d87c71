"""The quota arithmetic and the config driver, without a database."""

import pytest

from cyborg import exception
from cyborg.quota import enforcement
from cyborg.quota import limits
from cyborg.quota import resource_classes


def test_a_group_counts_against_its_first_resource_class():
    assert resource_classes.classes_of_groups([
        {'trait:CUSTOM_X': 'required', 'resources:CUSTOM_QAT': '1',
         'resources:FPGA': '1'},
        {'resources:FPGA': '2'},
        {'accel:function_id': 'x'},
    ]) == ['CUSTOM_QAT', 'FPGA', None]


def test_requested_per_class_adds_groups_of_one_class():
    assert resource_classes.requested_per_class(
        ['FPGA', 'VGPU', 'FPGA', None], [1, 2, 3, 0]) == {'FPGA': 4,
                                                          'VGPU': 2}


def test_project_overrides_win_and_minus_one_is_unlimited():
    driver = limits.ConfigLimits({'FPGA': '10', 'VGPU': '-1'},
                                 {'p1/FPGA': '20', 'p1/CUSTOM_QAT': '0'})
    assert driver.all_limits('p1') == {'FPGA': 20, 'VGPU': None,
                                       'CUSTOM_QAT': 0}
    assert driver.all_limits('p2') == {'FPGA': 10, 'VGPU': None}
    assert driver.limits_for('p2', {'FPGA', 'PGPU'}) == {'FPGA': 10,
                                                         'PGPU': None}


@pytest.mark.parametrize('defaults, overrides, named', [
    ({'FPGA': 'ten'}, {}, 'default_limits'),
    ({}, {'FPGA': '3'}, 'project_limits'),
    ({}, {'p1/FPGA': 'x'}, 'project_limits'),
])
def test_bad_limits_in_configuration_are_refused(defaults, overrides, named):
    with pytest.raises(exception.InvalidConfig, match=named):
        limits.ConfigLimits(defaults, overrides)


def test_over_the_limit_names_class_limit_usage_and_request():
    with pytest.raises(exception.QuotaExceeded) as raised:
        enforcement.check_usage({'FPGA': 10}, {'FPGA': 9}, {'FPGA': 2})
    assert str(raised.value) == (
        'Quota exceeded for class:FPGA: requested 2, but already used 9 of '
        '10 accelerators.')


def test_exactly_at_the_limit_fits_and_unlimited_classes_never_fail():
    enforcement.check_usage({'FPGA': 10, 'VGPU': None},
                            {'FPGA': 9, 'VGPU': 10 ** 6},
                            {'FPGA': 1, 'VGPU': 5, 'PGPU': 3})


def test_a_check_without_any_limit_is_not_enforced():
    assert not enforcement.QuotaCheck(['FPGA'], {'FPGA': None}).enforced
    assert not enforcement.QuotaCheck(['FPGA'], None).enforced
    check = enforcement.QuotaCheck(['FPGA', 'VGPU'], {'FPGA': 1,
                                                      'VGPU': None})
    assert check.enforced
    with pytest.raises(exception.QuotaExceeded, match='class:FPGA'):
        check.check({}, [2, 100])
