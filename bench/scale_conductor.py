"""cyborg-conductor for bench/scale.py, with its SQL statements counted.

Runs the real ``cyborg-conductor`` (``cyborg.cmd.conductor.main``) in this
process after hooking SQLAlchemy's ``before_cursor_execute`` event: every
statement the conductor sends is counted by its shape (verb and table,
e.g. ``UPDATE agent_hosts``), and the counts are written to
``$SCALE_COUNTS_DIR/conductor-<pid>.json`` every half second.

With ``SCALE_PROFILE`` set to a path, the conductor runs under cProfile
(every thread: ``threading.setprofile``) and writes the stats there when
it stops (SIGTERM), for ``python -m pstats``.

    python bench/scale_conductor.py --config-file cyborg.conf
"""

import collections
import cProfile
import json
import os
import pstats
import re
import sys
import threading
import time

import sqlalchemy as sa

_SHAPE = re.compile(r'^\s*(?:(UPDATE)\s+`?(\w+)|(INSERT)\s+INTO\s+`?(\w+)'
                    r'|(SELECT|DELETE)\b.*?\bFROM\s+`?(\w+))', re.S | re.I)
_VERB = re.compile(r'^\s*(\w+)')


def statement_shape(statement):
    """'UPDATE agent_hosts' for an UPDATE of agent_hosts, etc."""
    match = _SHAPE.match(statement)
    if match:
        verb, table = [g for g in match.groups() if g]
        return '%s %s' % (verb.upper(), table)
    match = _VERB.match(statement)
    return match.group(1).upper() if match else '?'


class StatementCounter:
    def __init__(self, counts_dir):
        self._path = os.path.join(counts_dir, 'conductor-%d.json'
                                  % os.getpid())
        self._counts = collections.Counter()
        self._lock = threading.Lock()
        self._dirty = True
        sa.event.listen(sa.engine.Engine, 'before_cursor_execute',
                        self._count)
        threading.Thread(target=self._dump_forever, daemon=True).start()

    def _count(self, conn, cursor, statement, parameters, context,
               executemany):
        key = statement_shape(statement)
        with self._lock:
            self._counts[key] += 1
            self._dirty = True

    def dump(self):
        with self._lock:
            data, self._dirty = dict(self._counts), False
        tmp = self._path + '.tmp'
        with open(tmp, 'w') as handle:
            json.dump(data, handle)
        os.replace(tmp, self._path)

    def _dump_forever(self):
        while True:
            time.sleep(0.5)
            if self._dirty:
                self.dump()


def main():
    counter = StatementCounter(os.environ['SCALE_COUNTS_DIR'])
    from cyborg.cmd import conductor
    argv = ['cyborg-conductor'] + sys.argv[1:]
    profile_path = os.environ.get('SCALE_PROFILE')
    if not profile_path:
        rc = conductor.main(argv)
    else:
        # One cProfile per thread (a Profile is per thread), merged at the
        # end: the RPC executor's threads do the work.
        profilers = []

        def start_thread_profile(*_args):
            profiler = cProfile.Profile()
            profilers.append(profiler)
            profiler.enable()

        threading.setprofile(start_thread_profile)
        start_thread_profile()
        try:
            rc = conductor.main(argv)
        finally:
            for profiler in profilers:
                profiler.disable()
            stats = pstats.Stats(profilers[0])
            for profiler in profilers[1:]:
                try:
                    stats.add(profiler)
                except TypeError:
                    pass  # a thread that never ran anything
            stats.dump_stats(profile_path)
    counter.dump()
    return rc


if __name__ == '__main__':
    sys.exit(main())
