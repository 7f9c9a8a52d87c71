"""The request context: who is calling, carried through API, RPC and DB."""

from oslo_context import context
from oslo_db.sqlalchemy import enginefacade


@enginefacade.transaction_context_provider
class RequestContext(context.RequestContext):
    """oslo.context's context, able to hold an enginefacade transaction."""

    def __init__(self, service_roles=None, **kwargs):
        super().__init__(**kwargs)
        # Roles of a valid X-Service-Token (Nova's), empty when none came.
        self.service_roles = list(service_roles or [])

    def to_dict(self):
        values = super().to_dict()
        values['service_roles'] = self.service_roles
        return values

    @classmethod
    def from_dict(cls, values, **kwargs):
        kwargs.setdefault('service_roles', values.get('service_roles'))
        return super().from_dict(values, **kwargs)


def get_admin_context():
    """A context for the services' own work (periodic tasks, recovery)."""
    return RequestContext(is_admin=True, roles=['admin'], overwrite=False)
