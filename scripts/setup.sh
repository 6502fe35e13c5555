#!/usr/bin/env bash
# Installs everything `make build` and `make test` need, and nothing else.
# Idempotent: each step checks first and is skipped when already satisfied, so a
# second run takes a few seconds. Works as root on a fresh Debian 12 (CI runs it
# that way on a clean clone); as another user it calls sudo only for apt.
#
#   scripts/setup.sh           install what is missing
#   scripts/setup.sh --check   only report; exit 1 if anything is missing
#
# Pins (see ../shared/reference/toolchain.md for why each one):
#   trunk 0.21.x          0.22 needs a newer rustc
#   wasm-bindgen-cli      exactly the `wasm-bindgen` version in Cargo.lock,
#                         installed WITHOUT --locked (a locked dependency of
#                         0.2.130 is missing from the registry index)
#   wasm-opt              npm binaryen@132.0.0 in .tools/npm; never Debian's
#                         binaryen 108, which emits a bundle that fails at start-up
#   brotli                Debian's (1.0.9, 0.8 MB installed): precompresses dist/
#   wasm-split-cli        wasm_split_cli_support 0.2.4 (the crate cargo-leptos splits
#                         with, matching Leptos 0.8's wasm_split_helpers 0.2): cuts the
#                         page's lazily loaded views into their own wasm modules
#                         (scripts/wasm-split.sh); --locked, about 3 min cold
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CHECK_ONLY=false
case "${1:-}" in
  --check) CHECK_ONLY=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

TRUNK_SERIES="0.21"
BINARYEN_VERSION="132.0.0"
NPM_TOOLS="$ROOT/.tools/npm"
export PATH="$NPM_TOOLS/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true

say()  { printf '==> %s\n' "$*"; }
ok()   { printf '    ok: %s\n' "$*"; }
die()  { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
MISSING=()
missing() { MISSING+=("$1"); printf '    missing: %s\n' "$1"; }
timed() {                       # timed <label> <command...>: run it and print its wall time
  local label="$1" start=$SECONDS; shift
  say "$label"
  "$@"
  ok "$label ($((SECONDS - start)) s)"
}

# ---- prerequisites that setup does not install -------------------------------
command -v cargo >/dev/null && command -v rustup >/dev/null \
  || die "cargo and rustup must be installed (https://rustup.rs); this script only adds to them"

# The wasm-bindgen version is whatever Cargo.lock resolved for the app.
WASM_BINDGEN_VERSION="$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[[ "$WASM_BINDGEN_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] \
  || die "could not read the wasm-bindgen version from Cargo.lock (got '$WASM_BINDGEN_VERSION')"
