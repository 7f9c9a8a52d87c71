"""Options of the [quota] group (and oslo.limit's [oslo_limit]).

``driver`` chooses where a project's limits per resource class come from:
``config`` reads ``default_limits`` and ``project_limits`` below;
``unified_limits`` asks Keystone (registered limits named
``class:<RESOURCE CLASS>``, overridable per project) through oslo.limit,
which reads [oslo_limit]. Usage is always counted from the ARQ table.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_limit import opts as oslo_limit_opts

from cyborg.conf import ksa

OSLO_LIMIT_GROUP = 'oslo_limit'

GROUP = cfg.OptGroup('quota', title='Quota options',
                     help='Limits per project on accelerators held.')

opts = [
    cfg.StrOpt('driver',
               default='config',
               choices=[('config', 'limits from default_limits and '
                                   'project_limits in this group'),
                        ('unified_limits', 'limits from Keystone unified '
                                           'limits, through oslo.limit and '
                                           'the [oslo_limit] group')],
               help='Where the limits on accelerators per project and '
                    'resource class come from. Every ARQ a project holds '
                    '(whatever its state) counts against the limit of its '
                    'request group\'s resource class; a create that would '
                    'go past a limit is refused with 403.'),
    cfg.DictOpt('default_limits',
                default={},
                help='config driver: the limit of every project per '
                     'resource class, as <class>:<limit> pairs, e.g. '
                     '"FPGA:10,CUSTOM_QAT:4". -1 is unlimited; a class not '
                     'named here is unlimited.'),
    cfg.DictOpt('project_limits',
                default={},
                help='config driver: per-project overrides of '
                     'default_limits, as <project_id>/<class>:<limit> '
                     'pairs, e.g. "0a1b2c/FPGA:20,0a1b2c/VGPU:-1". -1 is '
                     'unlimited.'),
]


def register_opts(conf):
    # By name, not GROUP: see cyborg.conf.device_contexts.
    conf.register_opts(opts, group=GROUP.name)
    # [oslo_limit]: oslo.limit's endpoint options and keystoneauth's
    # session, auth and adapter options, on this conf. oslo.limit's own
    # register_opts() puts keystoneauth's on the global cfg.CONF, which we
    # do not use (see cyborg.library_patches.point_oslo_limit_at).
    ksa.register(conf, OSLO_LIMIT_GROUP)
    ks_loading.register_adapter_conf_options(conf, OSLO_LIMIT_GROUP,
                                             include_deprecated=False)
    conf.register_opts(_oslo_limit_endpoint_opts(), group=OSLO_LIMIT_GROUP)


def _oslo_limit_endpoint_opts():
    [(_, library_opts)] = oslo_limit_opts.list_opts()
    return [opt for opt in library_opts if opt.dest.startswith('endpoint_')]


def list_opts():
    # [oslo_limit] comes from the oslo.limit namespace of the generator.
    return {GROUP: opts}
