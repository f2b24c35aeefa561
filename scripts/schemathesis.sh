#!/usr/bin/env bash
# Schema-driven API fuzzing: Schemathesis generates requests from
# /openapi.json (valid and invalid ones) and checks every response against
# the spec. Works from a fresh clone: builds billforge, prepares a venv
# under the target directory, starts `billforge serve` with its embedded
# Stripe emulator on a fresh SQLite file and free ports, makes a connected
# merchant with an API key (scripts/schemathesis/merchant.py), fuzzes, and
# stops the server. Fails on any finding, and when it cannot run.
#
# SCHEMATHESIS_MAX_EXAMPLES (default 100) bounds the generated cases per
# operation; SCHEMATHESIS_SEED (default 1) makes a run reproducible. Extra
# arguments go to `schemathesis run` (e.g. --include-path-regex '^/v1/plans').
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)" # absolute: Schemathesis runs from there

# The binary as the test suite builds it (same features, so in CI, after
# the tests, nothing is compiled again; `cargo build -p billforge` would
# rebuild most dependencies with other features).
cargo test --workspace --no-run

venv="$target/schemathesis-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/schemathesis/requirements.txt

free_port() {
    "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port="$(free_port)"
emulator_port="$(free_port)"
url="http://127.0.0.1:$port"

# Its own directory: the SQLite file, the emulator's state (./data/) and the log.
work="$(mktemp -d -t billforge-schemathesis.XXXXXX)"
log="$work/serve.log"
# Nothing of the caller's environment but PATH, so a Stripe key or database
# URL set in the shell cannot point the run elsewhere. The rate limit is
# lifted: the fuzzer calls faster than the default 100/s, and 429s would
# only hide the answers it is checking.
(cd "$work" && exec env -i PATH="$PATH" \
    DATABASE_URL="sqlite://$work/billforge.sqlite?mode=rwc" \
    BIND="127.0.0.1:$port" \
    STRIPE_EMULATOR_BIND="127.0.0.1:$emulator_port" \
    API_RATE_LIMIT_PER_SECOND=1000000 \
    API_RATE_LIMIT_BURST=1000000 \
    RUST_LOG=warn \
    "$target/debug/billforge" serve) >"$log" 2>&1 &
server=$!
stop_server() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap stop_server EXIT

for _ in $(seq 1 300); do
    if curl -fsS "$url/readyz" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "schemathesis: billforge serve exited; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
curl -fsS "$url/readyz" >/dev/null || {
    echo "schemathesis: billforge serve not ready at $url; its log:" >&2
    cat "$log" >&2
    exit 1
}

key="$("$venv/bin/python" scripts/schemathesis/merchant.py "$url")"

# Every check but two. `positive_data_acceptance` expects any request the
# schema allows to succeed: the spec cannot express the rules the API
# checks beyond types (exactly one of `invoice` and `payment_intent`, an
# absolute URL, a cursor that names an object, amount ranges, the shape of
# `kind`/`model` objects), so it would flag their correct 400s; requests
# that break the schema must still be refused (`negative_data_rejection`).
# `use_after_free` expects a 404 after a DELETE, but revoking an API key
# keeps it readable, with `revoked_at`, as the audit trail needs.
report="$target/schemathesis-report"
status=0
# From the target directory, where Schemathesis keeps its cache of found
# failures (`.schemathesis/`, replayed by `st replay` run there).
(cd "$target" && "$venv/bin/schemathesis" run "$url/openapi.json" \
    --header "Authorization: Bearer $key" \
    --checks all \
    --exclude-checks positive_data_acceptance,use_after_free \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --generation-database none \
    --workers 2 \
    --request-timeout 10 \
    --no-color \
    --report junit --report-dir "$report" \
    "$@") || status=$?

if [[ $status -ne 0 ]]; then
    echo "schemathesis: findings above (JUnit report in $report); server warnings and errors:" >&2
    cat "$log" >&2
fi
exit "$status"
