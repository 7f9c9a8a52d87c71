"""Options of the [DEFAULT] group: identity of this host, paths, timing."""

import os
import socket

from oslo_config import cfg

_PKG_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))

service_opts = [
    cfg.StrOpt('host',
               default=socket.gethostname(),
               sample_default='<hostname>',
               help='Name of this host. Agents and conductors listen for RPC '
                    'on this server name, and driver deployable names embed '
                    'it, so it must be unique in the deployment.'),
    cfg.IntOpt('periodic_interval',
               default=60, min=1,
               help='Seconds between two discovery runs of the agent, and '
                    'between two reconcile passes of the conductor.'),
    cfg.IntOpt('thread_pool_size',
               default=10, min=1,
               help='Worker threads a conductor uses to run bind jobs.'),
    cfg.IntOpt('bind_timeout',
               default=60, min=1,
               help='Seconds after a bind started by which it must be '
                    'finished. A bind still unfinished then (its conductor '
                    'died, an agent never answered) is failed by recovery '
                    'and Nova is told.'),
    cfg.IntOpt('bind_lease_seconds',
               default=15, min=1,
               help='Seconds a conductor holds the lease on a bind it works '
                    'on. It renews the lease while working; a lease not '
                    'renewed in time lets another conductor take the bind '
                    'over.'),
    cfg.BoolOpt('fatal_exception_format_errors',
                default=False,
                help='Raise, instead of logging, when an exception message '
                     'cannot be formatted with its arguments (for tests).'),
    cfg.StrOpt('auth_strategy',
               default='keystone',
               choices=[('keystone', 'Validate tokens with keystonemiddleware.'),
                        ('noauth', 'Trust the X-Project-Id, X-User-Id and '
                                   'X-Roles headers; for tests and the '
                                   'all-in-one service only.')],
               help='How the API authenticates requests.'),
]

path_opts = [
    cfg.StrOpt('pybasedir',
               default=_PKG_DIR,
               sample_default='<Path>',
               help='Directory where the cyborg python module is installed.'),
    cfg.StrOpt('bindir',
               default='$pybasedir/bin',
               help='Directory where cyborg binaries are installed.'),
    cfg.StrOpt('state_path',
               default='/var/lib/cyborg',
               help="Top-level directory for cyborg's state: the default "
                    'SQLite database and the agent\'s programming records '
                    'live here.'),
]

ALL_OPTS = service_opts + path_opts


def register_opts(conf):
    conf.register_opts(ALL_OPTS)


def list_opts():
    return {'DEFAULT': ALL_OPTS}
