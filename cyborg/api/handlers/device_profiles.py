"""/v2/device_profiles: named request groups Nova turns into Placement queries."""

from cyborg.api import errors
from cyborg.api.handlers import common
from cyborg.api import links
from cyborg.api import profile_renderings
from cyborg.api.policies import device_profiles as policies
from cyborg.api.schemas import common as schema_common
from cyborg.api.schemas import device_profiles as schemas
from cyborg.api import validation
from cyborg.db import device_profiles as dp_db

RESOURCE = 'device_profiles'

# Resource classes a group may ask for besides any CUSTOM_ one.
STANDARD_RESOURCE_CLASSES = ('FPGA', 'GPU', 'VGPU', 'PGPU', 'CUSTOM_QAT',
                             'CUSTOM_NIC', 'CUSTOM_SSD')
KEY_PREFIXES = ('resources', 'trait', 'accel')
TRAIT_VALUES = ('required', 'forbidden')
# The largest amount Placement stores (a signed 32-bit integer).
MAX_AMOUNT = 2147483647


def _invalid_group(index, message):
    return errors.BadRequest('Invalid group %d: %s' % (index, message),
                             code=errors.BAD_BODY)


def normalize_groups(groups):
    """Check each group's keys and values; return them with stripped keys.

    ``resources:<RC>`` needs a standard or CUSTOM_ resource class and a
    positive integer amount; ``trait:<T>`` a CUSTOM_ trait and "required"
    or "forbidden"; ``accel:*`` keys are free-form. Whitespace around the
    key and around the part after the colon is dropped.
    """
    result = []
    for index, group in enumerate(groups):
        clean = {}
        for raw_key, value in group.items():
            prefix, sep, name = raw_key.strip().partition(':')
            name = name.strip()
            if not sep or prefix not in KEY_PREFIXES or not name:
                raise _invalid_group(index, 'key %r must be "resources:<RC>",'
                                     ' "trait:<TRAIT>" or "accel:<name>"'
                                     % raw_key)
            if prefix == 'trait':
                if not name.startswith('CUSTOM_'):
                    raise _invalid_group(index, 'trait %s is not a CUSTOM_ '
                                         'trait' % name)
                if value not in TRAIT_VALUES:
                    raise _invalid_group(index, 'trait %s must be "required"'
                                         ' or "forbidden", not %r'
                                         % (name, value))
            elif prefix == 'resources':
                if (name not in STANDARD_RESOURCE_CLASSES
                        and not name.startswith('CUSTOM_')):
                    raise _invalid_group(index, 'unknown resource class %s'
                                         % name)
                if not _is_amount(value):
                    raise _invalid_group(index, 'amount of %s must be an '
                                         'integer from 1 to %d, not %r'
                                         % (name, MAX_AMOUNT, value))
            key = '%s:%s' % (prefix, name)
            if key in clean:
                raise _invalid_group(index, 'key %s is given twice' % key)
            clean[key] = value
        result.append(clean)
    return result


def _fields(profile, timestamp=common.isotime):
    return {
        'uuid': profile['uuid'],
        'name': profile['name'],
        'description': profile['description'],
        'groups': profile['groups'],
        'created_at': timestamp(profile['created_at']),
        'updated_at': timestamp(profile['updated_at']),
    }


def _view(profile, base_url):
    return dict(_fields(profile),
                links=links.self_links(base_url, RESOURCE, profile['uuid']))


def _python_str_time(value):
    # GET /v2/device_profiles/{id} upstream prints Python's str() of an
    # aware datetime ("2020-03-09 11:26:05+00:00", or "None").
    if value is None:
        return 'None'
    return str(value.replace(tzinfo=common.UTC))


def _is_amount(value):
    # Digits only (int() would take " 1", "+1" and "1_0"), and no more
    # than Placement can hold.
    return (value.isascii() and value.isdigit() and len(value) <= 10
            and 1 <= int(value) <= MAX_AMOUNT)


def is_uuid(value):
    return validation.matches(value, schema_common.UUID_PATTERN)


def list_device_profiles(req):
    """GET /v2/device_profiles[?name=a,b]."""
    ctx = req.authorize(policies.GET_ALL)
    params = validation.query(req, schemas.LIST_QUERY)
    page = req.page(params)
    names = (validation.comma_list(params['name'], 'name')
             if 'name' in params else None)
    known = req.services.profile_renderings.snapshot()
    profiles = dp_db.list_device_profiles(ctx, names=names, known=known,
                                          **page.db_kwargs())
    base_url = req.links_base
    profile_links = profile_renderings.Links(base_url, RESOURCE)
    items = [profile_links.close(_rendered(req, known, p)[0], p['uuid'])
             for p in profiles]
    next_href = None
    if len(profiles) == page.limit:
        next_href = links.next_href(base_url, RESOURCE, params,
                                    profiles[-1]['uuid'], page.limit)
    return common.raw_json_response(
        profile_renderings.list_body(RESOURCE, items, next_href))


def show_device_profile(req, ident):
    """GET /v2/device_profiles/{uuid}, or by name from 2.2 on."""
    ctx = req.authorize(policies.GET_ONE)
    known = req.services.profile_renderings.snapshot()
    if is_uuid(ident):
        profile = dp_db.get_device_profile(ctx, uuid=ident, known=known)
    elif req.version.matches((2, 2)):
        profile = dp_db.get_device_profile(ctx, name=ident, known=known)
    else:
        raise errors.NotAcceptable(
            'Getting a device profile by name needs microversion 2.2 '
            'or later; %s is not a UUID.' % ident,
            code=errors.BAD_MICROVERSION)
    fragment = _rendered(req, known, profile)[1]
    return common.raw_json_response(
        b'{"device_profile":' + profile_renderings.Links(
            req.links_base, RESOURCE).close(fragment, profile['uuid']) + b'}')


def _rendered(req, known, profile):
    """The (list, GET) renderings of a profile the DB layer returned.

    The DB layer returns a profile of ``known`` as its id and uuid only,
    when it is the row rendered before; a full row is rendered now (and
    kept).
    """
    if 'name' not in profile:
        return known[profile['id'], profile['uuid']]
    return req.services.profile_renderings.add(
        profile, _fields(profile), _fields(profile, _python_str_time))


def create_device_profile(req):
    """POST /v2/device_profiles with a list holding one profile."""
    ctx = req.authorize(policies.CREATE)
    [profile] = validation.body(req, schemas.CREATE)
    created = dp_db.create_device_profile(
        ctx, name=profile['name'],
        groups=normalize_groups(profile['groups']),
        description=profile.get('description'),
        uuid=profile.get('uuid'))
    return common.json_response(_view(created, req.links_base),
                                status=201)


def delete_device_profile(req, ident):
    """DELETE /v2/device_profiles/{uuid} (or {name[,name...]})."""
    ctx = req.authorize(policies.DELETE)
    _delete(req, ctx, ident)
    return common.empty_response(204)


def delete_device_profiles(req):
    """DELETE /v2/device_profiles?value=<name>[,<name>...]."""
    ctx = req.authorize(policies.DELETE)
    params = validation.query(req, schemas.DELETE_QUERY)
    _delete(req, ctx, params['value'])
    return common.empty_response(204)


def _delete(req, ctx, value):
    if is_uuid(value):
        deleted = dp_db.delete_device_profile(ctx, value)
    else:
        deleted = dp_db.delete_device_profiles_by_name(
            ctx, validation.comma_list(value, 'The profile list'))
    req.services.profile_renderings.forget(deleted)
