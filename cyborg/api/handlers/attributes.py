"""/v2/attributes: free-form key/value pairs on deployables."""

from cyborg.api.handlers import common
from cyborg.api import links
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
        'created_at': common.isotime(attribute['created_at']),
        'updated_at': common.isotime(attribute['updated_at']),
        'links': links.self_links(base_url, RESOURCE, attribute['uuid']),
    }


def list_attributes(req):
    """GET /v2/attributes[?deployable_id=&key=]."""
    ctx = req.authorize(policies.GET_ALL)
    params = validation.query(req, schemas.LIST_QUERY)
    page = req.page(params)
    deployable_id = params.get('deployable_id')
    attributes = attribute_db.list_attributes(
        ctx, key=params.get('key'),
        deployable_id=int(deployable_id) if deployable_id else None,
        **page.db_kwargs())
    base_url = req.links_base
    body = {RESOURCE: [_view(a, base_url) for a in attributes]}
    page.add_next_link(body, RESOURCE, base_url, RESOURCE, params)
    return common.json_response(body)


def show_attribute(req, uuid):
    """GET /v2/attributes/{uuid}."""
    ctx = req.authorize(policies.GET_ONE)
    return common.json_response(_view(attribute_db.get_attribute(ctx, uuid),
                                      req.links_base))


def create_attribute(req):
    """POST /v2/attributes {"deployable_id", "key", "value"}."""
    ctx = req.authorize(policies.CREATE)
    body = validation.body(req, schemas.CREATE)
    created = attribute_db.create_attribute(
        ctx, body['deployable_id'], body['key'], body['value'])
    return common.json_response(_view(created, req.links_base), status=201)


def delete_attribute(req, uuid):
    """DELETE /v2/attributes/{uuid}."""
    ctx = req.authorize(policies.DELETE)
    attribute_db.delete_attribute(ctx, uuid)
    return common.empty_response(204)
