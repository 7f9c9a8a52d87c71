"""``openstack accelerator device context create|list|show|delete``.

Device contexts (cyborg API 2.4): request groups in the device-profile
syntax, inline (``--group``, as ``openstack accelerator device profile
create`` takes them) or copied from a profile (``--device-profile``),
plus ``--config-data`` for the driver. The commands speak microversion
2.4 through the openstacksdk accelerator proxy and show the API's error
message when it refuses.
"""

import logging
import uuid

from osc_lib.cli import format_columns
from osc_lib.cli import parseractions
from osc_lib.command import command
from osc_lib import exceptions

from cyborg.osc import api_calls

LOG = logging.getLogger(__name__)

MICROVERSION = '2.4'
PATH = '/device_contexts'
COLUMNS = ('uuid', 'state', 'instance_uuid', 'project_id', 'groups',
           'config_data', 'device_profile_name', 'expires_at', 'created_at',
           'updated_at')
LIST_COLUMNS = ('uuid', 'state', 'instance_uuid', 'device_profile_name',
                'expires_at')
FORMATTERS = {'groups': format_columns.ListDictColumn,
              'config_data': format_columns.DictColumn}


def _is_uuid(value):
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _call(client, method, path, expect, **kwargs):
    return api_calls.call(client, method, path, expect, MICROVERSION,
                          **kwargs)


def _row(device_context, columns):
    return tuple(FORMATTERS[name](device_context.get(name))
                 if name in FORMATTERS else device_context.get(name)
                 for name in columns)


class CreateDeviceContext(command.ShowOne):
    """Create a device context (inline groups or from a device profile)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            '--group', metavar='key1=value1,key2=value2,...',
            action=parseractions.MultiKeyValueAction, dest='groups',
            help='A request group in the device-profile syntax (repeat for '
                 'several groups), e.g. --group resources:FPGA=1,'
                 'trait:CUSTOM_FPGA_INTEL=required')
        source.add_argument(
            '--device-profile', metavar='<name or uuid>',
            help='Copy the groups of this device profile')
        parser.add_argument(
            '--config-data', metavar='<key=value>',
            action=parseractions.KeyValueAction, default={},
            help='Configuration data handed to the driver at bind (repeat '
                 'for several keys)')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.accelerator_device_context
        body = {'config_data': parsed_args.config_data}
        if parsed_args.groups:
            body['groups'] = parsed_args.groups
        elif _is_uuid(parsed_args.device_profile):
            body['device_profile_uuid'] = parsed_args.device_profile
        else:
            body['device_profile_name'] = parsed_args.device_profile
        created = _call(client, 'POST', PATH, (201,), json=body)
        return COLUMNS, _row(created, COLUMNS)


class ListDeviceContext(command.Lister):
    """List device contexts (the project's; an admin's: all)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--long', action='store_true', default=False,
                            help='Show the groups and config data too')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.accelerator_device_context
        columns = COLUMNS if parsed_args.long else LIST_COLUMNS
        found = _call(client, 'GET', PATH, (200,))['device_contexts']
        return columns, [_row(item, columns) for item in found]


class ShowDeviceContext(command.ShowOne):
    """Show a device context."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('uuid', metavar='<uuid>',
                            help='UUID of the device context')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.accelerator_device_context
        shown = _call(client, 'GET', '%s/%s' % (PATH, parsed_args.uuid),
                      (200,))['device_context']
        return COLUMNS, _row(shown, COLUMNS)


class DeleteDeviceContext(command.Command):
    """Delete device contexts (and their ARQs not bound to an instance)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('uuids', metavar='<uuid>', nargs='+',
                            help='UUID of a device context to delete')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.accelerator_device_context
        failed = []
        for context_uuid in parsed_args.uuids:
            try:
                _call(client, 'DELETE', '%s/%s' % (PATH, context_uuid),
                      (204,))
            except exceptions.CommandError as exc:
                LOG.error('%s', exc)
                failed.append(context_uuid)
        if failed:
            raise exceptions.CommandError(
                'Failed to delete %d of %d device contexts: %s' % (
                    len(failed), len(parsed_args.uuids), ', '.join(failed)))
