"""Glance client: bitstream image metadata and downloads, over keystoneauth.

Configured by the ``[glance]`` session, auth and adapter options, like the
Placement client. Conductors use :meth:`GlanceClient.get_image` and
:meth:`GlanceClient.find_images_by_function_id` to pick the bitstream a
device profile asks for; agents use :meth:`GlanceClient.download`.

Images are returned as plain dicts::

    {"id": ..., "name": ..., "status": ..., "checksum": <md5 or None>,
     "os_hash_algo": ..., "os_hash_value": ...,
     "properties": {"accel:function_id": ..., ...}}

where ``properties`` holds the image's custom properties (Glance v2 returns
them as top-level keys of the image).
"""

import logging
import re
import time

from keystoneauth1 import exceptions as ks_exc
import requests

from cyborg.clients import placement
from cyborg import exception

LOG = logging.getLogger(__name__)

GROUP = 'glance'
FUNCTION_ID_PROPERTY = 'accel:function_id'
# Keys of Glance's own image schema; everything else is a custom property.
_IMAGE_FIELDS = frozenset((
    'id', 'name', 'status', 'visibility', 'protected', 'checksum',
    'os_hash_algo', 'os_hash_value', 'owner', 'size', 'virtual_size',
    'min_ram', 'min_disk', 'disk_format', 'container_format', 'created_at',
    'updated_at', 'tags', 'self', 'file', 'schema', 'direct_url',
    'locations', 'os_hidden', 'stores'))
_CHUNK_SIZE = 1024 * 1024


def image_from_glance(body):
    """Glance's image document -> our plain image dict."""
    return {
        'id': body['id'],
        'name': body.get('name'),
        'status': body.get('status'),
        'checksum': body.get('checksum'),
        'os_hash_algo': body.get('os_hash_algo'),
        'os_hash_value': body.get('os_hash_value'),
        'properties': {key: value for key, value in body.items()
                       if key not in _IMAGE_FIELDS},
    }


class GlanceClient:
    """Image metadata lookups and data downloads (Image API v2)."""

    def __init__(self, adapter):
        self._adapter = adapter
        self._base_url = None

    @classmethod
    def from_conf(cls, conf):
        return cls(placement.make_adapter(conf, group=GROUP))

    def _url(self, path):
        if self._base_url is None:
            try:
                endpoint = self._adapter.get_endpoint()
            except (ks_exc.MissingAuthPlugin, ks_exc.EndpointNotFound) as exc:
                # [glance] names neither an endpoint nor credentials to
                # find one in the catalog: bitstreams cannot be fetched.
                raise exception.ServiceUnavailable(
                    reason='no image service is configured ([glance] '
                           'endpoint_override or auth options): %s' % exc)
            except ks_exc.ClientException as exc:
                raise exception.ServiceUnavailable(
                    reason='the image service endpoint could not be '
                           'found: %s' % exc)
            if not endpoint:
                raise exception.ServiceUnavailable(
                    reason='no image service endpoint in the catalog or '
                           '[glance]')
            # Catalogs may list the image endpoint with or without its
            # version; paths here carry /v2 themselves.
            self._base_url = re.sub(r'/v2(\.\d+)?$', '',
                                    endpoint.rstrip('/'))
        return self._base_url + path

    def _request(self, method, path, **kwargs):
        kwargs.setdefault('raise_exc', False)
        try:
            return self._adapter.request(self._url(path), method, **kwargs)
        except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout) as exc:
            raise exception.ServiceUnavailable(
                reason='the image service could not be reached: %s' % exc)
        except ks_exc.ClientException as exc:
            # Authentication failed, TLS refused, ...: the request never
            # got an answer from Glance.
            raise exception.ServiceUnavailable(
                reason='the image service could not be asked: %s' % exc)

    def get_image(self, image_id):
        """The image ``image_id``; raises ImageNotFound."""
        resp = self._request('GET', '/v2/images/%s' % image_id)
        if resp.status_code == 404:
            raise exception.ImageNotFound(image=image_id)
        _raise_for_status(resp, 'reading image %s' % image_id)
        return image_from_glance(resp.json())

    def find_images_by_function_id(self, function_id):
        """Every image whose ``accel:function_id`` is ``function_id``."""
        images = []
        path = '/v2/images'
        params = {FUNCTION_ID_PROPERTY: function_id}
        while path:
            resp = self._request('GET', path, params=params)
            _raise_for_status(resp, 'listing images of function %s'
                              % function_id)
            body = resp.json()
            images += [image_from_glance(item) for item in body['images']]
            # Glance pages with a "next" link that already holds the query.
            path, params = body.get('next'), None
        return images

    def download(self, image_id, path, num_retries=0):
        """Write the image data to ``path``, retrying failed attempts.

        Raises ImageNotFound, or ServiceUnavailable once the retries are
        spent.
        """
        for attempt in range(num_retries + 1):
            try:
                self._download_once(image_id, path)
                return
            except exception.ServiceUnavailable as exc:
                if attempt == num_retries:
                    raise
                LOG.warning('Downloading image %s failed (%s); retrying',
                            image_id, exc)
                time.sleep(min(2 ** attempt, 10))

    def _download_once(self, image_id, path):
        resp = self._request('GET', '/v2/images/%s/file' % image_id,
                             stream=True)
        try:
            if resp.status_code == 404:
                raise exception.ImageNotFound(image=image_id)
            if resp.status_code == 204:
                raise exception.ImageNotFound(
                    message='Bitstream image %s has no data.' % image_id)
            _raise_for_status(resp, 'downloading image %s' % image_id)
            with open(path, 'wb') as handle:
                for chunk in resp.iter_content(_CHUNK_SIZE):
                    handle.write(chunk)
        except requests.exceptions.RequestException as exc:
            # A connection cut mid-transfer is worth a retry, like a 5xx.
            raise exception.ServiceUnavailable(
                reason='download of image %s was cut: %s' % (image_id, exc))
        finally:
            resp.close()


def _raise_for_status(resp, what):
    if resp.status_code >= 500:
        raise exception.ServiceUnavailable(
            reason='Glance failed %s: HTTP %s' % (what, resp.status_code))
    if resp.status_code >= 400:
        raise exception.Invalid(
            reason='Glance refused %s: HTTP %s %s'
                   % (what, resp.status_code, resp.text[:200]))