# Trunk.toml must name the same version, or an offline Trunk build refuses to run.
TRUNK_TOML_WB="$(sed -n 's/^wasm_bindgen *= *"\([^"]*\)".*/\1/p' Trunk.toml)"
[[ "$TRUNK_TOML_WB" == "$WASM_BINDGEN_VERSION" ]] \
  || die "Trunk.toml [tools] wasm_bindgen = \"$TRUNK_TOML_WB\" but Cargo.lock has wasm-bindgen $WASM_BINDGEN_VERSION; make them equal"

# ---- what is missing? ---------------------------------------------------------
say "checking tools"
APT_PACKAGES=()
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  ok "$(chromedriver --version | cut -d' ' -f1-2), chromium"
else
  missing "chromium + chromedriver (apt)"; APT_PACKAGES+=(chromium chromium-driver)
fi
if command -v npm >/dev/null; then ok "npm $(npm --version)"
else missing "node + npm (apt)"; APT_PACKAGES+=(nodejs npm); fi
# The build writes .br beside each file of dist/ (scripts/precompress.sh); gzip is in every Debian.
if command -v brotli >/dev/null && command -v gzip >/dev/null; then ok "$(brotli --version), gzip"
else missing "brotli (apt)"; APT_PACKAGES+=(brotli gzip); fi
if ! command -v cc >/dev/null; then missing "C toolchain (apt build-essential)"; APT_PACKAGES+=(build-essential); fi

NEED_TARGET=false
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then ok "rust target wasm32-unknown-unknown"
else missing "rust target wasm32-unknown-unknown"; NEED_TARGET=true; fi

NEED_TRUNK=false
if trunk --version 2>/dev/null | grep -q "^trunk ${TRUNK_SERIES//./\\.}\."; then ok "$(trunk --version)"
else missing "trunk ~$TRUNK_SERIES"; NEED_TRUNK=true; fi

NEED_WB=false
# wasm-bindgen-cli also brings wasm-bindgen-test-runner, which runs the page's browser tests.
if [[ "$(wasm-bindgen --version 2>/dev/null)" == "wasm-bindgen $WASM_BINDGEN_VERSION" ]] \
  && [[ "$(wasm-bindgen-test-runner --version 2>/dev/null)" == "wasm-bindgen-test-runner $WASM_BINDGEN_VERSION" ]]; then
  ok "wasm-bindgen and wasm-bindgen-test-runner $WASM_BINDGEN_VERSION"
else missing "wasm-bindgen-cli $WASM_BINDGEN_VERSION (found: $(wasm-bindgen --version 2>/dev/null || echo none))"; NEED_WB=true; fi

WASM_SPLIT_VERSION="0.2.4"
NEED_SPLIT=false
# The binary has no --version: cargo's list of installed crates says which one it is.
if command -v wasm-split-cli >/dev/null \
  && cargo install --list | grep -qx "wasm_split_cli_support v$WASM_SPLIT_VERSION:"; then
  ok "wasm-split-cli (wasm_split_cli_support $WASM_SPLIT_VERSION)"
else missing "wasm-split-cli (wasm_split_cli_support $WASM_SPLIT_VERSION)"; NEED_SPLIT=true; fi

NEED_WASM_OPT=false
if "$NPM_TOOLS/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "(version_${BINARYEN_VERSION%%.*})"; then
  ok "wasm-opt version_${BINARYEN_VERSION%%.*} (npm, .tools/npm)"
else missing "wasm-opt from npm binaryen@$BINARYEN_VERSION"; NEED_WASM_OPT=true; fi

if $CHECK_ONLY; then
  if ((${#MISSING[@]})); then echo "setup: ${#MISSING[@]} missing; run 'make setup'"; exit 1; fi
  echo "setup: everything is installed"; exit 0
fi

# ---- install what is missing --------------------------------------------------
START=$SECONDS
if ((${#APT_PACKAGES[@]})); then
  SUDO=(); [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  timed "apt-get update" "${SUDO[@]}" apt-get update -q
  timed "apt-get install ${APT_PACKAGES[*]}" "${SUDO[@]}" apt-get install -y -q "${APT_PACKAGES[@]}"
fi
if $NEED_TARGET; then timed "rustup target add wasm32-unknown-unknown" rustup target add wasm32-unknown-unknown; fi
if $NEED_WASM_OPT; then
  mkdir -p "$NPM_TOOLS"
  timed "npm install binaryen@$BINARYEN_VERSION into .tools/npm" \
    npm install --prefix "$NPM_TOOLS" --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION"
  "$NPM_TOOLS/node_modules/.bin/wasm-opt" --version
fi
# The two cargo installs are CPU-bound (about 10 and 3 minutes on 2 cores, cold).
if $NEED_TRUNK; then
  timed "cargo install --locked trunk --version ~$TRUNK_SERIES (about 10 min)" \
    cargo install --locked trunk --version "~$TRUNK_SERIES"
fi
if $NEED_WB; then
  timed "cargo install wasm-bindgen-cli --version $WASM_BINDGEN_VERSION (about 3 min; not --locked on purpose)" \
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
if $NEED_SPLIT; then
  timed "cargo install --locked wasm_split_cli_support --version $WASM_SPLIT_VERSION --features build-binary (about 3 min)" \
    cargo install --locked wasm_split_cli_support --version "$WASM_SPLIT_VERSION" --features build-binary
fi
# Trunk runs cargo with --offline (Trunk.toml), so every crate must be local first.
timed "cargo fetch" cargo fetch

if [[ -x /usr/bin/wasm-opt ]] && ! /usr/bin/wasm-opt --version | grep -q "(version_${BINARYEN_VERSION%%.*})"; then
  echo "    note: /usr/bin/wasm-opt ($(/usr/bin/wasm-opt --version)) is not used: the Makefile puts .tools/npm first on PATH and Trunk.toml pins version_${BINARYEN_VERSION%%.*}"
fi
say "setup done in $((SECONDS - START)) s"
