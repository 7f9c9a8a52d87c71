"""cyborg: accelerator management for OpenStack clouds.

oslo.messaging pulls in oslo.service's eventlet backend, which prints a
multi-line deprecation warning at import. cyborg runs on threads only, and
its commands must fail with one line, so the warning is silenced here, once,
before any cyborg module imports those libraries (the WSGI entry point
included).
"""

import warnings

warnings.filterwarnings('ignore', message=r'(?s)\s*Eventlet is deprecated')
