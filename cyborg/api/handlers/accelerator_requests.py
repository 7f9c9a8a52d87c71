"""/v2/accelerator_requests: Nova's ARQs, their binding and their release.

A PATCH (on the collection, or on one ARQ as openstacksdk sends it) binds
ARQs with ``add`` ops and unbinds them with ``remove`` ops. Every ARQ it
names is checked first (it exists and the caller sees it, its state
allows the op, the provider to bind to is a deployable of ours on the
named host, the instance holds no ARQs yet); then all of them change in
one transaction, or none does. Binds are then durable ``BindStarted``
rows that a conductor finishes (one RPC cast, or a call whose answer the
PATCH waits for a bounded time, see :func:`_start_binds`); unbinds have freed their
attach handles, and the conductor only removes the mdevs among them.
Delete frees handles in the transaction that deletes the rows, likewise.
Once such a transaction has committed, each ARQ it unbound or deleted is
notified (``accelerator_request.unbind.end`` / ``.delete.end``).
"""

import logging

import oslo_messaging as messaging

from cyborg.api import errors
from cyborg.api.handlers import common
from cyborg.api import links
from cyborg.api.policies import accelerator_requests as policies
from cyborg.api.schemas import accelerator_requests as schemas
from cyborg.api.schemas import common as schema_common
from cyborg.api import validation
from cyborg.db import arq_states
from cyborg.db import arqs as arq_db
from cyborg.db import deployables as deployable_db
from cyborg.db import device_contexts as dc_db
from cyborg.db import device_profiles as dp_db
from cyborg.db import engine as db_engine
from cyborg import exception
from cyborg import notifications
from cyborg.quota import enforcement
from cyborg.quota import resource_classes as rc_rules

LOG = logging.getLogger(__name__)

RESOURCE = 'accelerator_requests'

BIND_FIELDS = ('hostname', 'device_rp_uuid', 'instance_uuid')
# /project_id arrived in 2.1.
PATCH_PATHS = {'/hostname': None, '/device_rp_uuid': None,
               '/instance_uuid': None, '/project_id': (2, 1)}


def _view(arq, base_url, version):
    # Only a Bound ARQ shows its handle, as upstream does.
    bound = arq['state'] == 'Bound'
    body = {
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
        'created_at': common.isotime(arq['created_at']),
        'updated_at': common.isotime(arq['updated_at']),
        'links': links.self_links(base_url, RESOURCE, arq['uuid']),
    }
    if version.matches((2, 4)):
        # The device context the ARQ came from (None: a profile), and the
        # config data its bind hands the driver.
        body['device_context_uuid'] = arq['device_context_uuid']
        body['config_data'] = arq['config_data']
    return body


def count_arqs_per_group(groups):
    """How many ARQs each request group of a profile asks for.

    One per accelerator: the sum of the group's ``resources:*`` amounts. A
    Xilinx FPGA is two PCI functions (management and user), each bound by
    its own ARQ, so ``trait:CUSTOM_FPGA_XILINX: required`` doubles the FPGA
    amount.
    """
    counts = []
    for group in groups:
        xilinx = group.get('trait:CUSTOM_FPGA_XILINX') == 'required'
        count = 0
        for key, value in group.items():
            if not key.startswith('resources:'):
                continue
            amount = int(value)
            if xilinx and key == 'resources:FPGA':
                amount *= 2
            count += amount
        counts.append(count)
    return counts


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
        if path[1:] in fields:
            raise _bad_patch(uuid, 'path %s is given twice' % path)
        fields[path[1:]] = op.get('value')
    if kind == 'remove':
        return kind, None
    absent = [name for name in BIND_FIELDS if fields.get(name) is None]
    if absent:
        raise _bad_patch(uuid, 'fields absent in patch: %s'
                         % ', '.join(absent))
    fields.setdefault('project_id', ctx.project_id)
    validation.check(fields, schemas.BIND_VALUES)
    for name in ('device_rp_uuid', 'instance_uuid'):
        fields[name] = validation.canonical_uuid(fields[name])
    return kind, fields


