#!/usr/bin/env bash
# A cloud's worth of hosts (bench/scale.py): N simulated agents x D devices
# through RabbitMQ to real conductors syncing a gunicorn-served Placement
# on MariaDB. Arguments go to scale.py, e.g.
#
#   bench/scale.sh                                  # 10,000 hosts x 8, 1 then 2 conductors
#   bench/scale.sh --hosts 200 --conductors 1       # quick look (about a minute)
#
# Needs MariaDB on 127.0.0.1:3306 (root, no password) and RabbitMQ on
# 127.0.0.1:5672 (guest/guest) with a virtual host of its own, created
# here with rabbitmqctl (run as a user allowed to; `--transport-url`
# points elsewhere). Databases cyborg_scale and placement_scale are
# dropped and created again. Results: $STATE/results.jsonl (and stdout).
set -euo pipefail
cd "$(dirname "$0")/.."
VHOST=${VHOST:-cyborg_scale}
tools/ensure-venv.sh
.venv/bin/python -m pip install -q gunicorn
if ! rabbitmqctl list_vhosts 2>/dev/null | grep -qx "$VHOST"; then
    rabbitmqctl add_vhost "$VHOST" >/dev/null
    rabbitmqctl set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null
fi
exec .venv/bin/python bench/scale.py "$@"
