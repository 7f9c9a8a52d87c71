"""Keeping a database lease while a slow remote call runs.

A conductor leases the rows it works on (a bind, the Nova events it is
sending) so that another conductor takes them over if it dies. Leases are
short, so that takeover is quick; a call that may outlast one (an agent
programming an FPGA, a POST to Nova) runs inside a :class:`LeaseKeeper`,
which renews the lease in the background every third of a lease, so one
late renewal does not lose it.
"""

import logging
import threading

from oslo_utils import timeutils

LOG = logging.getLogger(__name__)


class LeaseKeeper:
    """Calls ``renew()`` every third of ``seconds`` while the block runs.

    ``renew`` returns whether the lease is still held; renewing stops when
    it is not (another conductor has the rows now), or at ``until`` (a
    deadline past which the lease must lapse), or when the block ends. A
    renewal that raises is logged and tried again next time. ``what``
    names the lease in logs and in the thread's name.
    """

    def __init__(self, renew, seconds, what, until=None):
        self._renew = renew
        self._seconds = seconds
        self._what = what
        self._until = until
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='lease: %s' % what)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(max(0.2, self._seconds / 3.0)):
            if self._until is not None and timeutils.utcnow() >= self._until:
                return
            try:
                if not self._renew():
                    return
            except Exception:
                LOG.exception('Could not renew %s', self._what)
