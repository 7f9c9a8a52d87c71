"""Bring Placement in line with the database, one host at a time.

The database is the truth; Placement is a mirror we keep idempotently. Each
deployable with a resource class has one child provider under its host's
compute node provider:

* name = the deployable's name (drivers embed the host in it), uuid =
  uuid3(NAMESPACE_DNS, name), parent = the compute node provider;
* inventory ``{RC: {total: N, max_unit: N, min_unit: 1, step_size: 1,
  allocation_ratio: 1.0, reserved: R}}`` where R is N while the device is
  in maintenance, failed or degraded (its agent's health probes say so),
  failed a scrub (until an operator enables it again),
  or the deployable is missing (nothing new may land there, existing
  allocations stay), else the number of its attach handles out of
  service after a release (being scrubbed, or failed their scrub: see
  ``scrubbing.py``); no inventory when N is 0 (:func:`reserved_amount`
  and :func:`unusable_cause`, which the explain API shares);
* traits ``OWNER_CYBORG`` plus the deployable's traits, where the
  ``CUSTOM_FPGA_FUNCTION_ID_*`` trait follows what cyborg last programmed
  into it (``deployables.function_id``), and otherwise what its driver
  reports the hardware runs. Binding swaps the trait as soon as it
  programs; this sync (and the reconciler) rebuild it from the DB.

The digest of that wanted state is stored in ``deployables.placement_digest``
after a successful write; when it equals the digest of the wanted state the
deployable costs no Placement call at all. Storing it is a compare-and-swap
on the value read before the write: a conductor that loses the race re-reads
the DB and writes again, so a stale writer cannot leave Placement behind a
digest that claims it is current.

``reconcile`` ignores digests: it reads each host's tree from Placement and
writes only what differs, creates what was deleted behind our back, and
deletes providers we own (``OWNER_CYBORG``) that no deployable wants.
Everything it writes comes from the DB, so it rebuilds a Placement wiped
of our providers, function-id traits included.

This module and ``cyborg.clients.placement`` are the only Placement layer:
provider naming (:func:`provider_uuid`), every trait we set, and the one
"read the generation, write, re-read on a conflict" loop
(:meth:`PlacementSync.update_with_generation`) live here.
"""

import dataclasses
import hashlib
import logging
import uuid as uuidlib

from cyborg.accelerator.drivers import fpga
from cyborg.accelerator import discovery
from cyborg.db import agent_hosts
from cyborg.db import attach_handles
from cyborg.db import deployables
from cyborg.db import devices
from cyborg import exception

LOG = logging.getLogger(__name__)

OWNER_TRAIT = 'OWNER_CYBORG'
FUNCTION_ID_TRAIT_PREFIX = fpga.FUNCTION_TRAIT_PREFIX
# Device health states that keep a device from new instances.
UNSCHEDULABLE_HEALTH = (discovery.DEGRADED, discovery.FAILED)
# Part of every digest: bump it when the wanted state's shape changes, so
# every provider is rewritten once.
DIGEST_VERSION = 2


def provider_uuid(deployable_name):
    """The uuid of a deployable's Placement provider, derived from its name.

    Derived rather than random so that any conductor, or a reconcile after
    the DB row was lost, names the same provider; it is upstream's rule,
    so providers upstream Cyborg created are adopted, not duplicated.
    """
    return str(uuidlib.uuid3(uuidlib.NAMESPACE_DNS, deployable_name))


@dataclasses.dataclass(frozen=True)
class WantedProvider:
    """The provider state Placement should have for one deployable."""

    uuid: str
    name: str
    parent_uuid: str
    inventories: dict
    traits: tuple

    def digest(self):
        data = dataclasses.asdict(self)
        data['version'] = DIGEST_VERSION
        return hashlib.sha256(
            discovery.canonical_json(data).encode()).hexdigest()


# Why a whole deployable is kept from new instances (unusable_cause).
MISSING = 'missing'
DISABLED = 'disabled'
SCRUB_FAILED = 'scrub failed'
UNHEALTHY = 'unhealthy'


