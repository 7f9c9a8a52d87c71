"""SQLAlchemy models: the schema of cyborg's database.

The alembic migrations under ``migrations/`` must produce exactly this schema;
a test compares the two on SQLite, MariaDB and PostgreSQL.

Where upstream Cyborg's schema lets bad data in, ours refuses it at the
database level: deployable names are unique (they name Placement providers),
an attribute key appears once per deployable, an attach handle is held by at
most one ARQ (unique ``attach_handle_id``), and resource class and traits are
columns and rows of their own rather than magic attribute keys.
"""

from oslo_db.sqlalchemy import models
import sqlalchemy as sa
from sqlalchemy import orm

# Values of the enum columns. They are part of the schema: a new value needs
# a migration.
# PCI: a device the generic PCI driver offers whose class names none of
# the other kinds.
DEVICE_TYPES = ('GPU', 'FPGA', 'AICHIP', 'QAT', 'NIC', 'SSD', 'PCI')
DEVICE_STATUSES = ('enabled', 'maintaining')
# discovery.HEALTH_STATES, as the schema spells them.
DEVICE_HEALTH_STATES = ('healthy', 'degraded', 'failed')
CPID_TYPES = ('PCI',)
ATTACH_TYPES = ('PCI', 'MDEV', 'TEST_PCI')
ARQ_STATES = ('Initial', 'BindStarted', 'Bound', 'Unbound', 'BindFailed',
              'UnbindFailed', 'Deleting')
ARQ_SUBSTATES = ('Initial',)
DEVICE_CONTEXT_STATES = ('Unbound', 'Bound', 'Released')
# An attach handle out of service after a release (NULL: in service).
SCRUB_STATES = ('scrubbing', 'scrub_failed')
# What became of a release's scrub: pending (running or to be run),
# scrubbed, failed, skipped (applied but not run: an agent too old for
# it), not_required (no scrub applies to the handle's device).
SCRUB_OUTCOMES = ('pending', 'scrubbed', 'failed', 'skipped',
                  'not_required')
NOVA_EVENT_STATUSES = ('completed', 'failed')


class CyborgBase(models.TimestampMixin, models.ModelBase):
    """Base of every table: created_at/updated_at, InnoDB and utf8 on MySQL."""

    def to_dict(self):
        return {c.name: getattr(self, c.name) for c in self.__table__.columns}


BASE = orm.declarative_base(cls=CyborgBase)

_MYSQL_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def _enum(values, name):
    # Named, so PostgreSQL creates (and migrations can drop) the type by a
    # stable name; no CHECK constraint, matching what migrations create.
    return sa.Enum(*values, name=name, create_constraint=False)


