"""Copy an upstream OpenStack Cyborg 17.0.0 database into ours.

``cyborg-dbsync import-upstream --from URL`` (``cyborg/cmd/dbsync.py``) runs
it in three steps:

1. :func:`read_upstream` reads every row we copy from the upstream database,
   in one read transaction, after checking that it is at upstream's
   17.0.0 schema head (anything else is refused: upgrade it with
   upstream's own ``cyborg-dbsync upgrade`` first);
2. the caller may look up each host's compute node provider in Placement
   (a read, before our transaction), so that the reconciler can adopt the
   host's providers at once;
3. :func:`import_upstream` maps the rows to ours (the rules below) and
   ``cyborg/db/upstream_rows.py`` writes them in ONE transaction on our
   side, through each table's owner module.

Identity: every copied row keeps its upstream primary key and uuid, so the
integers the API shows (``deployables.device_id``,
``attributes.deployable_id``) and every foreign key stay what they were. A
row whose id and uuid are both already here is skipped, which is what makes
a second run change nothing and a later run copy only the new rows. A row
whose id or uuid (or profile/deployable name) is held here by something
else is refused, with nothing written: import into an empty database, or
one that only earlier imports have written.

What upstream keeps differently (see doc/source/admin/upgrade-from-upstream.rst):

* a deployable's ``rc`` and ``trait*`` attribute rows become our
  ``resource_class`` column and ``deployable_traits`` rows (the attribute
  rows are copied too: the API shows them);
* an attach handle is in use exactly when an imported ARQ holds it (a
  handle upstream left marked in use with no ARQ is imported free; one two
  ARQs hold, from upstream's non-atomic claim, stays with the older ARQ and
  the newer one, if Bound, is imported as BindFailed saying why);
* an ARQ left in ``BindStarted`` (its conductor died) is imported as it
  is, its bind restarted at the import time: our recovery finishes or fails
  it within ``[DEFAULT] bind_timeout`` and tells Nova;
* ``instance_claims`` gets one row per instance that has ARQs, and
  ``agent_hosts`` one row per host whose compute node provider was found;
* device types upstream's schema allows but no 17.0.0 driver reports are
  mapped (NVME to SSD, MDEV to GPU); ``devices.device_state`` (new in 17.0.0,
  derived from attach handles) and the quota tables are not copied.
"""

import collections
import dataclasses
import json

from oslo_utils import timeutils
import sqlalchemy as sa

from cyborg.conductor import placement_sync
from cyborg.db import attributes as attribute_keys
from cyborg.db import upstream_rows
from cyborg import exception

# The alembic head of the openstack-cyborg 17.0.0 release (its migration
# b47c8f2d1e3a "add device_state" comes after 6c77bd6afea5 "add device
# status", the head of the releases before it).
UPSTREAM_HEAD = 'b47c8f2d1e3a'
UPSTREAM_RELEASE = '17.0.0'

# Upstream's tables and the columns we read from each, in foreign-key order.
UPSTREAM_COLUMNS = collections.OrderedDict([
    ('devices', ('id', 'uuid', 'type', 'vendor', 'model', 'std_board_info',
                 'vendor_board_info', 'hostname', 'status', 'created_at',
                 'updated_at')),
    ('controlpath_ids', ('id', 'uuid', 'device_id', 'cpid_type',
                         'cpid_info', 'created_at', 'updated_at')),
    ('device_profiles', ('id', 'uuid', 'name', 'profile_json', 'description',
                         'created_at', 'updated_at')),
    ('deployables', ('id', 'uuid', 'parent_id', 'root_id', 'name',
                     'num_accelerators', 'device_id', 'rp_uuid',
                     'driver_name', 'bitstream_id', 'created_at',
                     'updated_at')),
    ('attributes', ('id', 'uuid', 'deployable_id', 'key', 'value',
                    'created_at', 'updated_at')),
    ('attach_handles', ('id', 'uuid', 'deployable_id', 'cpid_id', 'in_use',
                        'attach_type', 'attach_info', 'created_at',
                        'updated_at')),
    ('extended_accelerator_requests', (
        'id', 'uuid', 'project_id', 'state', 'substate', 'device_profile_id',
        'device_profile_group_id', 'hostname', 'device_rp_uuid',
        'instance_uuid', 'attach_handle_id', 'deployable_id', 'created_at',
        'updated_at')),
])

