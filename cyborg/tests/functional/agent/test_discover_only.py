"""cyborg-agent --discover-only on each family's host tree, run as a
process: the JSON report on stdout, logs on stderr, nothing contacted."""

import json
import os
import subprocess
import sys

import pytest

from cyborg.tests.fixtures import processes
from cyborg.tests.fixtures import sysfs as sysfs_fixture
from cyborg.tests.fixtures import sysfs_families
from cyborg.tests.fixtures import sysfs_fpga

AGENT = os.path.join(os.path.dirname(sys.executable), 'cyborg-agent')
NLB0 = 'CUSTOM_FPGA_FUNCTION_ID_INTEL_' + sysfs_fpga.NLB0_AFU_ID.upper()
A10_REGION = 'CUSTOM_FPGA_REGION_INTEL_' + sysfs_fpga.A10_INTERFACE_ID.replace(
    '-', '').upper()
N3000_REGION = 'CUSTOM_FPGA_REGION_INTEL_' + sysfs_fpga.N3000_INTERFACE_ID.upper()
D5005_REGION = 'CUSTOM_FPGA_REGION_INTEL_' + sysfs_fpga.D5005_INTERFACE_ID.upper()


def _discover(tmp_path, builder, drivers, sections=None):
    tree = sysfs_fixture.FakeSysfs(tmp_path / 'sys')
    builder(tree)
    # Unreachable broker and Placement: the command must not need them.
    config = processes.write_config(tmp_path / 'cyborg.conf', dict({
        'DEFAULT': {'host': 'fpga-host', 'debug': 'true',
                    'state_path': str(tmp_path / 'state'),
                    'transport_url': 'rabbit://guest:guest@127.0.0.1:9/'},
        'agent': {'enabled_drivers': ','.join(drivers),
                  'sysfs_root': str(tree.root)},
        'placement': {'auth_type': 'admin_token', 'token': 'admin',
                      'endpoint': 'http://127.0.0.1:9'},
    }, **(sections or {})))
    result = subprocess.run([AGENT, '--config-file', str(config),
                             '--discover-only'], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def _summary(report):
    """{deployable name: (type, vendor, model, stub, rc, accelerators,
    traits, [handle addresses])}, stubs under their control path."""
    found = {}
    for device in report['devices']:
        info = device['controlpath']['info']
        if not device['deployables']:
            found['stub:%(domain)s:%(bus)s:%(device)s.%(function)s'
                  % info] = (device['type'], device['vendor'],
                             device['model'], device['stub'])
        for deployable in device['deployables']:
            found[deployable['name']] = (
                device['type'], device['vendor'], device['model'],
                device['stub'], deployable['driver_name'],
                deployable['resource_class'],
                deployable['num_accelerators'], deployable['traits'],
                ['%(domain)s:%(bus)s:%(device)s.%(function)s' % h['info']
                 for h in deployable['attach_handles']
                 if h['attach_type'] == 'PCI'])
    return found


INTEL = ['intel_fpga_driver']
ALL_FPGA = ['intel_fpga_driver', 'xilinx_fpga_driver', 'inspur_fpga_driver']

CASES = {
    'pac-arria10': (
        sysfs_fpga.build_pac_arria10_host, INTEL,
        {'fpga-host_0000:5e:00.0': (
            'FPGA', '8086', '09c4', False, 'intel', 'FPGA', 1,
            ['CUSTOM_FPGA_INTEL', 'CUSTOM_FPGA_INTEL_PAC_ARRIA10',
             A10_REGION, NLB0], ['0000:5e:00.0'])}),
    'pac-arria10-vfs': (
        lambda tree: sysfs_fpga.build_pac_arria10_host(tree, vfs=True),
        INTEL,
        {'fpga-host_0000:5e:00.0': (
            'FPGA', '8086', '09c4', False, 'intel', 'FPGA', 1,
            ['CUSTOM_FPGA_INTEL', 'CUSTOM_FPGA_INTEL_PAC_ARRIA10',
             A10_REGION, NLB0], ['0000:5e:00.1'])}),
    'n3000': (
        sysfs_fpga.build_pac_n3000_host, ALL_FPGA,
        {'fpga-host_0000:b2:00.0': (
            'FPGA', '8086', '0b30', False, 'intel', 'FPGA', 1,
            ['CUSTOM_FPGA_INTEL', 'CUSTOM_FPGA_INTEL_PAC_N3000',
             N3000_REGION, NLB0], ['0000:b2:00.0'])}),
    'd5005': (
        sysfs_fpga.build_pac_d5005_host, INTEL,
        {'fpga-host_0000:3b:00.0': (
            'FPGA', '8086', '0b2b', False, 'intel', 'FPGA', 1,
            ['CUSTOM_FPGA_INTEL', 'CUSTOM_FPGA_INTEL_PAC_D5005',
             D5005_REGION, NLB0], ['0000:3b:00.0']),
         'stub:0000:d8:00.0': ('FPGA', '8086', '0b2b', True)}),
    'alveo': (
        sysfs_fpga.build_alveo_host, ALL_FPGA,
        {'fpga-host_0000:3b:00.0': (
            'FPGA', '10ee', '5004', False, 'XILINX', 'FPGA', 1,
            ['CUSTOM_FPGA_XILINX', 'CUSTOM_FPGA_PRODUCT_ID_5004',
             'CUSTOM_FPGA_XILINX_ALVEO_U250'],
            ['0000:3b:00.0', '0000:3b:00.1']),
         'fpga-host_0000:af:00.0': (
             'FPGA', '10ee', '500c', False, 'XILINX', 'FPGA', 1,
             ['CUSTOM_FPGA_XILINX', 'CUSTOM_FPGA_PRODUCT_ID_500C',
              'CUSTOM_FPGA_XILINX_ALVEO_U280'],
             ['0000:af:00.0', '0000:af:00.1'])}),
    'inspur': (
        sysfs_fpga.build_inspur_host, ['inspur_fpga_driver'],
        {'fpga-host_0000:86:00.0': (
            'FPGA', '1bd4', '0081', False, 'INSPUR', 'FPGA', 1,
            ['CUSTOM_FPGA_INSPUR', 'CUSTOM_FPGA_PRODUCT_ID_0081'],
            ['0000:86:00.0'])}),
    'fpga-and-x710': (
        sysfs_fpga.build_fpga_and_nic_host, ALL_FPGA,
        {'fpga-host_0000:86:00.0': (
            'FPGA', '8086', '0b30', False, 'intel', 'FPGA', 1,
            ['CUSTOM_FPGA_INTEL', 'CUSTOM_FPGA_INTEL_PAC_N3000',
             N3000_REGION, NLB0], ['0000:86:00.0'])}),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_each_family_reports_what_the_contract_gives(tmp_path, case):
    builder, drivers, expected = CASES[case]

    report, stderr = _discover(tmp_path, builder, drivers)

    assert report['host'] == 'fpga-host'
    assert report['drivers'] == drivers
    assert _summary(report) == expected
    # Logs went to stderr; stdout held the JSON alone (parsed above).
    assert 'Loaded accelerator driver %s' % drivers[0] in stderr


def test_a_broken_driver_list_fails_in_one_line(tmp_path):
    config = processes.write_config(tmp_path / 'cyborg.conf', {
        'DEFAULT': {'state_path': str(tmp_path)},
        'agent': {'enabled_drivers': 'intel_fpga_drvier'}})
    result = subprocess.run([AGENT, '--config-file', str(config),
                             '--discover-only'], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ''
    assert result.stderr.strip().splitlines()[-1].startswith(
        'cyborg-agent: error: Accelerator driver intel_fpga_drvier cannot '
        'be loaded')


def _vfs(pf_prefix, count):
    """The addresses of ``count`` VFs at <prefix>:01.0 onwards, 8 a slot."""
    return ['%s:%02x.%d' % (pf_prefix, 1 + n // 8, n % 8)
            for n in range(count)]


QAT = 'intel_qat_driver'
NIC_CONFIG = {
    'nic_devices': {'enabled_nic_types': 'x710_static'},
    'x710_static': {'physical_device_mappings': 'physnet1:ens801f0',
                    'function_device_mappings': 'GTPv1:ens801f0'},
}

FAMILY_CASES = {
    'qat-c62x-dual-socket': (
        sysfs_families.build_c62x_dual_socket_host, [QAT], None,
        {'fpga-host_0000:3d:00.0': (
            'QAT', '8086', '37c8', False, 'intel', 'CUSTOM_QAT', 16,
            ['CUSTOM_QAT_C62X', 'CUSTOM_QAT_GEN2'], _vfs('0000:3d', 16)),
         'fpga-host_0000:b1:00.0': (
             'QAT', '8086', '37c8', False, 'intel', 'CUSTOM_QAT', 16,
             ['CUSTOM_QAT_C62X', 'CUSTOM_QAT_GEN2'], _vfs('0000:b1', 16))}),
    'qat-4xxx': (
        sysfs_families.build_4xxx_host, [QAT], None,
        {'fpga-host_0000:6b:00.0': (
            'QAT', '8086', '4940', False, 'intel', 'CUSTOM_QAT', 16,
            ['CUSTOM_QAT_4XXX', 'CUSTOM_QAT_GEN4', 'CUSTOM_QAT_ASYM',
             'CUSTOM_QAT_SYM'],
            ['0000:6b:00.%d' % f for f in range(1, 8)] +
            ['0000:6b:01.%d' % f for f in range(8)] + ['0000:6b:02.0']),
         'fpga-host_0000:70:00.0': (
             'QAT', '8086', '4940', False, 'intel', 'CUSTOM_QAT', 16,
             ['CUSTOM_QAT_4XXX', 'CUSTOM_QAT_GEN4', 'CUSTOM_QAT_DC'],
             ['0000:70:00.%d' % f for f in range(1, 8)] +
             ['0000:70:01.%d' % f for f in range(8)] + ['0000:70:02.0']),
         'fpga-host_0000:75:00.0': (
             'QAT', '8086', '4940', False, 'intel', 'CUSTOM_QAT', 1,
             ['CUSTOM_QAT_4XXX', 'CUSTOM_QAT_GEN4', 'CUSTOM_QAT_DC',
              'CUSTOM_QAT_SYM'], ['0000:75:00.0'])}),
    'e810-and-x710': (
        sysfs_families.build_e810_x710_host, ['intel_nic_driver'],
        NIC_CONFIG,
        {'fpga-host_0000:3b:00.0': (
            'NIC', '8086', '1572', False, 'intel', 'CUSTOM_NIC', 2,
            ['CUSTOM_NIC_X710', 'CUSTOM_VF'], ['0000:3b:02.0', '0000:3b:02.1']),
         'fpga-host_0000:3b:00.1': (
             'NIC', '8086', '1572', False, 'intel', 'CUSTOM_NIC', 1,
             ['CUSTOM_NIC_X710', 'CUSTOM_PF'], ['0000:3b:00.1']),
         'fpga-host_0000:b1:00.0': (
             'NIC', '8086', '1592', False, 'intel', 'CUSTOM_NIC', 4,
             ['CUSTOM_NIC_E810', 'CUSTOM_VF', 'CUSTOM_PHYSNET1',
              'CUSTOM_GTPV1'], _vfs('0000:b1', 4)),
         'fpga-host_0000:b1:00.1': (
             'NIC', '8086', '1592', False, 'intel', 'CUSTOM_NIC', 1,
             ['CUSTOM_NIC_E810', 'CUSTOM_PF'], ['0000:b1:00.1'])}),
    'atlas-800-ascend-910': (
        sysfs_families.build_atlas_800_host, ['huawei_ascend_driver'], None,
        {'fpga-host_%s' % address: (
            'AICHIP', '19e5', 'd801', False, 'huawei', 'CUSTOM_NPU', 1,
            ['CUSTOM_NPU_HUAWEI', 'CUSTOM_NPU_ASCEND_910'], [address])
         for address in ('0000:01:00.0', '0000:02:00.0', '0000:41:00.0',
                         '0000:42:00.0', '0000:81:00.0', '0000:82:00.0',
                         '0000:c1:00.0', '0000:c2:00.0')}),
    'inspur-nvme': (
        sysfs_families.build_inspur_nvme_host, ['inspur_nvme_ssd_driver'],
        None,
        {'fpga-host_%s' % address: (
            'SSD', '1bd4', '0021', False, 'INSPUR', 'CUSTOM_SSD', 1,
            ['CUSTOM_SSD_INSPUR', 'CUSTOM_SSD_PRODUCT_ID_0021'], [address])
         for address in ('0000:5e:00.0', '0000:5f:00.0')}),
}


@pytest.mark.parametrize('case', sorted(FAMILY_CASES))
def test_each_device_family_reports_what_the_contract_gives(tmp_path,
                                                             case):
    builder, drivers, sections, expected = FAMILY_CASES[case]

    report, _stderr = _discover(tmp_path, builder, drivers, sections)

    assert _summary(report) == expected


def test_a_mixed_host_reports_each_function_once(tmp_path):
    # Every driver enabled, the generic one first and whitelisting every
    # device: the printout is the merged report, each function once.
    drivers = ['pci_driver', 'nvidia_gpu_driver', QAT, 'intel_nic_driver',
               'huawei_ascend_driver', 'inspur_nvme_ssd_driver']
    sections = {'pci': {'passthrough_whitelist': [
        '{"vendor_id": "%s"}' % vendor
        for vendor in ('10de', '8086', '19e5', '1bd4')]}}

    report, stderr = _discover(tmp_path, sysfs_families.build_mixed_host,
                               drivers, sections)

    summary = _summary(report)
    assert {name: entry[:7] for name, entry in summary.items()} == {
        'fpga-host_0000:18:00.0': ('GPU', '10de', '2330', False, 'NVIDIA',
                                   'PGPU', 1),
        'fpga-host_0000:5e:00.0': ('SSD', '1bd4', '0021', False, 'INSPUR',
                                   'CUSTOM_SSD', 1),
        'fpga-host_0000:6b:00.0': ('QAT', '8086', '4940', False, 'intel',
                                   'CUSTOM_QAT', 4),
        'fpga-host_0000:b1:00.0': ('NIC', '8086', '1592', False, 'intel',
                                   'CUSTOM_NIC', 2),
        'fpga-host_0000:c1:00.0': ('AICHIP', '19e5', 'd801', False,
                                   'huawei', 'CUSTOM_NPU', 1),
    }
    # The generic driver offered the same functions; each went to the
    # specific driver, with a line saying so.
    assert ('PCI device 0000:18:00.0 is offered by NvidiaGpuDriver and by '
            'PciDriver; reporting it once' in stderr)
