#!/usr/bin/env bash
# Create (or refresh) .venv with cyborg and its test dependencies installed.
# Idempotent: a second run only reinstalls when the requirement files changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.cyborg-installed
want=$(cat requirements.txt test-requirements.txt doc/requirements.txt setup.cfg \
    | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip setuptools wheel
    .venv/bin/python -m pip install -q -r requirements.txt -r test-requirements.txt
    .venv/bin/python -m pip install -q --no-deps -e .
    echo "$want" > "$stamp"
fi
