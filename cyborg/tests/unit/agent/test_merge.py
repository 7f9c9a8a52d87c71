"""A host with every family and several drivers enabled at once: each PCI
function is reported exactly once, by the driver the rule picks."""

import json
import logging

import pytest

from cyborg.accelerator.drivers import base
from cyborg.accelerator.drivers import intel_qat
from cyborg.accelerator import discovery
from cyborg.agent import merge
from cyborg.agent import reporter as agent_reporter
from cyborg.tests.fixtures import sysfs_families as families

SPECIFIC = ['nvidia_gpu_driver', 'intel_qat_driver', 'intel_nic_driver',
            'huawei_ascend_driver', 'inspur_nvme_ssd_driver']
# The generic driver's whitelist names every device of the host, the QAT
# and NIC VFs included, and a virtio device only it offers.
WHITELIST = [{'vendor_id': '10de'}, {'vendor_id': '8086'},
             {'vendor_id': '19e5'}, {'vendor_id': '1bd4'},
             {'vendor_id': '1af4'}]
VIRTIO = '0000:00:05.0'


@pytest.fixture
def mixed(conf, sysfs_tree):
    host = families.build_mixed_host(sysfs_tree)
    sysfs_tree.add_pci_device(VIRTIO, '1af4', '1041', '020000')
    conf.set_override('passthrough_whitelist',
                      [json.dumps(entry) for entry in WHITELIST],
                      group='pci')
    return host


def _discover(conf, enabled):
    conf.set_override('enabled_drivers', enabled, group='agent')
    reporter = agent_reporter.Reporter(conf, base.load_drivers(conf),
                                       conductor_api=None, hostname='h',
                                       compute_rp_uuid=None)
    return reporter, reporter.discover()


def _summary(devices):
    return sorted((discovery.pci_address_str(d.controlpath.info), d.type,
                   d.deployables[0].driver_name,
                   d.deployables[0].resource_class,
                   d.deployables[0].num_accelerators) for d in devices)


@pytest.mark.parametrize('enabled', [
    ['pci_driver'] + SPECIFIC, SPECIFIC + ['pci_driver'],
    list(reversed(SPECIFIC)) + ['pci_driver']])
def test_each_device_is_reported_once_whatever_the_order(conf, mixed,
                                                         enabled, caplog):
    with caplog.at_level(logging.INFO, logger='cyborg.agent.merge'):
        _reporter, devices = _discover(conf, enabled)

    assert _summary(devices) == [
        (VIRTIO, 'NIC', '1af4', 'CUSTOM_PCI', 1),
        (mixed.gpu, 'GPU', 'NVIDIA', 'PGPU', 1),
        (mixed.ssd, 'SSD', 'INSPUR', 'CUSTOM_SSD', 1),
        (mixed.qat, 'QAT', 'intel', 'CUSTOM_QAT', 4),
        (mixed.nic, 'NIC', 'intel', 'CUSTOM_NIC', 2),
        (mixed.npu, 'AICHIP', 'huawei', 'CUSTOM_NPU', 1),
    ]
    # No function is in two devices.
    functions = [f for d in devices for f in merge.pci_functions_of(d)]
    assert len(functions) == len(set(functions))
    # One line per device the generic driver lost: the GPU, the NPU, the
    # SSD and each of the 4 QAT and 2 NIC VFs it would have offered.
    assert len(caplog.messages) == 9
    assert ('PCI device %s is offered by NvidiaGpuDriver and by PciDriver; '
            'reporting it once, as NvidiaGpuDriver offers it (a specific '
            'driver wins over a generic one)' % mixed.gpu) in caplog.messages
    assert ('PCI device %s is offered by IntelQatDriver and by PciDriver; '
            'reporting it once, as IntelQatDriver offers it (a specific '
            'driver wins over a generic one)' % mixed.qat_vfs[0]
            ) in caplog.messages


def test_the_report_does_not_depend_on_driver_order(conf, mixed):
    _reporter, first = _discover(conf, ['pci_driver'] + SPECIFIC)
    _reporter, second = _discover(conf, SPECIFIC + ['pci_driver'])

    assert sorted(discovery.canonical_json(d.to_dict()) for d in first) == \
        sorted(discovery.canonical_json(d.to_dict()) for d in second)


def test_an_overlap_is_logged_once_not_every_run(conf, mixed, caplog):
    reporter, _devices = _discover(conf, ['pci_driver', 'nvidia_gpu_driver'])

    with caplog.at_level(logging.INFO, logger='cyborg.agent.merge'):
        first = reporter.discover()
        second = reporter.discover()

    assert discovery.fingerprint(first) == discovery.fingerprint(second)
    assert [m for m in caplog.messages if mixed.gpu in m] == []


def test_without_the_specific_driver_the_generic_one_reports_it(conf, mixed):
    _reporter, devices = _discover(conf, ['pci_driver'])

    by_address = {discovery.pci_address_str(d.controlpath.info): d
                  for d in devices}
    # Its type is what the PCI class says; QAT by the QAT id table.
    assert {address: by_address[address].type
            for address in (mixed.gpu, mixed.npu, mixed.ssd,
                            mixed.qat_vfs[0], mixed.nic_vfs[0])} == {
        mixed.gpu: 'GPU', mixed.npu: 'AICHIP', mixed.ssd: 'SSD',
        mixed.qat_vfs[0]: 'QAT', mixed.nic_vfs[0]: 'NIC'}
    # PFs with VFs enabled are never offered by the generic driver.
    assert mixed.qat not in by_address and mixed.nic not in by_address


def test_between_two_specific_drivers_the_first_listed_wins(conf, mixed,
                                                            caplog):
    first, second = intel_qat.IntelQatDriver(conf), \
        intel_qat.IntelQatDriver(conf)
    merger = merge.DeviceMerger()

    with caplog.at_level(logging.INFO, logger='cyborg.agent.merge'):
        devices = merger.merge([(first, first.discover()),
                                (second, second.discover())])

    assert [discovery.pci_address_str(d.controlpath.info)
            for d in devices] == [mixed.qat]
    assert caplog.messages == [
        'PCI device %s is offered by IntelQatDriver and by IntelQatDriver; '
        'reporting it once, as IntelQatDriver offers it (the driver listed '
        'first in [agent] enabled_drivers wins)'
        % ', '.join(sorted([mixed.qat] + mixed.qat_vfs))]
