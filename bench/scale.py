"""A cloud's worth of hosts: N simulated agents x D devices, the real path.

Deploys, on this machine's MariaDB and RabbitMQ:

* Placement under gunicorn (``bench/scale_placement.py``: its own MariaDB
  database, every request counted at the Placement side by route);
* one or more ``cyborg-conductor`` processes (``bench/scale_conductor.py``:
  the real conductor, its SQL statements counted) on their own database;
* the compute node providers of N hosts, created as Nova does (one root
  provider per host, named by the hostname);

then runs N simulated agents in this process: each is the agent's own
:class:`cyborg.agent.reporter.Reporter` with a driver that discovers D
devices shaped as the fake driver's (one FPGA deployable of ``--handles``
accelerators each), talking to the conductors through
:class:`cyborg.conductor.rpcapi.ConductorAPI` over oslo.messaging, on a
RabbitMQ virtual host of its own. Only the hardware is simulated.

Phases, each printed as one JSON line (and appended to
``$STATE/results.jsonl``):

1. ``initial-sync``: every agent's first run (a full report), then a check
   in Placement that every provider has its inventory and traits; Placement
   calls per deployable by route;
2. ``steady-state``: ``--rounds`` runs of every agent (heartbeats): the
   Placement calls (target 0) and the conductors' SQL statements per
   heartbeat, with MariaDB's plan of the heartbeat's UPDATE;
3. ``one-device-change``: one host's device changes its accelerator count:
   time until Placement shows it, calls made;
4. every phase carries the CPU seconds of the conductors, of Placement's
   gunicorn workers and of this process (``/proc/<pid>/stat``);
5. ``--conductors 1,2`` repeats the initial sync on fresh databases with
   two conductors (phase ``initial-sync`` with ``conductors: 2``).

Run it with ``bench/scale.sh`` (see ``bench/README.md``).
"""

import argparse
import collections
import concurrent.futures
import glob
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import types
import uuid as uuidlib

import pymysql
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cyborg.accelerator.drivers import base  # noqa: E402
from cyborg.accelerator.drivers import fake  # noqa: E402
from cyborg.accelerator import discovery  # noqa: E402
from cyborg.agent import reporter  # noqa: E402
from cyborg.conductor import rpcapi  # noqa: E402
from cyborg import rpc  # noqa: E402

PY = sys.executable
PLACEMENT_HEADERS = {'X-Auth-Token': 'admin',
                     'OpenStack-API-Version': 'placement 1.18',
                     'Accept': 'application/json'}
CLK_TCK = os.sysconf('SC_CLK_TCK')


# The simulated hardware ----------------------------------------------------

class ScaleDriver(base.Driver):
    """Discovers ``devices`` fake FPGAs (the fake driver's shape) on a host.

    ``accelerators[k]`` is device k's accelerator count (and attach
    handles): change it to simulate a changed device.
    """

    driver_name = fake.DRIVER_NAME

    def __init__(self, hostname, devices, handles):
        super().__init__(types.SimpleNamespace(host=hostname))
        self.hostname = hostname
        self.accelerators = [handles] * devices

    def discover(self):
        host = re.sub(r'[^A-Za-z0-9_-]', '_', self.hostname)
        found = []
        for index, count in enumerate(self.accelerators):
            bus = '%02x' % (0x10 + index)
            handles = [discovery.AttachHandle(
                attach_type='TEST_PCI',
                info={'domain': '0000', 'bus': bus,
                      'device': '%02x' % (fn // 8),
                      'function': '%x' % (fn % 8)})
                for fn in range(1, count + 1)]
            found.append(discovery.Device(
                type='FPGA', vendor=fake.VENDOR, model=fake.MODEL,
                controlpath=discovery.ControlPath(
                    cpid_type='PCI',
                    info=discovery.pci_address_dict('0000:%s:00.0' % bus)),
                deployables=[discovery.Deployable(
                    name='%s_FakeDevice%d' % (host, index),
                    num_accelerators=count,
                    driver_name=fake.DRIVER_NAME,
                    resource_class='FPGA',
                    traits=['CUSTOM_FAKE_DEVICE'],
                    attach_handles=handles)],
                std_board_info=discovery.canonical_json(
                    {'product_id': fake.MODEL})))
        return found


def hostname_of(index):
    return 'scale-%05d' % index


def compute_rp_uuid(hostname):
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, hostname))


