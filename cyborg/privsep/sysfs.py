"""Privileged sysfs writes: creating and removing mediated devices.

The kernel's mdev interface is two write-only attributes owned by root:
``<type dir>/create`` takes the new mdev's uuid, ``<mdev dir>/remove``
takes ``1``. The unprivileged side (``cyborg.accelerator.drivers.sysfs``)
validates the request and builds the paths under ``[agent] sysfs_root``;
these entry points check again what they are asked to write, so the daemon
writes nothing but an mdev attribute, whatever its caller sends.
"""

import os
import uuid

from cyborg.privsep import sys_admin_pctxt

# The only attributes these entry points write, and what may go in them.
_CREATE = 'create'
_REMOVE = 'remove'


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
