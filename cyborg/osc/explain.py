"""``openstack accelerator device profile|context explain``.

Why can (or can't) an instance asking for this profile or context get an
accelerator now? One row per request group with its one-line summary
(API 2.8, admins); ``--providers`` lists the matching providers of each
group instead, with what each has free and why not.
"""

from osc_lib.cli import format_columns
from osc_lib.command import command

from cyborg.osc import api_calls

MICROVERSION = '2.8'
GROUP_COLUMNS = ('group_id', 'resources', 'required_traits',
                 'forbidden_traits', 'schedulable', 'summary',
                 'placement_candidates')
PROVIDER_COLUMNS = ('group_id', 'host', 'deployable_name', 'provider_uuid',
                    'capacity', 'used', 'reserved', 'free', 'health',
                    'has_room', 'cause')
FORMATTERS = {'resources': format_columns.DictColumn,
              'required_traits': format_columns.ListColumn,
              'forbidden_traits': format_columns.ListColumn}


def _group_row(group):
    values = dict(group, placement_candidates=group['placement'][
        'candidates'])
    return tuple(FORMATTERS[name](values[name]) if name in FORMATTERS
                 else values[name] for name in GROUP_COLUMNS)


def _provider_rows(groups):
    return [tuple(group['group_id'] if name == 'group_id' else
                  provider[name] for name in PROVIDER_COLUMNS)
            for group in groups for provider in group['providers']]


class _Explain(command.Lister):
    # The API path of the thing explained, from its argument.
    path_format = None
    argument_help = None

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('ident', metavar='<ident>',
                            help=self.argument_help)
        parser.add_argument(
            '--providers', action='store_true', default=False,
            help='List the matching providers of each group (host, '
                 'capacity, used, reserved, free, why no room) instead of '
                 'one summary per group')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.accelerator_device_context
        answer = api_calls.call(
            client, 'GET', self.path_format % parsed_args.ident, (200,),
            MICROVERSION)
        if parsed_args.providers:
            return PROVIDER_COLUMNS, _provider_rows(answer['groups'])
        return GROUP_COLUMNS, [_group_row(g) for g in answer['groups']]


class ExplainDeviceProfile(_Explain):
    """Explain whether a device profile's groups can be scheduled now."""

    path_format = '/device_profiles/%s/explain'
    argument_help = 'Name or UUID of the device profile'


class ExplainDeviceContext(_Explain):
    """Explain whether a device context's groups can be scheduled now."""

    path_format = '/device_contexts/%s/explain'
    argument_help = 'UUID of the device context'
