#!/usr/bin/env python3
"""Binds under faults: conductors SIGKILLed, RabbitMQ and Placement down.

Deploys on loopback 2 API processes (gunicorn), 2 ``cyborg-conductor``
processes and a ``cyborg-agent`` with the fake driver (16 attach handles)
on a MariaDB database of its own and RabbitMQ (through a TCP proxy, which
plays the RabbitMQ outage: the shared server is never stopped), a real
Placement process and a stub Nova that records every event with its
arrival time. Then drives ``--binds`` binds from ``--clients`` threads as
Nova does (create, bind, wait until resolved, release), killing a random
conductor with SIGKILL every ``--kill-every`` seconds (and starting it
again), with one RabbitMQ outage and one Placement outage of ``--outage``
seconds. Prints, and writes to ``--out``, one JSON line for the run and
one per check (see ``cyborg/tests/fixtures/chaos_run.py``): double-booked
handles, unresolved ARQs, lost and duplicate Nova events, event latency,
drift between the DB and Placement.

    flock /tmp/cyborg-bench.lock .venv/bin/python bench/chaos.py

Needs MariaDB at --db-admin-url and RabbitMQ at --transport-url; the run
uses a vhost of its own there, ``cyborg_chaos``, where ``rabbitmqctl`` can
create it (see ``chaos_deployment.private_vhost``).
"""

import argparse
import contextlib
import pathlib
import sys
import tempfile
import time
import uuid

import sqlalchemy as sa

from cyborg.db import engine as db_engine
from cyborg.db import migration
from cyborg.tests.fixtures import chaos_deployment
from cyborg.tests.fixtures import chaos_run

# The [conductor] and [DEFAULT] options of the run: the shipped defaults
# (bind and event leases, recovery interval, bind timeout), except the
# reconcile interval, so that the drift check does not wait 10 minutes.
CONDUCTOR_OPTIONS = {'reconcile_interval': 20}


@contextlib.contextmanager
def own_database(admin_url):
    """A new database on the server of ``admin_url``; yields an engine on
    it with cyborg's schema (by the migrations); drops it at the end."""
    name = 'cyborg_chaos_%s' % uuid.uuid4().hex[:10]
    admin = sa.create_engine(admin_url)
    with admin.begin() as conn:
        conn.execute(sa.text('CREATE DATABASE %s CHARACTER SET utf8mb4'
                             % name))
    url = sa.engine.make_url(admin_url).set(database=name)
    engine = sa.create_engine(url, pool_size=5)
    try:
        migration.upgrade('head', engine=engine)
        yield engine, url.render_as_string(hide_password=False)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % name))
        admin.dispose()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--binds', type=int, default=1000)
    parser.add_argument('--clients', type=int, default=12)
    parser.add_argument('--agents', type=int, default=1,
                        help='hosts, each with 16 attach handles')
    parser.add_argument('--kill-every', type=float, default=4.0,
                        help='mean seconds between conductor kills')
    parser.add_argument('--outage', type=float, default=20.0,
                        help='seconds RabbitMQ, then Placement, are down')
    parser.add_argument('--nova-delay', type=float, default=0.3,
                        help='seconds the stub Nova takes to answer an '
                             'events POST (a conductor may die mid-POST)')
    parser.add_argument('--resolve-bound', type=float, default=90.0,
                        help='seconds a bind may take to resolve: '
                             'bind_timeout 60 + recovery_interval 10 + '
                             'slack')
    parser.add_argument('--db-admin-url',
                        default='mysql+pymysql://root@127.0.0.1:3306/')
    parser.add_argument('--transport-url',
                        default='rabbit://guest:guest@127.0.0.1:5672/')
    parser.add_argument('--workdir', type=pathlib.Path,
                        help='logs and configs (default: a new temp dir)')
    parser.add_argument('--out', type=pathlib.Path,
                        help='JSON lines file (default: workdir/results'
                             '.jsonl)')
    parser.add_argument('--seed', type=int)
    args = parser.parse_args()
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(
        prefix='cyborg-chaos-'))
    out = args.out or workdir / 'results.jsonl'

    def progress(line):
        print('[%s] %s' % (time.strftime('%H:%M:%S'), line),
              file=sys.stderr, flush=True)

    transport_url = chaos_deployment.private_vhost(args.transport_url,
                                                   'cyborg_chaos')
    with own_database(args.db_admin_url) as (engine, url):
        # The drift check reads the DB through cyborg's own queries.
        db_engine.configure_options({'connection': url})
        deployment = chaos_deployment.ChaosDeployment(
            workdir, url, transport_url, agents=args.agents,
            conductor_options=CONDUCTOR_OPTIONS, nova_delay=args.nova_delay)
        progress('deploying in %s' % workdir)
        try:
            deployment.start()
            results = chaos_run.run(
                deployment, engine, args.binds, args.clients,
                args.resolve_bound, args.kill_every, args.outage,
                seed=args.seed, progress=progress)
        finally:
            deployment.stop()
    text = chaos_run.as_json_lines(results)
    out.write_text(text + '\n')
    print(text)
    failed = [r['check'] for r in results if r.get('ok') is False]
    progress('targets missed: %s' % ', '.join(failed) if failed else
             'every target met')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
