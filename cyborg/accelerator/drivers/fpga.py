"""What the FPGA drivers share: trait names, running a programming tool,
and scrubbing a released card.

A programming tool runs in the privsep daemon (``cyborg.privsep.tools``),
with the timeout of the driver's option group. Every way it can fail (the
tool is missing or not executable, it exits non-zero, it hangs past its
timeout and is killed) becomes one ``ProgrammingFailed`` whose message
names the tool and says why, logged once here on the agent's host; the
conductor fails the bind with that message.
"""

import logging
import re

from cyborg.accelerator import discovery
from cyborg.accelerator.drivers import pci_scrub
from cyborg import exception
from cyborg.privsep import tools as privsep_tools

LOG = logging.getLogger(__name__)

DEVICE_TYPE = 'FPGA'
RESOURCE_CLASS = 'FPGA'
FUNCTION_TRAIT_PREFIX = 'CUSTOM_FPGA_FUNCTION_ID_'
# The last line of a failing tool's stderr says what went wrong; more
# would not fit an operator's log line or the ARQ's bind error.
_ERROR_LINE_LIMIT = 300


def trait_part(value):
    """Upper-case ``value`` and make it a valid piece of a trait name."""
    return re.sub(r'[^A-Z0-9_]', '_', str(value).upper())


def function_trait(driver_name, function_id):
    """``CUSTOM_FPGA_FUNCTION_ID_<DRIVER>_<FUNCTION>``, as binds name it."""
    return '%s%s_%s' % (FUNCTION_TRAIT_PREFIX, trait_part(driver_name),
                        trait_part(function_id))


def pci_target(controlpath):
    return discovery.pci_address_str(controlpath.info)


def run_programming_tool(tool_name, argv, image_path, timeout, target):
    """Run a programming tool through privsep; ProgrammingFailed on failure.

    ``tool_name`` is what operators know it as (``fpgaconf``); ``argv``
    starts with its configured path; ``target`` names the device.
    """
    result = privsep_tools.run_tool(list(argv), image_path, timeout)
    outcome = result['outcome']
    if outcome == 'ok':
        LOG.info('%s programmed %s with %s', tool_name, target, image_path)
        return result
    if outcome == 'missing':
        why = 'cannot be run: %s' % result['reason']
    elif outcome == 'timeout':
        why = ('did not finish within %s s and was killed'
               % result['seconds'])
    else:
        why = 'exited with status %s' % result['exit_code']
        detail = _last_line(result.get('stderr')) or _last_line(
            result.get('stdout'))
        if detail:
            why += ': %s' % detail
    error = exception.ProgrammingFailed(
        target=target, reason='%s (%s) %s' % (tool_name, argv[0], why))
    # The one line an operator reads on this host; the conductor records
    # the same text as the ARQ's bind error.
    LOG.error('%s', error)
    raise error


def _last_line(text):
    lines = [line.strip() for line in (text or '').splitlines()
             if line.strip()]
    return lines[-1][:_ERROR_LINE_LIMIT] if lines else ''


def scrub(driver, sysfs_reader, scrub_image, controlpath, attach_handle):
    """Clean a released FPGA handle (``Scrubbable.scrub`` of a family).

    With ``scrub_image`` (the family's ``scrub_image`` option), the card
    behind ``controlpath`` is programmed with it through the driver's own
    ``program()``, so the same tool and privsep path load it. Without,
    the handle's function is reset through sysfs; a family whose card
    cannot be reset then fails the scrub.
    """
    if not scrub_image:
        pci_scrub.reset_handle(sysfs_reader, attach_handle)
        return
    try:
        driver.program(controlpath, scrub_image)
    except exception.ProgrammingFailed as exc:
        raise exception.ScrubFailed(target=pci_target(controlpath),
                                    reason='loading the blank image %s: %s'
                                           % (scrub_image, exc))
    LOG.info('Scrubbed %s with the blank image %s',
             pci_target(controlpath), scrub_image)
