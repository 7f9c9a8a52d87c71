"""The one choke point for request input: bodies and query strings.

Handlers call :func:`body` and :func:`query` with a JSON schema from
``cyborg.api.schemas``; malformed JSON, a schema violation or a bad query
value becomes a 400 with a message naming the offending field. Validators
are compiled once per schema, not per request.
"""

import json
import re

import jsonschema

from cyborg.api import errors

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


def body(req, schema):
    """The request's JSON body, validated against schema."""
    raw = req.body
    if not raw:
        raise errors.BadRequest('A JSON request body is required.',
                                code=errors.BAD_BODY)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise errors.BadRequest('Malformed JSON in request body: %s' % exc,
                                code=errors.BAD_BODY)
    return check(data, schema)


def query(req, schema):
    """The query string as a dict of str, validated against schema.

    A parameter given twice is a 400: with no list semantics defined for
    any of ours, silently picking one value would hide client bugs.
    """
    params = {}
    for key, value in req.GET.items():
        if key in params:
            raise errors.BadRequest(
                'Query parameter %s is given more than once.' % key,
                code=errors.BAD_QUERY)
        params[key] = value
    return check(params, schema, code=errors.BAD_QUERY,
                 what='query parameter')


def comma_list(value):
    """'a, b,,c' -> ['a', 'b', 'c'] (order kept, blanks dropped)."""
    return [item.strip() for item in value.split(',') if item.strip()]


_PATTERNS = {}


def matches(value, pattern):
    """Whether value matches the regular expression pattern (cached)."""
    regex = _PATTERNS.get(pattern)
    if regex is None:
        regex = _PATTERNS[pattern] = re.compile(pattern)
    return regex.match(value) is not None
