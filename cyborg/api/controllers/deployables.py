"""/v2/deployables: schedulable units of devices, and FPGA programming."""

import json

from cyborg.api.controllers import base
from cyborg.api.controllers import links
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
        'created_at': base.isotime(deployable['created_at']),
        'updated_at': base.isotime(deployable['updated_at']),
        'links': links.self_and_bookmark_links(base_url, RESOURCE,
                                               deployable['uuid']),
    }


def _name_filter(params):
    # Upstream's only effective filter: ?filters.field=name&filters.value=X.
    # A plain ?name=X works too.
    if params.get('filters.field') == 'name':
        return params.get('filters.value')
    return params.get('name')


class DeployablesController(base.Controller):

    @base.handler()
    def get_all(self, req, resp):
        ctx = self.authorize(req, policies.GET_ALL)
        params = validation.query(req, schemas.LIST_QUERY)
        page = self.page(params)
        deployables = deployable_db.list_deployables(
            ctx, name=_name_filter(params), **page.db_kwargs())
        base_url = self.base_url(req)
        body = {RESOURCE: [_view(d, base_url) for d in deployables]}
        page.add_next_link(body, RESOURCE, base_url, RESOURCE, params)
        return base.json_response(body)

    @base.handler()
    def get_one(self, req, resp, uuid):
        ctx = self.authorize(req, policies.GET_ONE)
        return base.json_response(_view(
            deployable_db.get_deployable(ctx, uuid), self.base_url(req)))

    ACTIONS = {'program': 'PATCH'}

    @base.handler()
    def program(self, req, resp, uuid):
        """PATCH /v2/deployables/{uuid}/program."""
        ctx = self.authorize(req, policies.PROGRAM)
        body = validation.body(req, schemas.PROGRAM)
        image_uuid = body[0]['value'][0]['image_uuid']
        # A clean 404 before bothering the conductor and an agent.
        deployable_db.get_deployable(ctx, uuid)
        self.services.conductor.program_deployable(ctx, uuid, image_uuid)
        return base.json_response(_view(
            deployable_db.get_deployable(ctx, uuid), self.base_url(req)))