class Device(BASE):
    """A physical accelerator card found on one host."""

    __tablename__ = 'devices'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_devices0uuid'),
        sa.Index('devices_hostname_idx', 'hostname'),
        sa.Index('devices_type_idx', 'type'),
        sa.Index('devices_vendor_idx', 'vendor'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    type = sa.Column(_enum(DEVICE_TYPES, 'device_type'), nullable=False)
    vendor = sa.Column(sa.String(255), nullable=False)
    model = sa.Column(sa.String(255), nullable=False)
    std_board_info = sa.Column(sa.Text, nullable=True)
    vendor_board_info = sa.Column(sa.Text, nullable=True)
    hostname = sa.Column(sa.String(255), nullable=False)
    status = sa.Column(_enum(DEVICE_STATUSES, 'device_status'),
                       nullable=False, default='enabled',
                       server_default='enabled')
    # Set when the device vanished from its host's report while an ARQ was
    # still bound to one of its deployables; cleared when it comes back.
    missing_since = sa.Column(sa.DateTime, nullable=True)
    # What its agent's health probes last said (see db/devices.set_health):
    # failed or degraded keeps its inventory reserved in Placement.
    health = sa.Column(_enum(DEVICE_HEALTH_STATES, 'device_health'),
                       nullable=False, default='healthy',
                       server_default='healthy')
    health_reason = sa.Column(sa.String(255), nullable=True)
    # When health last changed state.
    health_since = sa.Column(sa.DateTime, nullable=True)
    # Why a released function of it failed its scrub (db/devices
    # .set_scrub_failure); failed and reserved until an operator enables
    # the device again, whatever the probes say.
    scrub_failure = sa.Column(sa.String(255), nullable=True)


class ControlpathID(BASE):
    """How a host addresses a device (for PCI: its domain/bus/device/function)."""

    __tablename__ = 'controlpath_ids'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_controlpath_ids0uuid'),
        sa.Index('controlpath_ids_device_id_idx', 'device_id'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    device_id = sa.Column(sa.Integer,
                          sa.ForeignKey('devices.id', ondelete='RESTRICT'),
                          nullable=False)
    cpid_type = sa.Column(_enum(CPID_TYPES, 'cpid_type'), nullable=False)
    cpid_info = sa.Column(sa.String(255), nullable=False)


class Deployable(BASE):
    """A schedulable unit of a device; one Placement provider each."""

    __tablename__ = 'deployables'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_deployables0uuid'),
        # The name is the identity of the Placement provider (its name, and
        # its uuid derives from it): two deployables may not share one.
        sa.UniqueConstraint('name', name='uniq_deployables0name'),
        sa.Index('deployables_parent_id_idx', 'parent_id'),
        sa.Index('deployables_root_id_idx', 'root_id'),
        sa.Index('deployables_device_id_idx', 'device_id'),
        sa.Index('deployables_rp_uuid_idx', 'rp_uuid'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    parent_id = sa.Column(sa.Integer,
                          sa.ForeignKey('deployables.id', ondelete='RESTRICT'),
                          nullable=True)
    root_id = sa.Column(sa.Integer,
                        sa.ForeignKey('deployables.id', ondelete='RESTRICT'),
                        nullable=True)
    name = sa.Column(sa.String(255), nullable=False)
    num_accelerators = sa.Column(sa.Integer, nullable=False)
    device_id = sa.Column(sa.Integer,
                          sa.ForeignKey('devices.id', ondelete='RESTRICT'),
                          nullable=False)
    rp_uuid = sa.Column(sa.String(36), nullable=True)
    driver_name = sa.Column(sa.String(100), nullable=True)
    bitstream_id = sa.Column(sa.String(36), nullable=True)
    # The function id of the bitstream cyborg programmed (from the profile
    # or the image's accel:function_id), NULL when it names none: the
    # provider's CUSTOM_FPGA_FUNCTION_ID_* trait is rebuilt from it.
    function_id = sa.Column(sa.String(255), nullable=True)
    # Who is programming the deployable now, and until when (a
    # compare-and-swap lease: one programming at a time per deployable).
    program_lease_owner = sa.Column(sa.String(255), nullable=True)
    program_lease_expires_at = sa.Column(sa.DateTime, nullable=True)
    # Placement resource class of the provider; NULL when the driver reports
    # none (such a deployable gets no provider).
    resource_class = sa.Column(sa.String(255), nullable=True)
    # Digest of the provider state last written to Placement successfully.
    # Equal to the digest of the wanted state means "nothing to write".
    placement_digest = sa.Column(sa.String(64), nullable=True)
    missing_since = sa.Column(sa.DateTime, nullable=True)


class DeployableTrait(BASE):
    """A Placement trait the driver asks for on a deployable's provider."""

    __tablename__ = 'deployable_traits'
    __table_args__ = (
        sa.UniqueConstraint('deployable_id', 'trait',
                            name='uniq_deployable_traits0deployable_id0trait'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    deployable_id = sa.Column(sa.Integer,
                              sa.ForeignKey('deployables.id',
                                            ondelete='CASCADE'),
                              nullable=False)
    trait = sa.Column(sa.String(255), nullable=False)


class Attribute(BASE):
    """A free-form key/value on a deployable (driver- or operator-set)."""

    __tablename__ = 'attributes'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_attributes0uuid'),
        sa.UniqueConstraint('deployable_id', 'key',
                            name='uniq_attributes0deployable_id0key'),
        sa.Index('attributes_key_idx', 'key'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    deployable_id = sa.Column(sa.Integer,
                              sa.ForeignKey('deployables.id',
                                            ondelete='RESTRICT'),
                              nullable=False)
    key = sa.Column(sa.String(255), nullable=False)
    value = sa.Column(sa.Text, nullable=False)


class AttachHandle(BASE):
    """One attachable function of a deployable (a PCI function, an mdev slot)."""

    __tablename__ = 'attach_handles'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_attach_handles0uuid'),
        sa.UniqueConstraint('deployable_id', 'attach_info',
                            name='uniq_attach_handles0deployable_id0info'),
        sa.Index('attach_handles_cpid_id_idx', 'cpid_id'),
        # Serves "a free handle of this deployable", the bind-time claim.
        sa.Index('attach_handles_deployable_id_in_use_idx',
                 'deployable_id', 'in_use'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    deployable_id = sa.Column(sa.Integer,
                              sa.ForeignKey('deployables.id',
                                            ondelete='RESTRICT'),
                              nullable=False)
    cpid_id = sa.Column(sa.Integer,
                        sa.ForeignKey('controlpath_ids.id',
                                      ondelete='RESTRICT'),
                        nullable=False)
    in_use = sa.Column(sa.Boolean, nullable=False, default=False,
                       server_default=sa.false())
    attach_type = sa.Column(_enum(ATTACH_TYPES, 'attach_type'),
                            nullable=False)
    attach_info = sa.Column(sa.String(255), nullable=False)
    # Set when the handle vanished from its host's report (a VF went away)
    # while an ARQ held it: kept for that ARQ, never claimed again, deleted
    # by the first report after it is released; cleared if it comes back.
    missing_since = sa.Column(sa.DateTime, nullable=True)
    # Out of service after a release until its scrub ends: 'scrubbing'
    # while the driver cleans it, 'scrub_failed' when it could not (kept
    # until an operator clears the device). NULL: in service. A claim
    # never takes a handle with a scrub_state.
    scrub_state = sa.Column(_enum(SCRUB_STATES, 'attach_handle_scrub_state'),
                            nullable=True)


class AttachHandleRelease(BASE):
    """The audit row of one release of an attach handle, and its scrub.

    Written in the transaction that frees the handle; a row whose
    ``scrub_outcome`` is 'pending' is also the conductors' work item (its
    lease says who runs the scrub now). No foreign keys: the record
    outlives the handle, its deployable and the ARQ that held it.
    """

    __tablename__ = 'attach_handle_releases'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_attach_handle_releases0uuid'),
        sa.Index('attach_handle_releases_handle_uuid_idx',
                 'attach_handle_uuid'),
        sa.Index('attach_handle_releases_outcome_idx', 'scrub_outcome'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    attach_handle_id = sa.Column(sa.Integer, nullable=False)
    attach_handle_uuid = sa.Column(sa.String(36), nullable=False)
    deployable_uuid = sa.Column(sa.String(36), nullable=False)
    device_id = sa.Column(sa.Integer, nullable=False)
    project_id = sa.Column(sa.String(255), nullable=True)
    instance_uuid = sa.Column(sa.String(36), nullable=True)
    released_at = sa.Column(sa.DateTime, nullable=False)
    # The driver asked to scrub (the deployable's driver_name); NULL when
    # no scrub applied to it.
    scrub_driver = sa.Column(sa.String(255), nullable=True)
    scrub_outcome = sa.Column(_enum(SCRUB_OUTCOMES, 'scrub_outcome'),
                              nullable=False)
    scrub_reason = sa.Column(sa.Text, nullable=True)
    finished_at = sa.Column(sa.DateTime, nullable=True)
    lease_owner = sa.Column(sa.String(255), nullable=True)
    lease_expires_at = sa.Column(sa.DateTime, nullable=True)


class DeviceProfile(BASE):
    """A named set of request groups: a flavor for accelerators."""

    __tablename__ = 'device_profiles'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_device_profiles0uuid'),
        sa.UniqueConstraint('name', name='uniq_device_profiles0name'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    name = sa.Column(sa.String(255), nullable=False)
    # {"groups": [{...}, ...]} as JSON text, as upstream stores it.
    profile_json = sa.Column(sa.Text, nullable=False)
    description = sa.Column(sa.Text, nullable=True)


class DeviceContext(BASE):
    """A device context: request groups and config data for one instance.

    A "dynamic profile" (API 2.4) that lives as long as the request it
    serves: ARQs are created from it as from a profile, the first bind of
    one of them gives it its ``instance_uuid``, and no ARQ of it is ever
    bound to another instance. ``expires_at`` is set while it has no ARQs
    and is not Bound (unused since creation, or Released by its instance):
    past it, the context is gone (reads hide it, the conductor purges it).
    """

    __tablename__ = 'device_contexts'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_device_contexts0uuid'),
        sa.Index('device_contexts_project_id_idx', 'project_id'),
        sa.Index('device_contexts_instance_uuid_idx', 'instance_uuid'),
        # Serves the purge: contexts whose time ran out.
        sa.Index('device_contexts_expires_at_idx', 'expires_at'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    project_id = sa.Column(sa.String(255), nullable=True)
    state = sa.Column(_enum(DEVICE_CONTEXT_STATES, 'device_context_state'),
                      nullable=False, default='Unbound',
                      server_default='Unbound')
    instance_uuid = sa.Column(sa.String(36), nullable=True)
    # {"groups": [{...}, ...]} as JSON text, as a profile's profile_json.
    groups_json = sa.Column(sa.Text, nullable=False)
    # A flat {string: string} map, JSON text, handed to the driver at bind.
    config_data = sa.Column(sa.Text, nullable=False)
    # The profile the groups were copied from, if any (a name, not a
    # foreign key: the profile may be deleted, the context keeps its copy).
    device_profile_name = sa.Column(sa.String(255), nullable=True)
    released_at = sa.Column(sa.DateTime, nullable=True)
    expires_at = sa.Column(sa.DateTime, nullable=True)


class ExtendedAcceleratorRequest(BASE):
    """An ARQ: one accelerator asked for an instance, and its binding."""

    __tablename__ = 'extended_accelerator_requests'
    __table_args__ = (
        sa.UniqueConstraint('uuid',
                            name='uniq_extended_accelerator_requests0uuid'),
        # A handle is held by one ARQ at most, whatever the application does.
        sa.UniqueConstraint(
            'attach_handle_id',
            name='uniq_extended_accelerator_requests0attach_handle_id'),
        # Made from a profile or from a context: exactly one of the two.
        sa.CheckConstraint(
            '(device_profile_id IS NULL) <> (device_context_id IS NULL)',
            name='ck_extended_accelerator_requests0one_source'),
        sa.Index('extended_accelerator_requests_project_id_idx',
                 'project_id'),
        # Serves the quota usage count: a project's ARQs per class.
        sa.Index('extended_accelerator_requests_project_id_rc_idx',
                 'project_id', 'resource_class'),
        sa.Index('extended_accelerator_requests_state_idx', 'state'),
        sa.Index('extended_accelerator_requests_device_profile_id_idx',
                 'device_profile_id'),
        sa.Index('extended_accelerator_requests_device_context_id_idx',
                 'device_context_id'),
        sa.Index('extended_accelerator_requests_device_rp_uuid_idx',
                 'device_rp_uuid'),
        sa.Index('extended_accelerator_requests_instance_uuid_idx',
                 'instance_uuid'),
        sa.Index('extended_accelerator_requests_deployable_id_idx',
                 'deployable_id'),
        # Serves the recovery scan: binds whose lease ran out.
        sa.Index('extended_accelerator_requests_state_lease_idx',
                 'state', 'bind_lease_expires_at'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    project_id = sa.Column(sa.String(255), nullable=True)
    state = sa.Column(_enum(ARQ_STATES, 'arq_state'), nullable=False,
                      default='Initial', server_default='Initial')
    substate = sa.Column(_enum(ARQ_SUBSTATES, 'arq_substate'),
                         nullable=False, default='Initial',
                         server_default='Initial')
    # An ARQ comes from a device profile or from a device context (2.4):
    # exactly one of the two is set, which arq_states.create ensures.
    device_profile_id = sa.Column(sa.Integer,
                                  sa.ForeignKey('device_profiles.id',
                                                ondelete='RESTRICT'),
                                  nullable=True)
    device_context_id = sa.Column(sa.Integer,
                                  sa.ForeignKey('device_contexts.id',
                                                ondelete='RESTRICT'),
                                  nullable=True)
    device_profile_group_id = sa.Column(sa.Integer, nullable=False,
                                        default=0, server_default='0')
    # The resource class the ARQ counts against in quotas (its group's,
    # by cyborg.quota.resource_classes). Nullable: a group may name none.
    resource_class = sa.Column(sa.String(255), nullable=True)
    hostname = sa.Column(sa.String(255), nullable=True)
    device_rp_uuid = sa.Column(sa.String(36), nullable=True)
    instance_uuid = sa.Column(sa.String(36), nullable=True)
    attach_handle_id = sa.Column(sa.Integer,
                                 sa.ForeignKey('attach_handles.id',
                                               ondelete='RESTRICT'),
                                 nullable=True)
    deployable_id = sa.Column(sa.Integer,
                              sa.ForeignKey('deployables.id',
                                            ondelete='RESTRICT'),
                              nullable=True)
    # Durable bind work. bind_seq counts binds of this ARQ, so that each
    # bind outcome is told to Nova exactly once; bind_started_at bounds the
    # bind by [DEFAULT] bind_timeout; the lease says which conductor works
    # on it and until when.
    bind_seq = sa.Column(sa.Integer, nullable=False, default=0,
                         server_default='0')
    bind_started_at = sa.Column(sa.DateTime, nullable=True)
    bind_lease_owner = sa.Column(sa.String(255), nullable=True)
    bind_lease_expires_at = sa.Column(sa.DateTime, nullable=True)
    bind_error = sa.Column(sa.Text, nullable=True)


class QuotaProjectLock(BASE):
    """A project's quota lock: the row a create of its ARQs locks first.

    Counting a project's ARQs and inserting new ones is only safe when two
    creates of one project cannot interleave; every quota-checked create
    upserts this row first (``cyborg.db.quota_locks``), which holds the
    row lock until it commits, on every backend and across API workers.
    ``updated_at`` is what the upsert writes: the last locking create's
    time.
    """

    __tablename__ = 'quota_project_locks'
    __table_args__ = (_MYSQL_ARGS,)

    project_id = sa.Column(sa.String(255), primary_key=True)


class InstanceClaim(BASE):
    """An instance that holds accelerator requests: one row per instance.

    Upstream refuses to bind ARQs to an instance that already has some ("no
    hot add"). Checking that with a read before the write lets two
    concurrent bind requests for one instance both pass; inserting this
    row, whose primary key is the instance, makes the second one fail on
    every backend. A row exists exactly while some ARQ names the instance.
    """

    __tablename__ = 'instance_claims'
    __table_args__ = (_MYSQL_ARGS,)

    instance_uuid = sa.Column(sa.String(36), primary_key=True)


class NovaEvent(BASE):
    """An outbox row: an accelerator-request-bound event Nova must receive.

    Written in the same transaction that moves the ARQ to Bound or
    BindFailed, so an outcome is never lost, and unique per (ARQ, bind), so
    it is never queued twice.
    """

    __tablename__ = 'nova_events'
    __table_args__ = (
        sa.UniqueConstraint('arq_uuid', 'bind_seq',
                            name='uniq_nova_events0arq_uuid0bind_seq'),
        sa.Index('nova_events_sent_at_next_attempt_at_idx',
                 'sent_at', 'next_attempt_at'),
        sa.Index('nova_events_instance_uuid_idx', 'instance_uuid'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    # Not a foreign key: the event outlives an ARQ deleted right after bind.
    arq_uuid = sa.Column(sa.String(36), nullable=False)
    bind_seq = sa.Column(sa.Integer, nullable=False)
    instance_uuid = sa.Column(sa.String(36), nullable=False)
    status = sa.Column(_enum(NOVA_EVENT_STATUSES, 'nova_event_status'),
                       nullable=False)
    attempts = sa.Column(sa.Integer, nullable=False, default=0,
                         server_default='0')
    next_attempt_at = sa.Column(sa.DateTime, nullable=True)
    sent_at = sa.Column(sa.DateTime, nullable=True)
    # Set when delivery was given up after [conductor]
    # nova_event_max_attempts, so the row stops being retried.
    abandoned_at = sa.Column(sa.DateTime, nullable=True)
    lease_owner = sa.Column(sa.String(255), nullable=True)
    lease_expires_at = sa.Column(sa.DateTime, nullable=True)
    # Sends whose outcome was never learned: the row was leased from a
    # holder whose lease ran out unreleased (its conductor died, or
    # stalled, mid-send), or Nova's answer timed out. Nova may have acted
    # on each: a sent row with unconfirmed_sends > 0 is a possible
    # duplicate, and the only kind there is.
    unconfirmed_sends = sa.Column(sa.Integer, nullable=False, default=0,
                          server_default='0')


class AgentHost(BASE):
    """What the conductors know of one agent's host.

    ``report_fingerprint`` is the digest of the last full report applied, so
    a heartbeat carrying the same fingerprint costs no diff and no Placement
    call; ``compute_rp_uuid`` is the compute node provider the agent found;
    ``agent_rpc_version`` the agent RPC API version its last report or
    heartbeat stated (NULL: it spoke conductor RPC 1.0, an older release).
    """

    __tablename__ = 'agent_hosts'
    __table_args__ = (
        sa.UniqueConstraint('hostname', name='uniq_agent_hosts0hostname'),
        _MYSQL_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True)
    hostname = sa.Column(sa.String(255), nullable=False)
    rpc_host = sa.Column(sa.String(255), nullable=False)
    compute_rp_uuid = sa.Column(sa.String(36), nullable=True)
    report_fingerprint = sa.Column(sa.String(64), nullable=True)
    last_seen_at = sa.Column(sa.DateTime, nullable=True)
    agent_rpc_version = sa.Column(sa.String(16), nullable=True)
