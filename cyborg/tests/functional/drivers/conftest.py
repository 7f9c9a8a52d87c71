"""Fixtures of the FPGA driver tests that run the real tools' path."""

from cyborg.tests.fixtures.agent import sysfs_tree  # noqa: F401
from cyborg.tests.fixtures.fpga_tools import fake_fpgaconf  # noqa: F401
from cyborg.tests.fixtures.fpga_tools import fake_xbmgmt  # noqa: F401
