"""Moving off upstream Cyborg: import its 17.0.0 database, adopt Placement.

The upstream database is real: the ``openstack-cyborg`` 17.0.0 package,
installed in a venv of its own, creates it with its own ``cyborg-dbsync``
on MariaDB and fills it through its own conductor and API code, which also
create the Placement providers in the test's real Placement, the upstream
way (``upstream_side.py``). Then our ``cyborg-dbsync import-upstream``
copies it, our reconciler adopts the providers, and our API must answer
what upstream's API answers for the same objects.

The tests share one upstream deployment (building it costs seconds) and run
on one worker, in file order; the last one adds rows upstream, which the
others' comparisons, made against upstream's own answers, tolerate.
"""

import datetime
import json
import subprocess
import sys

from oslo_utils import timeutils
import pytest
import sqlalchemy as sa
import webob

from cyborg.api import app as api_app
from cyborg.clients import placement as placement_client
from cyborg.conductor import placement_sync
from cyborg.conductor import service as conductor_service
from cyborg import context as cyborg_context
from cyborg.db import device_profiles as profile_db
from cyborg.db import migration
from cyborg.db import models
from cyborg.tests.fixtures import binding as binding_fixtures
from cyborg.tests.fixtures import config as config_fixture
from cyborg.tests.fixtures import database as db_fixture
from cyborg.tests.fixtures import placement as placement_fixture
from cyborg.tests.fixtures import upstream_cyborg
from cyborg import upstream_import

pytestmark = pytest.mark.xdist_group('upstream_import')

bind_conf = binding_fixtures.bind_conf
stub_nova = binding_fixtures.stub_nova
stub_glance = binding_fixtures.stub_glance
transport = binding_fixtures.transport

# The identity our API and upstream's are asked with: an admin.
HEADERS = {'X-Roles': 'admin,member,reader', 'X-Service-Roles': 'service',
           'X-Project-Id': 'a0000000000000000000000000000000',
           'X-User-Id': 'user', 'OpenStack-API-Version': 'accelerator 2.3'}


@pytest.fixture(scope='module')
def upstream(tmp_path_factory, placement_service):
    """An upstream deployment: its DB, its compute node and providers."""
    workdir = tmp_path_factory.mktemp('upstream')
    conf = config_fixture.make_conf(workdir)
    placement_client.configure_noauth(conf, placement_service.endpoint)
    client = placement_fixture.make_client(conf)
    hostname = upstream_cyborg.unique_hostname()
    cn_uuid, _name = placement_fixture.create_compute_node(client, hostname)
    with upstream_cyborg.upstream_database(
            workdir, placement_service.endpoint, hostname) as deployment:
        deployment.compute_rp_uuid = cn_uuid
        deployment.populate(phase=1)
        yield deployment


@pytest.fixture
def ours(tmp_path):
    """Our database (SQLite file) at head, used by @reader/@writer here."""
    with db_fixture.schema_database('sqlite', tmp_path,
                                    use_migrations=True) as engine:
        yield engine


def _dbsync(tmp_path, our_url, *args, placement_endpoint=None):
    conf_file = tmp_path / 'import.conf'
    text = '[DEFAULT]\nstate_path = %s\n[database]\nconnection = %s\n' % (
        tmp_path, our_url)
    if placement_endpoint:
        text += ('[placement]\nauth_type = admin_token\nendpoint = %s\n'
                 'token = admin\n' % placement_endpoint)
    conf_file.write_text(text)
    return subprocess.run(
        [sys.executable, '-m', 'cyborg.cmd.dbsync', '--config-file',
         str(conf_file), *args], capture_output=True, text=True, timeout=120)


