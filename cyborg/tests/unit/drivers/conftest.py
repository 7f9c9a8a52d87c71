"""Fixtures of the driver tests (defined in cyborg.tests.fixtures.agent)."""

from cyborg.tests.fixtures.agent import sysfs_tree  # noqa: F401