# Processes and their counters ----------------------------------------------

def cpu_seconds(pid):
    """User + system CPU seconds of a process (and its waited children)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
    except FileNotFoundError:
        return 0.0
    # Fields 14-17 (utime, stime, cutime, cstime), counted from 1; the
    # split above starts at field 3.
    return sum(int(f) for f in fields[11:15]) / CLK_TCK


def children_of(pid):
    found = []
    for path in glob.glob('/proc/[0-9]*/stat'):
        try:
            with open(path) as handle:
                fields = handle.read().rsplit(')', 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(path.split('/')[2]))
    return found


def pids_named(name):
    found = []
    for path in glob.glob('/proc/[0-9]*/comm'):
        try:
            with open(path) as handle:
                if handle.read().strip() == name:
                    found.append(int(path.split('/')[2]))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def read_counts(directory, prefix):
    total = collections.Counter()
    for path in glob.glob(os.path.join(directory, prefix + '-*.json')):
        with open(path) as handle:
            total.update(json.load(handle))
    return total


def settle_counts():
    # The counters are written every half second.
    time.sleep(1.2)


class Deployment:
    """Placement, the conductors, their databases; started and stopped."""

    def __init__(self, args, conductors):
        self.args = args
        self.state = os.path.join(args.state, 'conductors-%d' % conductors)
        self.counts_dir = os.path.join(self.state, 'counts')
        self.conductors = conductors
        self.placement_url = 'http://127.0.0.1:%d' % args.placement_port
        self.procs = []
        self.placement_proc = None
        self.conductor_procs = []
        self.http = requests.Session()
        self.http.headers.update(PLACEMENT_HEADERS)
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=64)
        self.http.mount('http://', adapter)

    def mysql(self, sql, database=None):
        conn = pymysql.connect(host='127.0.0.1', user='root',
                               database=database, autocommit=True)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            conn.close()

    def start(self):
        args = self.args
        shutil.rmtree(self.state, ignore_errors=True)
        os.makedirs(self.counts_dir)
        for db in (args.db_name, args.placement_db_name):
            self.mysql('DROP DATABASE IF EXISTS %s' % db)
            self.mysql('CREATE DATABASE %s CHARACTER SET utf8mb4' % db)
        env = dict(os.environ, SCALE_COUNTS_DIR=self.counts_dir,
                   SCALE_PLACEMENT_DB='mysql+pymysql://root@127.0.0.1/%s'
                                      % args.placement_db_name)
        subprocess.run([PY, os.path.join(ROOT, 'bench/scale_placement.py'),
                        'migrate'], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        log = open(os.path.join(self.state, 'placement.log'), 'w')
        self.placement_proc = subprocess.Popen(
            [PY, '-m', 'gunicorn', '-w', str(args.placement_workers),
             '--threads', str(args.placement_threads), '-k', 'gthread',
             '-b', '127.0.0.1:%d' % args.placement_port,
             '--log-level', 'warning', '--chdir',
             os.path.join(ROOT, 'bench'), 'scale_placement:application'],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(self.placement_proc)
        wait_until(lambda: self._placement_up(), 60, 'Placement to start')

        conf = os.path.join(self.state, 'cyborg.conf')
        with open(conf, 'w') as handle:
            handle.write(CONF_TEMPLATE % dict(
                transport_url=args.transport_url,
                db='mysql+pymysql://root@127.0.0.1/%s' % args.db_name,
                placement=self.placement_url))
        subprocess.run([os.path.join(ROOT, '.venv/bin/cyborg-dbsync'),
                        '--config-file', conf, 'upgrade'], check=True,
                       stdout=subprocess.DEVNULL)
        self._conductor_conf = conf

    def start_conductors(self):
        for index in range(self.conductors):
            log_file = os.path.join(self.state, 'conductor-%d.log' % index)
            conf = os.path.join(self.state, 'conductor-%d.conf' % index)
            with open(conf, 'w') as handle:
                handle.write('[DEFAULT]\nhost = scale-conductor-%d\n'
                             'log_file = %s\n' % (index, log_file))
            env = dict(os.environ, SCALE_COUNTS_DIR=self.counts_dir)
            if self.args.profile:
                env['SCALE_PROFILE'] = os.path.join(
                    self.state, 'conductor-%d.prof' % index)
            proc = subprocess.Popen(
                [PY, os.path.join(ROOT, 'bench/scale_conductor.py'),
                 '--config-file', self._conductor_conf,
                 '--config-file', conf],
                env=env, stdout=open(log_file + '.out', 'w'),
                stderr=subprocess.STDOUT)
            self.procs.append(proc)
            self.conductor_procs.append(proc)
        for index in range(self.conductors):
            log_file = os.path.join(self.state, 'conductor-%d.log' % index)
            wait_until(lambda path=log_file: _contains(
                path, 'cyborg-conductor serving'),
                       120, 'conductor %d to start' % index)

    def _placement_up(self):
        try:
            return self.http.get(self.placement_url + '/').ok
        except requests.ConnectionError:
            return False

    def create_compute_nodes(self, hostnames, threads=8):
        def create(hostname):
            resp = self.http.post(
                self.placement_url + '/resource_providers',
                json={'name': hostname, 'uuid': compute_rp_uuid(hostname)})
            if resp.status_code not in (200, 201):
                raise RuntimeError('creating %s: %s %s' % (
                    hostname, resp.status_code, resp.text[:200]))
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            list(pool.map(create, hostnames))

    def placement_counts(self):
        return read_counts(self.counts_dir, 'placement')

    def sql_counts(self):
        return read_counts(self.counts_dir, 'conductor')

    def cpu(self):
        placement = 0.0
        if self.placement_proc is not None:
            pids = [self.placement_proc.pid] + children_of(
                self.placement_proc.pid)
            placement = sum(cpu_seconds(pid) for pid in pids)
        times = os.times()
        return {'conductors': sum(cpu_seconds(p.pid)
                                  for p in self.conductor_procs),
                'placement': placement,
                'agents (this process)': times.user + times.system,
                # The whole server: other sessions' tests count too.
                'mariadb (shared)': sum(cpu_seconds(pid)
                                        for pid in pids_named('mariadbd'))}

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


CONF_TEMPLATE = """[DEFAULT]
transport_url = %(transport_url)s
auth_strategy = noauth
rpc_response_timeout = 900
[database]
connection = %(db)s
[placement]
auth_type = admin_token
endpoint = %(placement)s
token = admin
[conductor]
# No periodic reconcile during the run: it would read Placement on its
# own schedule, in the middle of the steady-state phase.
reconcile_interval = 0
"""


def _contains(path, text):
    try:
        with open(path) as handle:
            return text in handle.read()
    except FileNotFoundError:
        return False


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError('timed out waiting for %s' % what)
        time.sleep(0.2)


# The agents -----------------------------------------------------------------

class Agents:
    """N Reporters sharing one transport, run from a thread pool."""

    def __init__(self, args, hostnames):
        from oslo_config import cfg
        conf = cfg.ConfigOpts()
        conf([], project='cyborg-scale', default_config_files=[],
             default_config_dirs=[])
        self.transport = rpc.get_transport(conf, url=args.transport_url)
        self.api = rpcapi.ConductorAPI(self.transport, timeout=900)
        self.drivers = {}
        self.reporters = {}
        for hostname in hostnames:
            driver = ScaleDriver(hostname, args.devices, args.handles)
            self.drivers[hostname] = driver
            self.reporters[hostname] = reporter.Reporter(
                types.SimpleNamespace(host=hostname), [driver], self.api,
                hostname, compute_rp_uuid(hostname))
        self.threads = args.agent_threads

    def run_all(self):
        """Every agent's run once; {'full': n, 'heartbeat': n, ...}."""
        outcomes = collections.Counter()
        with concurrent.futures.ThreadPoolExecutor(self.threads) as pool:
            for outcome in pool.map(lambda r: r.run(),
                                    self.reporters.values()):
                outcomes[outcome] += 1
        return dict(outcomes)

    def close(self):
        self.transport.cleanup()


