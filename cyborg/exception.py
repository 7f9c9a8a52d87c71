"""Domain exceptions. They carry no HTTP status: the API maps them.

``cyborg.api.errors`` maps NotFound to 404, Forbidden to 403, Conflict to
409, Invalid to 400 centrally; anything unmapped is a logged 500. Each class
formats ``msg_fmt`` with the keyword arguments it is raised with.
"""

import logging

LOG = logging.getLogger(__name__)


class CyborgException(Exception):
    """Base of every cyborg error."""

    msg_fmt = 'An unknown exception occurred.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                LOG.exception('Cannot format %s with %s',
                              type(self).__name__, kwargs)
                message = self.msg_fmt
        self.message = str(message)
        super().__init__(self.message)


class NotFound(CyborgException):
    msg_fmt = 'Resource could not be found.'


class Invalid(CyborgException):
    msg_fmt = 'Invalid request: %(reason)s'


class Conflict(CyborgException):
    msg_fmt = 'Conflict: %(reason)s'


class Forbidden(CyborgException):
    msg_fmt = 'Forbidden: %(reason)s'


class ServiceUnavailable(CyborgException):
    msg_fmt = 'Service unavailable: %(reason)s'


class ConductorTooOld(ServiceUnavailable):
    """A call the conductors cannot serve yet (a rolling upgrade)."""

    msg_fmt = ('%(what)s needs conductor RPC API %(version)s, but %(why)s: '
               'upgrade every conductor, then raise or remove '
               '[upgrade_levels] conductor')


# Not found
class DeviceProfileNotFound(NotFound):
    msg_fmt = 'Device profile %(ident)s could not be found.'


class ARQNotFound(NotFound):
    msg_fmt = 'Accelerator request %(uuid)s could not be found.'


class DeviceContextNotFound(NotFound):
    msg_fmt = 'Device context %(uuid)s could not be found.'


class DeviceNotFound(NotFound):
    msg_fmt = 'Device %(uuid)s could not be found.'


class DeployableNotFound(NotFound):
    msg_fmt = 'Deployable %(ident)s could not be found.'


class AttachHandleNotFound(NotFound):
    msg_fmt = 'Attach handle %(uuid)s could not be found.'


class AttributeNotFound(NotFound):
    msg_fmt = 'Attribute %(uuid)s could not be found.'


class ResourceProviderNotFound(NotFound):
    msg_fmt = 'Resource provider %(name)s was not found in Placement.'


class ImageNotFound(NotFound):
    msg_fmt = 'Bitstream image %(image)s could not be found.'


class UnknownHost(NotFound):
    msg_fmt = 'Host %(hostname)s is not known to cyborg.'


# Conflicts
class DuplicateDeviceProfile(Conflict):
    msg_fmt = 'A device profile with %(field)s %(value)s already exists.'


class DeviceProfileInUse(Conflict):
    msg_fmt = ('Device profile %(name)s is used by accelerator requests '
               'and cannot be deleted.')


class DeviceContextBound(Conflict):
    msg_fmt = ('Device context %(uuid)s is used by instance %(instance)s; '
               'its accelerator requests cannot be bound to another '
               'instance, nor new ones made from it.')


class DeviceContextInUse(Conflict):
    msg_fmt = ('Device context %(uuid)s has accelerator requests bound to '
               'an instance; it can be deleted once the instance released '
               'them.')


class ARQBadState(Conflict):
    msg_fmt = ('Accelerator request %(uuid)s is in state %(state)s; '
               '%(action)s needs one of %(expected)s.')


class NoFreeAttachHandle(Conflict):
    msg_fmt = 'No free accelerator left on deployable %(deployable)s.'


class PlacementConflict(Conflict):
    msg_fmt = 'Placement kept answering conflicts for %(what)s.'


class DuplicateAttribute(Conflict):
    msg_fmt = 'Deployable %(deployable_id)s already has attribute %(key)s.'


# Invalid input
class InvalidReport(Invalid):
    msg_fmt = 'Invalid report from host %(hostname)s: %(reason)s'


class InvalidDriver(Invalid):
    msg_fmt = 'Accelerator driver %(name)s cannot be loaded: %(reason)s'


class InvalidConfig(Invalid):
    msg_fmt = 'Invalid configuration of %(option)s: %(reason)s'


class BitstreamChecksumMismatch(Invalid):
    msg_fmt = ('Bitstream image %(image)s does not match its recorded '
               'checksum.')


# Failures of a remote side
class AgentUnreachable(ServiceUnavailable):
    msg_fmt = 'The agent on host %(host)s did not answer: %(reason)s'


class QuotaLimitsUnavailable(ServiceUnavailable):
    msg_fmt = ('The quota limits of project %(project_id)s cannot be read: '
               '%(reason)s')


class PlacementUnavailable(ServiceUnavailable):
    msg_fmt = 'Placement could not be reached: %(reason)s'


class ProgrammingFailed(CyborgException):
    msg_fmt = 'Programming %(target)s failed: %(reason)s'



class ScrubFailed(CyborgException):
    msg_fmt = 'Scrubbing %(target)s failed: %(reason)s'


