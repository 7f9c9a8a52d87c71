"""Privileged sysfs writes: mediated devices and PCI function resets.

The kernel's mdev interface is two write-only attributes owned by root:
``<type dir>/create`` takes the new mdev's uuid, ``<mdev dir>/remove``
takes ``1``. A PCI function's ``reset`` attribute (root's, write-only)
resets the function when ``1`` is written to it, with the first method of
its ``reset_method`` list (FLR, PM, bus reset...). The unprivileged side
(``cyborg.accelerator.drivers.sysfs``) validates the request and builds
the paths under ``[agent] sysfs_root``; these entry points check again
what they are asked to write, so the daemon writes nothing but these
attributes, whatever its caller sends.
"""

import os
import re
import uuid

from cyborg.privsep import sys_admin_pctxt

# The only attributes these entry points write, and what may go in them.
_CREATE = 'create'
_REMOVE = 'remove'
_RESET = 'reset'
_PCI_ADDRESS_RE = re.compile(r'[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]')


def _check_target(path, attribute):
    if os.path.basename(path) != attribute:
        raise ValueError('%s is not an mdev %s attribute' % (path, attribute))
    if '..' in path.split(os.sep):
        raise ValueError('%s climbs out of its directory' % path)


@sys_admin_pctxt.entrypoint
def write_mdev_create(create_path, mdev_uuid):
    """Write ``mdev_uuid`` to an mdev type's ``create`` attribute."""
    _check_target(create_path, _CREATE)
    value = str(uuid.UUID(mdev_uuid))
    with open(create_path, 'w') as handle:
        handle.write(value)


@sys_admin_pctxt.entrypoint
def write_mdev_remove(remove_path):
    """Write ``1`` to an mdev's ``remove`` attribute."""
    _check_target(remove_path, _REMOVE)
    with open(remove_path, 'w') as handle:
        handle.write('1')


@sys_admin_pctxt.entrypoint
def write_pci_reset(reset_path):
    """Write ``1`` to a PCI function's ``reset`` attribute."""
    _check_target(reset_path, _RESET)
    # Only a function's own attribute: bus/pci/devices/<address>/reset.
    if not _PCI_ADDRESS_RE.fullmatch(
            os.path.basename(os.path.dirname(reset_path))):
        raise ValueError('%s is not the reset attribute of a PCI function'
                         % reset_path)
    with open(reset_path, 'w') as handle:
        handle.write('1')
