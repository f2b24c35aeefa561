#!/usr/bin/env bash
# The billing day (issue #10): N monthly subscriptions on the emulator renew
# at the same instant, one in FAILING_ONE_IN (default 20: 5 %) on a card that
# fails; time from `billforge clock advance` until every renewal invoice is
# mirrored, every entitlement recomputed and every receipt and dunning mail
# queued, events/s, and the resident size of every process idle and at the
# billing day's peak. The example starts its own processes (emulator, web
# tier, WORKERS × `billforge worker`) on a fresh database, cleans up, and
# exits non-zero on an incomplete run.
#
#   bench/billing-day/run.sh                               # 10,000, SQLite, 1 worker
#   N=100000 DB=postgres WORKERS=2 bench/billing-day/run.sh
#   WEBHOOK_CONCURRENCY=1 bench/billing-day/run.sh     # the emulator's in-order delivery
#
# Needs: cargo; for DB=postgres a PostgreSQL server at $PG_URL (default
# postgres://postgres@127.0.0.1:5432, a database is created and dropped).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-$PWD/target}

cargo build --release --locked -p billforge --bin billforge --example bench_billing_day
echo "machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2}') memory; $(uptime)"
"$target/release/examples/bench_billing_day" \
  --subscriptions "${N:-10000}" \
  --database "${DB:-sqlite}" \
  --workers "${WORKERS:-1}" \
  --failing-one-in "${FAILING_ONE_IN:-20}" \
  --webhook-concurrency "${WEBHOOK_CONCURRENCY:-16}" \
  --billforge "$target/release/billforge"
echo "after: $(uptime)"
