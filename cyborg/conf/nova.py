"""Options of the [nova] group: where the conductor sends external events."""

from oslo_config import cfg

from cyborg.conf import ksa

GROUP = cfg.OptGroup('nova', title='Nova options',
                     help='How the conductor reaches the Compute service to '
                          'send accelerator-request-bound events.')


def register_opts(conf):
    ksa.register(conf, GROUP.name, service_type='compute')


def list_opts():
    return {GROUP: ksa.list_opts()}
