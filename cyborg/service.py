"""Start-up shared by every cyborg command: options, logging, config files."""

import signal
import sys
import threading

from oslo_config import cfg
from oslo_log import log

from cyborg import conf as cyborg_conf
from cyborg.conf import opts as conf_opts
from cyborg import version


def prepare_service(argv, conf=None, description=None):
    """Register options, parse argv and config files, set up logging.

    Returns the parsed ConfigOpts. A missing or unreadable config file ends
    the process with one line on stderr and status 1, not a traceback.
    """
    conf = conf if conf is not None else cfg.ConfigOpts()
    cyborg_conf.register_opts(conf)
    log.register_options(conf)
    conf_opts.set_lib_defaults()
    try:
        conf(argv[1:], project='cyborg', prog=_prog(argv),
             version=version.version_string(), description=description)
    except cfg.Error as exc:
        fail(argv, exc)
    log.setup(conf, 'cyborg')
    return conf


def fail(argv, message):
    """Print one error line and exit 1."""
    sys.stderr.write('%s: error: %s\n' % (_prog(argv), message))
    sys.exit(1)


def _prog(argv):
    return (argv[0].rsplit('/', 1)[-1] if argv else None) or 'cyborg'


def one_line(exc):
    """An exception as one line for an operator's terminal.

    Our exceptions are written for operators; others need their type.
    """
    from cyborg import exception
    text = str(getattr(exc, 'inner_exception', None) or exc).strip()
    first_line = text.splitlines()[0] if text else ''
    if isinstance(exc, exception.CyborgException):
        return first_line
    return '%s: %s' % (type(exc).__name__, first_line)


def wait_for_stop_signal():
    """Block until SIGTERM or SIGINT arrives."""
    stop_requested = threading.Event()

    def _request_stop(signum, frame):
        stop_requested.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    stop_requested.wait()
