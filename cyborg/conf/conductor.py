"""Options of the [conductor] group: Placement sync, recovery and Nova events."""

from oslo_config import cfg

GROUP = cfg.OptGroup('conductor', title='Conductor options',
                     help='Options for the cyborg-conductor service.')

opts = [
    cfg.IntOpt('placement_retries',
               default=5, min=1,
               help='Attempts at one Placement write when Placement answers '
                    'with a generation conflict (409) before the change is '
                    'left to the next reconcile pass.'),
    cfg.IntOpt('reconcile_interval',
               default=600, min=0,
               help='Seconds between two passes that re-derive Placement '
                    'from the database, healing a Placement outage or '
                    'manual edits. 0 disables the periodic pass; the pass '
                    'at start-up always runs.'),
    cfg.IntOpt('recovery_interval',
               default=10, min=1,
               help='Seconds between two scans for binds whose conductor '
                    'lease expired (a scan also sends the Nova events '
                    'due).'),
    cfg.IntOpt('nova_event_interval',
               default=3, min=1,
               help='Seconds between two passes that send the Nova events '
                    'due: those whose first attempt failed, and those a '
                    'conductor claimed and then died with. With '
                    'nova_event_lease_seconds it bounds how late such an '
                    'event reaches Nova (about the sum of the two; Nova '
                    'waits for the event before it boots the instance).'),
    cfg.IntOpt('nova_event_lease_seconds',
               default=6, min=1,
               help='Seconds a conductor holds the events it is sending '
                    'to Nova. It renews the lease every third of it while '
                    'its POST is in flight, however slow, so a live '
                    'conductor keeps them; the events of a conductor that '
                    'died are sent by another one once this runs out.'),
    cfg.IntOpt('nova_event_max_attempts',
               default=10, min=1,
               help='Attempts at delivering one external event to Nova '
                    '(with exponential backoff) before it is given up and '
                    'logged.'),
    cfg.IntOpt('agent_rpc_timeout',
               default=120, min=1,
               help='Seconds the conductor waits for an agent to answer a '
                    'call (program a bitstream, create an mdev).'),
    cfg.IntOpt('scrub_timeout',
               default=600, min=1,
               help='Seconds from the release of an attach handle within '
                    'which its scrub must succeed ([agent] '
                    'scrub_on_release). A scrub whose agent does not '
                    'answer is retried by conductor recovery until then; '
                    'past it the scrub has failed and the handle stays out '
                    'of service. Bounds how long a handle can be '
                    'scrubbing, also when its conductor or agent died.'),
]


def register_opts(conf):
    # By name, not GROUP: oslo.config would share GROUP's option state
    # (overrides included) between every ConfigOpts it is registered in.
    conf.register_opts(opts, group=GROUP.name)


def list_opts():
    return {GROUP: opts}
