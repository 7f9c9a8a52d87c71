"""Which released attach handles are scrubbed before their next tenant.

``[agent] scrub_on_release`` lists device types (``FPGA``, ``GPU``,
``QAT``...) and deployable driver names (``fake``, ``intel``,
``NVIDIA``...), case-insensitive: a released handle is scrubbed when its
device's type or its deployable's driver name is listed *and* an
installed driver of that name can scrub (implements
``drivers.base.Scrubbable``). Any other handle goes straight back to the
free pool, as before scrubbing existed.

The rule is applied where handles are released (the API's unbinds and
deletes, the conductor's failed binds), so the API and the conductors
read the option too, not only agents; one deployment-wide value is
expected everywhere.
"""

import dataclasses
import functools
import importlib.metadata
import logging

from cyborg.accelerator.drivers import base

LOG = logging.getLogger(__name__)

@functools.lru_cache(maxsize=1)
def scrubbable_driver_names():
    """Lower-cased ``driver_name`` of every installed Scrubbable driver.

    Read from the driver plugins' classes (loading a class runs no
    driver), once per process.
    """
    names = set()
    for entry_point in importlib.metadata.entry_points(group=base.NAMESPACE):
        try:
            driver_class = entry_point.load()
        except Exception as exc:
            # The agent refuses to start with a broken enabled driver; here
            # it only means that driver's handles are not scrubbed.
            LOG.warning('Could not load driver plugin %s to see whether it '
                        'scrubs: %s', entry_point.name, exc)
            continue
        if (isinstance(driver_class, type)
                and issubclass(driver_class, base.Scrubbable)):
            names.add(str(driver_class.driver_name).lower())
    return frozenset(names)


@dataclasses.dataclass(frozen=True)
class ScrubPolicy:
    """``listed``: the lower-cased entries of ``[agent] scrub_on_release``;
    ``scrubbable``: lower-cased driver names that can scrub."""

    listed: frozenset
    scrubbable: frozenset

    @classmethod
    def from_conf(cls, conf):
        return cls(frozenset(entry.strip().lower()
                             for entry in conf.agent.scrub_on_release
                             if entry.strip()),
                   scrubbable_driver_names())

    def applies(self, driver_name, device_type):
        """Whether a handle of this deployable's driver and device type is
        scrubbed on release."""
        driver = str(driver_name or '').lower()
        return (driver in self.scrubbable
                and (driver in self.listed
                     or str(device_type or '').lower() in self.listed))
