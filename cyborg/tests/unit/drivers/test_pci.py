"""The generic PCI driver: Nova-style whitelist matching on real-looking
hosts, the report it makes (device type from the PCI class), and bad
whitelist entries."""

import json
import logging

import pytest

from cyborg.accelerator.drivers import pci
from cyborg.accelerator.drivers import pci_class as pci_class_module
from cyborg.accelerator.drivers import sysfs
from cyborg.tests.fixtures import sysfs as sysfs_fixture


def _discover(conf, *entries):
    conf.set_override('passthrough_whitelist',
                      [e if isinstance(e, str) else json.dumps(e)
                       for e in entries], group='pci')
    return pci.PciDriver(conf).discover()


def _names(devices):
    return [device.deployables[0].name for device in devices]


@pytest.fixture
def x710(sysfs_tree):
    return sysfs_fixture.build_x710_sriov_host(sysfs_tree)


def test_vendor_and_product_select_the_vfs(conf, x710):
    _pf0, _pf1, vfs = x710

    devices = _discover(conf, {'vendor_id': '8086', 'product_id': '154c'})

    assert _names(devices) == ['test-host_%s' % vf for vf in vfs]
    device = devices[0]
    assert (device.type, device.vendor, device.model) == ('NIC', '8086',
                                                          '154c')
    assert device.controlpath.info == {'domain': '0000', 'bus': '3b',
                                       'device': '02', 'function': '0'}
    [deployable] = device.deployables
    assert (deployable.num_accelerators, deployable.resource_class,
            deployable.driver_name) == (1, 'CUSTOM_PCI', 'INTEL')
    assert deployable.traits == ['OWNER_CYBORG', 'CUSTOM_PCI_INTEL',
                                 'CUSTOM_PCI_PRODUCT_ID_154C']
    assert [h.to_dict() for h in deployable.attach_handles] == [
        {'attach_type': 'PCI', 'info': device.controlpath.info}]


@pytest.mark.parametrize('entry,expected', [
    ({'address': '0000:3b:02.*'}, ['0000:3b:02.%d' % f for f in range(4)]),
    ({'address': '*:3b:02.1'}, ['0000:3b:02.1']),
    ({'address': ':02.'}, ['0000:3b:02.%d' % f for f in range(4)]),
    ({'address': '3b:00.1'}, ['0000:3b:00.1']),
    ({'address': {'bus': '3b', 'slot': '02', 'function': '[0-1]'}},
     ['0000:3b:02.0', '0000:3b:02.1']),
    ({'vendor_id': '0x8086', 'product_id': '1572'}, ['0000:3b:00.1']),
    ({'devname': 'ens1f1'}, ['0000:3b:00.1']),
    # A PF's exact address or netdev also names its VFs (as in Nova); the
    # PF itself has VFs enabled, so it is not offered.
    ({'address': '0000:3b:00.0'}, ['0000:3b:02.%d' % f for f in range(4)]),
    ({'devname': 'ens1f0'}, ['0000:3b:02.%d' % f for f in range(4)]),
    ({'devname': 'ens9'}, []),
])
def test_whitelist_forms_match_like_nova(conf, x710, entry, expected):
    devices = _discover(conf, entry)

    assert [d.deployables[0].name[len('test-host_'):]
            for d in devices] == expected


def test_entries_of_a_json_list_and_of_several_values_add_up(conf, x710):
    devices = _discover(
        conf, json.dumps([{'address': '0000:3b:02.0'},
                          {'address': '0000:3b:02.1'}]),
        {'devname': 'ens1f1'})

    assert _names(devices) == ['test-host_0000:3b:00.1',
                               'test-host_0000:3b:02.0',
                               'test-host_0000:3b:02.1']


def test_a_pf_with_vfs_is_never_offered_whole(conf, x710, caplog):
    pf0, _pf1, _vfs = x710

    with caplog.at_level(logging.INFO):
        devices = _discover(conf, {'vendor_id': '8086',
                                   'product_id': '1572'})

    assert _names(devices) == ['test-host_0000:3b:00.1']
    assert ('Not offering PCI device %s: it has 4 SR-IOV VFs enabled; '
            'whitelist the VFs instead' % pf0) in caplog.messages


def test_unknown_vendor_uses_the_raw_id(conf, sysfs_tree):
    sysfs_tree.add_pci_device('0000:00:05.0', '1af4', '1041', '020000')

    [device] = _discover(conf, {'vendor_id': '1af4'})

    assert device.deployables[0].driver_name == '1af4'
    assert device.deployables[0].traits == ['OWNER_CYBORG',
                                            'CUSTOM_PCI_PRODUCT_ID_1041']


