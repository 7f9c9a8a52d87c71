"""The conductor's RPC endpoint for agents' reports and device status.

Thin on purpose: each method hands its arguments to the module that does
the work (reports, placement_sync, the inventory data access) and declares
the domain errors a caller should get back as themselves rather than as a
logged server-side failure. Binding work is served by ``ARQManager`` in
``arq_manager.py`` on the same RPC server.
"""

import oslo_messaging as messaging

from cyborg.conductor import placement_sync
from cyborg.conductor import reports
from cyborg.db import agent_hosts
from cyborg import exception


class ConductorManager:
    """report_data, heartbeat and set_device_status (RPC API 1.0)."""

    target = messaging.Target(version='1.0')

    def __init__(self, conf, transport, placement_client):
        self._conf = conf
        self._transport = transport
        self._placement = placement_client
        self.placement_sync = placement_sync.PlacementSync(conf,
                                                           placement_client)

    @messaging.expected_exceptions(exception.InvalidReport,
                                   exception.UnknownHost,
                                   exception.ReportConflict,
                                   exception.PlacementUnavailable)
    def report_data(self, context, hostname, rpc_host, compute_rp_uuid,
                    report, fingerprint):
        """Apply a host's full report; returns a summary of the changes."""
        return reports.apply_report(context, self.placement_sync,
                                    self._placement, hostname, rpc_host,
                                    compute_rp_uuid, report, fingerprint)

    def heartbeat(self, context, hostname, fingerprint):
        """True when the conductor wants a full report from the host."""
        return not agent_hosts.touch_host(context, hostname, fingerprint)

    @messaging.expected_exceptions(exception.DeviceNotFound,
                                   exception.Invalid,
                                   exception.PlacementUnavailable,
                                   exception.PlacementConflict)
    def set_device_status(self, context, device_uuid, status):
        """Enable or disable a device; returns {uuid, status}."""
        return self.placement_sync.set_device_status(context, device_uuid,
                                                     status)
