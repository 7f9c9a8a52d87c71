"""os_acc: the compute-side library that attaches cyborg accelerators.

A compute service (Nova, or anything that boots instances) calls two
functions. Both block until done, keep no global state and are thread-safe,
so callers may run them in a ThreadPoolExecutor::

    attached = os_acc.acquire_accelerators_for_instance(
        device_rps, extra_specs, instance_info, client=client)
    ...
    os_acc.release_accelerators_for_instance(instance_uuid, client=client)

``acquire`` creates the ARQs of the flavor's device profile
(``accel:device_profile``) or device context (``accel:device_context``,
cyborg API 2.4), binds each to the resource provider chosen for its
request group, waits until every ARQ is resolved and returns, per
accelerator, what is needed to attach it (libvirt ``<hostdev>`` XML for
PCI and mdev handles, ``<interface type='hostdev'>`` for a NIC function).
Failures raise ``PlugException`` (after releasing whatever was created);
``release`` raises ``UnplugException``.

Before scheduling, ``parse_device_context`` turns a device context into
the request groups the scheduler asks Placement with.
"""

from os_acc.attach import acquire_accelerators_for_instance  # noqa: F401
from os_acc.attach import AttachedAccelerator  # noqa: F401
from os_acc.attach import InstanceInfo  # noqa: F401
from os_acc.attach import release_accelerators_for_instance  # noqa: F401
from os_acc.client import AcceleratorClient  # noqa: F401
from os_acc.context import parse_device_context  # noqa: F401
from os_acc.context import RequestGroup  # noqa: F401
from os_acc.exception import InvalidDeviceContext  # noqa: F401
from os_acc.exception import PlugException  # noqa: F401
from os_acc.exception import UnplugException  # noqa: F401
