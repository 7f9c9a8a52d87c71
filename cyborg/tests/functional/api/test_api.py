"""Runs the gabbi YAML transcripts under gabbits/ as pytest tests.

Each request of each YAML file is one pytest test, named
``test_gabbi[<file>/<request name>]`` (gabbi's spelling of the name:
lower case, ``_`` for spaces), so a failure names the request that broke.
A file's requests depend on the earlier ones, so they run in file order
against one start of the file's fixtures (see fixtures.py): ``Runner``
starts them before the file's first request and stops them after its last,
and every request of a file carries ``xdist_group`` so that ``--dist
loadgroup`` sends the whole file, in order, to one worker. Once a request
fails, the file's later requests are skipped with "earlier request X
failed" rather than failing in confusing ways of their own. A later
request selected alone (``-k``, a node id) replays the earlier ones first.

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


def _load_suites():
    """{file name without .yaml: its GabbiSuite}, built once per process."""
    suites = driver.build_tests(GABBITS, unittest.TestLoader(),
                                intercept=fixtures.setup_app,
                                test_loader_name=__name__,
                                fixture_module=fixtures)
    by_file = {}
    for suite in suites:
        requests = list(suite)
        # An empty file would otherwise pass as no tests at all.
        assert requests, 'a gabbi file without requests in %s' % GABBITS
        by_file[requests[0].test_base_name] = suite
    return by_file


SUITES = _load_suites()


def request_name(case):
    """gabbi's name of a request, without the file's prefix."""
    return case.__class__.__name__[len(case.test_base_name) + 1:]


def _request_id(case):
    """``<file>/<request name>``: the test id, and how failures name it."""
    return '%s/%s' % (case.test_base_name, request_name(case))


def _params():
    for name, suite in sorted(SUITES.items()):
        group = pytest.mark.xdist_group(name='gabbi-' + name)
        for position, case in enumerate(suite):
            yield pytest.param(name, position, marks=group,
                               id=_request_id(case))


class FileRun:
    """One YAML file's requests, run in order against its fixtures."""

    def __init__(self, name):
        self.name = name
        self.suite = SUITES[name]
        self.requests = list(self.suite)
        self.next = 0          # position of the first request not yet run
        self.failed = None     # what failed first, said for a skip reason

    def start(self):
        result = unittest.TestResult()
        try:
            self.suite.start(result)
            # start() reports a fixture's SkipTest as a skip of the suite.
            assert not result.skipped, 'skipped: %s' % result.skipped
        except BaseException:
            self.failed = 'the fixtures of %s' % self.name
            raise

    def stop(self):
        # Also after a failed start(), which leaves what it entered.
        self.suite.stop()

    def run(self, position):
        """Run request ``position``, after any earlier one not yet run."""
        # Requests not selected in this session (-k, a node id) still run
        # first, silently, since the later ones build on them.
        while self.next < position and self.failed is None:
            earlier = self.requests[self.next]
            self.next += 1
            trace = self._run_one(earlier)
            if trace is not None:
                self.failed = 'earlier request %s' % _request_id(earlier)
                pytest.fail('%s (not selected) failed:\n%s'
                            % (self.failed, trace), pytrace=False)
        if self.failed is not None:
            pytest.skip('%s failed' % self.failed)
        assert position == self.next, 'request %d run out of order' % position
        self.next += 1
        case = self.requests[position]
        trace = self._run_one(case)
        if trace is not None:
            self.failed = 'earlier request %s' % _request_id(case)
            pytest.fail(trace, pytrace=False)

    @staticmethod
    def _run_one(case):
        """gabbi's report of why ``case`` did not pass; None if it did."""
        result = unittest.TestResult()
        case.run(result)
        # The request as the YAML spells it, to find it there.
        request = '%s %s' % (case.test_data['method'], case.test_data['url'])
        for _case, trace in result.failures + result.errors:
            return '%s\n%s' % (request, trace)
        for _case, reason in result.skipped:
            # Nothing in these files may pass unseen by being skipped.
            return 'skipped: %s' % reason
        if result.unexpectedSuccesses:
            return 'passed, but is marked xfail'
        return None


class Runner:
    """The file whose fixtures are running in this process: one at a time.

    fixtures.py keeps the running application in module globals, and a
    file's requests must share one start of its fixtures, so a file runs
    from its first selected request to its last without another file in
    between; pytest keeps collection order and ``--dist loadgroup`` hands
    a worker whole files.
    """

    def __init__(self):
        self.active = None
        self.finished = set()

    def run(self, name, position):
        if self.active is None or self.active.name != name:
            self.stop()
            if name in self.finished:
                pytest.fail('the requests of %s did not run together: its '
                            'fixtures were stopped already' % name,
                            pytrace=False)
            self.active = FileRun(name)
            self.active.start()
        self.active.run(position)

    def stop(self):
        if self.active is not None:
            self.active.stop()
            self.finished.add(self.active.name)
            self.active = None


# Process-wide: it must outlive the module fixture below, which pytest may
# set up again when a worker runs other modules between two files.
RUNNER = Runner()


@pytest.fixture(scope='module')
def gabbi():
    """The runner; the last file's fixtures stop with the module."""
    yield RUNNER
    RUNNER.stop()


@pytest.mark.parametrize('name, position', list(_params()))
def test_gabbi(gabbi, name, position):
    gabbi.run(name, position)
