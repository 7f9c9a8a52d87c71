"""Placement client: a keystoneauth adapter configured by [placement].

Every write honours resource provider generations: callers read, compute the
change from what they read, write with the generation they read, and on
``GenerationConflict`` re-read and recompute (a bounded number of times).

Methods return plain data (dicts, lists, generations) and raise domain
exceptions: a 409 whose error code is ``placement.concurrent_update`` is
``GenerationConflict``, a refused provider delete is
``ResourceProviderInUse``, a connection failure or a 5xx is
``PlacementUnavailable``.
"""

import logging

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
import os_resource_classes

from cyborg.conf import ksa
from cyborg import exception

LOG = logging.getLogger(__name__)

GROUP = 'placement'
# Highest microversion we need: 1.26 allows reserved == total (disable),
# 1.20 returns the provider on create, 1.18 `required` on provider lists,
# 1.14 in_tree.
MICROVERSION = '1.26'
# Changing the parent of an existing provider (a compute node provider that
# was re-created under another uuid) needs 1.37.
REPARENT_MICROVERSION = '1.37'
# POST /reshaper (1.30) sets many providers' inventories in one call.
RESHAPER_MICROVERSION = '1.30'
# GET /allocation_candidates with a numbered group (1.25, granular: one
# provider gives all of it, as Nova asks for a device profile group) and
# forbidden traits ("!T", 1.22).
CANDIDATES_MICROVERSION = '1.25'
# HTTP connections kept open to Placement: as many as the conductor's RPC
# threads (oslo.messaging's executor_thread_pool_size, 64) may use at once.
# requests keeps 10 and closes the rest after each call, so under load most
# calls opened a new connection.
CONNECTION_POOL_SIZE = 64
CONNECT_RETRIES = 1

# Error codes of Placement's JSON error bodies (placement/errors.py).
CONCURRENT_UPDATE = 'placement.concurrent_update'
DUPLICATE_NAME = 'placement.duplicate_name'
INVENTORY_INUSE = 'placement.inventory.inuse'
PROVIDER_IN_USE = 'placement.resource_provider.inuse'
PROVIDER_CANNOT_DELETE_PARENT = (
    'placement.resource_provider.cannot_delete_parent')


def make_adapter(conf, group=GROUP):
    """A keystoneauth Adapter for [group] (session, auth and endpoint)."""
    auth = ks_loading.load_auth_from_conf_options(conf, group)
    session = ks_loading.load_session_from_conf_options(conf, group,
                                                        auth=auth)
    pooled = ks_session.TCPKeepAliveAdapter(
        pool_connections=CONNECTION_POOL_SIZE,
        pool_maxsize=CONNECTION_POOL_SIZE)
    for scheme in ('http://', 'https://'):
        session.session.mount(scheme, pooled)
    return ks_loading.load_adapter_from_conf_options(conf, group,
                                                     session=session,
                                                     auth=auth)


def configure_noauth(conf, endpoint, token='admin'):
    """Point [placement] at a noauth2 Placement (all-in-one, tests)."""
    ksa.use_fixed_token(conf, GROUP, endpoint, token)


def is_custom(name):
    """Whether a resource class or trait name is operator-defined."""
    return name.startswith('CUSTOM_')