# Phases ---------------------------------------------------------------------

def diff(after, before):
    return {key: after[key] - before.get(key, 0) for key in sorted(after)
            if after[key] - before.get(key, 0)}


def cpu_diff(after, before):
    return {key: round(after[key] - before[key], 1) for key in after}


def verify_initial(deployment, args):
    """Providers carrying the full inventory and every trait we set."""
    resp = deployment.http.get(
        deployment.placement_url + '/resource_providers',
        params={'resources': 'FPGA:%d' % args.handles,
                'required': 'OWNER_CYBORG,CUSTOM_FAKE_DEVICE'})
    resp.raise_for_status()
    return len(resp.json()['resource_providers'])


def initial_sync(deployment, args, hostnames, emit):
    deployment.start()
    settle_counts()
    cpu0 = deployment.cpu()
    start = time.monotonic()
    deployment.create_compute_nodes(hostnames)
    nova_seconds = time.monotonic() - start
    # Placement's own cost of one provider creation, with nothing of ours
    # involved: a floor for the sync's calls.
    nova_cpu = deployment.cpu()['placement'] - cpu0['placement']
    deployment.start_conductors()
    agents = Agents(args, hostnames)
    settle_counts()
    calls0, sql0, cpu0 = (deployment.placement_counts(),
                          deployment.sql_counts(), deployment.cpu())
    start = time.monotonic()
    outcomes = agents.run_all()
    reported = time.monotonic() - start
    settle_counts()
    calls = diff(deployment.placement_counts(), calls0)
    sql = diff(deployment.sql_counts(), sql0)
    cpu = cpu_diff(deployment.cpu(), cpu0)
    complete = verify_initial(deployment, args)
    verified = time.monotonic() - start
    deployables = len(hostnames) * args.devices
    emit({'phase': 'initial-sync', 'conductors': deployment.conductors,
          'hosts': len(hostnames), 'devices_per_host': args.devices,
          'deployables': deployables, 'agent_runs': outcomes,
          'nova_compute_nodes_s': round(nova_seconds, 1),
          'placement_cpu_ms_per_compute_node_create': round(
              1000 * nova_cpu / len(hostnames), 2),
          'converged_s': round(reported, 1),
          'hosts_per_s': round(len(hostnames) / reported, 2),
          'placement_cpu_ms_per_call': round(
              1000 * cpu['placement'] / max(1, sum(calls.values())), 2),
          'verified_s': round(verified, 1),
          'providers_complete': complete,
          'placement_calls': sum(calls.values()),
          'placement_calls_per_deployable': round(
              sum(calls.values()) / deployables, 3),
          'placement_calls_by_route_per_host': {
              key: round(value / len(hostnames), 3)
              for key, value in calls.items()},
          'sql_statements_per_host': {
              key: round(value / len(hostnames), 2)
              for key, value in sql.items()},
          'cpu_s': cpu,
          'target_met': complete == deployables and sum(
              calls.values()) <= 2 * deployables + 4 * len(hostnames)})
    return agents


