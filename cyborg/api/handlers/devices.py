"""/v2/devices: the accelerator cards agents found, and their maintenance."""

from cyborg.api.handlers import common
from cyborg.api import links
from cyborg.api.policies import devices as policies
from cyborg.api.schemas import devices as schemas
from cyborg.api import validation
from cyborg.db import devices as device_db

RESOURCE = 'devices'
# The microversion from which devices show their health (and the list
# filters by it); the one place that names it.
HEALTH_VERSION = (2, 6)


def _view(device, base_url, version):
    view = {
        'uuid': device['uuid'],
        'type': device['type'],
        'vendor': device['vendor'],
        'model': device['model'],
        'std_board_info': device['std_board_info'],
        'vendor_board_info': device['vendor_board_info'],
        'hostname': device['hostname'],
        'created_at': common.isotime(device['created_at']),
        'updated_at': common.isotime(device['updated_at']),
        'links': links.self_links(base_url, RESOURCE, device['uuid']),
    }
    if version.matches((2, 3)):
        view['status'] = device['status']
    if version.matches(HEALTH_VERSION):
        # What the host's agent last reported (failed or degraded devices
        # are reserved in Placement); the reason is null when healthy.
        view['health'] = device['health']
        view['health_reason'] = device['health_reason']
        if device['scrub_failure'] is not None:
            # Out of service until an operator enables it again.
            view['health'] = 'failed'
            view['health_reason'] = device['scrub_failure']
    return view


def list_devices(req):
    """GET /v2/devices[?type=&vendor=&hostname=][&health= from 2.6]."""
    ctx = req.authorize(policies.GET_ALL)
    # Below 2.6, health is an unknown parameter: ignored, as all are.
    params = validation.query(
        req, schemas.LIST_QUERY_HEALTH if req.version.matches(HEALTH_VERSION)
        else schemas.LIST_QUERY)
    page = req.page(params)
    devices = device_db.list_devices(
        ctx, type=params.get('type'), vendor=params.get('vendor'),
        hostname=params.get('hostname'),
        health=(params.get('health')
                if req.version.matches(HEALTH_VERSION) else None),
        **page.db_kwargs())
    base_url = req.links_base
    body = {RESOURCE: [_view(d, base_url, req.version) for d in devices]}
    page.add_next_link(body, RESOURCE, base_url, RESOURCE, params)
    return common.json_response(body)


def show_device(req, uuid):
    """GET /v2/devices/{uuid}."""
    ctx = req.authorize(policies.GET_ONE)
    return common.json_response(_view(device_db.get_device(ctx, uuid),
                                      req.links_base, req.version))


def enable_device(req, uuid):
    """POST /v2/devices/{uuid}/enable: back in service."""
    ctx = req.authorize(policies.ENABLE)
    return _set_status(req, ctx, uuid, 'enabled')


def disable_device(req, uuid):
    """POST /v2/devices/{uuid}/disable: in maintenance, not schedulable."""
    ctx = req.authorize(policies.DISABLE)
    return _set_status(req, ctx, uuid, 'maintaining')


def _set_status(req, ctx, uuid, status):
    # A clean 404 without a round trip to the conductor.
    device_db.get_device(ctx, uuid)
    req.services.conductor.set_device_status(ctx, uuid, status)
    # Upstream answers 200 with an empty body.
    return common.empty_response(200)
