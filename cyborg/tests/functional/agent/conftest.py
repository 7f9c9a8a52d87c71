"""Fixtures of the agent tests (defined in cyborg.tests.fixtures.agent)."""

from cyborg.tests.fixtures.agent import recording_conductor  # noqa: F401
from cyborg.tests.fixtures.agent import rpc_transport  # noqa: F401
from cyborg.tests.fixtures.agent import stub_glance  # noqa: F401
from cyborg.tests.fixtures.agent import sysfs_tree  # noqa: F401
