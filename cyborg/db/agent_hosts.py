"""Data access for ``agent_hosts``: what the conductors know of each agent.

A host is recorded by the transaction that applies its full report (its
RPC name, its compute node provider, the report's fingerprint). A heartbeat
only touches ``last_seen_at`` and compares fingerprints, so a steady host
costs one indexed UPDATE.

Both also record ``agent_rpc_version``: the agent RPC API version the host
said it serves (conductor RPC 1.1). NULL means its last report or
heartbeat came in the 1.0 form, from an agent of an older release or one
capped by ``[upgrade_levels] conductor``; ``cyborg-status upgrade check``
lists such hosts.
"""

from oslo_utils import timeutils
import sqlalchemy as sa

from cyborg.db import engine
from cyborg.db import models


@engine.writer
def record_report(context, hostname, rpc_host, compute_rp_uuid, fingerprint,
                  now, agent_rpc_version=None):
    """Record an applied report (inside the report's own transaction)."""
    session = context.session
    table = models.AgentHost.__table__
    values = {'rpc_host': rpc_host, 'compute_rp_uuid': compute_rp_uuid,
              'report_fingerprint': fingerprint, 'last_seen_at': now,
              'agent_rpc_version': agent_rpc_version}
    existing = session.execute(
        sa.select(table.c.id).where(table.c.hostname == hostname)).first()
    if existing is None:
        session.execute(sa.insert(table).values(
            dict(values, hostname=hostname, created_at=now)))
    else:
        session.execute(sa.update(table).where(table.c.id == existing.id)
                        .values(dict(values, updated_at=now)))


def rpc_host_of(hostname, recorded_rpc_host):
    """The RPC server name of the agent on host ``hostname``.

    The agent listens on its ``[DEFAULT] host``, which may differ from the
    compute node name its devices carry; it told us which at its last
    report (``recorded_rpc_host``). Without a record, the names are taken
    to be the same.
    """
    return recorded_rpc_host or hostname


@engine.reader
def get_rpc_host(context, hostname):
    """The RPC server name of the agent on host ``hostname``."""
    table = models.AgentHost.__table__
    recorded = context.session.execute(
        sa.select(table.c.rpc_host).where(table.c.hostname == hostname)
    ).scalar_one_or_none()
    return rpc_host_of(hostname, recorded)


def _host_dict(row):
    return {'hostname': row.hostname, 'rpc_host': row.rpc_host,
            'compute_rp_uuid': row.compute_rp_uuid,
            'report_fingerprint': row.report_fingerprint,
            'last_seen_at': row.last_seen_at,
            'agent_rpc_version': row.agent_rpc_version}


@engine.reader
def get_host(context, hostname):
    """The agent_hosts record of ``hostname`` as a dict, or None."""
    table = models.AgentHost.__table__
    row = context.session.execute(
        sa.select(table).where(table.c.hostname == hostname)).first()
    return _host_dict(row) if row is not None else None


@engine.reader
def list_hosts(context):
    """Every host that ever reported, as dicts, by name."""
    table = models.AgentHost.__table__
    return [_host_dict(row) for row in context.session.execute(
        sa.select(table).order_by(table.c.hostname))]


@engine.reader
def list_hosts_not_at(context, agent_rpc_version, seen_since=None,
                      seen_before=None):
    """Hosts whose last report or heartbeat stated another agent RPC
    version than ``agent_rpc_version``, or none (NULL), by name.

    ``seen_since`` / ``seen_before`` keep those last seen at or after /
    before (or never) that time.
    """
    table = models.AgentHost.__table__
    column = table.c.agent_rpc_version
    query = sa.select(table).where(
        sa.or_(column.is_(None), column != agent_rpc_version))
    if seen_since is not None:
        query = query.where(table.c.last_seen_at >= seen_since)
    if seen_before is not None:
        query = query.where(sa.or_(table.c.last_seen_at.is_(None),
                                   table.c.last_seen_at < seen_before))
    return [_host_dict(row) for row in context.session.execute(
        query.order_by(table.c.hostname))]


@engine.writer
def touch_host(context, hostname, fingerprint, agent_rpc_version=None):
    """Record a heartbeat; True when ``fingerprint`` is the applied one.

    An unknown host gives False (it must send a full report first).
    ``agent_rpc_version`` is what the heartbeat stated (None: 1.0 form).

    A steady host costs one UPDATE on the unique hostname index, whose
    WHERE also compares the fingerprint: it matched a row, or the host
    is unknown or changed, which a second UPDATE (touching the host only)
    tells apart. The rowcount is of rows matched (SQLAlchemy's MySQL
    dialects ask for found rows), so an unchanged row still counts.
    """
    table = models.AgentHost.__table__
    session = context.session
    values = {'last_seen_at': timeutils.utcnow(),
              'agent_rpc_version': agent_rpc_version}
    same = session.execute(
        sa.update(table).where(table.c.hostname == hostname,
                               table.c.report_fingerprint == fingerprint)
        .values(values))
    if same.rowcount == 1:
        return True
    session.execute(sa.update(table).where(table.c.hostname == hostname)
                    .values(values))
    return False


@engine.writer
def forget_fingerprint(context, hostname, fingerprint):
    """Clear the host's fingerprint if it is still ``fingerprint``.

    Used when a report reached the DB but not Placement: the next heartbeat
    then asks for a full report, which retries the Placement sync. A CAS so
    a newer report's fingerprint is never wiped.
    """
    table = models.AgentHost.__table__
    result = context.session.execute(
        sa.update(table)
        .where(table.c.hostname == hostname,
               table.c.report_fingerprint == fingerprint)
        .values(report_fingerprint=None))
    return result.rowcount == 1
