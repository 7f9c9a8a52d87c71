"""The typed Placement client against the real Placement service."""

import uuid

import pytest

from cyborg import exception
from cyborg.tests.fixtures import placement as placement_fixture


@pytest.fixture
def client(placement_conf):
    return placement_fixture.make_client(placement_conf)


@pytest.fixture
def compute_node(client):
    return placement_fixture.create_compute_node(client)


def _child(client, parent_uuid):
    child_uuid = str(uuid.uuid4())
    client.create_provider(child_uuid, 'child-%s' % child_uuid, parent_uuid)
    return child_uuid


def test_create_is_idempotent_and_name_clash_is_reported(client,
                                                         compute_node):
    cn_uuid, _name = compute_node
    child = str(uuid.uuid4())
    first = client.create_provider(child, 'c-%s' % child, cn_uuid)
    again = client.create_provider(child, 'c-%s' % child, cn_uuid)
    assert first['uuid'] == again['uuid'] == child
    assert again['parent_provider_uuid'] == cn_uuid

    with pytest.raises(exception.ResourceProviderNameClash) as err:
        client.create_provider(str(uuid.uuid4()), 'c-%s' % child, cn_uuid)
    assert child in str(err.value)


def test_tree_listing_and_required_traits(client, compute_node):
    cn_uuid, _name = compute_node
    owned, other = _child(client, cn_uuid), _child(client, cn_uuid)
    generation, _traits = client.get_provider_traits(owned)
    client.set_provider_traits(owned, generation, ['OWNER_CYBORG'])

    assert {p['uuid'] for p in client.get_providers_in_tree(cn_uuid)} == {
        cn_uuid, owned, other}
    assert [p['uuid'] for p in client.get_providers_in_tree(
        cn_uuid, required_traits=['OWNER_CYBORG'])] == [owned]
    assert client.get_providers_in_tree(str(uuid.uuid4())) == []


def test_inventories_and_generation_conflict(client, compute_node):
    cn_uuid, _name = compute_node
    rp = _child(client, cn_uuid)
    client.ensure_resource_class('CUSTOM_TEST_ACCEL')
    generation, inventories = client.get_inventories(rp)
    assert inventories == {}

    new_generation = client.set_inventories(
        rp, generation, {'CUSTOM_TEST_ACCEL': {'total': 4, 'reserved': 4}})
    assert new_generation == generation + 1
    with pytest.raises(exception.GenerationConflict):
        client.set_inventories(rp, generation,
                               {'CUSTOM_TEST_ACCEL': {'total': 2}})
    _gen, inventories = client.get_inventories(rp)
    assert (inventories['CUSTOM_TEST_ACCEL']['total'],
            inventories['CUSTOM_TEST_ACCEL']['reserved']) == (4, 4)


def test_traits_generation_conflict_and_custom_traits(client, compute_node):
    cn_uuid, _name = compute_node
    rp = _child(client, cn_uuid)
    client.ensure_traits(['CUSTOM_CLIENT_TEST', 'HW_CPU_X86_AVX2'])
    generation, traits = client.get_provider_traits(rp)
    generation = client.set_provider_traits(
        rp, generation, ['CUSTOM_CLIENT_TEST', 'HW_CPU_X86_AVX2'])
    with pytest.raises(exception.GenerationConflict):
        client.set_provider_traits(rp, generation - 1, [])
    assert sorted(client.get_provider_traits(rp)[1]) == [
        'CUSTOM_CLIENT_TEST', 'HW_CPU_X86_AVX2']


def test_vanished_custom_trait_is_created_again(client, compute_node):
    # The client caches the custom traits it created; one deleted since
    # (someone ran DELETE /traits) must not break later writes.
    cn_uuid, _name = compute_node
    rp = _child(client, cn_uuid)
    trait = 'CUSTOM_VANISHING_%s' % uuid.uuid4().hex[:8].upper()
    client.ensure_traits([trait])
    resp = client._request('DELETE', '/traits/%s' % trait)
    assert resp.status_code == 204

    generation, _traits = client.get_provider_traits(rp)
    client.set_provider_traits(rp, generation, [trait])
    assert client.get_provider_traits(rp)[1] == [trait]


def test_delete_provider_in_use_and_missing(client, compute_node):
    cn_uuid, _name = compute_node
    rp = _child(client, cn_uuid)
    client.ensure_resource_class('CUSTOM_TEST_ACCEL')
    generation, _inv = client.get_inventories(rp)
    client.set_inventories(rp, generation,
                           {'CUSTOM_TEST_ACCEL': {'total': 1}})
    consumer = str(uuid.uuid4())
    resp = client._request(
        'PUT', '/allocations/%s' % consumer, microversion='1.28',
        json={'allocations': {rp: {'resources': {'CUSTOM_TEST_ACCEL': 1}}},
              'project_id': str(uuid.uuid4()),
              'user_id': str(uuid.uuid4()), 'consumer_generation': None})
    assert resp.status_code == 204, resp.text

    with pytest.raises(exception.ResourceProviderInUse):
        client.delete_provider(rp)
    with pytest.raises(exception.ResourceProviderInUse):
        client.delete_provider(cn_uuid)  # it has children
    client._request('DELETE', '/allocations/%s' % consumer)
    assert client.delete_provider(rp) is True
    assert client.delete_provider(rp) is False
    assert client.get_provider(rp) is None


def test_unreachable_placement(conf):
    from cyborg.clients import placement as placement_client
    placement_client.configure_noauth(conf, 'http://127.0.0.1:9')
    client = placement_client.PlacementClient.from_conf(conf)
    with pytest.raises(exception.PlacementUnavailable):
        client.get_provider(str(uuid.uuid4()))
