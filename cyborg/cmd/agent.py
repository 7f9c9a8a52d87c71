"""cyborg-agent: discover this host's accelerators and serve agent RPC.

    cyborg-agent --config-file /etc/cyborg/cyborg.conf
    cyborg-agent --config-file /etc/cyborg/cyborg.conf --discover-only

Runs until SIGTERM or SIGINT. A failed start (unknown driver, no compute
node provider in Placement, bad transport URL) prints one line and exits 1.

``--discover-only`` runs the enabled drivers once, with the same options
(``[agent] sysfs_root``, the drivers' groups), prints what they found as
JSON on standard output and exits: the report the agent would send, with
every device, deployable, resource class, trait and attach handle. Logs go
to standard error (or the configured log file). It contacts nothing: no
conductor, no Placement, no message bus, no privsep daemon.
"""

import json
import sys

from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg
from oslo_log import log
import oslo_messaging as messaging

from cyborg.accelerator.drivers import base
from cyborg.accelerator import discovery
from cyborg.agent import reporter
from cyborg.agent import service as agent_service
from cyborg import exception
from cyborg import privsep
from cyborg import rpc
from cyborg import service

# What a wrong option or an unreachable dependency raises at start; each is
# reported as one line instead of a traceback.
_START_ERRORS = (exception.CyborgException, messaging.MessagingException,
                 ks_exc.ClientException, cfg.Error)


cli_opts = [
    cfg.BoolOpt('discover-only', default=False,
                help='Run the enabled drivers once, print their report as '
                     'JSON on standard output and exit, contacting nothing.'),
]


def discover_only(conf):
    """The --discover-only report: {'host', 'drivers', 'devices'}."""
    drivers = base.load_drivers(conf)
    devices = reporter.discover_all(drivers)
    return {'host': conf.host,
            'drivers': list(dict.fromkeys(conf.agent.enabled_drivers)),
            'devices': discovery.report_to_wire(devices)}


def main(argv=None):
    argv = sys.argv if argv is None else argv
    conf = cfg.ConfigOpts()
    conf.register_cli_opts(cli_opts)
    service.prepare_service(
        argv, conf, description='Discover accelerators on this host, report '
                                'them to the conductor and program them on '
                                'request.')
    if conf.discover_only:
        # Standard output carries the JSON alone; oslo.log writes there
        # when no log file is set, unless told to use stderr.
        conf.set_override('use_stderr', True)
        log.setup(conf, 'cyborg')
        try:
            report = discover_only(conf)
        except (exception.CyborgException, reporter.DiscoveryFailed) as exc:
            service.fail(argv, service.one_line(exc))
        json.dump(report, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write('\n')
        return 0
    privsep.init(conf)
    try:
        agent = agent_service.AgentService(conf, rpc.get_transport(conf))
        agent.start()
    except _START_ERRORS as exc:
        service.fail(argv, service.one_line(exc))
    service.wait_for_stop_signal()
    agent.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
