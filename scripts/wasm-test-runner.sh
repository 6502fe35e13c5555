#!/usr/bin/env bash
# Cargo's runner for wasm32 test binaries (.cargo/config.toml), so that
#   cargo test -p scoreboard-app --target wasm32-unknown-unknown
# runs the page's browser tests (`#[wasm_bindgen_test]`) in headless Chromium.
#
# wasm-bindgen-test-runner (installed with wasm-bindgen-cli by scripts/setup.sh,
# the same version as the wasm-bindgen in Cargo.lock) starts chromedriver and
# serves the test page. This wrapper gives each run a fresh Chromium profile
# (IndexedDB and localStorage start empty; nothing leaks between runs or
# between worktrees testing at the same time) with the flags of
# ../shared/reference/toolchain.md §4.1, the same ones tests/e2e uses, and
# deletes the profile afterwards.
#
# Overrides: CHROMEDRIVER, CHROMIUM (default /usr/bin/chromedriver, /usr/bin/chromium).
set -euo pipefail

chromium="${CHROMIUM:-/usr/bin/chromium}"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
for tool in "$chromium" "$CHROMEDRIVER"; do
  [[ -x "$tool" ]] || { echo "wasm-test-runner: $tool not found; run 'make setup'" >&2; exit 1; }
done
command -v wasm-bindgen-test-runner >/dev/null \
  || { echo "wasm-test-runner: wasm-bindgen-test-runner not on PATH; run 'make setup'" >&2; exit 1; }

dir="$(mktemp -d "${TMPDIR:-/tmp}/scoreboard-wasm-test.XXXXXX")"
# The runner closes its WebDriver session and stops chromedriver when it is
# done; should it die first, a Chromium on this run's profile would outlive it.
# Only processes started with this run's unique profile directory are stopped.
cleanup() {
  pkill -f -- "--user-data-dir=$dir/profile" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$dir/profile"
cat >"$dir/webdriver.json" <<JSON
{
  "goog:chromeOptions": {
    "binary": "$chromium",
    "args": [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage", "--user-data-dir=$dir/profile"
    ]
  }
}
JSON
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$dir/webdriver.json"
# The runner's defaults (20 s for the whole suite, 5 s for chromedriver to
# start) are limits on waiting, not on the tests' speed; on a 2-core machine
# shared with other builds they are too short to tell a hang from a slow start.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}"
export WASM_BINDGEN_TEST_DRIVER_TIMEOUT="${WASM_BINDGEN_TEST_DRIVER_TIMEOUT:-60}"

# Not exec: the trap deletes the profile when the runner is done.
wasm-bindgen-test-runner "$@"
