"""The provider state the sync derives from DB rows, and its digest."""

import pytest

from cyborg.accelerator import discovery
from cyborg.conductor import placement_sync
from cyborg.db import deployables
from cyborg.db import models

CN = 'c0c0c0c0-0000-4000-8000-000000000000'


def state(**overrides):
    values = dict(deployable_id=1, name='host_0000:3b:00.0',
                  resource_class='FPGA', num_accelerators=4,
                  traits=('CUSTOM_B', 'CUSTOM_A'), device_id=1,
                  device_status='enabled', missing=False,
                  placement_digest=None)
    values.update(overrides)
    return deployables.ProviderState(**values)


def test_enabled_deployable():
    wanted = placement_sync.wanted_provider(state(), CN)
    assert wanted.uuid == placement_sync.provider_uuid('host_0000:3b:00.0')
    assert (wanted.name, wanted.parent_uuid) == ('host_0000:3b:00.0', CN)
    assert wanted.inventories == {'FPGA': {
        'total': 4, 'reserved': 0, 'min_unit': 1, 'max_unit': 4,
        'step_size': 1, 'allocation_ratio': 1.0}}
    assert wanted.traits == ('CUSTOM_A', 'CUSTOM_B', 'OWNER_CYBORG')


@pytest.mark.parametrize('overrides', [{'device_status': 'maintaining'},
                                       {'missing': True},
                                       {'device_health': 'failed'},
                                       {'device_health': 'degraded'}])
def test_unusable_deployable_is_fully_reserved(overrides):
    wanted = placement_sync.wanted_provider(state(**overrides), CN)
    assert wanted.inventories['FPGA']['reserved'] == 4


def test_a_healthy_device_again_is_reserved_as_operators_set_it():
    # Recovery gives back what maintenance says, not a blanket 0.
    assert placement_sync.wanted_provider(
        state(device_health='healthy'), CN).inventories['FPGA'][
            'reserved'] == 0
    assert placement_sync.wanted_provider(
        state(device_health='healthy', device_status='maintaining'),
        CN).inventories['FPGA']['reserved'] == 4


def test_the_schema_knows_every_health_state_drivers_report():
    assert models.DEVICE_HEALTH_STATES == discovery.HEALTH_STATES


def test_no_resource_class_means_no_provider():
    assert placement_sync.wanted_provider(state(resource_class=None),
                                          CN) is None


def test_zero_accelerators_means_no_inventory():
    wanted = placement_sync.wanted_provider(state(num_accelerators=0), CN)
    assert wanted.inventories == {}


def test_provider_uuid_is_uuid3_of_the_name():
    import uuid
    assert placement_sync.provider_uuid('n') == str(
        uuid.uuid3(uuid.NAMESPACE_DNS, 'n'))


def test_digest_follows_every_part_of_the_wanted_state():
    base = placement_sync.wanted_provider(state(), CN).digest()
    assert base == placement_sync.wanted_provider(
        state(traits=('CUSTOM_A', 'CUSTOM_B'), placement_digest='x'),
        CN).digest()
    variants = [state(num_accelerators=5), state(resource_class='PGPU'),
                state(traits=('CUSTOM_A',)), state(device_status='maintaining'),
                state(name='other')]
    digests = {placement_sync.wanted_provider(v, CN).digest()
               for v in variants}
    digests.add(placement_sync.wanted_provider(state(), 'other-cn').digest())
    assert base not in digests and len(digests) == len(variants) + 1


def test_inventories_match_compares_exact_values():
    wanted = {'FPGA': {'total': 2, 'reserved': 0}}
    assert placement_sync._inventories_match(
        {'FPGA': {'total': 2, 'reserved': 0, 'step_size': 1}}, wanted)
    assert not placement_sync._inventories_match(
        {'FPGA': {'total': 2, 'reserved': 2}}, wanted)
    assert not placement_sync._inventories_match(
        {'FPGA': {'total': 2, 'reserved': 0}, 'PGPU': {'total': 1}}, wanted)


def test_children_come_before_parents():
    tree = {'root': {'uuid': 'root', 'parent_provider_uuid': None},
            'a': {'uuid': 'a', 'parent_provider_uuid': 'root'},
            'b': {'uuid': 'b', 'parent_provider_uuid': 'a'}}
    assert placement_sync._children_first(['a', 'root', 'b'], tree) == [
        'b', 'a', 'root']
    assert placement_sync._descendants('root', tree) == ['b', 'a']


@pytest.mark.parametrize('out_of_service, reserved', [(1, 1), (3, 3),
                                                      (9, 4)])
def test_handles_out_of_service_are_reserved(out_of_service, reserved):
    # Released handles being scrubbed (or that failed it) hold no
    # allocation, yet must not be scheduled onto.
    wanted = placement_sync.wanted_provider(
        state(handles_out_of_service=out_of_service), CN)
    assert wanted.inventories['FPGA']['reserved'] == reserved


def test_an_unusable_deployable_stays_fully_reserved_while_scrubbing():
    wanted = placement_sync.wanted_provider(
        state(device_status='maintaining', handles_out_of_service=1), CN)
    assert wanted.inventories['FPGA']['reserved'] == 4


def test_a_device_that_failed_a_scrub_is_fully_reserved_even_if_healthy():
    # Its probes may well say healthy; the last tenant's data may be on it.
    wanted = placement_sync.wanted_provider(
        state(device_health='healthy', handles_out_of_service=1,
              device_scrub_failure='scrubbing attach handle h failed'), CN)
    assert wanted.inventories['FPGA']['reserved'] == 4
