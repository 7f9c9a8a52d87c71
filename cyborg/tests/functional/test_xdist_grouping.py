"""``--dist loadgroup`` really sends an ``xdist_group`` to one worker, in order.

The gabbi files (one test per request, in file order against one fixture)
and the RabbitMQ tests (fixed topic names) rely on it, and a pytest release
once made pytest-xdist drop the groups without a word
(pytest-dev/pytest-xdist#1386). This runs pytest with two workers on tests
of two groups and checks where and in what order each test ran.
"""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[3]

GROUPED = '''
import os

import pytest

LOG = os.environ['GROUPING_LOG']


@pytest.mark.parametrize('group, index', [
    pytest.param(group, index, marks=pytest.mark.xdist_group(name=group))
    for group in ('first', 'second') for index in range(6)])
def test_step(group, index):
    with open(LOG, 'a') as log:
        log.write('%s %s %d\\n' % (os.environ['PYTEST_XDIST_WORKER'],
                                   group, index))
'''


def test_each_group_runs_in_order_on_one_worker(tmp_path):
    (tmp_path / 'test_grouped.py').write_text(GROUPED)
    (tmp_path / 'pytest.ini').write_text('[pytest]\n')
    log = tmp_path / 'ran.log'
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-c', str(tmp_path / 'pytest.ini'),
         '--rootdir', str(tmp_path), '-p', 'no:cacheprovider', '-q',
         '-n', '2', '--dist', 'loadgroup', str(tmp_path / 'test_grouped.py')],
        cwd=REPO, env=dict(os.environ, GROUPING_LOG=str(log)),
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

    ran = {}
    for line in log.read_text().splitlines():
        worker, group, index = line.split()
        ran.setdefault(group, []).append((worker, int(index)))
    for group in ('first', 'second'):
        workers = {worker for worker, _index in ran[group]}
        assert len(workers) == 1, (group, ran[group])
        assert [index for _worker, index in ran[group]] == list(range(6))
