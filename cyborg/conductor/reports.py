"""Apply an agent's discovery report: the DB diff first, then Placement.

The order is the whole point: the report is validated, the host's compute
node provider is checked, the diff is committed in one transaction, and only
then is Placement brought in line from what the DB now says. A Placement
failure after the commit loses nothing: the host's fingerprint is forgotten,
so its next heartbeat asks for a full report, which retries the sync (and
the periodic reconcile heals whatever is left).

Compute node check: the agent resolves its compute node provider and sends
its uuid. We verify it in Placement (it exists and carries the host's name)
the first time we see that (host, uuid) pair, and trust the recorded pair
afterwards, so a steady host's reports cost no Placement read. A host whose
provider is unknown is refused with UnknownHost before the DB is touched.
"""

import logging
import random
import time

from oslo_db import exception as db_exc

from cyborg.accelerator import inventory as report_format
from cyborg.db import agent_hosts
from cyborg.db import inventory as inventory_db
from cyborg import exception

LOG = logging.getLogger(__name__)

# Attempts at the DB transaction when it collides with a concurrent writer
# (an ARQ claiming a handle, another conductor applying the same host).
DB_ATTEMPTS = 3
_RETRIABLE_DB_ERRORS = (db_exc.DBDeadlock, db_exc.DBDuplicateEntry,
                        db_exc.DBReferenceError, exception.ReportConflict)


def parse_report(hostname, report):
    """The wire report (list of Device dicts) as Device objects."""
    if not isinstance(report, list):
        raise exception.InvalidReport(hostname=hostname,
                                      reason='a report is a list of devices')
    try:
        return report_format.report_from_wire(report)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise exception.InvalidReport(
            hostname=hostname,
            reason='malformed device data (%s: %s)' % (type(exc).__name__,
                                                       exc))


def verify_compute_node(context, client, hostname, compute_rp_uuid):
    """The uuid of the host's compute node provider, or UnknownHost."""
    known = agent_hosts.get_host(context, hostname)
    if (compute_rp_uuid and known is not None
            and known['compute_rp_uuid'] == compute_rp_uuid):
        return compute_rp_uuid
    if compute_rp_uuid:
        provider = client.get_provider(compute_rp_uuid)
        if provider is None or provider['name'] != hostname:
            raise exception.UnknownHost(hostname=hostname)
    else:
        provider = client.find_provider_by_name(hostname)
        if provider is None:
            raise exception.UnknownHost(hostname=hostname)
    return provider['uuid']


def apply_report(context, sync, client, hostname, rpc_host, compute_rp_uuid,
                 report, fingerprint):
    """Apply a full report; return a summary dict of what changed.

    ``sync`` is the conductor's PlacementSync, ``client`` its
    PlacementClient. Raises InvalidReport or UnknownHost with nothing
    written, ReportConflict when the DB kept colliding with concurrent
    writers, PlacementUnavailable when the compute node could not be
    checked.
    """
    devices = parse_report(hostname, report)
    # Cheap and local: refuse a bad report before asking Placement anything.
    inventory_db.validate_report(hostname, devices)
    compute_rp_uuid = verify_compute_node(context, client, hostname,
                                          compute_rp_uuid)
    outcome = _apply_to_db(context, hostname, rpc_host, compute_rp_uuid,
                           devices, fingerprint)
    summary = outcome.summary()
    if outcome.missing:
        LOG.warning('Host %s no longer reports deployables %s, which are '
                    'still held by accelerator requests; keeping them as '
                    'missing', hostname, ', '.join(outcome.missing))
    try:
        result = sync.sync_host(context, hostname,
                                deleted_providers=outcome.deleted_providers)
    except exception.PlacementUnavailable as exc:
        LOG.warning('Report of host %s is in the DB but Placement could not '
                    'be updated: %s', hostname, exc)
        agent_hosts.forget_fingerprint(context, hostname, fingerprint)
        summary['placement_in_sync'] = False
        return summary
    if result.failed:
        agent_hosts.forget_fingerprint(context, hostname, fingerprint)
    summary['placement_in_sync'] = not (result.failed or result.refused)
    summary['providers_written'] = len(result.written)
    return summary


def _is_retriable(exc):
    if isinstance(exc, _RETRIABLE_DB_ERRORS):
        return True
    # SQLite (all-in-one, tests) refuses a second writer outright instead
    # of queueing it when both started by reading; oslo.db has no class
    # for that.
    return isinstance(exc, db_exc.DBError) and 'database is locked' in str(
        exc)


def _apply_to_db(context, hostname, rpc_host, compute_rp_uuid, devices,
                 fingerprint):
    for attempt in range(1, DB_ATTEMPTS + 1):
        try:
            return inventory_db.apply_report(context, hostname, rpc_host,
                                             compute_rp_uuid, devices,
                                             fingerprint)
        except db_exc.DBError as exc:
            if not _is_retriable(exc):
                raise
            error = exc
        except exception.ReportConflict as exc:
            error = exc
        # A clash with another writer: the transaction was rolled back; the
        # next attempt reads the rows as they are now.
        LOG.info('Report of host %s collided with a concurrent change '
                 '(attempt %d): %s', hostname, attempt, error)
        time.sleep(random.uniform(0, 0.1 * attempt))
    raise exception.ReportConflict(hostname=hostname)
