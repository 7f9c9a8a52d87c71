"""Error responses of the API: stable error codes and the one fault wrapper.

Every non-2xx answer has upstream Cyborg's body, a JSON object whose only
key holds the WSME fault document as JSON *text*::

    {"error_message": "{\\"faultcode\\": \\"Client\\", \\"faultstring\\": ...,
                        \\"debuginfo\\": null}"}

Clients (python-cyborgclient, openstacksdk, Nova) parse exactly that, so the
body cannot carry more. The stable error code of this module's registry
travels in the ``OpenStack-Error-Code`` response header instead, where tests
and operators can match on it without string-matching messages.

Domain exceptions carry no HTTP status: :func:`status_for` maps them once,
here. The dispatcher and handlers raise :class:`APIError` for conditions
that are only HTTP concerns (no such route, a bad microversion, a missing
service token). Anything else that escapes a handler is a logged 500 from
:class:`FaultWrapper`.
"""

import json
import logging

import oslo_messaging as messaging
import webob

from cyborg import exception

LOG = logging.getLogger(__name__)

ERROR_CODE_HEADER = 'OpenStack-Error-Code'

# The registry. Do not change a string once released; do not reuse one.
DEFAULT = 'cyborg.undefined_code'
NOT_FOUND = 'cyborg.not_found'
FORBIDDEN = 'cyborg.forbidden'
POLICY_DENIED = 'cyborg.policy.denied'
SERVICE_TOKEN_REQUIRED = 'cyborg.service_token_required'
INVALID = 'cyborg.invalid'
BAD_BODY = 'cyborg.body.invalid'
BAD_QUERY = 'cyborg.query.bad_value'
BAD_MICROVERSION = 'cyborg.microversion.not_acceptable'
CONFLICT = 'cyborg.conflict'
METHOD_NOT_ALLOWED = 'cyborg.method_not_allowed'
NOT_ACCEPTABLE = 'cyborg.not_acceptable'
BAD_MEDIA_TYPE = 'cyborg.body.unsupported_media_type'
BODY_TOO_LARGE = 'cyborg.body.too_large'
BAD_PATH = 'cyborg.path.bad_value'
SERVICE_UNAVAILABLE = 'cyborg.service_unavailable'
CONDUCTOR_TIMEOUT = 'cyborg.conductor.timeout'
CONDUCTOR_TOO_OLD = 'cyborg.conductor.too_old'
INTERNAL = 'cyborg.internal_error'
DP_NOT_FOUND = 'cyborg.device_profile.not_found'
DP_DUPLICATE = 'cyborg.device_profile.duplicate'
DP_IN_USE = 'cyborg.device_profile.in_use'
DC_NOT_FOUND = 'cyborg.device_context.not_found'
DC_BOUND = 'cyborg.device_context.bound'
DC_IN_USE = 'cyborg.device_context.in_use'
ARQ_NOT_FOUND = 'cyborg.arq.not_found'
ARQ_BAD_STATE = 'cyborg.arq.bad_state'
ARQ_INSTANCE_HAS_ARQS = 'cyborg.arq.instance_has_arqs'
ARQ_UNKNOWN_PROVIDER = 'cyborg.arq.unknown_provider'
ARQ_WRONG_HOST = 'cyborg.arq.wrong_host'
ARQ_TOO_MANY = 'cyborg.arq.too_many'
DEVICE_NOT_FOUND = 'cyborg.device.not_found'
DEPLOYABLE_NOT_FOUND = 'cyborg.deployable.not_found'
ATTACH_HANDLE_NOT_FOUND = 'cyborg.attach_handle.not_found'
PROGRAM_FAILED = 'cyborg.deployable.program_failed'
ATTRIBUTE_NOT_FOUND = 'cyborg.attribute.not_found'
ATTRIBUTE_DUPLICATE = 'cyborg.attribute.duplicate'
NO_FREE_HANDLE = 'cyborg.attach_handle.none_free'
QUOTA_EXCEEDED = 'cyborg.quota.exceeded'
QUOTA_LIMITS_UNAVAILABLE = 'cyborg.quota.limits_unavailable'

