"""cyborg-all-in-one: the whole service in one process, for a laptop or a demo.

API, conductor and one agent share the process, talking over the in-memory
``fake://`` transport, with a SQLite database and a real (embedded) Placement
under the state directory, the fake driver, and ``noauth``. Nothing else needs
to be installed or running. Every default can be changed in a config file:
pointed at a fake sysfs tree (``[agent] sysfs_root``) with FPGA drivers and
stand-in programming tools (``[intel_fpga] fpgaconf_path``, ...) and a
Glance holding bitstreams, it binds and programs FPGAs end to end. Its
privsep daemon is forked at start (no sudo).
"""

import os
import signal
import sys
import threading
import uuid

from oslo_config import cfg
from oslo_log import log

from cyborg.agent import service as agent_service
from cyborg.api import app as api_app
from cyborg.clients import placement as placement_client
from cyborg import conf as cyborg_conf
from cyborg.conductor import service as conductor_service
from cyborg.db import engine as db_engine
from cyborg.db import migration
from cyborg import embedded_placement
from cyborg import privsep
from cyborg import rpc
from cyborg import service
from cyborg import wsgi_server

LOG = log.getLogger(__name__)

cli_opts = [
    cfg.PortOpt('placement_port', default=8778,
                help='Loopback port of the embedded Placement.'),
]


def _set_all_in_one_defaults(conf):
    conf.set_default('state_path', os.path.abspath('cyborg-state'))
    conf.set_default('auth_strategy', 'noauth')
    conf.set_default('enabled_drivers', ['fake_driver'], group='agent')
    # The compute node provider the embedded Placement gets is named after
    # this host, as Nova would name it.
    conf.set_default('resource_provider_name', conf.host, group='agent')
    conf.set_default('periodic_interval', 30)
    # One process: a SQLite file cannot take two conductors' writers anyway.
    conf.set_default('max_pool_size', 10, group='database')


def ensure_compute_node(client, name):
    """Create the compute node provider Nova would have made, if absent."""
    if client.find_provider_by_name(name) is None:
        client.create_provider(str(uuid.uuid4()), name, None)
        LOG.info('Created compute node provider %s', name)


def main(argv=None):
    argv = sys.argv if argv is None else argv
    conf = cfg.ConfigOpts()
    conf.register_cli_opts(cli_opts)
    cyborg_conf.register_opts(conf)
    _set_all_in_one_defaults(conf)
    service.prepare_service(
        argv, conf, description='Run cyborg API, conductor and agent in '
                                'one process with an embedded Placement.')
    os.makedirs(conf.state_path, exist_ok=True)
    # The privsep daemon is forked now, before any thread starts; it keeps
    # what it can of its capabilities (none for an unprivileged user, which
    # is enough for a fake sysfs tree and fake tools).
    privsep.start_forked(capabilities=privsep.held_capabilities())

    db_engine.configure(conf)
    migration.upgrade('head')

    placement = embedded_placement.start(
        os.path.join(conf.state_path, 'placement.sqlite'),
        port=conf.placement_port)
    placement_client.configure_noauth(conf, placement.endpoint)
    placement_api = placement_client.PlacementClient.from_conf(conf)
    ensure_compute_node(placement_api, conf.agent.resource_provider_name)

    transport = rpc.get_transport(conf, url='fake://')
    conductor = conductor_service.ConductorService(conf, transport,
                                                   placement_api)
    conductor.start()
    agent = agent_service.AgentService(conf, transport,
                                       placement=placement_api)
    agent.start()

    server = wsgi_server.make_server(api_app.build_app(conf, transport),
                                     conf.api.host_ip, conf.api.port)
    stopping = threading.Event()

    def _stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print('cyborg all-in-one: API http://%s:%d, Placement %s, state in %s'
          % (conf.api.host_ip, conf.api.port, placement.endpoint,
             conf.state_path), flush=True)
    try:
        wsgi_server.serve_forever(server)
    finally:
        agent.stop()
        conductor.stop()
        conductor.wait()
        placement.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
