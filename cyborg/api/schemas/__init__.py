"""JSON schemas of request bodies and query strings, one module per resource.

They are plain dicts checked by :mod:`cyborg.api.validation`; ``x-message``
on a sub-schema replaces jsonschema's wording for that rule.
"""