def list_arqs(req):
    """GET /v2/accelerator_requests[?instance=U[&bind_state=resolved]]."""
    ctx = req.authorize(policies.GET_ALL)
    params = validation.query(req, schemas.LIST_QUERY)
    page = req.page(params)
    instance = params.get('instance')
    if instance:
        instance = validation.canonical_uuid(instance)
    resolved = 'bind_state' in params
    # Nova polls this until every ARQ of its instance has an outcome;
    # 423 (empty body) tells it to keep waiting.
    if instance and resolved and arq_db.instance_has_unresolved_arqs(
            ctx, instance):
        return common.empty_response(423)
    arqs = arq_db.list_arqs(ctx, instance_uuid=instance,
                            resolved_only=resolved, **page.db_kwargs())
    base_url = req.links_base
    body = {'arqs': [_view(arq, base_url, req.version) for arq in arqs]}
    page.add_next_link(body, 'arqs', base_url, RESOURCE, params)
    return common.json_response(body)


def show_arq(req, uuid):
    """GET /v2/accelerator_requests/{uuid}."""
    ctx = req.authorize(policies.GET_ONE)
    return common.json_response(_view(arq_db.get_arq(ctx, uuid),
                                      req.links_base, req.version))


def create_arqs(req):
    """POST /v2/accelerator_requests {"device_profile_name": N}.

    One ARQ per accelerator the profile's groups ask for. An unknown name,
    the empty one included, is a 404 as upstream's conformance tests want.
    From 2.4, ``{"device_context_uuid": U}`` instead makes them from a
    device context's groups, exactly as from a profile.
    """
    ctx = req.authorize(policies.CREATE)
    if req.version.matches((2, 4)):
        body = validation.body(req, schemas.CREATE_2_4)
        if ('device_profile_name' in body) == ('device_context_uuid' in body):
            raise errors.BadRequest(
                'Give exactly one of device_profile_name and '
                'device_context_uuid.', code=errors.BAD_BODY)
    else:
        body = validation.body(req, schemas.CREATE)
        if 'device_context_uuid' in body:
            raise errors.BadRequest(
                'device_context_uuid needs microversion 2.4 or later.',
                code=errors.BAD_BODY)
    if 'device_context_uuid' in body:
        arqs = _create_from_context(
            req, ctx, validation.canonical_uuid(body['device_context_uuid']))
    else:
        name = body['device_profile_name']
        # A profile never changes once created: count and fetch limits
        # from this read, before the create transaction (which takes the
        # quota lock first and re-finds the profile by id).
        profile = dp_db.get_device_profile(ctx, name=name)
        counts = accelerator_counts(req, 'Device profile %s' % name,
                                    profile['groups'])
        arqs = arq_states.create(
            ctx, profile, counts,
            quota=quota_check(req, ctx.project_id, profile['groups']))
    base_url = req.links_base
    return common.json_response(
        {'arqs': [_view(arq, base_url, req.version) for arq in arqs]},
        status=201)


def _create_from_context(req, ctx, uuid):
    # The groups and the project never change once a context exists, so
    # counting and fetching limits from this read is safe; the create
    # itself re-checks the context's state.
    device_context = dc_db.get_device_context(ctx, uuid)
    counts = accelerator_counts(req, 'Device context %s' % uuid,
                                device_context['groups'])
    project_id = device_context['project_id']
    return arq_states.create_from_context(
        ctx, uuid, counts,
        quota=quota_check(req, project_id, device_context['groups']),
        project_id=project_id)


def quota_check(req, project_id, groups):
    """What a create of ARQs for groups must fit in (QuotaCheck).

    The limits are read here, before the create transaction: with unified
    limits it is a call to Keystone (QuotaLimitsUnavailable, a 503, when
    it fails).
    """
    classes = rc_rules.classes_of_groups(groups)
    limits = req.services.quota_limits.limits_for(project_id, set(classes))
    return enforcement.QuotaCheck(classes, limits)


def accelerator_counts(req, source, groups):
    """The ARQ counts of groups; TooManyAccelerators past the limit."""
    counts = count_arqs_per_group(groups)
    limit = req.services.max_arqs_per_request
    if sum(counts) > limit:
        raise exception.TooManyAccelerators(source=source, count=sum(counts),
                                            limit=limit)
    return counts


