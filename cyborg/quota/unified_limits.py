"""The ``unified_limits`` quota driver: limits from Keystone via oslo.limit.

As Nova does for ``class:VGPU``, the limit on a resource class is the
Keystone limit named ``class:<RESOURCE CLASS>`` of our service (found by
``[oslo_limit] endpoint_id``, or by ``endpoint_service_type`` /
``endpoint_service_name`` and ``endpoint_region_name``): a registered
limit (every project's default), overridden by a project limit. A class
with neither has limit 0, oslo.limit's rule: a cloud moving to unified
limits registers a limit for every class it offers. Usage is ours,
counted in the create transaction; only the limits come from here.

Limits are read before the create transaction opens (a call to Keystone
must not hold database locks), without a cache, so a limit changed in
Keystone applies to the next request. Keystone unreachable or the
endpoint not found is QuotaLimitsUnavailable (503): failing closed.
"""

import logging

from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions
from oslo_limit import exception as limit_exceptions
from oslo_limit import limit

from cyborg import exception
from cyborg import library_patches
from cyborg.quota import enforcement

LOG = logging.getLogger(__name__)

RESOURCE_PREFIX = 'class:'

# What oslo.limit lets through when Keystone cannot answer: its session
# setup failures, keystoneauth's and openstacksdk's transport and HTTP
# errors, and the ValueError its endpoint lookup raises.
_KEYSTONE_FAILURES = (limit_exceptions.SessionInitError,
                      ksa_exceptions.ClientException,
                      sdk_exceptions.SDKException, ValueError)


def resource_name(resource_class):
    return RESOURCE_PREFIX + resource_class


def _by_class(pairs):
    # oslo.limit's (resource name, limit) pairs as {class: limit or None};
    # names other than ours (class:...) are not accelerator limits.
    return {name[len(RESOURCE_PREFIX):]: enforcement.limit_or_unlimited(value)
            for name, value in pairs if name.startswith(RESOURCE_PREFIX)}


def _no_usage(project_id, resource_names):
    # oslo.limit wants a usage callback; we only read limits with it.
    return {}


class UnifiedLimits:
    """Limits per resource class from Keystone unified limits."""

    def __init__(self, conf):
        library_patches.point_oslo_limit_at(conf)

    def _enforcer(self, project_id):
        try:
            return limit.Enforcer(_no_usage, cache=False)
        except _KEYSTONE_FAILURES as error:
            raise self._unavailable(project_id, error)

    @staticmethod
    def _unavailable(project_id, error):
        LOG.warning('Cannot read the limits of project %s from Keystone: '
                    '%s', project_id, error)
        return exception.QuotaLimitsUnavailable(project_id=project_id,
                                                reason=str(error))

    def limits_for(self, project_id, resource_classes):
        classes = sorted(set(resource_classes) - {None})
        if not classes:
            return {}
        enforcer = self._enforcer(project_id)
        try:
            pairs = enforcer.get_project_limits(
                project_id, [resource_name(rc) for rc in classes])
        except _KEYSTONE_FAILURES as error:
            raise self._unavailable(project_id, error)
        return _by_class(pairs)

    def all_limits(self, project_id):
        enforcer = self._enforcer(project_id)
        try:
            merged = dict(enforcer.get_registered_limits(None))
            merged.update(enforcer.get_project_limits(project_id, None))
        except _KEYSTONE_FAILURES as error:
            raise self._unavailable(project_id, error)
        return _by_class(merged.items())
