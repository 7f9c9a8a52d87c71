"""One API call from an ``openstack accelerator`` command of ours.

Shared by the device context and quota commands: the call at a given
microversion through the openstacksdk accelerator proxy, and the API's
own reason when it refuses (its error body carries the message as JSON
text), as a CommandError.
"""

import json

from osc_lib import exceptions


def call(client, method, path, expect, microversion, **kwargs):
    """The JSON answer of one API call; CommandError with the API's reason
    otherwise."""
    resp = client.request(path, method, microversion=microversion,
                          raise_exc=False, **kwargs)
    if resp.status_code not in expect:
        raise exceptions.CommandError(
            '%s %s failed (HTTP %s): %s' % (method, path, resp.status_code,
                                            reason(resp)))
    return resp.json() if resp.content else None


def reason(resp):
    try:
        fault = json.loads(resp.json()['error_message'])
        return fault['faultstring']
    except (ValueError, KeyError, TypeError):
        return resp.text[:300]
