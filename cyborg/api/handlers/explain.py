"""GET .../device_profiles/{ident}/explain and .../device_contexts/{uuid}/explain.

API 2.8, admin only by default (the answer names hosts): why can (or
can't) an instance asking for this profile or context get an accelerator
now? The API does not talk to Placement; the conductor does
(``cyborg.conductor.explain``, RPC 1.4 ``explain_groups``). Conductors
too old for it, or a client capped below it, answer 503
``cyborg.conductor.too_old``.
"""

from cyborg.api.handlers import common
from cyborg.api.handlers import device_profiles as dp_handlers
from cyborg.api.policies import device_contexts as dc_policies
from cyborg.api.policies import device_profiles as dp_policies
from cyborg.db import device_contexts as dc_db
from cyborg.db import device_profiles as dp_db

# The microversion the routes arrived in (routes.py names it too).
EXPLAIN_VERSION = (2, 8)


def explain_device_profile(req, ident):
    """GET /v2/device_profiles/{uuid or name}/explain."""
    ctx = req.authorize(dp_policies.EXPLAIN)
    if dp_handlers.is_uuid(ident):
        profile = dp_db.get_device_profile(ctx, uuid=ident)
    else:
        profile = dp_db.get_device_profile(ctx, name=ident)
    groups = req.services.conductor.explain_groups(ctx, profile['groups'])
    return common.json_response({
        'device_profile': {'uuid': profile['uuid'], 'name': profile['name']},
        'groups': groups})


def explain_device_context(req, uuid):
    """GET /v2/device_contexts/{uuid}/explain."""
    ctx = req.authorize(dc_policies.EXPLAIN)
    device_context = dc_db.get_device_context(ctx, uuid)
    groups = req.services.conductor.explain_groups(
        ctx, device_context['groups'])
    return common.json_response({
        'device_context': {
            'uuid': device_context['uuid'],
            'state': device_context['state'],
            'device_profile_name': device_context['device_profile_name']},
        'groups': groups})
