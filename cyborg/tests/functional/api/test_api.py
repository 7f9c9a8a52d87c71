"""Runs the gabbi YAML transcripts under gabbits/ as pytest tests.

Each YAML file is one ordered suite against the real application and its
own SQLite database (see fixtures.py), run as one pytest test named after
the file; a failure report names every failed request with gabbi's
description of what differed.

gabbi's own pytest plugin (``py_test_generator``) is not used: it claims
every collected test whose id contains a ":" as one of its own, which
breaks collection of unrelated parametrised tests in the same session.
"""

import os
import unittest

from gabbi import driver
import pytest
import wsgi_intercept

from cyborg.tests.functional.api import fixtures

# Response headers must be native str, as real WSGI servers require.
wsgi_intercept.STRICT_RESPONSE_HEADERS = True

GABBITS = os.path.join(os.path.dirname(__file__), 'gabbits')
YAML_FILES = sorted(name[:-len('.yaml')] for name in os.listdir(GABBITS)
                    if name.endswith('.yaml'))


def _suite(name):
    """The gabbi suite of gabbits/<name>.yaml."""
    suites = driver.build_tests(GABBITS, unittest.TestLoader(),
                                intercept=fixtures.setup_app,
                                test_loader_name=__name__,
                                fixture_module=fixtures)
    for suite in suites:
        tests = list(suite)
        if tests and tests[0].__class__.__name__.startswith(name + '_'):
            return suite
    raise LookupError(name)


@pytest.mark.parametrize('name', YAML_FILES)
def test_gabbits(name):
    result = unittest.TestResult()
    _suite(name).run(result)
    problems = ['%s\n%s' % (test.id().rsplit(':', 1)[-1], trace)
                for test, trace in result.failures + result.errors]
    assert not problems, '\n\n'.join(problems)
    assert result.testsRun > 0
    assert not result.skipped, result.skipped
