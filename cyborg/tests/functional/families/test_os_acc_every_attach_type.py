"""os_acc as Nova uses it, on a host with every kind of handle cyborg gives.

A real agent on a fake sysfs tree (an H100 offered whole: a PCI function;
a Tesla T4 split into vGPUs: mdevs; an E810 port's VFs on physnet1: NIC
functions), the real conductor, Placement and API. For one instance, a
device context with three groups is parsed by ``os_acc.parse_device_context``
into Nova's request groups; Placement, asked with them as Nova asks
(granular groups, 1.34 mappings), picks a provider per requester id;
``acquire_accelerators_for_instance`` with ``accel:device_context`` binds
the three ARQs, and each comes back with the libvirt XML of its kind:
``<hostdev>`` PCI, ``<hostdev>`` mdev (created on the "host" by the
agent), ``<interface type='hostdev'>`` with the physical network. A
second instance takes a NIC function through ``accel:device_profile``.
"""

import uuid
from xml.etree import ElementTree

import pytest

import os_acc
from cyborg.accelerator import discovery
from cyborg.api import app as api_app
from cyborg.conf import gpu_devices
from cyborg.conf import nic_devices
from cyborg.tests.fixtures import loopback
from cyborg.tests.fixtures import sysfs as sysfs_fixture
from cyborg.tests.fixtures import sysfs_families as families

T4 = '0000:d8:00.0'
NOVA = {'X-Project-Id': 'demo-project', 'X-User-Id': 'nova',
        'X-Roles': 'admin', 'X-Service-Roles': 'service'}


@pytest.fixture
def api(family_host):
    server = loopback.LoopbackServer(
        api_app.build_app(family_host.conf, family_host.transport),
        'cyborg-api').start()
    yield server.endpoint
    server.stop()


def _start_host(family_host, sysfs_tree):
    mixed = families.build_mixed_host(sysfs_tree)
    sysfs_tree.add_pci_device(T4, sysfs_fixture.NVIDIA, '1eb8',
                              sysfs_fixture.CLASS_3D,
                              subsystem_device='12a2', driver='nvidia')
    sysfs_tree.add_mdev_type(T4, 'nvidia-222', 'GRID T4-1B', 4)
    conf = family_host.conf
    conf.set_override('enabled_vgpu_types', ['nvidia-222'],
                      group='gpu_devices')
    gpu_devices.register_vgpu_type_groups(conf)
    conf.set_override('device_addresses', [T4], group='vgpu_nvidia-222')
    conf.set_override('enabled_nic_types', ['x710_static'],
                      group='nic_devices')
    nic_devices.register_nic_type_groups(conf)
    conf.set_override('physical_device_mappings', ['physnet1:ens801f0'],
                      group='x710_static')
    family_host.start_agent(['nvidia_gpu_driver', 'intel_nic_driver'])
    return mixed


def _providers_for(placement, groups, root_uuid):
    """{requester id: provider uuid} of Placement's one candidate.

    Nova's way: every request group granular, suffixed with its requester
    id, each on a provider of its own choosing in the compute node's tree,
    and the 1.34 mappings telling which provider serves which group.
    """
    params = {'group_policy': 'none'}
    for group in groups:
        params.update(group.placement_query(in_tree=root_uuid))
    resp = placement._request('GET', '/allocation_candidates',
                              microversion='1.34', params=params)
    assert resp.status_code == 200, resp.text
    [request] = resp.json()['allocation_requests']
    return {suffix[1:]: providers[0]
            for suffix, providers in request['mappings'].items()}