def test_whitelisted_gpus_of_an_hgx_host(conf, sysfs_tree):
    gpus = sysfs_fixture.build_hgx_h100_host(sysfs_tree)

    devices = _discover(conf, {'vendor_id': '10de', 'product_id': '2330'})

    assert _names(devices) == ['test-host_%s' % gpu for gpu in gpus]
    assert devices[0].deployables[0].traits == [
        'OWNER_CYBORG', 'CUSTOM_PCI_NVIDIA', 'CUSTOM_PCI_PRODUCT_ID_2330']


@pytest.mark.parametrize('bad_value,reason', [
    ('{"vendor_id": "8086"', 'not JSON'),
    ('"8086:154c"', 'an entry must be a JSON object'),
    ('{}', 'it would match every PCI device'),
    ('{"physical_network": "physnet1"}', 'it would match every PCI device'),
    ('{"vendor_id": "intel"}', "vendor_id 'intel' is not a hex id"),
    ('{"product_id": "12345"}', "product_id '12345' is not a hex id"),
    ('{"address": "0000:3b:02:00.1"}', 'has more than domain:bus:slot'),
    ('{"address": "0000:3b:20.1"}', "has an invalid slot '20'"),
    ('{"address": "0000:3b:02.9"}', "has an invalid function '9'"),
    ('{"address": {"bus": "3b", "slot": "(02"}}',
     "address slot '(02' is not a regular expression"),
    ('{"address": {"bus": "3b", "port": "1"}}', 'address has unknown keys'),
    ('{"address": 3}', 'address must be a string or an object'),
    ('{"address": "0000:3b:02.0", "devname": "ens1f0"}',
     'address and devname exclude each other'),
])
def test_a_bad_entry_is_logged_and_the_others_apply(conf, x710, caplog,
                                                    bad_value, reason):
    with caplog.at_level(logging.ERROR):
        devices = _discover(conf, bad_value, {'devname': 'ens1f1'})

    assert _names(devices) == ['test-host_0000:3b:00.1']
    [message] = caplog.messages
    assert message.startswith('Ignoring [pci] passthrough_whitelist entry ')
    assert reason in message


def test_bad_entries_are_logged_once_not_every_discovery(conf, x710,
                                                         caplog):
    conf.set_override('passthrough_whitelist', ['{}'], group='pci')
    with caplog.at_level(logging.ERROR):
        driver = pci.PciDriver(conf)
        driver.discover()
        driver.discover()

    assert len(caplog.messages) == 1


@pytest.mark.parametrize('vendor,product,pci_class,expected', [
    ('10de', '2330', '030200', 'GPU'),       # H100, 3D controller
    ('102b', '0536', '030000', 'GPU'),       # Matrox VGA
    ('8086', '154c', '020000', 'NIC'),       # X710 VF
    ('15b3', '1021', '020700', 'NIC'),       # ConnectX-7, InfiniBand
    ('144d', 'a80a', '010802', 'SSD'),       # Samsung NVMe
    ('1000', '10e2', '010400', 'SSD'),       # a RAID controller
    ('8086', '4941', '0b4000', 'QAT'),       # 4xxx VF, co-processor class
    ('8086', '37c8', '0b4000', 'QAT'),       # C62x PF
    ('8086', '2710', '0b4000', 'PCI'),       # DLB: a co-processor, no QAT
    ('1022', '1456', '108000', 'QAT'),       # an encryption controller
    ('19e5', 'd801', '120000', 'AICHIP'),    # Ascend 910
    ('1da3', '1020', '120000', 'AICHIP'),    # Habana Gaudi2
    ('10ee', '5000', '058000', 'FPGA'),      # Xilinx Alveo U200 (mgmt)
    ('8086', '09c4', '120000', 'FPGA'),      # PAC Arria 10
    ('8086', '0b30', '120000', 'FPGA'),      # PAC N3000
    ('1bd4', '0021', '010802', 'SSD'),       # Inspur NVMe
    ('1bd4', 'a115', '120000', 'FPGA'),      # an Inspur FPGA card
    ('1af4', '1050', '038000', 'GPU'),       # virtio-gpu
    ('8086', '0b25', '088000', 'PCI'),       # DSA
    ('1af4', '1043', '078000', 'PCI'),       # virtio console
])
def test_device_type_comes_from_the_class_code(vendor, product, pci_class,
                                                expected):
    function = sysfs.PciFunction(address='0000:3b:00.0', vendor_id=vendor,
                                 product_id=product, class_code=pci_class)

    assert pci_class_module.device_type(function) == expected


def test_whitelisted_devices_carry_their_class_type(conf, sysfs_tree):
    sysfs_fixture.build_hgx_h100_host(sysfs_tree)

    devices = _discover(conf, {'vendor_id': '10de'}, {'devname': 'eno1'})

    assert sorted({(d.model, d.type) for d in devices}) == [
        ('1521', 'NIC'), ('22a3', 'PCI'), ('2330', 'GPU')]
