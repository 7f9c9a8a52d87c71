"""Placement client: a keystoneauth adapter configured by [placement].

Every write honours resource provider generations: callers read, compute the
change from what they read, write with the generation they read, and on
``GenerationConflict`` re-read and recompute (a bounded number of times).
"""

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading

from cyborg import exception

GROUP = 'placement'
# Highest microversion we need: 1.26 allows reserved == total (disable),
# 1.20 returns the provider on create, 1.14 in_tree.
MICROVERSION = '1.26'


def make_adapter(conf, group=GROUP):
    """A keystoneauth Adapter for [group] (session, auth and endpoint)."""
    auth = ks_loading.load_auth_from_conf_options(conf, group)
    session = ks_loading.load_session_from_conf_options(conf, group,
                                                        auth=auth)
    return ks_loading.load_adapter_from_conf_options(conf, group,
                                                     session=session,
                                                     auth=auth)


def configure_noauth(conf, endpoint, token='admin'):
    """Point [placement] at a noauth2 Placement (all-in-one, tests)."""
    conf.set_override('auth_type', 'admin_token', group=GROUP)
    # A plugin's options are registered when it is loaded; register them
    # now so they can be set.
    conf.register_opts(ks_loading.get_auth_plugin_conf_options('admin_token'),
                       group=GROUP)
    conf.set_override('endpoint', endpoint, group=GROUP)
    conf.set_override('token', token, group=GROUP)


class PlacementClient:
    """Thin, typed calls to Placement's REST API."""

    def __init__(self, adapter):
        self._adapter = adapter

    @classmethod
    def from_conf(cls, conf):
        return cls(make_adapter(conf))

    def _request(self, method, url, **kwargs):
        kwargs.setdefault('microversion', MICROVERSION)
        kwargs.setdefault('raise_exc', False)
        try:
            return self._adapter.request(url, method, **kwargs)
        except ks_exc.ConnectFailure as exc:
            raise exception.PlacementUnavailable(reason=str(exc))
        except ks_exc.EndpointNotFound as exc:
            raise exception.PlacementUnavailable(reason=str(exc))

    def find_provider_by_name(self, name):
        """The provider named ``name`` as Placement's dict, or None."""
        resp = self._request('GET', '/resource_providers',
                             params={'name': name})
        _raise_for_status(resp, 'finding provider %s' % name)
        providers = resp.json()['resource_providers']
        return providers[0] if providers else None


def _raise_for_status(resp, what):
    if resp.status_code >= 500:
        raise exception.PlacementUnavailable(
            reason='%s: HTTP %s %s' % (what, resp.status_code, resp.text[:200]))
    if resp.status_code >= 400:
        raise exception.Invalid(
            reason='Placement refused %s: HTTP %s %s'
                   % (what, resp.status_code, resp.text[:200]))
