"""/v2/device_contexts (2.4): request groups and config data for one instance.

A device context is a "dynamic profile" that lives as long as the request
it serves (the accelerator equivalent of a Neutron port binding): a user
or Nova creates one with the groups it needs, inline in the device-profile
group syntax or copied from a profile, plus ``config_data`` for the
driver; Nova reads its groups (``GET /v2/device_contexts/{uuid}``, the
shape of a profile's) to schedule, and creates ARQs from it with ``POST
/v2/accelerator_requests {"device_context_uuid": U}``. Its state machine
lives in ``cyborg.db.device_contexts``; its lifetimes in
``[device_contexts]``.
"""

from cyborg.api import errors
from cyborg.api.handlers import accelerator_requests as arq_handlers
from cyborg.api.handlers import common
from cyborg.api.handlers import device_profiles as dp_handlers
from cyborg.api import links
from cyborg.api.policies import device_contexts as policies
from cyborg.api.schemas import device_contexts as schemas
from cyborg.api import validation
from cyborg.db import arq_states
from cyborg.db import device_contexts as dc_db
from cyborg.db import device_profiles as dp_db
from cyborg.db import engine as db_engine
from cyborg import notifications

RESOURCE = 'device_contexts'


def view(device_context, base_url):
    """A context as the API shows it; ``groups`` as a profile shows them."""
    return {
        'uuid': device_context['uuid'],
        'state': device_context['state'],
        'instance_uuid': device_context['instance_uuid'],
        'project_id': device_context['project_id'],
        'groups': device_context['groups'],
        'config_data': device_context['config_data'],
        'device_profile_name': device_context['device_profile_name'],
        'expires_at': common.isotime(device_context['expires_at']),
        'created_at': common.isotime(device_context['created_at']),
        'updated_at': common.isotime(device_context['updated_at']),
        'links': links.self_links(base_url, RESOURCE, device_context['uuid']),
    }


def list_device_contexts(req):
    """GET /v2/device_contexts: the caller's project's (an admin's: all)."""
    ctx = req.authorize(policies.GET_ALL)
    params = validation.query(req, schemas.LIST_QUERY)
    page = req.page(params)
    found = dc_db.list_device_contexts(ctx, **page.db_kwargs())
    base_url = req.links_base
    body = {RESOURCE: [view(dc, base_url) for dc in found]}
    page.add_next_link(body, RESOURCE, base_url, RESOURCE, params)
    return common.json_response(body)


def show_device_context(req, uuid):
    """GET /v2/device_contexts/{uuid}, wrapped as a profile's show is."""
    ctx = req.authorize(policies.GET_ONE)
    return common.json_response({'device_context': view(
        dc_db.get_device_context(ctx, uuid), req.links_base)})


def create_device_context(req):
    """POST /v2/device_contexts.

    ``{"groups": [...]}`` (every rule of device-profile groups applies) or
    ``{"device_profile_name": N}`` / ``{"device_profile_uuid": U}`` (the
    profile's groups copied), with optional ``config_data``. A context
    asking for more accelerators than one ARQ request may create is a
    400.
    """
    ctx = req.authorize(policies.CREATE)
    body = validation.body(req, schemas.CREATE)
    given = [key for key in schemas.SOURCES if key in body]
    if len(given) != 1:
        raise errors.BadRequest(
            'Give exactly one of %s; got %s.' % (
                ', '.join(schemas.SOURCES), ', '.join(given) or 'none'),
            code=errors.BAD_BODY)
    profile_name = None
    if 'groups' in body:
        groups = dp_handlers.normalize_groups(body['groups'])
    else:
        profile = dp_db.get_device_profile(
            ctx, uuid=validation.canonical_uuid(body['device_profile_uuid'])
            if 'device_profile_uuid' in body else None,
            name=body.get('device_profile_name'))
        groups, profile_name = profile['groups'], profile['name']
    # Refused now rather than when its ARQs are created.
    arq_handlers.accelerator_counts(req, 'The device context', groups)
    created = dc_db.create(ctx, groups, body.get('config_data', {}),
                           req.services.device_context_lifetimes,
                           device_profile_name=profile_name)
    return common.json_response(view(created, req.links_base), status=201)


def delete_device_context(req, uuid):
    """DELETE /v2/device_contexts/{uuid}.

    409 while an ARQ of the context is bound to an instance (Nova deletes
    those); its other ARQs (Initial, Unbound) go with it.
    """
    ctx = req.authorize(policies.DELETE)
    released = delete_with_arqs(ctx, uuid,
                                describe_arqs=req.services.notifier.enabled)
    arq_handlers.after_release(req, ctx, released,
                               notifications.ARQ_DELETE_END)
    return common.empty_response(204)


@db_engine.retry_on_contention
def delete_with_arqs(ctx, uuid, describe_arqs=False):
    """Delete a context and its unbound ARQs in one transaction.

    The context row is taken first, then its ARQs: the lock order every
    transaction writing both follows (see ``cyborg.db.device_contexts``).
    Returns the ``arq_states.Released`` of its ARQs.
    """
    with db_engine.write_transaction(ctx):
        found = dc_db.lock_for_delete(ctx, uuid)
        released = arq_states.delete_of_context(ctx, found,
                                                describe_arqs=describe_arqs)
        dc_db.delete(ctx, found['id'], found['uuid'])
    return released
