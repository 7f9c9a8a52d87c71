"""Attribute rows ``rc`` and ``trait<N>`` follow every report end to end.

Reports go through the conductor's ``reports.apply_report`` (DB diff, then
the real Placement) on SQLite, MariaDB and PostgreSQL; the rows are read
back with the API's own readers (``list_attributes``, ``get_deployable``),
and Placement is checked to still follow the resource class and traits.
"""

import pytest

from cyborg.accelerator import discovery
from cyborg.conductor import placement_sync
from cyborg.conductor import reports
from cyborg.db import attributes
from cyborg.db import deployables
from cyborg.tests.fixtures import placement as placement_fixture
from cyborg.tests.functional.conductor import builders

OWNER = 'OWNER_CYBORG'
ADDRESS = '0000:3b:00.0'


class Host:
    """A compute node in the real Placement and a conductor reporting it."""

    def __init__(self, conf, context):
        self.context = context
        self.client, _http = placement_fixture.counting_client(conf)
        self.sync = placement_sync.PlacementSync(conf, self.client)
        self.cn_uuid, self.name = placement_fixture.create_compute_node(
            self.client)

    def report(self, *devices):
        summary = reports.apply_report(
            self.context, self.sync, self.client, self.name, self.name,
            self.cn_uuid, discovery.report_to_wire(devices),
            discovery.fingerprint(devices))
        assert summary['placement_in_sync']

    def device(self, address=ADDRESS, **kwargs):
        return builders.pci_device(self.name, address, **kwargs)

    def deployable(self, address=ADDRESS):
        name = '%s_%s' % (self.name, address)
        found = deployables.list_deployables(self.context, name=name)
        return found[0] if found else None

    def rows(self, address=ADDRESS):
        """The deployable's attribute rows, as /v2/attributes lists them."""
        dep = self.deployable(address)
        return attributes.list_attributes(self.context,
                                          deployable_id=dep['id'])

    def provider(self, address=ADDRESS):
        tree = placement_fixture.read_provider_tree(self.client,
                                                    self.cn_uuid)
        return tree.get('%s_%s' % (self.name, address))


@pytest.fixture
def host(any_db, placement_conf, admin_context):
    return Host(placement_conf, admin_context)


def as_dict(rows):
    return {row['key']: row['value'] for row in rows}


def assert_list_is_the_rows(host, address=ADDRESS):
    """attributes_list is exactly the rows: rc, trait<N> by N, then by id."""
    rows = host.rows(address)
    ordered = sorted(rows, key=lambda row: attributes.list_position(
        row['key'], row['id']))
    assert host.deployable(address)['attributes_list'] == [
        {row['key']: row['value']} for row in ordered]


def test_report_records_rc_and_traits_as_attributes(host):
    host.report(host.device(traits=('CUSTOM_B', 'CUSTOM_A'),
                            attributes={'firmware': '1.2'}))

    assert as_dict(host.rows()) == {
        'rc': 'FPGA', 'trait0': 'CUSTOM_A', 'trait1': 'CUSTOM_B',
        'firmware': '1.2'}
    assert host.deployable()['attributes_list'] == [
        {'rc': 'FPGA'}, {'trait0': 'CUSTOM_A'}, {'trait1': 'CUSTOM_B'},
        {'firmware': '1.2'}]
    assert_list_is_the_rows(host)
    assert host.provider()['traits'] == ['CUSTOM_A', 'CUSTOM_B', OWNER]


def test_rows_follow_trait_and_rc_changes(host):
    host.report(host.device(traits=('CUSTOM_A', 'CUSTOM_C')))
    first = {row['key']: row for row in host.rows()}

    # A trait sorting in the middle renumbers the ones after it.
    host.report(host.device(traits=('CUSTOM_A', 'CUSTOM_B', 'CUSTOM_C')))
    rows = {row['key']: row for row in host.rows()}
    assert as_dict(rows.values()) == {
        'rc': 'FPGA', 'trait0': 'CUSTOM_A', 'trait1': 'CUSTOM_B',
        'trait2': 'CUSTOM_C'}
    # Renumbering updates rows in place: the untouched ones keep their uuid.
    assert rows['trait0']['uuid'] == first['trait0']['uuid']
    assert rows['trait1']['uuid'] == first['trait1']['uuid']
    assert_list_is_the_rows(host)

    # Traits removed and the resource class changed.
    host.report(host.device(rc='CUSTOM_ACCEL', traits=('CUSTOM_C',)))
    assert as_dict(host.rows()) == {'rc': 'CUSTOM_ACCEL',
                                    'trait0': 'CUSTOM_C'}
    assert_list_is_the_rows(host)
    provider = host.provider()
    assert list(provider['inventories']) == ['CUSTOM_ACCEL']
    assert provider['traits'] == ['CUSTOM_C', OWNER]

    # No resource class and no traits: no rows, and no provider.
    host.report(host.device(rc=None, traits=()))
    assert host.rows() == []
    assert host.deployable()['attributes_list'] == []
    assert host.provider() is None


def test_rows_not_in_the_report_are_removed(host, admin_context):
    host.report(host.device())
    dep = host.deployable()
    attributes.create_attribute(admin_context, dep['id'], 'note', 'by hand')
    assert 'note' in as_dict(host.rows())

    # The next full report makes the rows what discovery says, as upstream.
    host.report(host.device(traits=('CUSTOM_FAKE', 'CUSTOM_NEW')))

    assert as_dict(host.rows()) == {'rc': 'FPGA', 'trait0': 'CUSTOM_FAKE',
                                    'trait1': 'CUSTOM_NEW'}


def test_rows_go_with_their_deployable(host, admin_context):
    gone = '0000:5e:00.0'
    host.report(host.device(), host.device(gone, attributes={'a': 'b'}))
    gone_id = host.deployable(gone)['id']
    assert as_dict(host.rows(gone)) == {'rc': 'FPGA',
                                        'trait0': 'CUSTOM_FAKE', 'a': 'b'}

    host.report(host.device())

    assert host.deployable(gone) is None
    assert attributes.list_attributes(admin_context,
                                      deployable_id=gone_id) == []
    assert as_dict(host.rows()) == {'rc': 'FPGA', 'trait0': 'CUSTOM_FAKE'}


def test_trait_numbers_sort_as_numbers(host):
    traits = ['CUSTOM_T%02d' % i for i in range(12)]
    host.report(host.device(traits=traits))

    keys = [next(iter(item))
            for item in host.deployable()['attributes_list']]
    assert keys == ['rc'] + ['trait%d' % i for i in range(12)]
    assert_list_is_the_rows(host)

