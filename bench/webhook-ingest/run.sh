#!/usr/bin/env bash
# Webhook ingest benchmark (issue #6): verified, durably stored events per
# second of Billforge's `POST /webhooks/stripe` on SQLite and on PostgreSQL,
# side by side with the seed's handler (Flask + stripe.Webhook.construct_event
# under gunicorn, 4 workers, stripe-python 16), on the same signed payloads.
# Billforge runs in both shapes: `serve` alone (web and background workers in
# one process, applying while it ingests) and `serve --no-workers` (the web
# tier of a scale-out deployment), after which a `billforge worker` process
# applies what was stored for $DRAIN s, to measure the apply rate.
#
#   bench/webhook-ingest/run.sh            # 15 s per handler, 32 connections
#   DURATION=30 EVENTS=400000 CONNECTIONS=64 bench/webhook-ingest/run.sh
#
# Needs: cargo, python3, PostgreSQL at $PG_URL (default the CI one), wrk
# (installed with apt-get when missing). Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/bench/webhook-ingest

duration=${DURATION:-15}
events=${EVENTS:-400000}
connections=${CONNECTIONS:-32}
threads=${WRK_THREADS:-2}
pg_server=${PG_URL:-postgres://postgres@127.0.0.1:5432}
target=${CARGO_TARGET_DIR:-$root/target}
work=$target/bench-webhook-ingest
venv=$target/bench-venv
fixtures=${STRIPE_FIXTURES:-$root/../shared/stripe/fixtures3.json}
[ -f "$fixtures" ] || fixtures=/work/shared/stripe/fixtures3.json
secret="whsec_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$work"

step() { printf '\n==> %s\n' "$*"; }

step "tools"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
if [ ! -x "$venv/bin/gunicorn" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'stripe>=16,<17' flask gunicorn
fi
"$venv/bin/python" -c 'import stripe; print("stripe-python", stripe.VERSION)'
# BILLFORGE_BIN: a binary to measure instead of building the release one
# (only for trying the script out: figures come from the release build).
billforge=${BILLFORGE_BIN:-$target/release/billforge}
[ -n "${BILLFORGE_BIN:-}" ] || cargo build --release --locked -p billforge

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_ready() { # url: any HTTP answer will do
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" != 000 ] && return 0
    sleep 0.1
  done
  echo "FAIL: $1 never answered" >&2
  return 1
}

# Signs fresh payloads (signatures are valid for 5 minutes) and sends them
# in order, each once, for $duration s; prints `answered ok seconds p50 p99`.
load() { # base_url path
  "$venv/bin/python" "$here/payloads.py" "$fixtures" "$events" "$secret" "$work/payloads.tsv"
  PAYLOADS=$work/payloads.tsv WRK_THREADS=$threads TARGET_PATH=$2 \
    wrk -t"$threads" -c"$connections" -d"${duration}s" --timeout 30s -s "$here/send.lua" "$1" \
    > "$work/wrk.out"
  if grep -q 'wrapped=[1-9]' "$work/wrk.out"; then
    echo "FAIL: all $events payloads were sent before ${duration}s ended: raise EVENTS" >&2
    return 1
  fi
  sed -n 's/^RESULT answered=\([0-9]*\) ok=\([0-9]*\) seconds=\([0-9.]*\) p50_ms=\([0-9.]*\) p99_ms=\([0-9.]*\) .*$/\1 \2 \3 \4 \5/p' "$work/wrk.out"
}

rate() { # ok seconds
  awk -v ok="$1" -v s="$2" 'BEGIN { printf "%.0f", ok / s }'
}

# The ids of the payloads last sent, for the stored-count check.
prefix() { head -c 300 "$work/payloads.tsv" | grep -o '"id":"evt_bench[0-9]*' | head -1 | cut -c7-25; }

step "seed handler: gunicorn -w 4, Flask, stripe.Webhook.construct_event"
(cd "$here" && SEED_WEBHOOK_SECRET=$secret exec "$venv/bin/gunicorn" -w 4 -b 127.0.0.1:18090 \
  --log-level warning seed_app:app >/dev/null 2>"$work/seed.log") &
pids+=($!)
wait_ready http://127.0.0.1:18090/webhook
read -r s_answered s_ok s_secs s_p50 s_p99 < <(load http://127.0.0.1:18090 /webhook)
[ -n "${s_ok:-}" ] || exit 1
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
seed_rate=$(rate "$s_ok" "$s_secs")
echo "seed: $s_ok/$s_answered accepted in ${s_secs}s = $seed_rate events/s (p50 ${s_p50} ms, p99 ${s_p99} ms)"

billforge_env() { # database_url
  echo DATABASE_URL="$1" BIND=127.0.0.1:18091 PUBLIC_URL=http://127.0.0.1:18091 \
    STRIPE_WEBHOOK_SECRETS="$secret" STRIPE_CONNECT_WEBHOOK_SECRETS="$secret" \
    STRIPE_EMULATOR_BIND=127.0.0.1:18092 RUST_LOG="${RUST_LOG:-info}"
}

run_billforge() { # name database_url serve_flags count_command...
  local name=$1 url=$2 flags=$3
  shift 3
  local log=$work/billforge-$name.log
  # shellcheck disable=SC2046
  env $(billforge_env "$url") "$billforge" serve $flags >"$log" 2>&1 &
  pids+=($!)
  wait_ready http://127.0.0.1:18091/readyz
  read -r answered ok secs p50 p99 < <(load http://127.0.0.1:18091 /webhooks/stripe)
  [ -n "${ok:-}" ] || exit 1
  local id_prefix
  id_prefix=$(prefix)
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  stored=$("$@" "SELECT count(*) FROM webhook_events WHERE id LIKE '${id_prefix}%'")
  bf_rate=$(rate "$ok" "$secs")
  echo "billforge/$name: $ok/$answered acknowledged in ${secs}s = $bf_rate events/s (p50 ${p50} ms, p99 ${p99} ms); $stored in the inbox"
  # Every acknowledged event is stored; at most the requests still in flight
  # when wrk stopped are stored without their answer having been counted.
  if [ "$stored" -lt "$ok" ] || [ "$stored" -gt $((answered + connections)) ]; then
    echo "FAIL: billforge/$name acknowledged $ok events but its inbox holds $stored" >&2
    exit 1
  fi
}

# A `billforge worker` applies stored events for $drain s;
# sets `apply_rate` (events applied per second).
drain=${DRAIN:-15}
apply_with_worker() { # database_url count_command...
  local url=$1
  shift
  # Any event applied counts: the backlog the first run left comes first.
  local applied="SELECT count(*) FROM webhook_events WHERE status NOT IN ('received', 'pending')"
  local before after
  before=$("$@" "$applied")
  # shellcheck disable=SC2046
  env $(billforge_env "$url") "$billforge" worker >"$work/worker.log" 2>&1 &
  pids+=($!)
  sleep "$drain"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  after=$("$@" "$applied")
  apply_rate=$(awk -v n="$((after - before))" -v s="$drain" 'BEGIN { printf "%.0f", n / s }')
  echo "billforge worker: applied $((after - before)) stored events in ${drain}s = $apply_rate events/s"
}

step "Billforge on SQLite (file database): serve"
rm -f "$work"/ingest.sqlite*
sqlite_url="sqlite://$work/ingest.sqlite?mode=rwc"
run_billforge sqlite "$sqlite_url" "" sqlite3 "$work/ingest.sqlite"
sqlite_rate=$bf_rate sqlite_p99=$p99

step "Billforge on SQLite: serve --no-workers, then a worker process"
run_billforge sqlite-web "$sqlite_url" --no-workers sqlite3 "$work/ingest.sqlite"
sqlite_web_rate=$bf_rate sqlite_web_p99=$p99
apply_with_worker "$sqlite_url" sqlite3 "$work/ingest.sqlite"
sqlite_apply=$apply_rate

step "Billforge on PostgreSQL: serve"
psql "$pg_server/postgres" -qc 'DROP DATABASE IF EXISTS bench_ingest WITH (FORCE)' -c 'CREATE DATABASE bench_ingest'
pg_url="$pg_server/bench_ingest"
run_billforge postgres "$pg_url" "" psql "$pg_url" -tAc
pg_rate=$bf_rate pg_p99=$p99

step "Billforge on PostgreSQL: serve --no-workers, then a worker process"
run_billforge postgres-web "$pg_url" --no-workers psql "$pg_url" -tAc
pg_web_rate=$bf_rate pg_web_p99=$p99
apply_with_worker "$pg_url" psql "$pg_url" -tAc
pg_apply=$apply_rate

step "results (distinct payment_intent.succeeded events, ${duration} s each, $connections connections, $(nproc) cores)"
results=$work/results.txt
row() { # name rate p99
  printf '%-48s %10s %8s %8s\n' "$1" "$2" "$3" \
    "$(awk -v a="$2" -v b="$seed_rate" 'BEGIN { printf "%.1fx", a / b }')"
}
{
  printf '%-48s %10s %8s %8s\n' "handler (stored before the 2xx unless noted)" "events/s" "p99 ms" "vs seed"
  row "seed (gunicorn -w 4, stores nothing)" "$seed_rate" "$s_p99"
  row "Billforge SQLite, serve (applying too)" "$sqlite_rate" "$sqlite_p99"
  row "Billforge SQLite, serve --no-workers" "$sqlite_web_rate" "$sqlite_web_p99"
  row "Billforge PostgreSQL, serve (applying too)" "$pg_rate" "$pg_p99"
  row "Billforge PostgreSQL, serve --no-workers" "$pg_web_rate" "$pg_web_p99"
  echo "apply rate of one billforge worker process: SQLite $sqlite_apply events/s, PostgreSQL $pg_apply events/s"
} | tee "$results"
echo "(also in $results)"