# Device types of upstream's schema that we have no type for; no 17.0.0
# driver reports them, so only hand-made rows carry them.
DEVICE_TYPE_MAP = {'NVME': 'SSD', 'MDEV': 'GPU'}

ImportRefused = exception.ImportRefused


@dataclasses.dataclass
class UpstreamData:
    """The rows read from upstream: table name -> list of dicts, by id."""

    tables: dict

    @property
    def hostnames(self):
        return sorted({d['hostname'] for d in self.tables['devices']})


@dataclasses.dataclass
class ImportSummary:
    """What a run did: per table (inserted, already present), and notes."""

    counts: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)

    @property
    def inserted(self):
        return sum(inserted for inserted, _present in self.counts.values())

    def lines(self):
        """The report cyborg-dbsync prints, one line per table and note."""
        out = ['%-30s %6d copied, %6d already here' % (table, *counts)
               for table, counts in self.counts.items()]
        out.extend('note: %s' % note for note in self.notes)
        return out


# Reading upstream -----------------------------------------------------------

def read_upstream(url):
    """Read the upstream database at ``url``; UpstreamData or ImportRefused.

    One read transaction, so the rows are one consistent snapshot on
    engines that give one (InnoDB's REPEATABLE READ, PostgreSQL).
    """
    try:
        source = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ImportRefused(reason='cannot use upstream database URL: %s'
                                   % exc)
    try:
        with source.connect() as conn, conn.begin():
            _check_upstream_head(conn)
            return UpstreamData(tables={
                name: _read_table(conn, name, columns)
                for name, columns in UPSTREAM_COLUMNS.items()})
    except sa.exc.SQLAlchemyError as exc:
        raise ImportRefused(reason='cannot read the upstream database: %s'
                                   % _first_line(exc))
    finally:
        source.dispose()


def _check_upstream_head(conn):
    if not sa.inspect(conn).has_table('alembic_version'):
        raise ImportRefused(
            reason='the upstream database has no alembic_version table; it '
                   'is not a Cyborg database at schema revision %s (%s)'
                   % (UPSTREAM_HEAD, UPSTREAM_RELEASE))
    versions = [row[0] for row in conn.execute(
        sa.text('SELECT version_num FROM alembic_version'))]
    if versions != [UPSTREAM_HEAD]:
        raise ImportRefused(
            reason='the upstream database is at schema revision %s, not at '
                   'openstack-cyborg %s\'s head %s; run that release\'s '
                   '"cyborg-dbsync upgrade" on it first'
                   % (', '.join(versions) or 'none', UPSTREAM_RELEASE,
                      UPSTREAM_HEAD))


def _read_table(conn, name, columns):
    table = sa.Table(name, sa.MetaData(), autoload_with=conn)
    query = sa.select(*[table.c[c] for c in columns]).order_by(table.c.id)
    return [dict(row._mapping) for row in conn.execute(query)]