def patch_arqs(req):
    """PATCH /v2/accelerator_requests {"<uuid>": [ops], ...}."""
    ctx = req.authorize(policies.UPDATE)
    req.require_service_token('Binding or unbinding')
    return _apply_patch(req, ctx, validation.body(req, schemas.PATCH))


def patch_arq(req, uuid):
    """PATCH /v2/accelerator_requests/{uuid}.

    The body is ``{"<uuid>": [ops]}``, what openstacksdk (and so
    ``openstack accelerator arq bind|unbind``) sends, or a bare list of
    ops; a body keyed by another ARQ is refused.
    """
    ctx = req.authorize(policies.UPDATE)
    req.require_service_token('Binding or unbinding')
    body = validation.body(req, schemas.PATCH_ONE)
    if isinstance(body, list):
        return _apply_patch(req, ctx, {uuid: body})
    [(named, ops)] = body.items()
    if validation.canonical_uuid(named) != uuid:
        raise errors.BadRequest(
            'The body of PATCH /v2/accelerator_requests/%s may only patch '
            'that ARQ, not %s.' % (uuid, named), code=errors.BAD_BODY)
    return _apply_patch(req, ctx, {uuid: ops})


def _apply_patch(req, ctx, patch):
    binds, unbinds = {}, []
    for named, ops in patch.items():
        uuid = validation.canonical_uuid(named)
        if uuid in binds or uuid in unbinds:
            raise _bad_patch(uuid, 'the ARQ is named twice')
        kind, fields = parse_patch(uuid, ops, ctx, req.version)
        if kind == 'add':
            binds[uuid] = fields
        else:
            unbinds.append(uuid)
    # One transaction: the targets checked, then every ARQ changed.
    with db_engine.write_transaction(ctx):
        check_bind_targets(ctx, binds)
        released = arq_states.bind_and_unbind(
            ctx, binds, unbinds,
            describe_arqs=req.services.notifier.enabled,
            scrub_policy=req.services.scrub_policy)
    if binds:
        _start_binds(req, ctx, list(binds))
    after_release(req, ctx, released, notifications.ARQ_UNBIND_END)
    return common.empty_response(202)


def check_bind_targets(ctx, binds):
    """Refuse a bind to a provider we do not own, or on the wrong host.

    ``device_rp_uuid`` must be the provider of one of our deployables
    (UnknownBindProvider), and ``hostname`` that deployable's host: its
    compute node name or its agent's ``[DEFAULT] host``, which is what
    nova-compute usually calls it (BindHostMismatch). Upstream accepts
    both and fails the bind later.
    """
    if not binds:
        return
    targets = deployable_db.bind_targets(
        ctx, {fields['device_rp_uuid'] for fields in binds.values()})
    for uuid, fields in binds.items():
        rp_uuid = fields['device_rp_uuid']
        if rp_uuid not in targets:
            raise exception.UnknownBindProvider(arq=uuid, rp_uuid=rp_uuid)
        hostname, names = targets[rp_uuid]
        if fields['hostname'] not in names:
            raise exception.BindHostMismatch(
                arq=uuid, hostname=fields['hostname'], rp_uuid=rp_uuid,
                actual=hostname)


def _start_binds(req, ctx, uuids):
    """Have a conductor run the binds; wait (bounded) for the quick ones.

    The binds are committed as BindStarted: conductor recovery finishes
    (or fails, telling Nova) them even without this message, so the client
    gets its 202 whatever happens here. Waiting for the conductor's
    answer (``[api] bind_wait_seconds``, off by default) only means that
    most binds are Bound by the time the 202 is sent.
    """
    conductor = req.services.conductor
    if req.services.bind_wait_seconds:
        try:
            conductor.bind_arqs_and_answer(
                ctx, uuids, timeout=req.services.bind_wait_seconds)
            return
        except messaging.MessagingTimeout:
            # The conductor has the message and is busy: it goes on.
            LOG.info('No answer within %ss to the binds of %s; they go on',
                     req.services.bind_wait_seconds, uuids)
            return
        except Exception:
            # An older conductor (RPC < 1.3), or a failed send: cast.
            LOG.warning('Could not wait for the binds of %s; casting them',
                        uuids, exc_info=True)
    try:
        conductor.bind_arqs(ctx, uuids)
    except Exception:
        LOG.exception('Could not cast bind_arqs for %s; recovery will '
                      'pick them up', uuids)