class NovaEventRejected(CyborgException):
    msg_fmt = 'Nova rejected external events: %(reason)s'


# API (added for cyborg-api)
class PolicyNotAuthorized(Forbidden):
    msg_fmt = 'Policy does not allow %(action)s to be performed.'


class ARQBoundToInstance(Forbidden):
    msg_fmt = ('Accelerator requests %(uuid)s are bound to an instance; only '
               'the compute service may delete them.')


class QuotaExceeded(Forbidden):
    # Worded like Nova's quota errors, which operators already know.
    msg_fmt = ('Quota exceeded for class:%(resource_class)s: requested '
               '%(requested)d, but already used %(used)d of %(limit)d '
               'accelerators.')


class InstanceAlreadyHasARQs(Invalid):
    msg_fmt = ('Instance %(instance)s already has accelerator requests; '
               'adding more to it is not supported.')


class UnknownBindProvider(Invalid):
    msg_fmt = ('Accelerator request %(arq)s cannot be bound to resource '
               'provider %(rp_uuid)s: no deployable of cyborg is behind it.')


class BindHostMismatch(Invalid):
    msg_fmt = ('Accelerator request %(arq)s cannot be bound on host '
               '%(hostname)s: resource provider %(rp_uuid)s is on host '
               '%(actual)s.')


class TooManyAccelerators(Invalid):
    msg_fmt = ('%(source)s asks for %(count)d accelerators; one request may '
               'create at most %(limit)d ([api] max_arqs_per_request).')


class ConfigDataRefused(Invalid):
    msg_fmt = ('Driver %(driver)s cannot take the config data of a device '
               'context: %(reason)s')


class AgentRPCCapped(CyborgException):
    """A call the agents' RPC version cap forbids (a rolling upgrade)."""

    msg_fmt = ('%(what)s needs agent RPC API %(version)s, but [upgrade_levels] '
               'agent caps this conductor at %(cap)s: raise or remove the cap '
               'once every agent serves %(version)s')


# Agent and drivers
class ComputeNodeProviderNotFound(ResourceProviderNotFound):
    msg_fmt = ('No compute node resource provider named %(names)s in '
               'Placement after %(attempts)d attempt(s); set [agent] '
               'resource_provider_name to the name nova-compute registered '
               'for this host.')


class MdevOperationFailed(CyborgException):
    msg_fmt = ('Could not %(action)s mdev %(uuid)s of type %(mdev_type)s on '
               '%(address)s: %(reason)s')


# Placement sync and discovery reports (conductor)
class GenerationConflict(Conflict):
    msg_fmt = ('Resource provider %(uuid)s changed while it was being '
               'updated (generation conflict).')


class ResourceProviderInUse(Conflict):
    msg_fmt = 'Resource provider %(uuid)s is in use: %(reason)s'


class InventoryInUse(Conflict):
    msg_fmt = 'Inventory of resource provider %(uuid)s is in use: %(reason)s'


class ResourceProviderNameClash(Conflict):
    msg_fmt = ('Resource provider name %(name)s is taken by provider '
               '%(uuid)s, not by the one cyborg derives from that name.')


class ReportConflict(Conflict):
    msg_fmt = ('The report of host %(hostname)s kept colliding with '
               'concurrent changes; send it again.')


# Binding (conductor)
class NoDeployableForProvider(NotFound):
    msg_fmt = 'No deployable is behind resource provider %(rp_uuid)s.'


class BindNotOwned(Conflict):
    msg_fmt = ('The bind of accelerator request %(arq)s is no longer this '
               "worker's: it was taken over, unbound or deleted.")


class DeployableReprogrammed(Conflict):
    msg_fmt = ('Deployable %(deployable)s was reprogrammed with bitstream '
               '%(current)s while this bind needed %(wanted)s.')


class DeployableInUse(Conflict):
    msg_fmt = ('Deployable %(deployable)s holds %(count)d attached '
               'accelerators; it cannot be reprogrammed with %(image)s now.')


class DeployableBeingProgrammed(Conflict):
    msg_fmt = ('Deployable %(deployable)s is being programmed for another '
               'request; it was still busy after %(seconds)d s.')


class InvalidBitstreamRequest(Invalid):
    msg_fmt = 'Cannot program a bitstream: %(reason)s'


class BindTimedOut(CyborgException):
    msg_fmt = ('The bind did not finish within [DEFAULT] bind_timeout '
               '(%(seconds)d s) of its start.')


class NovaUnavailable(ServiceUnavailable):
    msg_fmt = 'Nova could not be reached: %(reason)s'


class NovaTimedOut(NovaUnavailable):
    """No answer in time: Nova may or may not have acted on the request."""

    msg_fmt = 'Nova did not answer in time: %(reason)s'


class DeployableMissing(Conflict):
    msg_fmt = ('Deployable %(name)s is missing from its host\'s last '
               'report; no new accelerator is handed out from it.')


class ImportRefused(CyborgException):
    """cyborg-dbsync import-upstream refused; nothing was written."""

    msg_fmt = 'import refused: %(reason)s'
