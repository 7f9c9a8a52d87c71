"""Console scripts: cyborg-api, -conductor, -agent, -dbsync, -status, -all-in-one.

Importing oslo.messaging pulls in oslo.service's eventlet backend, which
prints a multi-line deprecation warning; our services use threads, and a
command that fails must print one line, so the warning is silenced here,
before any command module imports a library.
"""

import warnings

warnings.filterwarnings('ignore', message=r'(?s)\s*Eventlet is deprecated')
