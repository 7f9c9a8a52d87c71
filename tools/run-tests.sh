#!/usr/bin/env bash
# Run the whole test suite: installs what it needs into .venv first.
# Tests needing MariaDB (127.0.0.1:3306), PostgreSQL (127.0.0.1:5432) or
# RabbitMQ (127.0.0.1:5672) skip with the reason printed when those are absent,
# and fail with it when CI is set (cyborg/tests/fixtures/servers.py).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/ensure-venv.sh
exec .venv/bin/python -m pytest "$@"
