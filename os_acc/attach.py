"""acquire/release of an instance's accelerators, and their libvirt XML."""

import dataclasses
import time
import typing
from xml.sax import saxutils

from os_acc import client as client_module
from os_acc import exception

DEVICE_PROFILE_SPEC = 'accel:device_profile'
DEVICE_CONTEXT_SPEC = 'accel:device_context'
ARQS = '/v2/accelerator_requests'


@dataclasses.dataclass(frozen=True)
class InstanceInfo:
    """What os_acc needs of an instance."""

    uuid: str
    host: str
    name: typing.Optional[str] = None
    project_id: typing.Optional[str] = None


def _pci_address(info):
    return ("<address type='pci' domain='0x%s' bus='0x%s' slot='0x%s' "
            "function='0x%s'/>" % (info['domain'], info['bus'],
                                   info['device'], info['function']))


@dataclasses.dataclass(frozen=True)
class AttachedAccelerator:
    """One bound accelerator and how to attach it.

    ``config_data`` is what the ARQ's device context handed the driver
    ({} for an ARQ of a device profile).
    """

    arq_uuid: str
    device_profile_group_id: int
    device_rp_uuid: str
    attach_handle_type: str
    attach_handle_info: typing.Dict[str, str]
    attach_handle_uuid: typing.Optional[str]
    config_data: typing.Dict[str, str] = dataclasses.field(
        default_factory=dict)

    @property
    def physical_network(self):
        """The physical network of a NIC function (VF); None otherwise."""
        if self.attach_handle_type != 'PCI':
            return None
        return self.attach_handle_info.get('physical_network')

    @property
    def hostdev_xml(self):
        """libvirt <hostdev> for PCI and mdev handles; None otherwise."""
        info = self.attach_handle_info
        if self.attach_handle_type == 'PCI':
            return ("<hostdev mode='subsystem' type='pci' managed='yes'>"
                    "<source><address domain='0x%s' bus='0x%s' slot='0x%s' "
                    "function='0x%s'/></source></hostdev>"
                    % (info['domain'], info['bus'], info['device'],
                       info['function']))
        if self.attach_handle_type == 'MDEV':
            # cyborg creates the mdev with the attach handle's uuid.
            return ("<hostdev mode='subsystem' type='mdev' model='vfio-pci' "
                    "managed='no'><source><address uuid='%s'/></source>"
                    "</hostdev>" % self.attach_handle_uuid)
        return None  # TEST_PCI and unknown types have nothing to attach

    @property
    def interface_xml(self):
        """libvirt <interface type='hostdev'> for a NIC function; else None.

        A NIC handle is a PCI function whose info names its physical
        network (the Intel NIC driver's VFs and PFs). As a network
        interface, libvirt sets its MAC address before the guest sees it.
        libvirt has no element for a physical network (Neutron turns it
        into the VLAN of a port), so the XML carries it in a comment, for
        whoever reads or logs it; ``physical_network`` is the value.
        """
        network = self.physical_network
        if network is None:
            return None
        return ("<interface type='hostdev' managed='yes'>"
                "<!-- physical_network: %s -->"
                "<source>%s</source></interface>"
                % (saxutils.escape(network.replace('--', '- -')),
                   _pci_address(self.attach_handle_info)))

    @property
    def libvirt_xml(self):
        """The device XML to attach: a NIC's <interface>, else <hostdev>."""
        return self.interface_xml or self.hostdev_xml


def _arq_request(extra_specs):
    """(body of POST /v2/accelerator_requests, microversion) of a flavor.

    Its extra specs name a device profile (``accel:device_profile``) or,
    from cyborg API 2.4, a device context (``accel:device_context``).
    """
    specs = extra_specs or {}
    profile = specs.get(DEVICE_PROFILE_SPEC)
    context = specs.get(DEVICE_CONTEXT_SPEC)
    if profile and context:
        raise exception.PlugException(
            'flavor extra specs name both %s and %s; name one'
            % (DEVICE_PROFILE_SPEC, DEVICE_CONTEXT_SPEC))
    if context:
        return ({'device_context_uuid': context},
                client_module.DEVICE_CONTEXT_VERSION)
    if profile:
        return {'device_profile_name': profile}, client_module.API_VERSION
    raise exception.PlugException(
        'flavor extra spec %s (or %s) is not set'
        % (DEVICE_PROFILE_SPEC, DEVICE_CONTEXT_SPEC))


