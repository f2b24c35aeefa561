#!/usr/bin/env bash
# Drives the Stripe emulator with the official Python client (conformance/python).
# Works from a fresh clone: builds the emulator, prepares a venv under the target
# directory, starts the emulator on a free port, runs pytest, stops the emulator.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

cargo build -p stripe-emulator --bin stripe-emulator

venv="$target/conformance-python-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r conformance/python/requirements.txt

port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$target/debug/stripe-emulator" --port "$port" &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true; wait "$emulator" 2>/dev/null || true' EXIT

url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$url/_emulator/clock')" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

STRIPE_EMULATOR_URL="$url" "$venv/bin/python" -m pytest conformance/python -q -p no:cacheprovider "$@"
