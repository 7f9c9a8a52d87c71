#!/usr/bin/env bash
# Benchmark cyborg deployed the way upstream's reference figures were taken
# (../shared/bench/README.md): the API under gunicorn with 2 workers x 4
# threads, MariaDB, RabbitMQ, a real Placement, the fake driver, and a
# separate conductor and agent. The hello-world floor is served by the same
# gunicorn settings and measured in the same run.
#
#   bench/run-deployment.sh            # N=1000, concurrency 1 and 8
#   N=200 CONCURRENCY="1" bench/run-deployment.sh
#   BENCH=arq-volume bench/run-deployment.sh   # Nova's calls, 100 vs 1M ARQs
#   BENCH=serve bench/run-deployment.sh        # deploy, then wait (profiling)
#
# Results: one JSON line per phase in $STATE/results-c<C>.jsonl (and on
# stdout). Only loopback addresses are used.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-1000}
CONCURRENCY=${CONCURRENCY:-"1 8"}
STATE=${STATE:-/tmp/cyborg-bench}
DB_NAME=${DB_NAME:-cyborg_bench}
DB_URL=${DB_URL:-mysql+pymysql://root@127.0.0.1:3306/$DB_NAME}
# oslo.messaging names queues after the topic alone: a conductor of
# anything else on the same virtual host (a test run) would take this
# deployment's messages. Use a virtual host of our own where we can make one.
VHOST=${VHOST:-cyborg_bench}
if [ -z "${TRANSPORT_URL:-}" ]; then
    TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:5672/
    if command -v rabbitmqctl >/dev/null; then
        rabbitmqctl -q add_vhost "$VHOST" >/dev/null 2>&1 || true  # or exists
        if rabbitmqctl -q set_permissions -p "$VHOST" guest '.*' '.*' '.*' \
                >/dev/null 2>&1; then
            TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:5672/$VHOST
        fi
    fi
fi
WORKLOAD=${WORKLOAD:-$ROOT/../shared/bench/workload.py}
HELLO=${HELLO:-$ROOT/../shared/bench/hello_wsgi.py}
API_PORT=${API_PORT:-16666} HELLO_PORT=${HELLO_PORT:-16667}
PLACEMENT_PORT=${PLACEMENT_PORT:-18778}
PY=$ROOT/.venv/bin/python

tools/ensure-venv.sh
$PY -m pip install -q gunicorn
rm -rf "$STATE" && mkdir -p "$STATE"
mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB_NAME; CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4"

CONF=$STATE/cyborg.conf
cat > "$CONF" <<CONF
[DEFAULT]
host = bench-host
state_path = $STATE
transport_url = $TRANSPORT_URL
auth_strategy = noauth
log_file = $STATE/cyborg.log
[database]
connection = $DB_URL
[agent]
enabled_drivers = fake_driver
resource_provider_name = bench-host
[placement]
auth_type = admin_token
endpoint = http://127.0.0.1:$PLACEMENT_PORT
token = admin
CONF

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

.venv/bin/cyborg-dbsync --config-file "$CONF" upgrade >/dev/null
$PY -m cyborg.embedded_placement --database "$STATE/placement.sqlite" \
    --port $PLACEMENT_PORT > "$STATE/placement.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do curl -sf http://127.0.0.1:$PLACEMENT_PORT/ >/dev/null && break; sleep 0.2; done
curl -sf -X POST http://127.0.0.1:$PLACEMENT_PORT/resource_providers \
    -H 'X-Auth-Token: admin' -H 'Content-Type: application/json' \
    -d '{"name": "bench-host"}' >/dev/null

.venv/bin/cyborg-conductor --config-file "$CONF" & pids+=($!)
# The agent's first report is lost (and retried a period later) when it
# reaches RabbitMQ before the conductor's queue exists: start it after.
for _ in $(seq 150); do
    grep -q 'cyborg-conductor serving' "$STATE/cyborg.log" 2>/dev/null && break
    sleep 0.2
done
.venv/bin/cyborg-agent --config-file "$CONF" & pids+=($!)
CYBORG_CONFIG_FILE=$CONF $PY -m gunicorn -w 2 --threads 4 -k gthread \
    --control-socket "$STATE/api.ctl" -b 127.0.0.1:$API_PORT --log-level warning cyborg.wsgi.api:application \
    & pids+=($!)
$PY -m gunicorn -w 2 --threads 4 -k gthread -b 127.0.0.1:$HELLO_PORT \
    --control-socket "$STATE/hello.ctl" \
    --log-level warning --chdir "$(dirname "$HELLO")" \
    "$(basename "$HELLO" .py):application" & pids+=($!)

# Ready once the fake deployable has its provider.
for _ in $(seq 150); do
    curl -sf http://127.0.0.1:$API_PORT/v2/deployables 2>/dev/null \
        | grep -q '"rp_uuid": *"' && break
    sleep 0.2
done

if [ "${BENCH:-workload}" = serve ]; then
    # Keep the deployment up (for profiling it, or driving it by hand)
    # until this script is stopped.
    echo "serving on http://127.0.0.1:$API_PORT; stop with kill $$"
    trap 'exit 0' TERM INT
    sleep infinity & pids+=($!)
    wait $!
fi
if [ "${BENCH:-workload}" = arq-volume ]; then
    # Nova's ARQ calls at 100 ARQs and at a million (bench/arq_volume.py).
    $PY bench/arq_volume.py --endpoint http://127.0.0.1:$API_PORT \
        --db-url "$DB_URL" --total "${ARQS:-1000000}" --samples "${SAMPLES:-300}" \
        | tee "$STATE/results-arq-volume.jsonl"
    exit 0
fi

for c in $CONCURRENCY; do
    out=$STATE/results-c$c.jsonl
    $PY "$WORKLOAD" --endpoint http://127.0.0.1:$HELLO_PORT --phases root \
        --root-repeat 2000 --concurrency "$c" --label hello-floor --out "$out"
    $PY "$WORKLOAD" --endpoint http://127.0.0.1:$API_PORT --n "$N" \
        --concurrency "$c" --label cyborg --out "$out"
done
