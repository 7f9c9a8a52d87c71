"""cyborg-conductor: apply agents' reports, keep Placement in line, bind.

    cyborg-conductor --config-file /etc/cyborg/cyborg.conf

Runs until SIGTERM or SIGINT. A failed start (bad database URL, bad
transport URL, unusable [placement] options) prints one line and exits 1.
"""

import sys

from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg
from oslo_db import exception as db_exc
import oslo_messaging as messaging

from cyborg.clients import placement as placement_client
from cyborg.conductor import service as conductor_service
from cyborg.db import engine as db_engine
from cyborg import exception
from cyborg import rpc
from cyborg import service

# What a wrong option or an unreachable dependency raises at start; each is
# reported as one line instead of a traceback.
_START_ERRORS = (exception.CyborgException, messaging.MessagingException,
                 db_exc.DBError, ks_exc.ClientException, cfg.Error,
                 ImportError, ValueError)


def main(argv=None):
    argv = sys.argv if argv is None else argv
    conf = service.prepare_service(
        argv, description='Apply accelerator discovery reports, keep '
                          'Placement in line and bind accelerators.')
    try:
        db_engine.configure(conf, concurrent_transactions=(
            conductor_service.concurrent_transactions(conf)))
        # Connect now, so a wrong [database] connection fails the start.
        db_engine.get_engine().connect().close()
        conductor = conductor_service.ConductorService(
            conf, rpc.get_transport(conf),
            placement_client.PlacementClient.from_conf(conf))
        conductor.start()
    except _START_ERRORS as exc:
        service.fail(argv, service.one_line(exc))
    service.wait_for_stop_signal()
    conductor.stop()
    conductor.wait()
    return 0


if __name__ == '__main__':
    sys.exit(main())
