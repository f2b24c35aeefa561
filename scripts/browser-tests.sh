#!/usr/bin/env bash
# Runs the real-browser tests (crates/billforge/tests/browser): installs
# Chromium and chromedriver from Debian if missing, starts chromedriver on a
# free port, runs the `browser` test target against it.
#
# Fails, never skips, when Chromium cannot be had: CI must not go green
# without having driven a browser. Screenshots land in target/screenshots/.
# Extra arguments go to the test binary (e.g. a test name filter).
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
    echo "browser-tests: installing chromium and chromium-driver" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q chromium chromium-driver
fi
/usr/bin/chromium --version
/usr/bin/chromedriver --version

# A port nobody listens on now (the kernel picks it; freed again right away).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp -t chromedriver.XXXXXX.log)

# Its own session (process group), so the trap also ends any Chromium a
# failed test left behind, and only those.
setsid /usr/bin/chromedriver --port="$port" --allowed-ips=127.0.0.1 >"$log" 2>&1 &
driver_pid=$!
stop_driver() {
    kill -- "-$driver_pid" 2>/dev/null || true
    wait "$driver_pid" 2>/dev/null || true
}
trap stop_driver EXIT

export WEBDRIVER_URL="http://127.0.0.1:$port"
for _ in $(seq 100); do
    if curl -fsS "$WEBDRIVER_URL/status" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$driver_pid" 2>/dev/null; then
        echo "browser-tests: chromedriver exited; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
if ! curl -fsS "$WEBDRIVER_URL/status" >/dev/null; then
    echo "browser-tests: chromedriver not ready at $WEBDRIVER_URL; its log:" >&2
    cat "$log" >&2
    exit 1
fi

status=0
cargo test -p billforge --features browser-tests --test browser -- "$@" || status=$?
if [[ $status -ne 0 ]]; then
    echo "browser-tests: failed; chromedriver log: $log" >&2
fi
exit "$status"
