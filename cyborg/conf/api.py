"""Options of the [api] group: how cyborg-api listens and builds links."""

from oslo_config import cfg

GROUP = cfg.OptGroup('api', title='API options',
                     help='Options for the cyborg-api service.')

opts = [
    cfg.HostAddressOpt('host_ip',
                       default='127.0.0.1',
                       help='Address the standalone API server listens on.'),
    cfg.PortOpt('port',
                default=6666,
                help='Port the standalone API server listens on.'),
    cfg.IntOpt('api_workers',
               min=1,
               help='Worker processes of the standalone API server. '
                    'Defaults to the number of CPUs.'),
    cfg.IntOpt('api_threads',
               default=8, min=1,
               help='Threads per worker process of the standalone API '
                    'server.'),
    cfg.BoolOpt('enable_ssl_api',
                default=False,
                help='Serve the standalone API over TLS with '
                     'ssl_cert_file and ssl_key_file.'),
    cfg.StrOpt('ssl_cert_file',
               help='PEM certificate of the standalone API server, when '
                    'enable_ssl_api is set.'),
    cfg.StrOpt('ssl_key_file',
               help='PEM private key of the standalone API server, when '
                    'enable_ssl_api is set.'),
    cfg.StrOpt('public_endpoint',
               help='Base URL put in the links of API responses, for when '
                    'the API sits behind a proxy that rewrites the URL, '
                    'e.g. https://cloud.example.com/accelerator. When unset '
                    'links are built from the request URL.'),
    cfg.IntOpt('max_limit',
               default=1000, min=1,
               help='Largest page of a list: a larger "limit" is clamped '
                    'to it, and a list request without "limit" returns at '
                    'most this many items, with a "next" link to the '
                    'rest.'),
    cfg.BoolOpt('require_service_token_for_bind',
                default=True,
                help='Binding, unbinding and deleting ARQs by instance '
                     '(what only Nova does) require a Keystone service '
                     'token, as upstream Cyborg does. When false, the admin '
                     'role is accepted instead.'),
    cfg.IntOpt('max_arqs_per_request',
               default=256, min=1,
               help='Most accelerator requests one POST '
                    '/v2/accelerator_requests may create (the sum of the '
                    'resource amounts of the device profile\'s groups). A '
                    'profile asking for more is refused with 400 instead '
                    'of filling the database.'),
    cfg.IntOpt('max_request_body_size',
               default=114688, min=1024,
               help='Largest request body, in bytes, the API reads; a '
                    'larger one is refused with 413.'),
    cfg.FloatOpt('bind_wait_seconds',
                 default=0.0, min=0,
                 help='How long a bind PATCH waits for the conductor to '
                      'finish the binds that need no call to an agent or '
                      'Glance (most binds: no bitstream, no mdev), so that '
                      'the first read after the 202 already shows Bound. '
                      'The answer is still 202 and the bind still the '
                      'conductor\'s: past this time, or for binds that '
                      'need an agent, the PATCH returns and the bind goes '
                      'on. 0 (the default) sends the bind without waiting; '
                      'see bench/README.md for why it is off.'),
]


def register_opts(conf):
    # By name, not GROUP: oslo.config would share GROUP's option state
    # (overrides included) between every ConfigOpts it is registered in.
    conf.register_opts(opts, group=GROUP.name)


def list_opts():
    return {GROUP: opts}