class PlacementClient:
    """Thin, typed calls to Placement's REST API.

    One client may be shared by threads. It remembers the custom resource
    classes and traits it has made sure exist, so a steady conductor does
    not ask again; a write refused because one of them vanished meanwhile
    (someone deleted it) forgets that and creates it again, once.
    """

    def __init__(self, adapter):
        self._adapter = adapter
        # Sets only grow or get discarded as a whole: safe without a lock.
        self._known_resource_classes = set()
        self._known_traits = set()
        # Until Placement answers 403 to POST /reshaper.
        self._reshaper_allowed = True

    @classmethod
    def from_conf(cls, conf):
        return cls(make_adapter(conf))

    def _request(self, method, url, **kwargs):
        kwargs.setdefault('microversion', MICROVERSION)
        kwargs.setdefault('raise_exc', False)
        # A pooled connection the server closed as idle just as we reused
        # it is reset: try once more on a new one. Every write here is
        # safe to repeat (generations, create-or-confirm).
        kwargs.setdefault('connect_retries', CONNECT_RETRIES)
        try:
            return self._adapter.request(url, method, **kwargs)
        except ks_exc.ConnectFailure as exc:
            raise exception.PlacementUnavailable(reason=str(exc))
        except ks_exc.EndpointNotFound as exc:
            raise exception.PlacementUnavailable(reason=str(exc))

    # Providers

    def find_provider_by_name(self, name):
        """The provider named ``name`` as Placement's dict, or None."""
        resp = self._request('GET', '/resource_providers',
                             params={'name': name})
        _raise_for_status(resp, 'finding provider %s' % name)
        providers = resp.json()['resource_providers']
        return providers[0] if providers else None

    def get_provider(self, uuid):
        """The provider ``uuid`` as Placement's dict, or None."""
        resp = self._request('GET', '/resource_providers/%s' % uuid)
        if resp.status_code == 404:
            return None
        _raise_for_status(resp, 'reading provider %s' % uuid)
        return resp.json()

    def get_providers_in_tree(self, root_uuid, required_traits=None):
        """Every provider of the tree holding ``root_uuid`` (itself too).

        ``required_traits`` keeps only providers having all those traits.
        An unknown uuid gives an empty list.
        """
        params = {'in_tree': root_uuid}
        if required_traits:
            params['required'] = ','.join(sorted(required_traits))
        resp = self._request('GET', '/resource_providers', params=params)
        _raise_for_status(resp, 'listing the tree of provider %s' % root_uuid)
        return resp.json()['resource_providers']

    def create_provider(self, uuid, name, parent_uuid):
        """Create a provider; return it as Placement's dict.

        Creating one that already exists with this uuid returns the existing
        provider (so a retry, or two conductors racing, both succeed); the
        caller compares name and parent. A name held by a provider of
        another uuid raises ResourceProviderNameClash.
        """
        body = {'uuid': uuid, 'name': name}
        if parent_uuid:
            body['parent_provider_uuid'] = parent_uuid
        resp = self._request('POST', '/resource_providers', json=body)
        if resp.status_code == 409 and _error_code(resp) == DUPLICATE_NAME:
            existing = self.get_provider(uuid)
            if existing is not None:
                return existing
            holder = self.find_provider_by_name(name)
            raise exception.ResourceProviderNameClash(
                name=name, uuid=holder['uuid'] if holder else '?')
        _raise_for_status(resp, 'creating provider %s (%s)' % (name, uuid))
        return resp.json()

    def update_provider(self, uuid, name, parent_uuid):
        """Rename and/or re-parent a provider; return it."""
        resp = self._request('PUT', '/resource_providers/%s' % uuid,
                             json={'name': name,
                                   'parent_provider_uuid': parent_uuid},
                             microversion=REPARENT_MICROVERSION)
        if resp.status_code == 409 and _error_code(resp) == DUPLICATE_NAME:
            holder = self.find_provider_by_name(name)
            raise exception.ResourceProviderNameClash(
                name=name, uuid=holder['uuid'] if holder else '?')
        _raise_for_status(resp, 'updating provider %s' % uuid)
        return resp.json()

    def delete_provider(self, uuid):
        """Delete a provider. Returns False when it did not exist.

        A provider that still has allocations, or children, is kept by
        Placement: ResourceProviderInUse.
        """
        resp = self._request('DELETE', '/resource_providers/%s' % uuid)
        if resp.status_code == 404:
            return False
        if resp.status_code == 409:
            raise exception.ResourceProviderInUse(
                uuid=uuid, reason=_error_detail(resp))
        _raise_for_status(resp, 'deleting provider %s' % uuid)
        return True

    # Resource classes and traits

    def ensure_resource_class(self, name):
        """Make sure a custom resource class exists (standard ones do)."""
        if not is_custom(name):
            if name not in os_resource_classes.STANDARDS:
                raise exception.Invalid(
                    reason='%s is neither a standard nor a custom resource '
                           'class' % name)
            return
        if name in self._known_resource_classes:
            return
        # PUT is create-or-confirm from 1.7: 201 created, 204 existed.
        resp = self._request('PUT', '/resource_classes/%s' % name)
        _raise_for_status(resp, 'creating resource class %s' % name)
        self._known_resource_classes.add(name)

    def ensure_traits(self, names):
        """Make sure custom traits exist; standard os-traits always do."""
        for name in sorted(set(names)):
            if not is_custom(name) or name in self._known_traits:
                continue
            resp = self._request('PUT', '/traits/%s' % name)
            _raise_for_status(resp, 'creating trait %s' % name)
            self._known_traits.add(name)

    # Inventories

    def get_inventories(self, uuid):
        """(generation, {rc: inventory dict}) of provider ``uuid``."""
        resp = self._request('GET',
                             '/resource_providers/%s/inventories' % uuid)
        if resp.status_code == 404:
            raise exception.ResourceProviderNotFound(name=uuid)
        _raise_for_status(resp, 'reading inventories of %s' % uuid)
        data = resp.json()
        return data['resource_provider_generation'], data['inventories']

    def set_inventories(self, uuid, generation, inventories):
        """Replace the provider's inventories; return its new generation."""
        body = {'resource_provider_generation': generation,
                'inventories': inventories}
        resp = self._put_inventories(uuid, body)
        if resp.status_code == 400 and 'Unknown resource class' in resp.text:
            # A custom class we created earlier was deleted since.
            self._known_resource_classes.clear()
            for name in inventories:
                self.ensure_resource_class(name)
            resp = self._put_inventories(uuid, body)
        if resp.status_code == 409:
            code = _error_code(resp)
            if code == CONCURRENT_UPDATE:
                raise exception.GenerationConflict(uuid=uuid)
            if code == INVENTORY_INUSE:
                raise exception.InventoryInUse(uuid=uuid,
                                               reason=_error_detail(resp))
        _raise_for_status(resp, 'setting inventories of %s' % uuid)
        return resp.json()['resource_provider_generation']

    def set_many_inventories(self, inventories):
        """Replace several providers' inventories, in one call if allowed.

        ``inventories``: {provider uuid: (generation, {rc: inventory})}.
        ``POST /reshaper`` (with no allocations moved) sets them all or
        none; Placement allows it to the ``service`` role only (its default
        policy), so where it answers 403 this client says so once and sets
        them one PUT per provider from then on, at the same generations.
        GenerationConflict when one provider changed since its generation
        was read, InventoryInUse when an inventory to remove has
        allocations, Invalid when Placement refused the data (an unknown
        resource class or provider): callers fall back to reading and
        setting each provider, which sorts those out.
        """
        if self._reshaper_allowed:
            resp = self._reshape(inventories)
            if resp.status_code != 403:
                what = 'inventories of %d providers' % len(inventories)
                if resp.status_code == 409:
                    code = _error_code(resp)
                    if code == CONCURRENT_UPDATE:
                        raise exception.GenerationConflict(uuid=what)
                    if code == INVENTORY_INUSE:
                        raise exception.InventoryInUse(
                            uuid=what, reason=_error_detail(resp))
                _raise_for_status(resp, 'setting %s' % what)
                return
            LOG.warning('Placement does not allow POST /reshaper to this '
                        'service (grant its user the service role): '
                        'setting inventories one provider at a time')
            self._reshaper_allowed = False
        for uuid, (generation, inventory) in sorted(inventories.items()):
            self.set_inventories(uuid, generation, inventory)

    def _reshape(self, inventories):
        body = {'inventories': {
                    uuid: {'resource_provider_generation': generation,
                           'inventories': inventory}
                    for uuid, (generation, inventory) in inventories.items()},
                'allocations': {}}
        return self._request('POST', '/reshaper', json=body,
                             microversion=RESHAPER_MICROVERSION)

    def _put_inventories(self, uuid, body):
        return self._request('PUT',
                             '/resource_providers/%s/inventories' % uuid,
                             json=body)

    # Provider traits

    def get_provider_traits(self, uuid):
        """(generation, [trait names]) of provider ``uuid``."""
        resp = self._request('GET', '/resource_providers/%s/traits' % uuid)
        if resp.status_code == 404:
            raise exception.ResourceProviderNotFound(name=uuid)
        _raise_for_status(resp, 'reading traits of %s' % uuid)
        data = resp.json()
        return data['resource_provider_generation'], data['traits']

    def set_provider_traits(self, uuid, generation, traits):
        """Replace the provider's traits; return its new generation."""
        body = {'resource_provider_generation': generation,
                'traits': sorted(set(traits))}
        resp = self._put_traits(uuid, body)
        if resp.status_code == 400 and 'No such trait' in resp.text:
            # A custom trait we created earlier was deleted since.
            self._known_traits.clear()
            self.ensure_traits(traits)
            resp = self._put_traits(uuid, body)
        if resp.status_code == 409 and _error_code(resp) == CONCURRENT_UPDATE:
            raise exception.GenerationConflict(uuid=uuid)
        _raise_for_status(resp, 'setting traits of %s' % uuid)
        return resp.json()['resource_provider_generation']

    def _put_traits(self, uuid, body):
        return self._request('PUT', '/resource_providers/%s/traits' % uuid,
                             json=body)

    # Reads for the explain API (they never write)

    def existing_traits(self, names):
        """Those of the trait ``names`` Placement knows (a set)."""
        names = sorted(set(names))
        if not names:
            return set()
        resp = self._request('GET', '/traits',
                             params={'name': 'in:' + ','.join(names)})
        _raise_for_status(resp, 'listing traits')
        return set(resp.json()['traits'])

    def get_allocation_candidates(self, resources, required_traits=(),
                                  forbidden_traits=(), limit=None):
        """The providers Placement would offer one request group.

        ``resources`` {rc: amount}, asked as one numbered group (one
        provider must hold it all, with every required trait and no
        forbidden one). Returns the set of provider uuids appearing in
        the candidates. Invalid when Placement refuses the query (an
        unknown resource class or trait).
        """
        params = {'resources1': ','.join(
            '%s:%d' % (rc, amount) for rc, amount in sorted(
                resources.items()))}
        traits = sorted(required_traits) + [
            '!' + name for name in sorted(forbidden_traits)]
        if traits:
            params['required1'] = ','.join(traits)
        if limit:
            params['limit'] = int(limit)
        resp = self._request('GET', '/allocation_candidates', params=params,
                             microversion=CANDIDATES_MICROVERSION)
        _raise_for_status(resp, 'asking for allocation candidates')
        return {rp_uuid for request in resp.json()['allocation_requests']
                for rp_uuid in request['allocations']}


def _error_code(resp):
    """The ``code`` of Placement's first error, or None."""
    try:
        return resp.json()['errors'][0].get('code')
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _error_detail(resp):
    try:
        return resp.json()['errors'][0].get('detail') or resp.text[:200]
    except (ValueError, KeyError, IndexError, TypeError):
        return resp.text[:200]


def _raise_for_status(resp, what):
    if resp.status_code >= 500:
        raise exception.PlacementUnavailable(
            reason='%s: HTTP %s %s' % (what, resp.status_code, resp.text[:200]))
    if resp.status_code == 409:
        # A conflict the caller did not expect: keep it a Conflict, so it is
        # retried later rather than taken for a malformed request.
        raise exception.PlacementConflict(
            what='%s: %s' % (what, _error_detail(resp)))
    if resp.status_code >= 400:
        raise exception.Invalid(
            reason='Placement refused %s: HTTP %s %s'
                   % (what, resp.status_code, resp.text[:200]))
