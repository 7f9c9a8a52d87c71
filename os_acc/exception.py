"""Exceptions os_acc raises to its caller."""


class OsAccException(Exception):
    """Base of os_acc's errors."""


class PlugException(OsAccException):
    """Accelerators could not be acquired for an instance."""


class UnplugException(OsAccException):
    """Accelerators could not be released from an instance."""


class InvalidDeviceContext(OsAccException, ValueError):
    """A device context os_acc cannot turn into request groups."""