def steady_state(deployment, args, agents, emit):
    for round_number in range(1, args.rounds + 1):
        settle_counts()
        calls0, sql0, cpu0 = (deployment.placement_counts(),
                              deployment.sql_counts(), deployment.cpu())
        start = time.monotonic()
        outcomes = agents.run_all()
        seconds = time.monotonic() - start
        settle_counts()
        calls = diff(deployment.placement_counts(), calls0)
        sql = diff(deployment.sql_counts(), sql0)
        beats = outcomes.get('heartbeat', 0) or 1
        emit({'phase': 'steady-state', 'round': round_number,
              'conductors': deployment.conductors,
              'agent_runs': outcomes, 'seconds': round(seconds, 1),
              'heartbeats_per_s': round(beats / seconds, 1),
              'placement_calls': calls,
              'sql_statements_per_heartbeat': {
                  key: round(value / beats, 3) for key, value in sql.items()},
              'cpu_s': cpu_diff(deployment.cpu(), cpu0),
              # Statements on other tables are the conductors' own
              # periodic work (the Nova event outbox poll), not heartbeats.
              'target_met': not calls and {
                  key: value for key, value in sql.items()
                  if key.endswith(' agent_hosts')} == {
                  'UPDATE agent_hosts': beats}})
    plan = deployment.mysql(
        "EXPLAIN UPDATE agent_hosts SET last_seen_at = NOW() "
        "WHERE hostname = 'scale-00000' AND report_fingerprint = 'x'",
        database=args.db_name)
    emit({'phase': 'steady-state-plan',
          'heartbeat_update_explain': [list(map(str, row)) for row in plan]})