def test_every_attach_type_through_a_device_context(family_host, sysfs_tree,
                                                    api, stub_nova):
    mixed = _start_host(family_host, sysfs_tree)
    client = os_acc.AcceleratorClient(endpoint=api, headers=NOVA)
    _, created = client.request(
        'POST', '/v2/device_contexts', expect=(201,), microversion='2.4',
        json={'groups': [
            {'resources:PGPU': '1'},
            {'resources:VGPU': '1'},
            {'resources:CUSTOM_NIC': '1', 'trait:CUSTOM_VF': 'required',
             'trait:CUSTOM_PHYSNET1': 'required'}]})
    _, shown = client.request('GET', '/v2/device_contexts/%s'
                              % created['uuid'], microversion='2.4')

    groups = os_acc.parse_device_context(shown)
    assert [g.requester_id for g in groups] == [
        'device_profile_0', 'device_profile_1', 'device_profile_2']
    chosen = _providers_for(family_host.placement, groups,
                            family_host.cn_uuid)
    assert chosen == {
        'device_profile_0': family_host.provider_uuid(mixed.gpu),
        'device_profile_1': family_host.provider_uuid(T4),
        'device_profile_2': family_host.provider_uuid(mixed.nic)}
    instance = os_acc.InstanceInfo(uuid=str(uuid.uuid4()),
                                   host=family_host.name,
                                   project_id='demo-project')

    attached = os_acc.acquire_accelerators_for_instance(
        {int(requester.rsplit('_', 1)[1]): rp
         for requester, rp in chosen.items()},
        {'accel:device_context': created['uuid']}, instance, client=client)

    by_group = {a.device_profile_group_id: a for a in attached}
    pgpu, vgpu, nic = by_group[0], by_group[1], by_group[2]

    pci = ElementTree.fromstring(pgpu.libvirt_xml)
    assert (pci.tag, pci.get('type'), pci.get('managed')) == (
        'hostdev', 'pci', 'yes')
    assert _address(pci.find('source/address')) == mixed.gpu
    assert pgpu.interface_xml is None and pgpu.physical_network is None

    mdev = ElementTree.fromstring(vgpu.libvirt_xml)
    assert (mdev.tag, mdev.get('type'), mdev.get('model')) == (
        'hostdev', 'mdev', 'vfio-pci')
    assert mdev.find('source/address').get('uuid') == vgpu.attach_handle_uuid
    # The agent created that mdev on the (fake) host.
    assert sysfs_tree.mdev_type_file(T4, 'nvidia-222', 'create'
                                     ).read_text() == vgpu.attach_handle_uuid

    interface = ElementTree.fromstring(nic.libvirt_xml)
    assert (interface.tag, interface.get('type'),
            interface.get('managed')) == ('interface', 'hostdev', 'yes')
    assert _address(interface.find('source/address')) == mixed.nic_vfs[0]
    assert interface.find('source/address').get('type') == 'pci'
    assert nic.physical_network == 'physnet1'
    assert '<!-- physical_network: physnet1 -->' in nic.interface_xml
    # The same function could also be passed through as a plain hostdev.
    assert ElementTree.fromstring(nic.hostdev_xml).tag == 'hostdev'

    # A second instance, through a device profile: a NIC function again.
    client.request('POST', '/v2/device_profiles', expect=(201,), json=[{
        'name': 'vf-on-physnet1', 'groups': [{
            'resources:CUSTOM_NIC': '1',
            'trait:CUSTOM_PHYSNET1': 'required'}]}])
    other = os_acc.InstanceInfo(uuid=str(uuid.uuid4()), host=family_host.name,
                                project_id='demo-project')
    [second_nic] = os_acc.acquire_accelerators_for_instance(
        [family_host.provider_uuid(mixed.nic)],
        {'accel:device_profile': 'vf-on-physnet1'}, other, client=client)
    assert second_nic.physical_network == 'physnet1'
    assert _address(ElementTree.fromstring(second_nic.libvirt_xml).find(
        'source/address')) == mixed.nic_vfs[1]

    for info in (instance, other):
        os_acc.release_accelerators_for_instance(info.uuid, client=client)
    _, context = client.request('GET', '/v2/device_contexts/%s'
                                % created['uuid'], microversion='2.4')
    assert context['device_context']['state'] == 'Released'


def _address(element):
    return discovery.pci_address_str({
        name: element.get(name)[2:]
        for name in ('domain', 'bus', 'function')} | {
        'device': element.get('slot')[2:]})