def after_release(req, ctx, released, event_type):
    """What follows a committed unbind or delete (an arq_states.Released).

    The host-side cleanup of the freed handles, and one notification of
    ``event_type`` per ARQ let go of.
    """
    if released.handles:
        cast_cleanup(req, ctx, released.handles)
    for arq in released.arqs:
        req.services.notifier.info(ctx, event_type,
                                   arq_notification(arq, event_type))


def arq_notification(arq, event_type):
    """The payload of an unbind or delete, from the ARQ as it was before.

    An unbind leaves it Unbound; a deleted one is shown in the state it
    was deleted in. ``previous_state`` is its state before either.
    """
    state = (arq_states.UNBOUND if event_type == notifications.ARQ_UNBIND_END
             else arq['state'])
    return notifications.arq_payload(
        arq, state=state, previous_state=arq['state'],
        deployable_uuid=arq['deployable_uuid'],
        device_uuid=arq['device_uuid'],
        attach_handle={'uuid': arq['attach_handle_uuid'],
                       'attach_type': arq['attach_handle_type']})


def cast_cleanup(req, ctx, released):
    """Have a conductor remove the mdevs among freed handles and scrub
    those released for scrubbing (a cast)."""
    try:
        req.services.conductor.arqs_deleted(ctx, released)
    except Exception:
        # The handles are released in the DB already; what is lost is the
        # removal of their mdevs on the host, which this log names (their
        # scrubs are durable: conductor recovery runs them).
        LOG.exception('Could not cast the host cleanup of %s', released)


def delete_arqs(req):
    """DELETE /v2/accelerator_requests?arqs=u1,u2 or ?instance=U."""
    ctx = req.authorize(policies.DELETE)
    params = validation.query(req, schemas.DELETE_QUERY)
    if ('arqs' in params) == ('instance' in params):
        raise errors.BadRequest(
            'Give exactly one of the query parameters "arqs" and '
            '"instance".', code=errors.BAD_QUERY)
    if 'instance' in params:
        req.require_service_token('Deleting by instance')
        released = arq_states.delete(
            ctx, instance_uuid=validation.canonical_uuid(params['instance']),
            lifetimes=req.services.device_context_lifetimes,
            describe_arqs=req.services.notifier.enabled,
            scrub_policy=req.services.scrub_policy)
    else:
        uuids = []
        for uuid in validation.comma_list(params['arqs'], 'arqs'):
            if not validation.matches(uuid, schema_common.UUID_PATTERN):
                raise errors.BadRequest('arqs: %r is not a UUID.' % uuid,
                                        code=errors.BAD_QUERY)
            uuids.append(validation.canonical_uuid(uuid))
        released = _delete_by_uuids(req, ctx, list(dict.fromkeys(uuids)))
    return _deleted(req, ctx, released)


def delete_arq(req, uuid):
    """DELETE /v2/accelerator_requests/{uuid}: as ?arqs=<uuid>."""
    ctx = req.authorize(policies.DELETE)
    return _deleted(req, ctx, _delete_by_uuids(req, ctx, [uuid]))


def _delete_by_uuids(req, ctx, uuids):
    # A bound ARQ belongs to an instance: only Nova may take it away.
    try:
        return arq_states.delete(
            ctx, uuids=uuids, unbound_only=not req.service_authorized(),
            lifetimes=req.services.device_context_lifetimes,
            describe_arqs=req.services.notifier.enabled,
            scrub_policy=req.services.scrub_policy)
    except exception.ARQBoundToInstance:
        raise errors.Forbidden(
            'Deleting an accelerator request bound to an instance needs a '
            'service token.', code=errors.SERVICE_TOKEN_REQUIRED)


def _deleted(req, ctx, released):
    after_release(req, ctx, released, notifications.ARQ_DELETE_END)
    return common.empty_response(204)
