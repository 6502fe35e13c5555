#!/usr/bin/env bash
# Measures what CI pays on a clean machine: `make setup`, `make build` and
# `make test` of one commit, in a throwaway copy with an empty target/ (and,
# with --cold-tools, an empty CARGO_HOME, so trunk and wasm-bindgen-cli are
# built and every crate is downloaded again). Prints the wall and CPU time of each
# step and the size of target/ after it, then deletes the copy.
#
#   scripts/cold-time.sh [--cold-tools] [--keep] [REV]     (REV defaults to HEAD)
#
# What it cannot make cold: apt packages (chromium, chromedriver, node) and the
# rust toolchain with its wasm32 target are system-wide; toolchain.md measured
# the apt step at about 66 s on this kind of machine.
#
# Disk: a cold build writes several GB. The run is stopped (and the copy
# deleted) if the free space of the copy's file system falls under MIN_FREE_GB
# (default 10).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COLD_TOOLS=false KEEP=false REV=HEAD
while (($#)); do
  case "$1" in
    --cold-tools) COLD_TOOLS=true ;;
    --keep) KEEP=true ;;
    -*) echo "usage: $0 [--cold-tools] [--keep] [REV]" >&2; exit 2 ;;
    *) REV="$1" ;;
  esac
  shift
done
MIN_FREE_GB="${MIN_FREE_GB:-10}"
[[ -x /usr/bin/time ]] || { echo "$0: needs GNU time (apt-get install time)" >&2; exit 1; }
COMMIT="$(git -C "$ROOT" rev-parse --short "$REV")"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scoreboard-cold.XXXXXX")"
SRC="$WORK/src"
mkdir -p "$SRC"
git -C "$ROOT" archive "$REV" | tar -x -C "$SRC"
# Tests read the reference material and the captured OTLP requests from
# `../shared`, beside the repository.
if [[ -d "$ROOT/../shared" ]]; then ln -s "$(cd "$ROOT/../shared" && pwd)" "$WORK/shared"; fi

# The copy must not see this tree's build output or a shared target directory.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
if $COLD_TOOLS; then
  # An empty CARGO_HOME whose bin/ holds only rustup's proxies: no trunk, no
  # wasm-bindgen, no downloaded crates. RUSTUP_HOME (the toolchains) is kept.
  OLD_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
  export CARGO_HOME="$WORK/cargo-home"
  mkdir -p "$CARGO_HOME/bin"
  for p in cargo rustc rustdoc rustup rustfmt cargo-fmt cargo-clippy clippy-driver; do
    [[ -e "$OLD_BIN/$p" ]] && ln -s "$OLD_BIN/$p" "$CARGO_HOME/bin/$p"
  done
  PATH="$CARGO_HOME/bin:$(tr ':' '\n' <<<"$PATH" | grep -vx "$OLD_BIN" | paste -sd:)"
  export PATH
fi

free_gb() { df --output=avail -B1G "$WORK" | tail -1 | tr -d ' '; }
size_of() { if [[ -d "$1" ]]; then du -sh "$1" | cut -f1; else echo 0; fi; }

LOG="$WORK/log"
RESULTS=()
STEP_PID=""
cleanup() {
  [[ -n "$STEP_PID" ]] && kill -- "-$STEP_PID" 2>/dev/null || true
  if $KEEP; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# step <name> <make target>: runs it in its own process group, watching the disk.
step() {
  local name="$1" start end rc=0 low=false
  shift
  echo "==> $name ($*) in $SRC; output in $LOG.$name"
  start=$(date +%s)
  set -m
  (cd "$SRC" && exec /usr/bin/time -f '%U %S' -o "$LOG.$name.cpu" "$@") >"$LOG.$name" 2>&1 &
  STEP_PID=$!
  set +m
  while kill -0 "$STEP_PID" 2>/dev/null; do
    if (($(free_gb) < MIN_FREE_GB)); then
      echo "    free disk under $MIN_FREE_GB GB: stopping $name" >&2
      kill -- "-$STEP_PID" 2>/dev/null || true
      low=true
    fi
    sleep 5
  done
  wait "$STEP_PID" || rc=$?
  STEP_PID=""
  end=$(date +%s)
  local secs=$((end - start)) cpu
  # CPU time (user + system) of the step and everything it waited for: unlike the
  # wall time, it hardly depends on what else the machine is running.
  # (GNU time writes "Command exited with non-zero status N" first when it fails.)
  cpu="$(tail -n 1 "$LOG.$name.cpu" 2>/dev/null | awk '{ printf "%d", $1 + $2 }')"
  RESULTS+=("$(printf '%-6s wall %4d s (%2d min %2d s)  cpu %5s s  exit %d  target/ %s' \
    "$name" "$secs" $((secs / 60)) $((secs % 60)) "$cpu" "$rc" "$(size_of "$SRC/target")")")
  echo "    ${RESULTS[-1]}"
  if $low || ((rc != 0)); then
    tail -n 40 "$LOG.$name" >&2
    report
    exit 1
  fi
}

report() {
  echo
  echo "commit $COMMIT, $( $COLD_TOOLS && echo 'empty CARGO_HOME (tools built, crates downloaded)' || echo 'installed tools and crates reused'), empty target/"
  echo "$(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%s\n' "${RESULTS[@]}"
  if [[ -d "$SRC/target/debug/deps" ]]; then
    echo "largest test executables (target/debug/deps):"
    find "$SRC/target/debug/deps" -maxdepth 1 -type f -executable -printf '%s %f\n' \
      | sort -rn | head -5 | awk '{ printf "  %6.1f MB  %s\n", $1 / 1e6, $2 }'
  fi
}

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg); free disk: $(free_gb) GB"
step setup make setup
step build make build
step test make test
report
