"""Reports refused before anything is written: parsing and validation."""

import pytest

from cyborg.accelerator import discovery
from cyborg.conductor import reports
from cyborg import exception


def device(**deployable):
    values = dict(name='h_card', num_accelerators=1, driver_name='fake',
                  resource_class='FPGA', traits=['CUSTOM_X'],
                  attach_handles=[discovery.AttachHandle(
                      'PCI', discovery.pci_address_dict('0000:3b:00.0'))])
    values.update(deployable)
    return discovery.Device(
        type='FPGA', vendor='0x8086', model='m',
        controlpath=discovery.ControlPath(
            'PCI', discovery.pci_address_dict('0000:3b:00.0')),
        deployables=[discovery.Deployable(**values)])


def test_wire_round_trip_is_accepted():
    wire = discovery.report_to_wire([device()])
    devices = reports.parse_report('h', wire)
    assert reports.validate_report('h', devices) == devices


@pytest.mark.parametrize('wire', [
    {'not': 'a list'},
    [{'type': 'FPGA'}],
    [{'type': 'FPGA', 'vendor': 'v', 'model': 'm', 'controlpath': 'x'}],
    [dict(discovery.report_to_wire([device()])[0],
          deployables=[{'name': 'n', 'num_accelerators': 'many',
                        'driver_name': 'd'}])],
])
def test_malformed_wire_data(wire):
    with pytest.raises(exception.InvalidReport):
        reports.parse_report('h', wire)


@pytest.mark.parametrize('bad, match', [
    (dict(num_accelerators=-1), 'negative'),
    (dict(resource_class='fpga'), 'resource class'),
    (dict(traits=['CUSTOM X']), 'trait'),
    (dict(traits=['HW_NOT_A_STANDARD_TRAIT']), 'neither a CUSTOM_ trait'),
    (dict(name=''), 'name'),
    (dict(name='x' * 256), 'name'),
    (dict(driver_name='d' * 101), 'driver name'),
    (dict(attributes={'': 'v'}), 'attribute key'),
    (dict(attributes={'rc': 'FPGA'}), 'reserved'),
    (dict(attributes={'trait0': 'CUSTOM_X'}), 'reserved'),
    (dict(attributes={'Traits': 'x'}), 'reserved'),
    (dict(attach_handles=[discovery.AttachHandle('USB', {'a': 'b'})]),
     'attach type'),
    (dict(attach_handles=[discovery.AttachHandle('PCI', {'a': 'b'}),
                          discovery.AttachHandle('PCI', {'a': 'b'})]),
     'twice'),
])
def test_invalid_deployables(bad, match):
    with pytest.raises(exception.InvalidReport, match=match):
        reports.validate_report('h', [device(**bad)])


def test_invalid_devices_and_stubs():
    bad_type = device()
    bad_type.type = 'TPU'
    with pytest.raises(exception.InvalidReport, match='device type'):
        reports.validate_report('h', [bad_type])
    no_vendor = device()
    no_vendor.vendor = None
    with pytest.raises(exception.InvalidReport, match='vendor'):
        reports.validate_report('h', [no_vendor])
    with pytest.raises(exception.InvalidReport, match='reported twice'):
        two = device()
        two.controlpath = discovery.ControlPath(
            'PCI', discovery.pci_address_dict('0000:5e:00.0'))
        reports.validate_report('h', [device(), two])
    # A stub is ignored, however odd its content.
    bad_type.stub = True
    assert reports.validate_report('h', [bad_type]) == []
