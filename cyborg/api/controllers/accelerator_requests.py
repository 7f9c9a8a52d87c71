"""/v2/accelerator_requests: Nova's ARQs, their binding and their release.

Bind (PATCH with ``add`` ops) commits ``BindStarted`` for every ARQ of the
request in one transaction, then casts the batch to a conductor and
answers 202: the bind is durable work in the database from then on.
Unbind (``remove`` ops) is a call to the conductor, which releases what
the ARQ held. Delete releases attach handles in the same transaction that
deletes the rows, then casts the host-side cleanup.
"""

import logging

from cyborg.api.controllers import base
from cyborg.api.controllers import links
from cyborg.api import errors
from cyborg.api.policies import accelerator_requests as policies
from cyborg.api.schemas import accelerator_requests as schemas
from cyborg.api import validation
from cyborg.db import arqs as arq_db

LOG = logging.getLogger(__name__)

RESOURCE = 'accelerator_requests'

BIND_FIELDS = ('hostname', 'device_rp_uuid', 'instance_uuid')
# /project_id arrived in 2.1.
PATCH_PATHS = {'/hostname': None, '/device_rp_uuid': None,
               '/instance_uuid': None, '/project_id': (2, 1)}


def _view(arq, base_url):
    # Only a Bound ARQ shows its handle, as upstream does.
    bound = arq['state'] == 'Bound'
    return {
        'uuid': arq['uuid'],
        'state': arq['state'],
        'device_profile_name': arq['device_profile_name'],
        'device_profile_group_id': arq['device_profile_group_id'],
        'hostname': arq['hostname'],
        'device_rp_uuid': arq['device_rp_uuid'],
        'instance_uuid': arq['instance_uuid'],
        'project_id': arq['project_id'],
        'attach_handle_type': arq['attach_handle_type'] if bound else '',
        'attach_handle_uuid': arq['attach_handle_uuid'] if bound else None,
        'attach_handle_info': arq['attach_handle_info'] if bound else {},
        'created_at': base.isotime(arq['created_at']),
        'updated_at': base.isotime(arq['updated_at']),
        'links': links.self_links(base_url, RESOURCE, arq['uuid']),
    }


def _bad_patch(uuid, message):
    return errors.BadRequest('Invalid patch for ARQ %s: %s' % (uuid, message),
                             code=errors.BAD_BODY)


def parse_patch(uuid, ops, ctx, version):
    """('add', fields) or ('remove', None) for one ARQ's list of ops.

    The rules are upstream's: one kind of op per ARQ; only the known
    paths, /project_id from 2.1 on (406 below) and for admins only; an
    add names hostname, device_rp_uuid and instance_uuid; project_id
    defaults to the caller's project.
    """
    kinds = {op['op'] for op in ops}
    if len(kinds) != 1:
        raise _bad_patch(uuid, 'all ops must be "add" or all "remove"')
    kind = kinds.pop()
    fields = {}
    for op in ops:
        path = op['path']
        if path not in PATCH_PATHS:
            raise _bad_patch(uuid, 'path %s cannot be patched' % path)
        since = PATCH_PATHS[path]
        if since and not version.matches(since):
            raise errors.NotAcceptable(
                'Patching %s needs microversion %d.%d or later.'
                % ((path,) + since), code=errors.BAD_MICROVERSION)
        if path == '/project_id' and not ctx.is_admin:
            raise errors.Forbidden('Only admins may set the project of an '
                                   'accelerator request.',
                                   code=errors.FORBIDDEN)
        fields[path[1:]] = op.get('value')
    if kind == 'remove':
        return kind, None
    absent = [name for name in BIND_FIELDS if fields.get(name) is None]
    if absent:
        raise _bad_patch(uuid, 'fields absent in patch: %s'
                         % ', '.join(absent))
    fields.setdefault('project_id', ctx.project_id)
    validation.check(fields, schemas.BIND_VALUES)
    return kind, fields


class AcceleratorRequestsController(base.Controller):

    @base.handler()
    def get_all(self, req, resp):
        ctx = self.authorize(req, policies.GET_ALL)
        params = validation.query(req, schemas.LIST_QUERY)
        page = self.page(params)
        instance = params.get('instance')
        resolved = 'bind_state' in params
        # Nova polls this until every ARQ of its instance has an outcome;
        # 423 (empty body) tells it to keep waiting.
        if instance and resolved and arq_db.instance_has_unresolved_arqs(
                ctx, instance):
            return base.empty_response(423)
        arqs = arq_db.list_arqs(ctx, instance_uuid=instance,
                                resolved_only=resolved, **page.db_kwargs())
        base_url = self.base_url(req)
        body = {'arqs': [_view(arq, base_url) for arq in arqs]}
        page.add_next_link(body, 'arqs', base_url, RESOURCE, params)
        return base.json_response(body)

    @base.handler()
    def get_one(self, req, resp, uuid):
        ctx = self.authorize(req, policies.GET_ONE)
        return base.json_response(_view(arq_db.get_arq(ctx, uuid),
                                        self.base_url(req)))

    @base.handler()
    def post(self, req, resp):
        ctx = self.authorize(req, policies.CREATE)
        body = validation.body(req, schemas.CREATE)
        arqs = arq_db.create_arqs(ctx, body['device_profile_name'])
        base_url = self.base_url(req)
        return base.json_response(
            {'arqs': [_view(arq, base_url) for arq in arqs]}, status=201)

    @base.handler()
    def patch(self, req, resp):
        ctx = self.authorize(req, policies.UPDATE)
        self.require_service_token(ctx, 'Binding or unbinding')
        version = base.request_version(req)
        patch = validation.body(req, schemas.PATCH)
        binds, unbinds = {}, []
        for uuid, ops in patch.items():
            kind, fields = parse_patch(uuid, ops, ctx, version)
            if kind == 'add':
                binds[uuid] = fields
            else:
                unbinds.append(uuid)
        if binds:
            arq_db.start_binds(ctx, binds)
            self._cast_binds(ctx, list(binds))
        if unbinds:
            arq_db.ensure_arqs_exist(ctx, unbinds)
            self.services.conductor.unbind_arqs(ctx, unbinds)
        return base.empty_response(202)

    def _cast_binds(self, ctx, uuids):
        try:
            self.services.conductor.bind_arqs(ctx, uuids)
        except Exception:
            # The binds are committed as BindStarted: conductor recovery
            # finishes (or fails, telling Nova) them even without this
            # message, so the client still gets its 202.
            LOG.exception('Could not cast bind_arqs for %s; recovery will '
                          'pick them up', uuids)

    @base.handler()
    def delete(self, req, resp):
        ctx = self.authorize(req, policies.DELETE)
        params = validation.query(req, schemas.DELETE_QUERY)
        if ('arqs' in params) == ('instance' in params):
            raise errors.BadRequest(
                'Give exactly one of the query parameters "arqs" and '
                '"instance".', code=errors.BAD_QUERY)
        if 'instance' in params:
            self.require_service_token(ctx, 'Deleting by instance')
            released = arq_db.delete_arqs(ctx,
                                          instance_uuid=params['instance'])
        else:
            released = arq_db.delete_arqs(
                ctx, uuids=validation.comma_list(params['arqs']),
                allow_bound=self.service_authorized(ctx))
        if released:
            self._cast_cleanup(ctx, released)
        return base.empty_response(204)

    def _cast_cleanup(self, ctx, released):
        try:
            self.services.conductor.arqs_deleted(ctx, released)
        except Exception:
            # The handles are free in the DB already; what is lost is the
            # removal of their mdevs on the host, which this log names.
            LOG.exception('Could not cast arqs_deleted for %s', released)
