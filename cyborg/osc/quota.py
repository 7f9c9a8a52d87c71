"""``openstack accelerator quota usage show [--project <project id>]``.

A project's accelerators held and its limit per resource class (cyborg
API 2.7, ``GET /v2/quotas/usage``): the caller's project, or with
``--project`` (admins) another one, named by its ID.
"""

import urllib.parse

from osc_lib.command import command

from cyborg.osc import api_calls

MICROVERSION = '2.7'
PATH = '/quotas/usage'
COLUMNS = ('Resource Class', 'In Use', 'Limit')


def _limit(value):
    # The API's null: no limit on the class.
    return 'unlimited' if value is None else value


class ShowQuotaUsage(command.Lister):
    """Show a project's accelerator usage and limits per resource class."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--project', metavar='<project id>',
            help='The project to show (admin only; default: your own)')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.accelerator_device_context
        path = PATH
        if parsed_args.project:
            path += '?' + urllib.parse.urlencode(
                {'project_id': parsed_args.project})
        usages = api_calls.call(client, 'GET', path, (200,),
                                MICROVERSION)['usages']
        return COLUMNS, [(usage['resource_class'], usage['in_use'],
                          _limit(usage['limit'])) for usage in usages]
