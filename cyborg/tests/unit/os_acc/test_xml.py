"""The libvirt XML os_acc gives for each attach type cyborg hands out."""

from xml.etree import ElementTree

from os_acc import attach

PCI_INFO = {'domain': '0000', 'bus': '3b', 'device': '02', 'function': '1'}


def _attached(attach_type, info, handle_uuid='h'):
    return attach.AttachedAccelerator(
        arq_uuid='a', device_profile_group_id=0, device_rp_uuid='r',
        attach_handle_type=attach_type, attach_handle_info=info,
        attach_handle_uuid=handle_uuid)


def test_a_pci_function_is_a_hostdev():
    pci = _attached('PCI', PCI_INFO)
    assert pci.libvirt_xml == pci.hostdev_xml
    element = ElementTree.fromstring(pci.libvirt_xml)
    assert (element.tag, element.get('type')) == ('hostdev', 'pci')
    assert pci.interface_xml is None and pci.physical_network is None


def test_an_mdev_is_a_hostdev_naming_the_handle_uuid():
    mdev = _attached('MDEV', dict(PCI_INFO, asked_type='nvidia-222',
                                  vgpu_mark='nvidia-222_0'),
                     handle_uuid='4b20d080-1b54-4048-85b3-a6a62d165c01')
    element = ElementTree.fromstring(mdev.libvirt_xml)
    assert (element.tag, element.get('type')) == ('hostdev', 'mdev')
    assert element.find('source/address').get('uuid') == \
        '4b20d080-1b54-4048-85b3-a6a62d165c01'


def test_a_nic_function_is_an_interface_carrying_its_network():
    nic = _attached('PCI', dict(PCI_INFO, physical_network='physnet1'))
    assert nic.physical_network == 'physnet1'
    assert nic.libvirt_xml == nic.interface_xml == (
        "<interface type='hostdev' managed='yes'>"
        "<!-- physical_network: physnet1 -->"
        "<source><address type='pci' domain='0x0000' bus='0x3b' "
        "slot='0x02' function='0x1'/></source></interface>")


def test_a_network_name_cannot_break_the_xml():
    nic = _attached('PCI', dict(PCI_INFO,
                                physical_network='a--><evil/><!--b&'))
    element = ElementTree.fromstring(nic.interface_xml)
    assert [child.tag for child in element] == ['source']


def test_test_handles_have_nothing_to_attach():
    fake = _attached('TEST_PCI', PCI_INFO)
    assert fake.libvirt_xml is None and fake.hostdev_xml is None
