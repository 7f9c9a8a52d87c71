"""/v2/devices: the accelerator cards agents found, and their maintenance."""

from cyborg.api.controllers import base
from cyborg.api.controllers import links
from cyborg.api.policies import devices as policies
from cyborg.api.schemas import devices as schemas
from cyborg.api import validation
from cyborg.db import devices as device_db

RESOURCE = 'devices'

# What each action sets devices.status to.
ACTIONS = {'enable': 'enabled', 'disable': 'maintaining'}


def _view(device, base_url, version):
    view = {
        'uuid': device['uuid'],
        'type': device['type'],
        'vendor': device['vendor'],
        'model': device['model'],
        'std_board_info': device['std_board_info'],
        'vendor_board_info': device['vendor_board_info'],
        'hostname': device['hostname'],
        'created_at': base.isotime(device['created_at']),
        'updated_at': base.isotime(device['updated_at']),
        'links': links.self_links(base_url, RESOURCE, device['uuid']),
    }
    if version.matches((2, 3)):
        view['status'] = device['status']
    return view


class DevicesController(base.Controller):

    ACTIONS = {'enable': 'POST', 'disable': 'POST'}

    @base.handler()
    def get_all(self, req, resp):
        ctx = self.authorize(req, policies.GET_ALL)
        params = validation.query(req, schemas.LIST_QUERY)
        page = self.page(params)
        devices = device_db.list_devices(
            ctx, type=params.get('type'), vendor=params.get('vendor'),
            hostname=params.get('hostname'), **page.db_kwargs())
        base_url = self.base_url(req)
        version = base.request_version(req)
        body = {RESOURCE: [_view(d, base_url, version) for d in devices]}
        page.add_next_link(body, RESOURCE, base_url, RESOURCE, params)
        return base.json_response(body)

    @base.handler()
    def get_one(self, req, resp, uuid):
        ctx = self.authorize(req, policies.GET_ONE)
        return base.json_response(_view(device_db.get_device(ctx, uuid),
                                        self.base_url(req),
                                        base.request_version(req)))

    @base.handler()
    def enable(self, req, resp, uuid):
        ctx = self.authorize(req, policies.ENABLE)
        return self._set_status(ctx, uuid, 'enable')

    @base.handler()
    def disable(self, req, resp, uuid):
        ctx = self.authorize(req, policies.DISABLE)
        return self._set_status(ctx, uuid, 'disable')

    def _set_status(self, ctx, uuid, action):
        # A clean 404 without a round trip to the conductor.
        device_db.get_device(ctx, uuid)
        self.services.conductor.set_device_status(ctx, uuid, ACTIONS[action])
        # Upstream answers 200 with an empty body.
        return base.empty_response(200)
