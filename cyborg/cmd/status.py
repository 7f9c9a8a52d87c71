"""cyborg-status: upgrade readiness checks (oslo.upgradecheck)."""

import sys

from oslo_config import cfg
from oslo_policy import opts as policy_opts
from oslo_upgradecheck import common_checks
from oslo_upgradecheck import upgradecheck

from cyborg import conf as cyborg_conf
from cyborg.db import engine as db_engine
from cyborg.db import migration


class Checks(upgradecheck.UpgradeCommands):
    """Checks an operator runs before and after upgrading cyborg."""

    def __init__(self, conf):
        self._conf = conf
        self._upgrade_checks = (
            ('Database schema', Checks._check_database_at_head),
            ('Policy File JSON to YAML Migration',
             (common_checks.check_policy_json, {'conf': conf})),
        )

    def _check_database_at_head(self):
        db_engine.configure(self._conf)
        try:
            current = migration.version()
        except Exception as exc:  # whatever keeps the DB from being read
            return upgradecheck.Result(
                upgradecheck.Code.FAILURE,
                'Cannot read the database: %s' % str(exc).splitlines()[0])
        head = migration.head()
        if current != head:
            return upgradecheck.Result(
                upgradecheck.Code.FAILURE,
                'Database is at revision %s, the code needs %s: run '
                '"cyborg-dbsync upgrade".' % (current, head))
        return upgradecheck.Result(upgradecheck.Code.SUCCESS)


def main():
    conf = cfg.ConfigOpts()
    cyborg_conf.register_opts(conf)
    policy_opts.set_defaults(conf)
    conf.set_default('max_retries', 0, group='database')
    return upgradecheck.main(conf, project='cyborg',
                             upgrade_command=Checks(conf))


if __name__ == '__main__':
    sys.exit(main())