def acquire_accelerators_for_instance(device_rps, extra_specs, instance_info,
                                      client, timeout=300, poll_interval=0.2):
    """Create, bind and wait for the ARQs of the flavor's extra specs.

    ``extra_specs`` name a device profile (``accel:device_profile``) or a
    device context (``accel:device_context``, cyborg API 2.4). ``device_rps``
    maps each request group index (Nova's ``device_profile_<N>`` groups;
    see ``parse_device_context``) to the resource provider uuid the
    scheduler chose; a list is read as index -> provider. Returns a list of
    AttachedAccelerator. On any failure the ARQs created here are deleted
    and PlugException is raised.
    """
    body, microversion = _arq_request(extra_specs)
    if not isinstance(device_rps, dict):
        device_rps = dict(enumerate(device_rps))
    try:
        _, created = client.request('POST', ARQS, expect=(201,), json=body,
                                    microversion=microversion)
        arqs = created['arqs']
    except client_module.AcceleratorError as exc:
        raise exception.PlugException('creating ARQs for %s: %s'
                                      % (instance_info.uuid, exc)) from exc
    try:
        _bind(client, arqs, device_rps, instance_info)
        resolved = _wait_resolved(client, instance_info.uuid, timeout,
                                  poll_interval, microversion)
        failed = [a['uuid'] for a in resolved if a['state'] != 'Bound']
        if failed:
            raise exception.PlugException('ARQs %s of instance %s failed to '
                                          'bind' % (failed, instance_info.uuid))
        return [_attached(arq) for arq in resolved]
    except (client_module.AcceleratorError, exception.PlugException) as exc:
        _delete_quietly(client, [a['uuid'] for a in arqs])
        if isinstance(exc, exception.PlugException):
            raise
        raise exception.PlugException('binding ARQs of %s: %s'
                                      % (instance_info.uuid, exc)) from exc


def release_accelerators_for_instance(instance_uuid, client):
    """Unbind and delete every ARQ of the instance (idempotent)."""
    try:
        client.request('DELETE', '%s?instance=%s' % (ARQS, instance_uuid),
                       expect=(204,))
    except client_module.AcceleratorError as exc:
        raise exception.UnplugException('releasing accelerators of %s: %s'
                                        % (instance_uuid, exc)) from exc


def _bind(client, arqs, device_rps, instance_info):
    patch = {}
    for arq in arqs:
        group = arq['device_profile_group_id']
        if group not in device_rps:
            raise exception.PlugException(
                'no resource provider given for request group %d' % group)
        ops = [('/hostname', instance_info.host),
               ('/device_rp_uuid', device_rps[group]),
               ('/instance_uuid', instance_info.uuid)]
        if instance_info.project_id:
            ops.append(('/project_id', instance_info.project_id))
        patch[arq['uuid']] = [{'op': 'add', 'path': path, 'value': value}
                              for path, value in ops]
    client.request('PATCH', ARQS, expect=(202,), json=patch)


def _wait_resolved(client, instance_uuid, timeout, poll_interval,
                   microversion):
    # 423 means "some of this instance's ARQs are still binding".
    deadline = time.monotonic() + timeout
    path = '%s?instance=%s&bind_state=resolved' % (ARQS, instance_uuid)
    while True:
        status, body = client.request('GET', path, expect=(200, 423),
                                      microversion=microversion)
        if status == 200:
            return body['arqs']
        if time.monotonic() > deadline:
            raise exception.PlugException(
                'ARQs of instance %s not resolved after %ss'
                % (instance_uuid, timeout))
        time.sleep(poll_interval)


def _attached(arq):
    return AttachedAccelerator(
        arq_uuid=arq['uuid'],
        device_profile_group_id=arq['device_profile_group_id'],
        device_rp_uuid=arq['device_rp_uuid'],
        attach_handle_type=arq['attach_handle_type'],
        attach_handle_info=arq['attach_handle_info'],
        attach_handle_uuid=arq.get('attach_handle_uuid'),
        config_data=arq.get('config_data') or {})


def _delete_quietly(client, arq_uuids):
    # Best effort: the caller gets the original error either way.
    try:
        client.request('DELETE', '%s?arqs=%s' % (ARQS, ','.join(arq_uuids)),
                       expect=(204, 404))
    except client_module.AcceleratorError:
        pass
