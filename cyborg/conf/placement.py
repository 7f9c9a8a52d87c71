"""Options of the [placement] group: the Placement service we keep in sync."""

from oslo_config import cfg

from cyborg.conf import ksa

GROUP = cfg.OptGroup('placement', title='Placement options',
                     help='How the conductor and agent reach Placement.')


def register_opts(conf):
    ksa.register(conf, GROUP.name, service_type='placement')


def list_opts():
    return {GROUP: ksa.list_opts()}
