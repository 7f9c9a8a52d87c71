"""The openstackclient plugin of cyborg: commands upstream's clients lack.

``openstack accelerator device context create|list|show|delete`` manage
device contexts (API 2.4); ``openstack accelerator device profile
explain`` and ``... device context explain`` say why a profile's or
context's groups can or cannot be scheduled now (API 2.8). The plugin
registers itself in python-openstackclient's ``openstack.cli.extension``
group under its own API name, so its commands live in a command group of
their own (``openstack.accelerator_device_context.v2``) beside the ``openstack
accelerator ...`` commands of python-openstackclient and
python-cyborgclient, neither of which it replaces or touches.
"""
