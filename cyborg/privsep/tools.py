"""Privileged execution of the vendors' FPGA programming tools.

One entry point, :func:`run_tool`, runs a tool with a time limit and
answers with plain data (never an exception), so that every failure
reaches the agent intact through the privsep channel:

* ``{'outcome': 'ok', 'stdout', 'stderr'}``;
* ``{'outcome': 'failed', 'exit_code', 'stdout', 'stderr'}``;
* ``{'outcome': 'missing', 'reason'}``: the tool is not there or cannot be
  executed;
* ``{'outcome': 'timeout', 'seconds', 'stdout', 'stderr'}``: it ran past
  its limit and was killed, with every process it started.

The command line is built by the driver; the daemon checks that the tool
is an absolute path and that the image it is handed is a regular file, so
it never runs a command resolved through ``PATH`` nor takes options from
what should be a file name.
"""

import os
import signal
import subprocess

from oslo_concurrency import processutils

from cyborg.privsep import sys_admin_pctxt

# Output kept in an answer: a tool that prints megabytes must not make the
# privsep message (and the bind error built from it) that large.
_OUTPUT_LIMIT = 4096


def _tail(text):
    return text[-_OUTPUT_LIMIT:] if text else ''


def _check_command(argv, image_path):
    tool = argv[0]
    if not os.path.isabs(tool):
        return 'the tool path %r is not absolute' % tool
    if not os.path.isfile(tool):
        return '%s does not exist' % tool
    if not os.access(tool, os.X_OK):
        return '%s is not executable' % tool
    if image_path not in argv[1:] or not os.path.isfile(image_path):
        return 'the image %s is not a file on the command line' % image_path
    return None


@sys_admin_pctxt.entrypoint
def run_tool(argv, image_path, timeout):
    """Run ``argv`` (tool first) for at most ``timeout`` seconds."""
    argv = [str(arg) for arg in argv]
    problem = _check_command(argv, image_path)
    if problem:
        return {'outcome': 'missing', 'reason': problem}
    started = []
    try:
        # A session of its own: on a timeout the whole process group is
        # killed, helpers the tool forked included.
        stdout, stderr = processutils.execute(
            *argv, timeout=timeout, on_execute=started.append,
            preexec_fn=os.setsid, check_exit_code=[0])
    except processutils.ProcessExecutionError as exc:
        return {'outcome': 'failed', 'exit_code': exc.exit_code,
                'stdout': _tail(exc.stdout), 'stderr': _tail(exc.stderr)}
    except subprocess.TimeoutExpired:
        process = started[0]
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stdout, stderr = process.communicate()
        return {'outcome': 'timeout', 'seconds': timeout,
                'stdout': _tail(os.fsdecode(stdout or b'')),
                'stderr': _tail(os.fsdecode(stderr or b''))}
    except OSError as exc:
        return {'outcome': 'missing', 'reason': '%s cannot be run: %s'
                                                % (argv[0], exc)}
    return {'outcome': 'ok', 'stdout': _tail(stdout), 'stderr': _tail(stderr)}
