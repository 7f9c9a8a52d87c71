"""/v2/deployables: schedulable units of devices, and FPGA programming."""

import json

from cyborg.api import errors
from cyborg.api.handlers import common
from cyborg.api import links
from cyborg.api.policies import deployables as policies
from cyborg.api.schemas import deployables as schemas
from cyborg.api import validation
from cyborg.db import deployables as deployable_db

RESOURCE = 'deployables'


def _view(deployable, base_url):
    return {
        'uuid': deployable['uuid'],
        'parent_id': deployable['parent_id'],
        'root_id': deployable['root_id'],
        'name': deployable['name'],
        'num_accelerators': deployable['num_accelerators'],
        'device_id': deployable['device_id'],
        # Upstream's type for this is a JSON *string*; clients parse it.
        'attributes_list': json.dumps(deployable['attributes_list']),
        'rp_uuid': deployable['rp_uuid'],
        'driver_name': deployable['driver_name'],
        'bitstream_id': deployable['bitstream_id'],
        'created_at': common.isotime(deployable['created_at']),
        'updated_at': common.isotime(deployable['updated_at']),
        'links': links.self_and_bookmark_links(base_url, RESOURCE,
                                               deployable['uuid']),
    }


def list_deployables(req):
    """GET /v2/deployables[?name=] (or upstream's filters.field=name)."""
    ctx = req.authorize(policies.GET_ALL)
    params = validation.query(req, schemas.LIST_QUERY)
    page = req.page(params)
    deployables = deployable_db.list_deployables(
        ctx, name=params.get('name'), **page.db_kwargs())
    base_url = req.links_base
    body = {RESOURCE: [_view(d, base_url) for d in deployables]}
    page.add_next_link(body, RESOURCE, base_url, RESOURCE, params)
    return common.json_response(body)


def show_deployable(req, uuid):
    """GET /v2/deployables/{uuid}."""
    ctx = req.authorize(policies.GET_ONE)
    return common.json_response(_view(
        deployable_db.get_deployable(ctx, uuid), req.links_base))


def program_deployable(req, uuid):
    """PATCH /v2/deployables/{uuid}/program: load a bitstream now."""
    ctx = req.authorize(policies.PROGRAM)
    body = validation.body(req, schemas.PROGRAM)
    image_uuid = body[0]['value'][0]['image_uuid']
    # A clean 404 before bothering the conductor and an agent.
    deployable_db.get_deployable(ctx, uuid)
    req.services.conductor.program_deployable(ctx, uuid, image_uuid)
    return common.json_response(_view(
        deployable_db.get_deployable(ctx, uuid), req.links_base))


def program_deployable_as_openstacksdk(req, uuid, same_uuid):
    """PATCH /v2/deployables/{uuid}/program/{uuid}: what openstacksdk sends."""
    if same_uuid != uuid:
        raise errors.NotFound('The resource could not be found.',
                              code=errors.NOT_FOUND)
    return program_deployable(req, uuid)