def unusable_cause(state):
    """Why none of a ProviderState's accelerators may be handed out, or
    None when the deployable is in service.

    The one rule of "reserve it all": Placement's inventory (see
    :func:`reserved_amount`) and the explain API (``explain.py``) both
    read it. The first cause found is named: gone from its host, then an
    operator's maintenance, then a failed scrub, then the agent's health.
    """
    if state.missing:
        return MISSING
    if state.device_status == 'maintaining':
        return DISABLED
    if state.device_scrub_failure is not None:
        return SCRUB_FAILED
    if state.device_health in UNSCHEDULABLE_HEALTH:
        return UNHEALTHY
    return None


def reserved_amount(state):
    """The amount of a ProviderState's inventory Placement reserves."""
    total = state.num_accelerators
    if unusable_cause(state) is not None:
        return total
    # Released handles being scrubbed hold no allocation any more, yet
    # cannot be handed out: reserve them until they are back.
    return min(total, state.handles_out_of_service)


def wanted_provider(state, compute_rp_uuid):
    """The WantedProvider of a ProviderState, or None (no provider)."""
    if not state.resource_class:
        return None
    total = state.num_accelerators
    inventories = {}
    if total > 0:
        inventories[state.resource_class] = {
            'total': total, 'reserved': reserved_amount(state),
            'min_unit': 1, 'max_unit': total, 'step_size': 1,
            'allocation_ratio': 1.0}
    traits = {OWNER_TRAIT, *state.traits}
    if state.function_id:
        # Cyborg programmed it: what it loaded is known, and a function
        # trait reported before the load is stale until the next report.
        traits = {t for t in traits
                  if not t.startswith(FUNCTION_ID_TRAIT_PREFIX)}
        traits.add(fpga.function_trait(state.driver_name, state.function_id))
    traits = tuple(sorted(traits))
    return WantedProvider(uuid=provider_uuid(state.name),
                          name=state.name, parent_uuid=compute_rp_uuid,
                          inventories=inventories, traits=traits)


@dataclasses.dataclass
class SyncResult:
    """What one host's sync did, by deployable or provider."""

    written: list = dataclasses.field(default_factory=list)
    unchanged: list = dataclasses.field(default_factory=list)
    deleted: list = dataclasses.field(default_factory=list)
    kept_in_use: list = dataclasses.field(default_factory=list)
    # Failures worth retrying soon (conflicts, Placement down).
    failed: list = dataclasses.field(default_factory=list)
    # Failures retrying will not fix (a name clash with a foreign provider).
    refused: list = dataclasses.field(default_factory=list)


