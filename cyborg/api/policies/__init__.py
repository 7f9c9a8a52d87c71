"""Default policy rules of the API, one module per resource.

``list_policies`` is the ``oslo.policy.policies`` entry point used by
oslopolicy-sample-generator and by the enforcer itself.
"""

import itertools

from cyborg.api.policies import accelerator_requests
from cyborg.api.policies import attach_handles
from cyborg.api.policies import attributes
from cyborg.api.policies import base
from cyborg.api.policies import deployables
from cyborg.api.policies import device_contexts
from cyborg.api.policies import device_profiles
from cyborg.api.policies import devices
from cyborg.api.policies import quotas


def list_policies():
    return list(itertools.chain(
        base.list_rules(),
        device_profiles.list_rules(),
        accelerator_requests.list_rules(),
        device_contexts.list_rules(),
        devices.list_rules(),
        deployables.list_rules(),
        attributes.list_rules(),
        attach_handles.list_rules(),
        quotas.list_rules(),
    ))