def one_device_change(deployment, args, agents, hostnames, emit):
    hostname = hostnames[len(hostnames) // 2]
    driver = agents.drivers[hostname]
    new_count = max(1, args.handles // 2)
    driver.accelerators[0] = new_count
    name = '%s_FakeDevice0' % hostname
    rp = str(uuidlib.uuid3(uuidlib.NAMESPACE_DNS, name))
    settle_counts()
    calls0, sql0, cpu0 = (deployment.placement_counts(),
                          deployment.sql_counts(), deployment.cpu())
    start = time.monotonic()
    outcome = agents.reporters[hostname].run()
    seconds = time.monotonic() - start
    settle_counts()
    calls = diff(deployment.placement_counts(), calls0)
    sql = diff(deployment.sql_counts(), sql0)
    resp = deployment.http.get(
        deployment.placement_url + '/resource_providers/%s/inventories' % rp)
    total = resp.json()['inventories']['FPGA']['total']
    emit({'phase': 'one-device-change', 'host': hostname,
          'agent_run': outcome, 'converged_s': round(seconds, 3),
          'placement_total_now': total, 'expected_total': new_count,
          'placement_calls': calls, 'sql_statements': sql,
          'cpu_s': cpu_diff(deployment.cpu(), cpu0),
          'target_met': total == new_count})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--devices', type=int, default=8)
    parser.add_argument('--handles', type=int, default=fake.NUM_ACCELERATORS,
                        help='accelerators (attach handles) per device')
    parser.add_argument('--conductors', default='1,2',
                        help='comma-separated conductor counts; the first '
                             'runs every phase, the others the initial '
                             'sync only')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--agent-threads', type=int, default=32)
    parser.add_argument('--placement-workers', type=int, default=2)
    parser.add_argument('--placement-threads', type=int, default=8)
    parser.add_argument('--placement-port', type=int, default=18779)
    parser.add_argument('--state', default='/tmp/cyborg-scale')
    parser.add_argument('--db-name', default='cyborg_scale')
    parser.add_argument('--placement-db-name', default='placement_scale')
    parser.add_argument('--transport-url',
                        default='rabbit://guest:guest@127.0.0.1:5672/'
                                'cyborg_scale')
    parser.add_argument('--profile', action='store_true',
                        help='run the conductors under cProfile '
                             '($STATE/conductors-N/conductor-I.prof)')
    args = parser.parse_args(argv)
    # oslo.messaging warns about one reply queue per calling thread.
    logging.basicConfig(level=logging.ERROR)
    os.makedirs(args.state, exist_ok=True)
    results = open(os.path.join(args.state, 'results.jsonl'), 'a')

    def emit(record):
        line = json.dumps(record, sort_keys=True)
        print(line, flush=True)
        results.write(line + '\n')
        results.flush()

    hostnames = [hostname_of(i) for i in range(args.hosts)]
    counts = [int(c) for c in args.conductors.split(',')]
    for position, conductors in enumerate(counts):
        deployment = Deployment(args, conductors)
        agents = None
        try:
            agents = initial_sync(deployment, args, hostnames, emit)
            if position == 0:
                steady_state(deployment, args, agents, emit)
                one_device_change(deployment, args, agents, hostnames, emit)
        finally:
            if agents is not None:
                agents.close()
            deployment.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
