"""The device context docs, run as written against ``cyborg-all-in-one``.

The real command, as the README runs it (only the ports moved, and the
release grace shortened to be waited out), and the code blocks of
doc/source/user/device-contexts.rst and doc/source/user/os_acc.rst taken
from the pages themselves: the curl walkthrough run by bash with the real
curl, the ``openstack accelerator device context`` commands by the real
``openstack`` executable, the os_acc example by Python. A page whose
example stops working fails here.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import requests

from cyborg.accelerator.drivers import fake
from cyborg.tests.functional.all_in_one import service as aio

DOCS = pathlib.Path(__file__).resolve().parents[4] / 'doc' / 'source' / 'user'
V2_4 = {'OpenStack-API-Version': 'accelerator 2.4'}
RELEASE_GRACE = 3


def code_blocks(page, language):
    """The ``.. code-block:: <language>`` blocks of an rst page, dedented."""
    blocks, current = [], None
    for line in (DOCS / page).read_text().splitlines():
        if line.strip() == '.. code-block:: %s' % language:
            current = []
            blocks.append(current)
        elif current is not None:
            if line.strip() and not line.startswith(' '):
                current = None
            else:
                current.append(line)
    return [textwrap.dedent('\n'.join(block)).strip() + '\n'
            for block in blocks]


def _run(args, cwd, env, log_path, timeout=180):
    cwd.mkdir(exist_ok=True)
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, '%s failed (%d):\n%s\n%s\nservice log:\n%s' % (
        args[:2], proc.returncode, proc.stdout, proc.stderr,
        log_path.read_text()[-4000:])
    return proc.stdout


def _contexts(api):
    return requests.get(api + '/v2/device_contexts', headers=V2_4,
                        timeout=10).json()['device_contexts']


def test_the_device_context_docs_run_against_the_all_in_one(tmp_path):
    state = tmp_path / 'state'
    with aio.running(tmp_path, {
            'DEFAULT': {'state_path': str(state)},
            'device_contexts': {'release_grace': RELEASE_GRACE,
                                'purge_interval': 1}}) as service:
        _follow_the_docs(tmp_path, state, service)


def _follow_the_docs(tmp_path, state, service):
    api, log_path = service.api, service.log_path
    # A user's shell: no cloud settings of the developer's, our venv's
    # commands (openstack) first.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith('OS_')}
    env.update(API=api, CYBORG_API=api,
               PATH=aio.BIN + os.pathsep + os.environ.get('PATH', ''))
    service.wait(lambda: requests.get(api + '/v2/deployables', timeout=5
                                      ).json()['deployables'], 'the service')

    # curl: context, groups, ARQ, bind, Bound with config data,
    # delete by instance, Released.
    [curl] = code_blocks('device-contexts.rst', 'bash')[:1]
    out = _run(['bash', '-euo', 'pipefail', '-c', curl],
               tmp_path / 'curl', env, log_path).splitlines()
    assert out[0] == str([{'resources:FPGA': '1',
                           'trait:CUSTOM_FAKE_DEVICE': 'required'}])
    assert out[1:] == ['Bound', str({'clock_mhz': '300'}), 'Bound',
                       'Released'], out
    [released] = _contexts(api)
    assert released['state'] == 'Released'
    [prepared] = fake.read_prepared(str(state)).values()
    assert prepared['config_data'] == {'clock_mhz': '300'}
    # Gone after the grace period, for curl too.
    service.wait(lambda: subprocess.run(
        ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}',
         '-H', 'OpenStack-API-Version: accelerator 2.4',
         '%s/v2/device_contexts/%s' % (api, released['uuid'])],
        capture_output=True, text=True).stdout == '404',
        'the released context to be gone', timeout=RELEASE_GRACE + 30)

    # The openstack client's commands, as the page gives them.
    [_, cli] = code_blocks('device-contexts.rst', 'bash')
    _run(['bash', '-euo', 'pipefail', '-c', cli], tmp_path / 'cli', env,
         log_path)
    [left] = _contexts(api)
    assert (left['device_profile_name'], left['state']) == (
        'fpga-cli-dp', 'Unbound')

    # The os_acc example.
    [example] = code_blocks('os_acc.rst', 'python')
    (tmp_path / 'example').mkdir()
    script = tmp_path / 'example' / 'os_acc_example.py'
    script.write_text(example)
    out = _run([sys.executable, str(script)], tmp_path / 'example', env,
               log_path)
    assert "'resources_device_profile_0': 'FPGA:1'" in out
    assert "TEST_PCI {'clock_mhz': '300'} None" in out
    assert 'released ' in out
    used = [c for c in _contexts(api) if c['instance_uuid']]
    assert [c['state'] for c in used] == ['Released']
    arqs = requests.get(api + '/v2/accelerator_requests',
                        timeout=10).json()['arqs']
    assert arqs == []


def test_code_blocks_are_found(tmp_path):
    # The extraction itself: a block ends at the first unindented line.
    assert len(code_blocks('device-contexts.rst', 'bash')) == 2
    assert len(code_blocks('os_acc.rst', 'python')) == 1
    assert all(json.dumps(block) and block.strip()
               for block in code_blocks('device-contexts.rst', 'bash'))
