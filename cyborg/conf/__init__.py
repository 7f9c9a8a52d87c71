"""Configuration options of cyborg, one module per option group.

Library code never reads a global ``CONF``: the commands under ``cyborg/cmd``
build a ``ConfigOpts``, call :func:`register_opts` on it and pass it down.
"""

from oslo_db import options as db_options

from cyborg.conf import agent
from cyborg.conf import api
from cyborg.conf import conductor
from cyborg.conf import default
from cyborg.conf import device_contexts
from cyborg.conf import fpga
from cyborg.conf import glance
from cyborg.conf import gpu_devices
from cyborg.conf import keystone
from cyborg.conf import nic_devices
from cyborg.conf import nova
from cyborg.conf import pci
from cyborg.conf import placement
from cyborg.conf import privsep
from cyborg.conf import quota
from cyborg.conf import service_user
from cyborg.conf import upgrade_levels

# Every module that registers options; opts.py lists them for the generator.
OPTION_MODULES = (
    default, api, agent, conductor, gpu_devices, pci, nic_devices, fpga,
    glance, nova, placement, service_user, keystone, privsep,
    device_contexts, upgrade_levels, quota,
)

DEFAULT_DB_CONNECTION = 'sqlite:///$state_path/cyborg.sqlite'


def register_opts(conf):
    """Register every cyborg option (and oslo.db's) on ``conf``."""
    for module in OPTION_MODULES:
        module.register_opts(conf)
    db_options.set_defaults(conf, connection=DEFAULT_DB_CONNECTION)
    return conf
