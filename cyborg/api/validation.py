"""The one choke point for request input: bodies, query strings, path values.

Handlers call :func:`body` and :func:`query` with a JSON schema from
``cyborg.api.schemas``; the dispatcher calls :func:`path_uuid` for every
``{uuid}`` in a route. Whatever a client sends, the answer to bad input is
a 4xx naming what was wrong, never a 500:

* a body that is not JSON, is nested absurdly deep, or breaks the schema
  is a 400; one in another media type or charset is a 415; one larger
  than ``[api] max_request_body_size`` is a 413;
* a query parameter that is malformed, given twice, or (for the
  ``filters.field`` / ``filters.value`` pairs of upstream's lists) names a
  filter that would silently do nothing is a 400.

Validators are compiled once per schema, not per request.
"""

import json
import re
import uuid

import jsonschema

from cyborg.api import errors
from cyborg.api.schemas import common

# Deeper than any body of ours can legitimately be (a profile is 4 levels);
# checked before the schema so no recursive code sees a hostile depth.
MAX_BODY_DEPTH = 32
JSON_MEDIA_TYPES = ('application/json',)
JSON_CHARSETS = ('utf-8', 'utf8')

_VALIDATORS = {}


def _validator(schema):
    # Schemas are module-level constants, so their id() is stable for the
    # life of the process and makes a cheap cache key.
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = cls(schema)
        _VALIDATORS[id(schema)] = validator
    return validator


def _describe(error):
    where = '/'.join(str(p) for p in error.absolute_path)
    # A schema may give a friendlier message for a rule than jsonschema's.
    custom = error.schema.get('x-message') if isinstance(
        error.schema, dict) else None
    message = custom or error.message
    return '%s: %s' % (where, message) if where else message


def check(data, schema, code=errors.BAD_BODY, what='body'):
    """Validate already-parsed data against schema (400 on failure)."""
    validator = _validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        raise errors.BadRequest('Invalid %s: %s' % (what, _describe(error)),
                                code=code)
    return data


def _depth(data):
    """How deeply lists and objects nest in data (iteratively)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, depth)
        if depth > MAX_BODY_DEPTH:
            break
        stack.extend((item, depth + 1) for item in value)
    return deepest


def _check_content_type(req):
    media_type = (req.content_type or '').lower()
    if media_type and media_type not in JSON_MEDIA_TYPES:
        raise errors.UnsupportedMediaType(
            'The request body must be application/json, not %s.'
            % media_type, code=errors.BAD_MEDIA_TYPE)
    charset = req.headers.get('Content-Type', '').lower().partition(
        'charset=')[2].split(';')[0].strip().strip('"')
    if charset and charset not in JSON_CHARSETS:
        raise errors.UnsupportedMediaType(
            'The request body must be UTF-8 JSON; charset %s is not '
            'supported.' % charset, code=errors.BAD_MEDIA_TYPE)


def _read_body(req):
    limit = req.services.conf.api.max_request_body_size
    if req.content_length is not None and req.content_length > limit:
        raise errors.RequestTooLarge(
            'The request body is larger than %d bytes.' % limit,
            code=errors.BODY_TOO_LARGE)
    # A chunked body has no length to check up front: read one byte more
    # than allowed and see.
    raw = req.body_file.read(limit + 1)
    if len(raw) > limit:
        raise errors.RequestTooLarge(
            'The request body is larger than %d bytes.' % limit,
            code=errors.BODY_TOO_LARGE)
    return raw


def body(req, schema):
    """The request's JSON body, validated against schema."""
    _check_content_type(req)
    raw = _read_body(req)
    if not raw.strip():
        raise errors.BadRequest('A JSON request body is required.',
                                code=errors.BAD_BODY)
    try:
        data = json.loads(raw)
    except RecursionError:
        data = None
        too_deep = True
    except ValueError as exc:
        # Also malformed UTF-8 and integers of thousands of digits.
        raise errors.BadRequest('Malformed JSON in request body: %s' % exc,
                                code=errors.BAD_BODY)
    else:
        too_deep = _depth(data) > MAX_BODY_DEPTH
    if too_deep:
        raise errors.BadRequest(
            'The request body nests lists or objects more than %d deep.'
            % MAX_BODY_DEPTH, code=errors.BAD_BODY)
    return check(data, schema)


def query(req, schema):
    """The query string as a dict of str, validated against schema.

    A parameter given twice is a 400: with no list semantics defined for
    any of ours, silently picking one value would hide client bugs.
    """
    params = {}
    try:
        items = req.GET.items()
    except UnicodeDecodeError:
        raise errors.BadRequest('The query string is not UTF-8.',
                                code=errors.BAD_QUERY)
    for key, value in items:
        if key in params:
            raise errors.BadRequest(
                'Query parameter %s is given more than once.' % key,
                code=errors.BAD_QUERY)
        params[key] = value
    params = _apply_filters(params, schema)
    return check(params, schema, code=errors.BAD_QUERY,
                 what='query parameter')


def _apply_filters(params, schema):
    """Fold upstream's ``filters.field=F&filters.value=V`` into ``F=V``.

    Upstream lists accept this pair for a fixed set of fields, but only a
    few of them (paging, and ``name`` on deployables) ever did anything.
    Those are honoured as the plain parameter; the others are refused
    rather than silently ignored.
    """
    if 'filters.field' not in params and 'filters.value' not in params:
        return params
    field = params.pop('filters.field', None)
    value = params.pop('filters.value', None)
    if field is None or value is None:
        raise errors.BadRequest(
            'filters.field and filters.value must be given together.',
            code=errors.BAD_QUERY)
    honoured = schema.get('x-filter-fields', ())
    if field not in honoured:
        raise errors.BadRequest(
            'filters.field=%s is not supported here; supported: %s.'
            % (field, ', '.join(honoured) or 'none'),
            code=errors.BAD_QUERY)
    if field in params:
        raise errors.BadRequest(
            'Query parameter %s is given both plainly and as filters.field.'
            % field, code=errors.BAD_QUERY)
    params[field] = value
    return params


def path_uuid(name, value):
    """value as a canonical UUID; 400 naming the path parameter if it is
    not one."""
    if not matches(value, common.UUID_PATTERN):
        raise errors.BadRequest('%s in the URL must be a UUID, not %r.'
                                % (name, value), code=errors.BAD_PATH)
    return canonical_uuid(value)


def canonical_uuid(value):
    """'ABCDEF...' or a hyphen-less UUID -> the lowercase 8-4-4-4-12 form
    stored in the database."""
    return str(uuid.UUID(value))


def comma_list(value, what):
    """'a, b,,c' -> ['a', 'b', 'c'] (order kept); 400 when nothing is left."""
    items = [item.strip() for item in value.split(',') if item.strip()]
    if not items:
        raise errors.BadRequest('%s names nothing.' % what,
                                code=errors.BAD_QUERY)
    return items


_PATTERNS = {}


def matches(value, pattern):
    """Whether value matches the regular expression pattern (cached)."""
    regex = _PATTERNS.get(pattern)
    if regex is None:
        regex = _PATTERNS[pattern] = re.compile(pattern)
    return regex.match(value) is not None
