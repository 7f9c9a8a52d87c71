"""Options of the [device_contexts] group: how long contexts live (API 2.4).

The API stamps a context's expiry from the first two when it creates one
and when the last ARQ of one is deleted; the conductor purges expired
ones every ``purge_interval`` seconds.
"""

from oslo_config import cfg

GROUP = cfg.OptGroup('device_contexts', title='Device context options',
                     help='Lifetimes of device contexts (API 2.4).')

opts = [
    cfg.IntOpt('unused_expiry',
               default=86400, min=1,
               help='Seconds a device context lives without accelerator '
                    'requests before it expires: from its creation, and '
                    'again whenever its last accelerator request is deleted '
                    'before any was bound. An expired context is gone: '
                    'reads answer 404 and the conductor deletes it.'),
    cfg.IntOpt('release_grace',
               default=300, min=0,
               help='Seconds a device context lives after its instance\'s '
                    'accelerator requests were deleted (state Released). '
                    'Within them Nova may re-create and bind the instance\'s '
                    'accelerator requests from it (a reschedule); then it '
                    'expires.'),
    cfg.IntOpt('purge_interval',
               default=60, min=1,
               help='Seconds between two passes of the conductor that '
                    'delete expired device contexts.'),
]


def register_opts(conf):
    # By name, not GROUP: oslo.config would share GROUP's option state
    # (overrides included) between every ConfigOpts it is registered in.
    conf.register_opts(opts, group=GROUP.name)


def list_opts():
    return {GROUP: opts}
