"""Scrubbing an attach handle by resetting what it names (``Scrubbable``).

What the PCI drivers share when one tenant's function is cleaned for the
next (see ``base.Scrubbable``):

* a ``PCI`` handle: the function gets a reset through its sysfs ``reset``
  attribute, written by the privsep daemon (``Sysfs.reset_function``).
  The kernel resets it with the first method its ``reset_method`` lists
  (a function-level reset where the device has one), which clears the
  function's registers, queues and on-device state a tenant left;
* an ``MDEV`` handle: the mdev is removed and created again with the same
  uuid and type, so the next tenant gets a new mediated device.

A function the kernel has no reset for, or that is gone, fails the scrub
with ``ScrubFailed`` naming it: a scrub never pretends.
"""

from cyborg.accelerator import discovery
from cyborg import exception


def handle_address(attach_handle):
    """The PCI address an attach handle (a dict) names."""
    info = attach_handle.get('attach_info') or {}
    try:
        return discovery.pci_address_str(info)
    except (KeyError, TypeError):
        raise exception.ScrubFailed(
            target=attach_handle.get('uuid'),
            reason='its attach info %r names no PCI function' % (info,))


def reset_handle(sysfs_reader, attach_handle):
    """Reset the function of a ``PCI`` handle, or recreate an ``MDEV``."""
    attach_type = attach_handle.get('attach_type')
    address = handle_address(attach_handle)
    if attach_type == 'PCI':
        try:
            sysfs_reader.reset_function(address)
        except exception.Invalid as exc:
            raise exception.ScrubFailed(target=address, reason=str(exc))
    elif attach_type == 'MDEV':
        recreate_mdev(sysfs_reader, attach_handle, address)
    else:
        raise exception.ScrubFailed(
            target=address, reason='cannot scrub a %s attach handle'
                                   % attach_type)


def recreate_mdev(sysfs_reader, attach_handle, address):
    """Remove the handle's mdev and create it again, same uuid and type."""
    mdev_type = attach_handle['attach_info'].get('asked_type')
    mdev_uuid = attach_handle.get('uuid')
    try:
        sysfs_reader.remove_mdev(address, mdev_type, mdev_uuid)
        sysfs_reader.create_mdev(address, mdev_type, mdev_uuid)
    except (exception.MdevOperationFailed, exception.Invalid) as exc:
        raise exception.ScrubFailed(target='mdev %s on %s'
                                    % (mdev_uuid, address), reason=str(exc))