def _first_line(exc):
    text = str(getattr(exc, 'orig', None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# Mapping upstream rows to ours ----------------------------------------------

@dataclasses.dataclass
class _Mapped:
    """Our rows, table -> list of dicts (ids kept), plus derived data."""

    tables: collections.OrderedDict
    # deployable id -> sorted traits from its trait* attributes.
    traits: dict
    notes: list


def map_upstream(upstream, now):
    """Our rows for upstream's, with the mappings the module doc lists.

    Pure: the same input gives the same rows, so a second run compares
    equal to what the first one wrote.
    """
    up = upstream.tables
    notes = []
    tables = collections.OrderedDict()

    devices = []
    for row in up['devices']:
        row = dict(row)
        if row['type'] in DEVICE_TYPE_MAP:
            notes.append('device %s has upstream type %s, imported as %s'
                         % (row['uuid'], row['type'],
                            DEVICE_TYPE_MAP[row['type']]))
            row['type'] = DEVICE_TYPE_MAP[row['type']]
        devices.append(row)
    tables['devices'] = devices
    tables['controlpath_ids'] = [dict(r) for r in up['controlpath_ids']]
    tables['device_profiles'] = [_map_profile(r) for r in up['device_profiles']]

    attributes, traits, resource_classes = _map_attributes(
        up['attributes'], notes)
    tables['deployables'] = _parents_first([
        _map_deployable(r, resource_classes.get(r['id']), notes)
        for r in up['deployables']])
    tables['attributes'] = attributes

    arqs, held = _map_arqs(up['extended_accelerator_requests'],
                           {h['id']: h['uuid'] for h in up['attach_handles']},
                           now, notes)
    handles, freed = [], 0
    for row in up['attach_handles']:
        row = dict(row)
        in_use = row['id'] in held
        freed += bool(row['in_use']) and not in_use
        row['in_use'] = in_use
        handles.append(row)
    if freed:
        notes.append('%d attach handle(s) upstream marked in use with no ARQ '
                     'holding them were imported free' % freed)
    tables['attach_handles'] = handles
    tables['extended_accelerator_requests'] = arqs
    no_project = sum(1 for a in arqs if a['project_id'] is None)
    if no_project:
        notes.append('%d ARQ(s) have no project_id (only admins see them); '
                     'upstream\'s "cyborg-dbsync online_data_migrations" '
                     'fills them in from Nova before an import' % no_project)
    return _Mapped(tables=tables, traits=traits, notes=notes)


def _map_profile(row):
    row = dict(row)
    try:
        groups = json.loads(row['profile_json'])['groups']
        valid = isinstance(groups, list) and all(
            isinstance(g, dict) and all(isinstance(k, str) and
                                        isinstance(v, str)
                                        for k, v in g.items())
            for g in groups)
    except (ValueError, TypeError, KeyError):
        valid = False
    if not valid:
        raise ImportRefused(
            reason='device profile %s (%s) has no list of string groups in '
                   'its profile_json' % (row['name'], row['uuid']))
    row['profile_json'] = json.dumps({'groups': groups})
    return row


def _map_attributes(rows, notes):
    """(attribute rows, {dep id: traits}, {dep id: rc}); duplicates dropped."""
    kept, seen, dropped = [], set(), 0
    traits = collections.defaultdict(set)
    resource_classes = {}
    for row in rows:
        # Upstream has no unique (deployable_id, key); ours has, and on
        # MariaDB it compares keys case-blind.
        ident = (row['deployable_id'], row['key'].lower())
        if ident in seen:
            dropped += 1
            continue
        seen.add(ident)
        if len(row['key']) > 255:
            raise ImportRefused(reason='attribute %s has a key longer than '
                                       '255 characters' % row['uuid'])
        kept.append(dict(row))
        if row['key'] == attribute_keys.RC_KEY:
            resource_classes[row['deployable_id']] = row['value']
        elif row['key'].startswith(attribute_keys.TRAIT_KEY_PREFIX):
            traits[row['deployable_id']].add(row['value'])
    if dropped:
        notes.append('%d attribute row(s) repeating a key of their '
                     'deployable were not imported (the first one is)'
                     % dropped)
    return kept, {d: sorted(t) for d, t in traits.items()}, resource_classes


def _map_deployable(row, resource_class, notes):
    row = dict(row, resource_class=resource_class)
    if not row['rp_uuid'] and resource_class:
        # Upstream failed to create its provider; ours will, under this
        # uuid (Placement's provider is named after the deployable).
        row['rp_uuid'] = placement_sync.provider_uuid(row['name'])
        notes.append('deployable %s had no provider uuid; given %s'
                     % (row['name'], row['rp_uuid']))
    return row


def _parents_first(rows):
    """Deployables ordered so a parent or root comes before its children
    (one INSERT holds them all; each row's foreign keys must be there)."""
    by_id = {row['id']: row for row in rows}

    def depth(row, seen=()):
        parents = [p for p in (row['parent_id'], row['root_id'])
                   if p in by_id and p not in seen and p != row['id']]
        return max((1 + depth(by_id[p], seen + (row['id'],))
                    for p in parents), default=0)
    return sorted(rows, key=lambda row: (depth(row), row['id']))


def _map_arqs(rows, handle_uuids, now, notes):
    """(our ARQ rows, ids of the handles they hold)."""
    arqs, holder = [], {}
    for row in rows:
        row = dict(row)
        # Bind bookkeeping upstream does not have: a bind has happened
        # once unless the ARQ is still Initial.
        row['bind_seq'] = 0 if row['state'] == 'Initial' else 1
        row['bind_started_at'] = None
        row['bind_error'] = None
        handle = row['attach_handle_id']
        if handle is not None and handle in holder:
            # Upstream's claim is not atomic: two ARQs got one handle. The
            # older keeps it; the newer cannot be Bound without it.
            reason = ('imported from upstream Cyborg: attach handle %s was '
                      'also held by ARQ %s' % (handle_uuids[handle],
                                               holder[handle]))
            notes.append('ARQ %s: %s' % (row['uuid'], reason))
            row['attach_handle_id'] = None
            if row['state'] == 'Bound':
                row['state'] = 'BindFailed'
                row['bind_error'] = reason
        elif handle is not None:
            holder[handle] = row['uuid']
        if row['state'] == 'BindStarted':
            # No conductor works on it: recovery takes it up after a lease
            # period and finishes or fails it within bind_timeout of now.
            row['bind_started_at'] = now
        arqs.append(row)
    return arqs, set(holder)


# Writing ours ---------------------------------------------------------------

def import_upstream(context, upstream, compute_nodes=None, now=None):
    """Write upstream's rows into ours, in one transaction.

    ``compute_nodes`` maps a hostname to its compute node provider uuid
    (from Placement); such a host gets an ``agent_hosts`` row if it has
    none. Returns an ImportSummary; raises ImportRefused with nothing
    written.
    """
    now = now or timeutils.utcnow()
    mapped = map_upstream(upstream, now)
    # "Differs" is about what upstream holds, not our bookkeeping (a
    # restarted bind's start time) nor in_use (it follows the ARQs).
    compared = {name: [c for c in columns if c != 'in_use']
                for name, columns in UPSTREAM_COLUMNS.items()}
    counts, changed = upstream_rows.write(
        context, mapped.tables, mapped.traits,
        {host: compute_nodes[host] for host in upstream.hostnames
         if (compute_nodes or {}).get(host)}, now, compared)
    summary = ImportSummary(counts=counts, notes=list(mapped.notes))
    for name, count in changed.items():
        summary.notes.append(
            '%d %s row(s) imported before differ from upstream\'s now '
            '(changed on either side since); they were left as they are '
            'here' % (count, name))
    return summary


# Where the upstream providers' parents are ----------------------------------

def find_compute_nodes(client, hostnames):
    """{hostname: compute node provider uuid} for the hosts Placement knows.

    Upstream names a host's compute node provider after the host, as we do.
    PlacementUnavailable (and other client errors) propagate.
    """
    found = {}
    for hostname in hostnames:
        provider = client.find_provider_by_name(hostname)
        if provider is not None:
            found[hostname] = provider['uuid']
    return found
