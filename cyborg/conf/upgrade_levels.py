"""Options of the [upgrade_levels] group: RPC version caps for upgrades.

During a rolling upgrade services of two releases talk to each other. A
cap makes a client send nothing newer than the version the oldest peer
still running serves, falling back to the older form of a call where there
is one (see the version histories in ``cyborg.conductor.rpcapi`` and
``cyborg.agent.rpcapi``). Unset, a client speaks the newest version.
"""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'upgrade_levels', title='RPC version caps',
    help='Caps on the RPC versions this service sends, for a rolling '
         'upgrade. Set a cap to the version the oldest service still '
         'running serves; remove it once every service runs this release.')

opts = [
    cfg.StrOpt('conductor',
               help='Newest conductor RPC API version (such as 1.0) the '
                    'agents and the API of this host may send. Set it on '
                    'upgraded agents while older conductors still run; '
                    'unset means the newest this release knows. A version '
                    'this release does not know stops the service at '
                    'start.'),
    cfg.StrOpt('agent',
               help='Newest agent RPC API version (such as 1.0) this '
                    'conductor may send. Set it on upgraded conductors '
                    'while older agents still run; unset means the newest '
                    'this release knows. A version this release does not '
                    'know stops the service at start.'),
]


def register_opts(conf):
    # By name, not GROUP: oslo.config would share GROUP's option state
    # (overrides included) between every ConfigOpts it is registered in.
    conf.register_opts(opts, group=GROUP.name)


def list_opts():
    return {GROUP: opts}
