"""The one privilege-separation context of cyborg, and how it is started.

Everything the agent does that needs root on a compute host goes through
the entry points of this package, run by an oslo.privsep daemon:
writing sysfs files (:mod:`cyborg.privsep.sysfs`) and running the vendors'
programming tools (:mod:`cyborg.privsep.tools`). The agent process itself
runs unprivileged and never writes sysfs or executes a tool by itself; a
test walks the code to keep it that way.

The daemon keeps two capabilities (``[cyborg_privsep] capabilities`` can
narrow or widen them):

* ``CAP_DAC_OVERRIDE``: sysfs attributes such as an mdev type's ``create``
  and the FPGA device nodes (``/dev/dfl-fme.N``, ``/dev/intel-fpga-*``,
  ``/dev/xclmgmt*``) belong to root with no write bit for others;
* ``CAP_SYS_ADMIN``: the FPGA management drivers check it before a partial
  reconfiguration or a flash update.

Nothing else: no ``CAP_SYS_MODULE``, ``CAP_NET_ADMIN`` or ``CAP_SYS_RAWIO``.
A tool the daemon executes as uid 0 gets root's capabilities back from the
kernel unless the bounding set is narrowed too (the admin guide shows a
systemd unit that does it).

In production the daemon is started on first use through ``sudo
privsep-helper`` (``[cyborg_privsep] helper_command`` overrides the
command); tests start it with :func:`start_forked`, oslo.privsep's fork
mode, which needs no sudo.
"""

import logging
import shlex

from oslo_privsep import capabilities as caps
from oslo_privsep import priv_context

LOG = logging.getLogger(__name__)

# The config section of the context's own options (user, group,
# capabilities, helper_command, ...), registered by oslo.privsep.
CONFIG_SECTION = 'cyborg_privsep'
CAPABILITIES = (caps.CAP_DAC_OVERRIDE, caps.CAP_SYS_ADMIN)

sys_admin_pctxt = priv_context.PrivContext(
    'cyborg',
    cfg_section=CONFIG_SECTION,
    pypath=__name__ + '.sys_admin_pctxt',
    capabilities=list(CAPABILITIES),
)


def init(conf):
    """Make the context follow ``conf``, the agent's parsed options.

    oslo.privsep reads its options from the global ``cfg.CONF``, which our
    commands do not parse; the ``[cyborg_privsep]`` values of ``conf`` are
    copied there. Without a ``helper_command``, the daemon is started as
    ``sudo privsep-helper`` with the agent's own config files, so that it
    reads the same ``[cyborg_privsep]`` section.
    """
    from oslo_config import cfg
    section = conf[CONFIG_SECTION]
    for opt in priv_context.OPTS:
        value = section[opt.dest]
        if value is not None:
            cfg.CONF.set_override(opt.dest, value, group=CONFIG_SECTION)
    if not section.helper_command:
        command = ['sudo', 'privsep-helper']
        for path in conf.config_file or ():
            command += ['--config-file', path]
        config_dirs = conf.config_dir or ()
        if isinstance(config_dirs, str):
            config_dirs = [config_dirs]
        for path in config_dirs:
            command += ['--config-dir', path]
        cfg.CONF.set_override('helper_command', shlex.join(command),
                              group=CONFIG_SECTION)


def start_forked(capabilities=None):
    """Start the daemon by forking this process (tests, all-in-one).

    ``capabilities`` narrows the daemon's set, for a caller that does not
    hold them all (an unprivileged test run keeps none). Idempotent.
    """
    from oslo_config import cfg
    if capabilities is not None:
        cfg.CONF.set_override('capabilities', list(capabilities),
                              group=CONFIG_SECTION)
    if sys_admin_pctxt.channel is None:
        sys_admin_pctxt.start(method=priv_context.Method.FORK)
        LOG.info('Started the cyborg privsep daemon (fork mode)')


def stop():
    """Stop the daemon if it runs; the next privileged call restarts it."""
    if sys_admin_pctxt.channel is not None:
        sys_admin_pctxt.stop()


def held_capabilities(wanted=CAPABILITIES):
    """The ones of ``wanted`` this process holds (it can hand them on)."""
    _effective, permitted, _inheritable = caps.get_caps()
    return [cap for cap in wanted if cap in permitted]