def _one_line_error(result):
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert 'Traceback' not in result.stderr
    lines = [line for line in result.stderr.splitlines()
             if 'error:' in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _rows(engine):
    """Every row of every table of ours, comparable across runs."""
    with engine.connect() as conn:
        return {table.name: sorted(
            (tuple(sorted((k, str(v)) for k, v in row._mapping.items()))
             for row in conn.execute(sa.select(table))))
            for table in models.BASE.metadata.sorted_tables}


def _import(upstream_deployment, compute_nodes=None, now=None):
    data = upstream_import.read_upstream(upstream_deployment.url)
    return upstream_import.import_upstream(cyborg_context.get_admin_context(),
                                       data, compute_nodes, now=now)


def test_import_then_reconcile_adopts_upstream_providers(
        upstream, ours, tmp_path, placement_conf, admin_context):
    # Upstream created one provider per deployable under the compute node.
    client = placement_fixture.make_client(placement_conf)
    before = placement_fixture.read_provider_tree(client,
                                                  upstream.compute_rp_uuid)
    fake = '%s_FakeDevice' % upstream.hostname
    gpu = '%s_0000:3b:00.0' % upstream.hostname
    assert set(before) == {fake, gpu}

    result = _dbsync(tmp_path, str(ours.url), 'import-upstream', '--from',
                     upstream.url,
                     placement_endpoint=placement_conf.placement.endpoint)
    assert result.returncode == 0, result.stderr
    assert 'Imported' in result.stdout

    with ours.connect() as conn:
        host = conn.execute(sa.select(models.AgentHost)).one()
        deps = {r.name: r for r in conn.execute(sa.select(models.Deployable))}
        traits = conn.execute(sa.select(models.DeployableTrait.trait)
                              .order_by(models.DeployableTrait.trait)
                              ).scalars().all()
    # The host's compute node was found in Placement, so the reconciler
    # can adopt its providers before any agent of ours reports.
    assert (host.hostname, host.compute_rp_uuid) == (
        upstream.hostname, upstream.compute_rp_uuid)
    assert {n: (d.resource_class, d.rp_uuid) for n, d in deps.items()} == {
        n: (rc, before[n]['uuid'])
        for n, rc in ((fake, 'FPGA'), (gpu, 'PGPU'))}
    assert traits == ['CUSTOM_FAKE_DEVICE', 'CUSTOM_NVIDIA_1EB8',
                      'OWNER_CYBORG']

    sync = placement_sync.PlacementSync(placement_conf, client)
    outcome = sync.reconcile(admin_context)[upstream.hostname]
    assert sorted(outcome.written) == sorted([fake, gpu])
    assert not (outcome.failed or outcome.refused or outcome.deleted)

    after = placement_fixture.read_provider_tree(client,
                                                 upstream.compute_rp_uuid)
    # The same providers (no duplicates, same uuids), now as we want them:
    # OWNER_CYBORG on both, the GPU in maintenance reserved, and the
    # max_unit upstream's disable left at 2**31-1 put back.
    assert {n: p['uuid'] for n, p in after.items()} == {
        n: p['uuid'] for n, p in before.items()}
    assert after[fake]['inventories'] == placement_fixture.expected_inventory(
        'FPGA', 16)
    assert after[fake]['traits'] == ['CUSTOM_FAKE_DEVICE', 'OWNER_CYBORG']
    assert after[gpu]['inventories'] == placement_fixture.expected_inventory(
        'PGPU', 1, reserved=1)
    assert after[gpu]['traits'] == ['CUSTOM_NVIDIA_1EB8', 'OWNER_CYBORG']

    # Our DB owns them now: digests recorded, so the next sync of the host
    # costs no Placement write, and a second reconcile changes nothing.
    counting, http = placement_fixture.counting_client(placement_conf)
    owned = placement_sync.PlacementSync(placement_conf, counting)
    assert sorted(owned.sync_host(admin_context,
                                  upstream.hostname).unchanged) == sorted(
        [fake, gpu])
    assert http.writes == []
    again = owned.reconcile(admin_context)[upstream.hostname]
    assert sorted(again.unchanged) == sorted([fake, gpu])
    # (A reconcile re-asserts that the traits exist, PUT /traits/X; it
    # writes nothing to a provider.)
    assert [w for w in http.writes if 'resource_providers' in w[1]] == []


def _ours(app, path):
    req = webob.Request.blank(path, headers=dict(HEADERS))
    resp = req.get_response(app)
    body = json.loads(resp.body) if resp.body else None
    return {'status': resp.status_int, 'body': body}


def _comparable(answer):
    """An answer without what may differ: links (host names), list order,
    and the order of a deployable's attributes_list (ours puts rc and
    trait<N> first, upstream shows row order)."""
    def clean(obj):
        if isinstance(obj, dict):
            obj = {k: clean(v) for k, v in obj.items() if k != 'links'}
            if 'attributes_list' in obj:
                obj['attributes_list'] = sorted(
                    json.dumps(item, sort_keys=True)
                    for item in json.loads(obj['attributes_list']))
            return obj
        if isinstance(obj, list):
            return sorted((clean(v) for v in obj),
                          key=lambda v: json.dumps(v, sort_keys=True))
        return obj
    if answer['status'] >= 400:
        # Error texts are ours to word; the status must agree.
        return {'status': answer['status']}
    return {'status': answer['status'], 'body': clean(answer['body'])}


def _paths(upstream):
    data = upstream_import.read_upstream(upstream.url).tables
    paths = ['/v2/device_profiles', '/v2/device_profiles?name=fake-dp',
             '/v2/accelerator_requests', '/v2/devices', '/v2/deployables',
             '/v2/attributes']
    paths += ['/v2/device_profiles/%s' % p['uuid']
              for p in data['device_profiles']]
    paths += ['/v2/accelerator_requests/%s' % a['uuid']
              for a in data['extended_accelerator_requests']]
    for instance in upstream.made['instances'].values():
        paths.append('/v2/accelerator_requests?instance=%s' % instance)
        paths.append('/v2/accelerator_requests?instance=%s'
                     '&bind_state=resolved' % instance)
    paths += ['/v2/devices/%s' % d['uuid'] for d in data['devices']]
    paths += ['/v2/deployables/%s' % d['uuid'] for d in data['deployables']]
    return paths


def test_our_api_answers_what_upstream_answered(upstream, ours, conf,
                                                transport):
    _import(upstream)
    app = api_app.build_app(conf, transport)
    paths = _paths(upstream)
    theirs = upstream.answers(paths)

    for path in paths:
        assert _comparable(_ours(app, path)) == _comparable(theirs[path]), path
    # What Nova reads after its bind event: the bound ARQs, resolved, with
    # the attach handle upstream gave them.
    bound = theirs['/v2/accelerator_requests?instance=%s&bind_state=resolved'
                   % upstream.made['instances']['bound_gpu']]['body']['arqs']
    assert [(a['state'], a['attach_handle_type'],
             sorted(a['attach_handle_info'])) for a in bound] == [
        ('Bound', 'PCI', ['bus', 'device', 'domain', 'function'])]
    # A bind upstream left in BindStarted is unresolved on both: 423.
    assert theirs['/v2/accelerator_requests?instance=%s&bind_state=resolved'
                  % upstream.made['instances']['bind_started']][
        'status'] == 423


def test_binds_upstream_left_started_are_finished_by_recovery(
        upstream, ours, bind_conf, transport, stub_nova, admin_context):
    # Recovery leaves a bind alone for a lease period after its start,
    # which the import sets to the import time: import "a while ago".
    _import(upstream, now=timeutils.utcnow() - datetime.timedelta(
        seconds=bind_conf.bind_lease_seconds + 1))
    started = upstream.made['arqs']['bind_started']
    instance = upstream.made['instances']['bind_started']
    # The conductor's own recovery worker, as its service builds it.
    worker = conductor_service.Conductor(bind_conf, transport, None).recovery
    try:
        outcome = worker.run_once(admin_context)
    finally:
        worker.binder.close()

    assert outcome['binds'] == {uuid: 'Bound' for uuid in started}
    with ours.connect() as conn:
        arqs = conn.execute(sa.select(models.ExtendedAcceleratorRequest).where(
            models.ExtendedAcceleratorRequest.uuid.in_(started))).all()
        handles = conn.execute(sa.select(models.AttachHandle).where(
            models.AttachHandle.id.in_([a.attach_handle_id for a in arqs]))
        ).all()
    assert {a.state for a in arqs} == {'Bound'}
    # Two more handles of the fake deployable, distinct and in use.
    assert len(handles) == 2 and all(h.in_use for h in handles)
    # Nova, which upstream never told, now hears of both ARQs.
    assert {tag: [e['status'] for e in events] for tag, events in
            stub_nova.events_by_tag().items()} == {
        uuid: ['completed'] for uuid in started}
    assert {e['server_uuid'] for e in stub_nova.events()} == {instance}


def test_refuses_databases_not_at_their_heads(upstream, tmp_path,
                                              placement_service):
    # Ours without the schema: refused before anything is read or written.
    empty_url = 'sqlite:///%s' % (tmp_path / 'empty.sqlite')
    line = _one_line_error(_dbsync(tmp_path, empty_url, 'import-upstream',
                                   '--from', upstream.url))
    assert 'not at head' in line and 'cyborg-dbsync upgrade' in line
    engine = sa.create_engine(empty_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()

    # An upstream database of the release before 17.0.0 (its head was
    # 6c77bd6afea5): refused, our database left empty.
    ours_url = 'sqlite:///%s' % (tmp_path / 'ours.sqlite')
    engine = sa.create_engine(ours_url)
    try:
        migration.upgrade('head', engine=engine)
        with upstream_cyborg.upstream_database(
                tmp_path, placement_service.endpoint, 'old-upstream',
                revision='6c77bd6afea5') as old:
            line = _one_line_error(_dbsync(tmp_path, ours_url,
                                           'import-upstream', '--from',
                                           old.url, '--no-placement'))
        assert '6c77bd6afea5' in line and upstream_import.UPSTREAM_HEAD in line
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(
                models.Device.__table__)).scalar() == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize('database_type', db_fixture.BACKENDS)
def test_import_into_each_backend(upstream, database_type, tmp_path,
                                  admin_context):
    with db_fixture.schema_database(database_type, tmp_path) as engine:
        first = _import(upstream)
        assert first.inserted > 0
        assert all(present == 0 for _new, present in first.counts.values())
        # Ids are kept; new rows of ours must still get fresh ones
        # (PostgreSQL's sequences are moved past the imported ids).
        created = profile_db.create_device_profile(
            admin_context, 'made-after-import', [{'resources:FPGA': '1'}])
        with engine.connect() as conn:
            ids = conn.execute(sa.select(models.DeviceProfile.id)).scalars()
            assert created['id'] == max(ids)
        assert _import(upstream).inserted == 0


def test_second_run_changes_nothing_later_runs_copy_only_new_rows(
        upstream, ours, conf, transport):
    first = _import(upstream)
    snapshot = _rows(ours)
    second = _import(upstream)
    assert second.inserted == 0
    assert _rows(ours) == snapshot

    # Upstream goes on: a new profile and an instance bound through it.
    made = upstream.populate(phase=2)
    third = _import(upstream)
    assert {t: n for t, (n, _present) in third.counts.items() if n} == {
        'device_profiles': 1, 'extended_accelerator_requests': 1,
        'instance_claims': 1}
    now = _rows(ours)
    for table, rows in snapshot.items():
        if table != 'attach_handles':
            assert set(rows) <= set(now[table]), table
    assert third.counts['extended_accelerator_requests'][1] == (
        first.counts['extended_accelerator_requests'][0])
    # The handle upstream claimed for the new ARQ (imported free before)
    # is in use here now, held by that ARQ alone.
    [arq] = made['arqs']['late_bound']
    arq_t, handle_t = (models.ExtendedAcceleratorRequest.__table__,
                       models.AttachHandle.__table__)
    with ours.connect() as conn:
        held = conn.execute(sa.select(handle_t.c.in_use).select_from(
            arq_t.join(handle_t, handle_t.c.id == arq_t.c.attach_handle_id))
            .where(arq_t.c.uuid == arq)).scalar_one()
    assert held is True

    # The new rows are served as upstream serves them.
    app = api_app.build_app(conf, transport)
    paths = ['/v2/accelerator_requests/%s' % arq,
             '/v2/device_profiles/%s' % made['profiles']['late-dp']['uuid'],
             '/v2/accelerator_requests?instance=%s&bind_state=resolved'
             % made['instances']['late_bound']]
    theirs = upstream.answers(paths)
    for path in paths:
        assert _comparable(_ours(app, path)) == _comparable(theirs[path]), path
