#!/usr/bin/env bash
# Run cyborg all-in-one: API on http://127.0.0.1:6666, conductor, an agent
# with the fake driver, SQLite and an embedded Placement under ./cyborg-state.
# Installs what it needs into .venv first. Extra arguments go to
# cyborg-all-in-one (e.g. --config-file my.conf).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/ensure-venv.sh
exec .venv/bin/cyborg-all-in-one "$@"
