#!/usr/bin/env bash
# Drives the Stripe emulator with the official Node client (conformance/node).
# Works from a fresh clone: builds the emulator, installs the pinned client with
# `npm ci`, starts the emulator on a free port, runs `node --test` (TAP output,
# closing with `# pass N` / `# fail N`), stops the emulator. Extra arguments go
# to `node --test` (e.g. `--test-name-pattern=refunds`).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

cargo build -p stripe-emulator --bin stripe-emulator

(cd conformance/node && npm ci --no-audit --no-fund --loglevel=error)

port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
"$target/debug/stripe-emulator" --port "$port" &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true; wait "$emulator" 2>/dev/null || true' EXIT

url="http://127.0.0.1:$port"
for attempt in $(seq 1 100); do
    if curl --silent --fail --output /dev/null "$url/_emulator/clock"; then
        break
    fi
    if [ "$attempt" = 100 ]; then
        echo "the emulator did not start on $url" >&2
        exit 1
    fi
    sleep 0.1
done

cd conformance/node
STRIPE_EMULATOR_URL="$url" node --test --test-reporter=tap "$@"