class PlacementSync:
    """Writes the DB's view of hosts' accelerators into Placement."""

    def __init__(self, conf, client):
        self._client = client
        self._retries = conf.conductor.placement_retries

    # Entry points -----------------------------------------------------------

    def sync_host(self, context, hostname, deleted_providers=(),
                  device_id=None):
        """Write the host's changed providers; delete the given ones.

        Deployables whose digest matches cost nothing. PlacementUnavailable
        propagates; other per-deployable failures are collected in the
        result so one bad provider does not block its neighbours.
        """
        result = SyncResult()
        host = agent_hosts.get_host(context, hostname)
        if host is None or not host['compute_rp_uuid']:
            raise exception.UnknownHost(hostname=hostname)
        for uuid in deleted_providers:
            self._delete_provider_tree(uuid, result)
        compute_rp_uuid = host['compute_rp_uuid']
        never_written = []
        for state in deployables.list_provider_states(
                context, hostname, device_id=device_id):
            if (state.placement_digest is None
                    and wanted_provider(state, compute_rp_uuid) is not None):
                never_written.append(state)
            else:
                self._sync_deployable(context, hostname, state,
                                      compute_rp_uuid, result)
        if never_written:
            self._write_new_providers(context, hostname, never_written,
                                      compute_rp_uuid, result)
        return result

    def set_device_status(self, context, device_uuid, status):
        """Enable or disable a device: DB first, then its providers.

        Raises DeviceNotFound, Invalid for a bad status, and
        PlacementUnavailable / PlacementConflict when Placement could not
        be brought in line (the DB change stays; a retry or the reconciler
        finishes the job).
        """
        device = devices.set_status(context, device_uuid, status)
        if status == 'enabled':
            # Enabling is how an operator says a device that failed a
            # scrub was looked at: its functions go back to the pool.
            # After set_status, so a crash in between leaves the handles
            # out of service and a second enable finishes the job.
            freed = attach_handles.clear_scrub_failures(context,
                                                        device['id'])
            if freed:
                LOG.info('Device %s enabled: %d attach handle(s) that '
                         'failed their scrub are back in service',
                         device_uuid, freed)
        result = self.sync_host(context, device['hostname'],
                                device_id=device['id'])
        if result.failed:
            raise exception.PlacementConflict(
                what='the providers of device %s' % device_uuid)
        return {'uuid': device['uuid'], 'status': device['status']}

    def reconcile(self, context):
        """Re-derive Placement from the DB for every host, ignoring digests.

        Returns {hostname: SyncResult}. Stops at the first
        PlacementUnavailable (the next pass retries everything).
        """
        results = {}
        for host in agent_hosts.list_hosts(context):
            try:
                results[host['hostname']] = self.reconcile_host(context, host)
            except exception.PlacementUnavailable:
                raise
            except Exception:
                LOG.exception('Reconciling host %s with Placement failed',
                              host['hostname'])
        return results

    def reconcile_host(self, context, host):
        """Reconcile one host (an ``agent_hosts`` dict) with Placement."""
        result = SyncResult()
        cn_uuid = host['compute_rp_uuid']
        tree = {p['uuid']: p for p in
                self._client.get_providers_in_tree(cn_uuid)} if cn_uuid else {}
        if cn_uuid not in tree:
            # Nova deleted the compute node (and Placement refuses to delete
            # a parent with children, so ours went first): nothing to do
            # until the agent reports under a new compute node provider.
            LOG.warning('Compute node provider %s of host %s is not in '
                        'Placement; skipping it', cn_uuid, host['hostname'])
            return result
        states = deployables.list_provider_states(context, host['hostname'])
        wanted_uuids = set()
        for state in states:
            if state.resource_class:
                wanted_uuids.add(provider_uuid(state.name))
            self._sync_deployable(context, host['hostname'], state, cn_uuid,
                                  result, known_providers=tree)
        owned = self._client.get_providers_in_tree(
            cn_uuid, required_traits=[OWNER_TRAIT])
        orphans = [p['uuid'] for p in owned
                   if p['uuid'] not in wanted_uuids and p['uuid'] != cn_uuid]
        for uuid in _children_first(orphans, tree):
            self._delete_one_provider(uuid, result)
        return result

    # One deployable ---------------------------------------------------------

    def _sync_deployable(self, context, hostname, state, compute_rp_uuid,
                         result, known_providers=None):
        """Bring one deployable's provider in line; record the outcome.

        ``known_providers`` (uuid -> provider, from a tree listing) means
        "reconcile": digests are ignored and existence is known.
        """
        force = known_providers is not None
        try:
            for _attempt in range(self._retries):
                changed, digest = self._write_deployable_provider(
                    state, compute_rp_uuid, force, known_providers)
                if not changed:
                    result.unchanged.append(state.name)
                    return
                if deployables.set_placement_digest(
                        context, state.deployable_id, state.placement_digest,
                        digest):
                    result.written.append(state.name)
                    return
                # Another conductor wrote this provider since we read the
                # DB: our write may have been the stale one. Read again.
                fresh = deployables.list_provider_states(
                    context, hostname, deployable_ids=[state.deployable_id])
                if not fresh:
                    return
                state, force, known_providers = fresh[0], True, None
            raise exception.PlacementConflict(what='provider %s' % state.name)
        except exception.PlacementUnavailable:
            raise
        except exception.ResourceProviderInUse as exc:
            LOG.info('Keeping the provider of deployable %s for now: %s',
                     state.name, exc)
            result.kept_in_use.append(state.name)
        except (exception.ResourceProviderNameClash, exception.Invalid) as exc:
            # Retrying will not help: an operator has to look.
            LOG.error('Placement refused the provider of deployable %s: %s',
                      state.name, exc)
            result.refused.append(state.name)
        except exception.CyborgException as exc:
            LOG.warning('Placement sync of deployable %s failed, will retry: '
                        '%s', state.name, exc)
            result.failed.append(state.name)

    def _write_new_providers(self, context, hostname, states,
                             compute_rp_uuid, result):
        """Write providers never written before: two calls each, plus one.

        A host's first report (or a new device) brings providers that are
        almost always new, so nothing is read first: each is created (the
        answer carries its generation), its traits are set at that
        generation, and ONE ``POST /reshaper`` sets every one's inventory.
        Anything unexpected (a provider that existed, a generation conflict
        with another conductor, a refused inventory) sends the deployables
        concerned down :meth:`_sync_deployable`, which reads before it
        writes and records failures; so does losing the digest CAS.
        """
        pending = []
        for state in states:
            wanted = wanted_provider(state, compute_rp_uuid)
            try:
                generation = self._create_with_traits(wanted)
            except exception.PlacementUnavailable:
                raise
            except exception.CyborgException as exc:
                LOG.debug('Provider %s needs the careful path: %s',
                          wanted.uuid, exc)
                self._sync_deployable(context, hostname, state,
                                      compute_rp_uuid, result)
                continue
            pending.append((state, wanted, generation))
        if not pending:
            return
        try:
            self._client.set_many_inventories(
                {wanted.uuid: (generation, wanted.inventories)
                 for _state, wanted, generation in pending})
        except exception.PlacementUnavailable:
            raise
        except exception.CyborgException as exc:
            LOG.info('Setting the inventories of %d new providers of host '
                     '%s at once failed (%s); setting them one by one',
                     len(pending), hostname, exc)
            for state, _wanted, _generation in pending:
                self._sync_deployable(context, hostname, state,
                                      compute_rp_uuid, result)
            return
        for state, wanted, _generation in pending:
            if deployables.set_placement_digest(
                    context, state.deployable_id, None, wanted.digest()):
                result.written.append(state.name)
            else:
                # Another conductor wrote it meanwhile: ours may be stale.
                self._sync_deployable(context, hostname, state,
                                      compute_rp_uuid, result)

    def _create_with_traits(self, wanted):
        """Create a provider and set its traits without reading first.

        Returns its generation after the traits were set.
        GenerationConflict when it changed between the two calls.
        """
        provider = self._ensure_provider(wanted, None, likely_new=True)
        return self._client.set_provider_traits(
            wanted.uuid, provider['generation'], wanted.traits)

    def _write_deployable_provider(self, state, compute_rp_uuid, force,
                                   known_providers):
        """Write Placement for one deployable as needed.

        Returns (digest changed, new digest). Without force, a stored digest
        equal to the wanted one means no Placement call at all.
        """
        wanted = wanted_provider(state, compute_rp_uuid)
        if wanted is None:
            # No resource class (any more): no provider; its digest is None.
            if state.placement_digest is None and not force:
                return False, None
            uuid = provider_uuid(state.name)
            if known_providers is None or uuid in known_providers:
                self._delete_provider_tree(uuid, SyncResult(), strict=True)
            return state.placement_digest is not None, None
        digest = wanted.digest()
        if digest == state.placement_digest and not force:
            return False, digest
        # Never written before: most likely new, so create without asking
        # first (creating an existing provider is answered with it).
        self._ensure_provider(wanted, known_providers,
                              likely_new=state.placement_digest is None)
        self._sync_provider_inventory(wanted)
        self._sync_provider_traits(wanted)
        return digest != state.placement_digest, digest

    def _ensure_provider(self, wanted, known_providers, likely_new=False):
        """Create the provider, or fix its name/parent, as needed.

        Returns it as Placement's dict.
        """
        client = self._client
        for rc in wanted.inventories:
            client.ensure_resource_class(rc)
        client.ensure_traits(wanted.traits)
        if known_providers is not None:
            provider = known_providers.get(wanted.uuid)
        elif likely_new:
            provider = None
        else:
            provider = client.get_provider(wanted.uuid)
        if provider is None:
            provider = client.create_provider(wanted.uuid, wanted.name,
                                              wanted.parent_uuid)
        if (provider['name'] != wanted.name
                or provider.get('parent_provider_uuid') != wanted.parent_uuid):
            LOG.info('Moving provider %s to name %s under %s', wanted.uuid,
                     wanted.name, wanted.parent_uuid)
            provider = client.update_provider(wanted.uuid, wanted.name,
                                              wanted.parent_uuid)
        return provider

    def update_with_generation(self, what, read, change, write):
        """Read, compute the change from that read, write; on a conflict,
        read again. The one such loop of the Placement layer.

        ``read()`` gives (generation, current); ``change(current)`` the new
        value, or None when nothing is to be written; ``write(generation,
        value)`` raises GenerationConflict when the provider changed.
        PlacementConflict after ``[conductor] placement_retries`` tries.
        """
        for _attempt in range(self._retries):
            generation, current = read()
            value = change(current)
            if value is None:
                return
            try:
                write(generation, value)
                return
            except exception.GenerationConflict:
                LOG.debug('Generation conflict writing %s; re-reading', what)
        raise exception.PlacementConflict(what=what)

    def _sync_provider_inventory(self, wanted):
        self.update_with_generation(
            'inventory of provider %s' % wanted.uuid,
            lambda: self._client.get_inventories(wanted.uuid),
            lambda current: (None if _inventories_match(
                current, wanted.inventories) else wanted.inventories),
            lambda generation, value: self._client.set_inventories(
                wanted.uuid, generation, value))

    def _sync_provider_traits(self, wanted):
        desired = set(wanted.traits)
        self.update_with_generation(
            'traits of provider %s' % wanted.uuid,
            lambda: self._client.get_provider_traits(wanted.uuid),
            lambda current: None if desired == set(current) else desired,
            lambda generation, value: self._client.set_provider_traits(
                wanted.uuid, generation, value))

    def set_function_trait(self, rp_uuid, trait):
        """Make ``trait`` the provider's only function-id trait, now.

        Called right after a bind programmed a region, so the scheduler
        sees the new function at once; the trait is also what the DB
        records (``deployables.function_id``), so a later sync or the
        reconciler writes the same. ``trait`` None just removes the old
        ones (the new bitstream names no function).
        """
        if trait:
            self._client.ensure_traits([trait])

        def change(current):
            wanted = {t for t in current
                      if not t.startswith(FUNCTION_ID_TRAIT_PREFIX)}
            if trait:
                wanted.add(trait)
            return None if wanted == set(current) else wanted

        self.update_with_generation(
            'the function trait of provider %s' % rp_uuid,
            lambda: self._client.get_provider_traits(rp_uuid), change,
            lambda generation, value: self._client.set_provider_traits(
                rp_uuid, generation, value))

    # Deleting ---------------------------------------------------------------

    def _delete_provider_tree(self, uuid, result, strict=False):
        """Delete a provider and its descendants, children first.

        A provider Placement keeps (allocations) is recorded in
        ``kept_in_use`` and left for a later pass, or raised when strict.
        """
        tree = {p['uuid']: p for p in self._client.get_providers_in_tree(uuid)}
        if uuid not in tree:
            return
        subtree = _descendants(uuid, tree) + [uuid]
        for member in _children_first(subtree, tree):
            if not self._delete_one_provider(member, result) and strict:
                raise exception.ResourceProviderInUse(
                    uuid=member, reason='it still has allocations')

    def _delete_one_provider(self, uuid, result):
        try:
            self._client.delete_provider(uuid)
        except exception.ResourceProviderInUse as exc:
            LOG.info('Keeping provider %s for now: %s', uuid, exc)
            result.kept_in_use.append(uuid)
            return False
        result.deleted.append(uuid)
        return True


def _inventories_match(current, wanted):
    """Whether Placement's inventories have exactly the wanted values."""
    if set(current) != set(wanted):
        return False
    return all(current[rc].get(field) == value
               for rc, fields in wanted.items()
               for field, value in fields.items())


def _descendants(uuid, tree):
    children = [p['uuid'] for p in tree.values()
                if p.get('parent_provider_uuid') == uuid]
    found = []
    for child in children:
        found += _descendants(child, tree) + [child]
    return found


def _children_first(uuids, tree):
    """Order providers so that every child comes before its parent."""
    def depth(uuid):
        level, seen = 0, set()
        parent = tree.get(uuid, {}).get('parent_provider_uuid')
        while parent and parent not in seen:
            seen.add(parent)
            level += 1
            parent = tree.get(parent, {}).get('parent_provider_uuid')
        return level
    return sorted(uuids, key=depth, reverse=True)