# Domain exception -> (status, code). Looked up along the class's MRO, so a
# new subclass is mapped by its family until it earns its own code.
_DOMAIN_ERRORS = {
    exception.DeviceProfileNotFound: (404, DP_NOT_FOUND),
    exception.ARQNotFound: (404, ARQ_NOT_FOUND),
    exception.DeviceContextNotFound: (404, DC_NOT_FOUND),
    exception.DeviceNotFound: (404, DEVICE_NOT_FOUND),
    exception.DeployableNotFound: (404, DEPLOYABLE_NOT_FOUND),
    exception.AttachHandleNotFound: (404, ATTACH_HANDLE_NOT_FOUND),
    exception.AttributeNotFound: (404, ATTRIBUTE_NOT_FOUND),
    exception.NotFound: (404, NOT_FOUND),
    exception.QuotaExceeded: (403, QUOTA_EXCEEDED),
    exception.Forbidden: (403, FORBIDDEN),
    exception.Invalid: (400, INVALID),
    exception.DuplicateDeviceProfile: (409, DP_DUPLICATE),
    exception.DeviceProfileInUse: (409, DP_IN_USE),
    exception.ARQBadState: (409, ARQ_BAD_STATE),
    exception.DeviceContextBound: (409, DC_BOUND),
    exception.DeviceContextInUse: (409, DC_IN_USE),
    exception.InstanceAlreadyHasARQs: (400, ARQ_INSTANCE_HAS_ARQS),
    exception.UnknownBindProvider: (400, ARQ_UNKNOWN_PROVIDER),
    exception.BindHostMismatch: (400, ARQ_WRONG_HOST),
    exception.TooManyAccelerators: (400, ARQ_TOO_MANY),
    exception.PolicyNotAuthorized: (403, POLICY_DENIED),
    exception.DuplicateAttribute: (409, ATTRIBUTE_DUPLICATE),
    exception.NoFreeAttachHandle: (409, NO_FREE_HANDLE),
    exception.Conflict: (409, CONFLICT),
    exception.ConductorTooOld: (503, CONDUCTOR_TOO_OLD),
    exception.QuotaLimitsUnavailable: (503, QUOTA_LIMITS_UNAVAILABLE),
    exception.ServiceUnavailable: (503, SERVICE_UNAVAILABLE),
    exception.ProgrammingFailed: (500, PROGRAM_FAILED),
}


class APIError(Exception):
    """An HTTP-only failure raised by a handler or middleware."""

    status = 500

    def __init__(self, message, code=None, headers=None):
        super().__init__(message)
        self.message = message
        self.code = code or DEFAULT
        self.headers = headers or {}


class BadRequest(APIError):
    status = 400


class Forbidden(APIError):
    status = 403


class NotFound(APIError):
    status = 404


class MethodNotAllowed(APIError):
    status = 405

    def __init__(self, allowed):
        super().__init__('Method not allowed; this resource allows %s.'
                         % ', '.join(allowed), code=METHOD_NOT_ALLOWED,
                         headers={'Allow': ', '.join(allowed)})


class NotAcceptable(APIError):
    status = 406


class RequestTooLarge(APIError):
    status = 413


class UnsupportedMediaType(APIError):
    status = 415


class Conflict(APIError):
    status = 409


def status_for(exc):
    """(HTTP status, error code, message) for any exception."""
    if isinstance(exc, APIError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, exception.CyborgException):
        for cls in type(exc).__mro__:
            if cls in _DOMAIN_ERRORS:
                status, code = _DOMAIN_ERRORS[cls]
                return status, code, exc.message
    if isinstance(exc, messaging.MessagingTimeout):
        # The conductor did not answer in time; the client may retry.
        return 503, CONDUCTOR_TIMEOUT, 'The conductor did not answer in time.'
    return 500, INTERNAL, None


def fault_body(status, message):
    """The upstream-compatible error body for status and message."""
    fault = json.dumps({'faultcode': 'Client' if status < 500 else 'Server',
                        'faultstring': message,
                        'debuginfo': None})
    return json.dumps({'error_message': fault}).encode('utf-8')


def fault_response(status, message, code):
    """A complete webob error response."""
    resp = webob.Response(status=status, body=fault_body(status, message),
                          content_type='application/json', charset=None)
    resp.headers[ERROR_CODE_HEADER] = code
    return resp


class FaultWrapper:
    """Turns every exception of the application into a formatted fault.

    Exceptions become responses via :func:`status_for`; unmapped ones are
    logged with their traceback and answered with a generic 500 so that no
    internal detail leaks. Responses pass through untouched and
    unbuffered, including the one error response a handler builds itself:
    the empty-bodied 423 of ARQ listing, specified that way.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        try:
            return self.application(environ, start_response)
        except Exception as exc:
            return self._exception_response(exc)(environ, start_response)

    @staticmethod
    def _exception_response(exc):
        status, code, message = status_for(exc)
        if status >= 500 and message is None:
            LOG.exception('Unexpected error answering the request')
            message = ('An unexpected error prevented the server from '
                       'fulfilling the request.')
        elif status >= 500:
            LOG.error('%s: %s', type(exc).__name__, message)
        resp = fault_response(status, message, code)
        resp.headers.update(getattr(exc, 'headers', None) or {})
        return resp
