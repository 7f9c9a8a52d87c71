"""A small, thread-safe client of the cyborg v2 API for os_acc.

It takes either a keystoneauth1 Adapter (service type ``accelerator``, as a
compute service has) or a plain endpoint plus headers (tests, noauth).
"""

import threading

from keystoneauth1 import exceptions as ks_exc
import requests

# What os_acc asks for unless a call needs more: 2.3 serves every flow
# but device contexts, which need 2.4 (and a service that has it).
API_VERSION = '2.3'
DEVICE_CONTEXT_VERSION = '2.4'


class AcceleratorError(Exception):
    """An unexpected answer from the accelerator API."""

    def __init__(self, method, path, status, body):
        super().__init__('%s %s -> HTTP %s: %s' % (method, path, status,
                                                     body[:300]))
        self.status = status


class AcceleratorClient:
    """Calls the v2 API; one HTTP session per thread."""

    def __init__(self, endpoint=None, headers=None, adapter=None,
                 timeout=60):
        if (endpoint is None) == (adapter is None):
            raise ValueError('give exactly one of endpoint or adapter')
        self._endpoint = endpoint.rstrip('/') if endpoint else None
        self._headers = dict(headers or {})
        self._adapter = adapter
        self._timeout = timeout
        self._local = threading.local()

    def request(self, method, path, expect=(200,), json=None,
                microversion=API_VERSION):
        """Returns (status, body as parsed JSON or None)."""
        headers = {'OpenStack-API-Version': 'accelerator %s' % microversion,
                   'Accept': 'application/json'}
        try:
            if self._adapter is not None:
                resp = self._adapter.request(path, method, json=json,
                                             headers=headers, raise_exc=False)
            else:
                headers.update(self._headers)
                resp = self._session().request(
                    method, self._endpoint + path, json=json,
                    headers=headers, timeout=self._timeout)
        except (requests.RequestException, ks_exc.ClientException) as exc:
            # Unreachable or timed out: callers see one error type.
            raise AcceleratorError(method, path, None, str(exc)) from exc
        if resp.status_code not in expect:
            raise AcceleratorError(method, path, resp.status_code, resp.text)
        body = resp.json() if resp.content else None
        return resp.status_code, body

    def _session(self):
        session = getattr(self._local, 'session', None)
        if session is None:
            session = self._local.session = requests.Session()
        return session
