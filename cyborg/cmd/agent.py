"""cyborg-agent: discover this host's accelerators and serve agent RPC.

    cyborg-agent --config-file /etc/cyborg/cyborg.conf

Runs until SIGTERM or SIGINT. A failed start (unknown driver, no compute
node provider in Placement, bad transport URL) prints one line and exits 1.
"""

import sys

from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg
import oslo_messaging as messaging

from cyborg.agent import service as agent_service
from cyborg import exception
from cyborg import rpc
from cyborg import service

# What a wrong option or an unreachable dependency raises at start; each is
# reported as one line instead of a traceback.
_START_ERRORS = (exception.CyborgException, messaging.MessagingException,
                 ks_exc.ClientException, cfg.Error)


def main(argv=None):
    argv = sys.argv if argv is None else argv
    conf = service.prepare_service(
        argv, description='Discover accelerators on this host, report them '
                          'to the conductor and program them on request.')
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
