"""cyborg-status: upgrade readiness checks (oslo.upgradecheck).

    cyborg-status --config-file /etc/cyborg/cyborg.conf upgrade check

Run it with the new release installed, after ``cyborg-dbsync upgrade``,
before restarting services on it, and again once every service runs it
(doc/source/admin/upgrades.rst). Exit code 0: all checks passed, 1: a
warning, 2: a failure. The checks:

* Database schema: at the head revision of this release's migrations.
* Binds in progress: no ARQ in BindStarted for longer than recovery lets
  one live (then no conductor is recovering binds).
* Agent RPC versions: every host's agent stated this release's agent RPC
  API version at its last report or heartbeat.
* RPC version caps: the ``[upgrade_levels]`` options of this configuration
  name versions this release knows; set, they are a reminder that they
  must go once the upgrade is over.
* Policy File JSON to YAML Migration: oslo.policy's common check.

The checks that read the database need the schema at head; when it is not
they only say so, and the schema check fails.
"""

import datetime
import sys

from oslo_config import cfg
from oslo_policy import opts as policy_opts
from oslo_upgradecheck import common_checks
from oslo_upgradecheck import upgradecheck
from oslo_utils import timeutils

from cyborg.agent import rpcapi as agent_rpcapi
from cyborg.conductor import rpcapi as conductor_rpcapi
from cyborg import conf as cyborg_conf
from cyborg import context as cyborg_context
from cyborg.db import agent_hosts
from cyborg.db import arqs
from cyborg.db import engine as db_engine
from cyborg.db import migration
from cyborg import exception
from cyborg import rpc

SUCCESS = upgradecheck.Code.SUCCESS
WARNING = upgradecheck.Code.WARNING
FAILURE = upgradecheck.Code.FAILURE

# How many ARQs or hosts a message names before it only counts the rest.
SHOWN = 5
# A host whose agent has not been heard from for this long is taken to be
# out of service: named, but no reason for a warning (nothing deletes the
# record of a retired host).
QUIET_HOURS = 24


def _result(code, details=None):
    return upgradecheck.Result(code, details)


