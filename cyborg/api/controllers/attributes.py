"""/v2/attributes: free-form key/value pairs on deployables."""

from cyborg.api.controllers import base
from cyborg.api.controllers import links
from cyborg.api.policies import attributes as policies
from cyborg.api.schemas import attributes as schemas
from cyborg.api import validation
from cyborg.db import attributes as attribute_db

RESOURCE = 'attributes'


def _view(attribute, base_url):
    return {
        'uuid': attribute['uuid'],
        'deployable_id': attribute['deployable_id'],
        'key': attribute['key'],
        'value': attribute['value'],
        'created_at': base.isotime(attribute['created_at']),
        'updated_at': base.isotime(attribute['updated_at']),
        'links': links.self_links(base_url, RESOURCE, attribute['uuid']),
    }


class AttributesController(base.Controller):

    @base.handler()
    def get_all(self, req, resp):
        ctx = self.authorize(req, policies.GET_ALL)
        params = validation.query(req, schemas.LIST_QUERY)
        page = self.page(params)
        deployable_id = params.get('deployable_id')
        attributes = attribute_db.list_attributes(
            ctx, key=params.get('key'),
            deployable_id=int(deployable_id) if deployable_id else None,
            **page.db_kwargs())
        base_url = self.base_url(req)
        body = {RESOURCE: [_view(a, base_url) for a in attributes]}
        page.add_next_link(body, RESOURCE, base_url, RESOURCE, params)
        return base.json_response(body)

    @base.handler()
    def get_one(self, req, resp, uuid):
        ctx = self.authorize(req, policies.GET_ONE)
        return base.json_response(_view(attribute_db.get_attribute(ctx, uuid),
                                        self.base_url(req)))

    @base.handler()
    def post(self, req, resp):
        ctx = self.authorize(req, policies.CREATE)
        body = validation.body(req, schemas.CREATE)
        created = attribute_db.create_attribute(
            ctx, body['deployable_id'], body['key'], body['value'])
        return base.json_response(_view(created, self.base_url(req)),
                                  status=201)

    @base.handler()
    def delete(self, req, resp, uuid):
        ctx = self.authorize(req, policies.DELETE)
        attribute_db.delete_attribute(ctx, uuid)
        return base.empty_response(204)
