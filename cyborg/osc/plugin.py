"""The openstackclient plugin module (``openstack.cli.extension``).

python-openstackclient imports every plugin module at start-up, so this
one imports nothing heavy. Its client is the openstacksdk accelerator
proxy of the command's connection: the same endpoint discovery, auth and
``auth_type: none`` handling as ``openstack accelerator ...``. The
command group's name is the device context commands' (the first ones
here); the quota usage command is in it too.
"""

API_NAME = 'accelerator_device_context'
API_VERSION_OPTION = 'os_accelerator_device_context_api_version'
# The major version names the command group (openstack.<API_NAME>.v2).
DEFAULT_API_VERSION = '2'
API_VERSIONS = ('2',)


def make_client(instance):
    """The accelerator proxy (a keystoneauth Adapter) of the connection."""
    return instance.sdk_connection.accelerator


def build_option_parser(parser):
    """No options of its own: the accelerator endpoint and auth are the
    cloud's."""
    return parser