def _name_hosts(hosts):
    """'h1 (stated 1.0, last seen ...), ... and N more'."""
    named = ', '.join(
        '%s (%s, last seen %s)' % (
            host['hostname'],
            'stated %s' % host['agent_rpc_version']
            if host['agent_rpc_version'] else 'stated no version',
            host['last_seen_at'].isoformat(timespec='seconds')
            if host['last_seen_at'] else 'never')
        for host in hosts[:SHOWN])
    if len(hosts) > SHOWN:
        named += ' and %d more' % (len(hosts) - SHOWN)
    return named


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Checks(upgradecheck.UpgradeCommands):
    """Checks an operator runs before and after upgrading cyborg."""

    def __init__(self, conf):
        self._conf = conf
        self._upgrade_checks = (
            ('Database schema', Checks._check_database_at_head),
            ('Binds in progress', Checks._check_no_stale_binds),
            ('Agent RPC versions', Checks._check_agent_rpc_versions),
            ('RPC version caps', Checks._check_version_caps),
            ('Policy File JSON to YAML Migration',
             (common_checks.check_policy_json, {'conf': conf})),
        )
        self._schema_error = None
        self._schema_checked = False

    def _schema_problem(self):
        """Why the database cannot be checked (a sentence), or None."""
        if not self._schema_checked:
            self._schema_checked = True
            db_engine.configure(self._conf)
            try:
                current = migration.version()
            except Exception as exc:  # whatever keeps the DB from being read
                self._schema_error = ('Cannot read the database: %s'
                                      % _first_line(exc))
            else:
                head = migration.head()
                if current != head:
                    self._schema_error = (
                        'Database is at revision %s, the code needs %s: run '
                        '"cyborg-dbsync upgrade".' % (current, head))
        return self._schema_error

    def _skipped(self):
        return _result(WARNING, 'Not checked: %s' % self._schema_problem())

    def _check_database_at_head(self):
        problem = self._schema_problem()
        if problem:
            return _result(FAILURE, problem)
        return _result(SUCCESS)

    def stale_bind_seconds(self):
        """How long a bind may stay in BindStarted while conductors run.

        Recovery fails a bind past ``bind_timeout``; a live lease may hold
        it up to one lease period longer, and the next recovery pass may
        come one interval later.
        """
        return (self._conf.bind_timeout + self._conf.bind_lease_seconds
                + self._conf.conductor.recovery_interval)

    def _check_no_stale_binds(self):
        if self._schema_problem():
            return self._skipped()
        seconds = self.stale_bind_seconds()
        count, oldest = arqs.find_stale_binds(
            cyborg_context.get_admin_context(),
            timeutils.utcnow() - datetime.timedelta(seconds=seconds),
            limit=SHOWN)
        if not count:
            return _result(SUCCESS)
        named = ', '.join(
            '%s (host %s, started %s)' % (
                row['uuid'], row['hostname'] or '-',
                row['bind_started_at'].isoformat(timespec='seconds')
                if row['bind_started_at'] else 'at an unknown time')
            for row in oldest)
        more = ' and %d more' % (count - len(oldest)) if count > SHOWN else ''
        return _result(WARNING, (
            '%d accelerator request(s) have been binding (BindStarted) for '
            'more than %d s, longer than recovery lets a bind run: %s%s. '
            'No conductor is recovering binds: start one (its recovery '
            'fails them and tells Nova within [conductor] '
            'recovery_interval), or unbind them; then upgrade.'
            % (count, seconds, named, more)))

    def _check_agent_rpc_versions(self):
        if self._schema_problem():
            return self._skipped()
        current = agent_rpcapi.RPC_API_VERSION
        context = cyborg_context.get_admin_context()
        cutoff = timeutils.utcnow() - datetime.timedelta(hours=QUIET_HOURS)
        behind = agent_hosts.list_hosts_not_at(context, current,
                                               seen_since=cutoff)
        quiet = agent_hosts.list_hosts_not_at(context, current,
                                              seen_before=cutoff)
        quiet_note = ''
        if quiet:
            quiet_note = (
                'Not counted: %d host(s) silent for more than %d hours '
                '(out of service?): %s.' % (len(quiet), QUIET_HOURS,
                                            _name_hosts(quiet)))
        if not behind:
            return _result(SUCCESS, quiet_note or None)
        return _result(WARNING, (
            '%d host(s) last reported with an agent RPC API other than this '
            "release's %s: %s. \"Stated no version\" is an agent of an "
            'older release, or one whose [upgrade_levels] conductor cap '
            'still holds it to conductor RPC 1.0. Upgrade cyborg-agent on '
            'those hosts and remove that cap there before the next '
            'upgrade. %s' % (len(behind), current, _name_hosts(behind),
                             quiet_note)).strip())

    def _check_version_caps(self):
        caps = []
        for service, versions in (
                ('conductor', conductor_rpcapi.RPC_VERSIONS),
                ('agent', agent_rpcapi.RPC_VERSIONS)):
            try:
                cap = rpc.version_cap(self._conf, service, versions)
            except exception.InvalidConfig as exc:
                return _result(FAILURE, '%s. The service reading this '
                                        'configuration will not start.' % exc)
            if cap is not None:
                caps.append('%s = %s' % (service, cap))
        if not caps:
            return _result(SUCCESS)
        return _result(WARNING, (
            '[upgrade_levels] %s: services using this configuration send '
            'older RPC versions than this release knows. Keep the cap while '
            'services of the previous release still run; remove it, and '
            'restart the services, once all run this release.'
            % ', '.join(caps)))


def main():
    conf = cfg.ConfigOpts()
    cyborg_conf.register_opts(conf)
    policy_opts.set_defaults(conf)
    conf.set_default('max_retries', 0, group='database')
    return upgradecheck.main(conf, project='cyborg',
                             upgrade_command=Checks(conf))


if __name__ == '__main__':
    sys.exit(main())
