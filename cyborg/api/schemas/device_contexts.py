"""Schemas of /v2/device_contexts (microversion 2.4).

A context is made from inline ``groups`` (the device-profile group syntax,
checked further by ``device_profiles.normalize_groups``) or from a profile
named by ``device_profile_name`` or ``device_profile_uuid``; which one is
given is the handler's check, for a clearer message than ``oneOf`` gives.
``config_data`` is a flat map of bounded strings handed to the driver at
bind.
"""

from cyborg.api.schemas import common
from cyborg.api.schemas import device_profiles

SORT_KEYS = ('created_at', 'uuid', 'state')

LIST_QUERY = common.list_query(SORT_KEYS)

# Config data: at most this many keys, each of bounded length, a key
# starting with a letter or digit (driver-defined names such as
# "clock_mhz" or "fpga.region0"), a value any string up to the bound.
MAX_CONFIG_KEYS = 64
MAX_CONFIG_KEY_LENGTH = 255
MAX_CONFIG_VALUE_LENGTH = 1024
CONFIG_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$'

CONFIG_DATA = {
    'type': 'object',
    'maxProperties': MAX_CONFIG_KEYS,
    'propertyNames': {
        'minLength': 1, 'maxLength': MAX_CONFIG_KEY_LENGTH,
        'pattern': CONFIG_KEY_PATTERN,
        'x-message': 'config_data keys are 1 to %d letters, digits, "_", '
                     '".", ":", "/" or "-", starting with a letter or digit'
                     % MAX_CONFIG_KEY_LENGTH},
    'additionalProperties': {
        'type': 'string', 'maxLength': MAX_CONFIG_VALUE_LENGTH,
        'x-message': 'config_data values are strings of at most %d '
                     'characters' % MAX_CONFIG_VALUE_LENGTH},
    'x-message': 'config_data must be a map of at most %d string keys to '
                 'string values' % MAX_CONFIG_KEYS,
}

CREATE = {
    'type': 'object',
    'properties': {
        'groups': device_profiles.GROUPS,
        'device_profile_name': {'type': 'string', 'minLength': 1,
                                'maxLength': 255,
                                'x-message': 'device_profile_name must be '
                                             'a name of 1 to 255 '
                                             'characters'},
        'device_profile_uuid': common.UUID,
        'config_data': CONFIG_DATA,
    },
    'additionalProperties': False,
    'x-message': 'the body must be an object with "groups", '
                 '"device_profile_name" or "device_profile_uuid", and '
                 'optionally "config_data"',
}

# The sources a context may start from; exactly one is given.
SOURCES = ('groups', 'device_profile_name', 'device_profile_uuid')
