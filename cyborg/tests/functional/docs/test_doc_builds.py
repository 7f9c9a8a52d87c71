"""The three documentation trees build with warnings as errors, as tox does.

CI runs only ``./tools/run-tests.sh``, so this is where ``tox -e docs``,
``-e api-ref`` and ``-e releasenotes`` are checked: each tree is built
with ``sphinx-build -W --keep-going -b html`` into a temporary directory
(nothing is written into the source tree), and the result is checked for
what it exists to show: every route of the route table in the API
reference, every cyborg option and policy rule in the references
generated from the code, every committed release note.

The builds share one xdist group so that they run one after another on
one worker, leaving the other worker to the rest of the suite.
"""

import html
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

from cyborg.api import policies
from cyborg.api import routes
from cyborg.conf import opts

REPO = pathlib.Path(__file__).resolve().parents[4]

pytestmark = pytest.mark.xdist_group(name='doc-builds')

# What os-api-ref renders for a ".. rest_method:: METHOD PATH".
_METHOD = re.compile(r'<span class="badge label-(\w+)">\1</span>')
_URL = re.compile(r'<div class="endpoint-url">(.*?)</div>', re.DOTALL)
_TAG = re.compile(r'<[^>]+>')


def sphinx_build(tree, out, *extra):
    """Build ``<tree>/source`` into ``out``; the HTML directory."""
    html_dir = out / 'html'
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-b', 'html',
         *extra, '-d', str(out / 'doctrees'), str(REPO / tree / 'source'),
         str(html_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        'sphinx-build of %s/ failed (tox -e %s shows the same):\n%s\n%s'
        % (tree, {'doc': 'docs'}.get(tree, tree), result.stdout[-5000:],
           result.stderr[-5000:]))
    return html_dir


def text_of(page):
    """The text a reader sees on a built page, whitespace collapsed."""
    text = html.unescape(_TAG.sub(' ', page.read_text()))
    # Sphinx's smart quotes.
    text = text.translate({0x2018: "'", 0x2019: "'", 0x201c: '"',
                           0x201d: '"'})
    return ' '.join(text.split())


def test_api_ref_builds_and_shows_every_route(tmp_path):
    page = sphinx_build('api-ref', tmp_path) / 'index.html'
    content = page.read_text()
    methods = _METHOD.findall(content)
    urls = [_TAG.sub('', url).strip() for url in _URL.findall(content)]
    assert len(methods) == len(urls)
    shown = list(zip(methods, urls, strict=True))
    served = [(route.method, route.path) for route in routes.ROUTES]
    assert sorted(shown) == sorted(served)


def test_docs_build_with_generated_references(tmp_path):
    built = sphinx_build('doc', tmp_path)
    config = (built / 'configuration' / 'config.html').read_text()
    # oslo.config's sphinxext anchors each option as "<group>.<name>".
    missing = ['%s.%s' % (group, opt.dest)
               for group, group_opts in opts.list_opts()
               for opt in group_opts
               if 'id="%s.%s"' % (group, opt.dest) not in config]
    assert not missing, 'options missing from the reference: %s' % missing
    policy = text_of(built / 'configuration' / 'policy.html')
    missing = [rule.name for rule in policies.list_policies()
               if rule.name not in policy]
    assert not missing, 'rules missing from the reference: %s' % missing
    # The samples the pages include are the committed ones.
    sample = text_of(built / 'configuration' / 'sample-config.html')
    assert '#enabled_drivers = fake_driver' in sample


def _committed_notes():
    listed = subprocess.run(
        ['git', 'ls-files', 'releasenotes/notes'], cwd=REPO,
        capture_output=True, text=True, check=True).stdout.split()
    return [REPO / name for name in listed if name.endswith('.yaml')]


def _opening_words(entry, count=4):
    # The first words of an entry as they read once rendered: no markup,
    # and no spaces (markup in the page leaves spaces of its own).
    words = entry.replace('`', '').split()
    return ''.join(words[:count])


def test_release_notes_build_with_every_committed_note(tmp_path):
    notes = _committed_notes()
    assert notes, 'no committed release note: is this a git checkout?'
    built = sphinx_build('releasenotes', tmp_path, '-a', '-E')
    page = text_of(built / 'unreleased.html').replace(' ', '')
    for note in notes:
        sections = yaml.safe_load(note.read_text())
        for section, entries in sections.items():
            for entry in [entries] if isinstance(entries, str) else entries:
                assert _opening_words(entry) in page, (
                    '%s (%s) is not on the release notes page'
                    % (note.name, section))
