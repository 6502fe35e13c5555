#!/usr/bin/env bash
# Writes NAME.br (brotli -q 11) and NAME.gz (gzip -9) beside every compressible
# file of a built site, so that `scoreboard serve` (tower-http ServeDir) and a
# static host send the smallest form without compressing on every request
# (BENCHMARKS.md §1: brotli -q 11 is ~13 % smaller than the server's on-the-fly
# level 5 on the wasm).
#
#   scripts/precompress.sh DIR
#
# Run by Trunk after each release build (Trunk.toml's post_build hook, on the
# staging directory before it becomes dist/), so `make build` and `make dist`
# both get them; a debug build (`trunk serve`) is skipped: q 11 on a debug
# wasm takes long and nobody measures its weight.
# A compressed copy is kept only when it is smaller than the file; gzip -n
# leaves out the name and time, so the same build gives the same bytes.
# Tools: `brotli` (Debian package, scripts/setup.sh installs it) and `gzip`.
set -euo pipefail

DIR="${1:-${TRUNK_STAGING_DIR:-}}"
[[ -n "$DIR" && -d "$DIR" ]] || { echo "usage: $0 DIR" >&2; exit 2; }
if [[ -n "${TRUNK_PROFILE:-}" && "$TRUNK_PROFILE" != release ]]; then
  exit 0
fi
command -v brotli >/dev/null || { echo "precompress: brotli is missing; run 'make setup'" >&2; exit 1; }

count=0
while IFS= read -r -d '' f; do
  size=$(stat -c %s "$f")
  brotli -q 11 -f -o "$f.br" -- "$f"
  gzip -9 -n -c -- "$f" >"$f.gz"
  for z in "$f.br" "$f.gz"; do
    # Tiny files (an empty JSON answer) can grow when compressed: serve them plain.
    if (($(stat -c %s "$z") >= size)); then rm -f -- "$z"; fi
  done
  count=$((count + 1))
done < <(find "$DIR" -type f \( -name '*.html' -o -name '*.js' -o -name '*.wasm' -o -name '*.css' \
  -o -name '*.svg' -o -name '*.csv' -o -name '*.json' \) -print0)
echo "precompress: $count files in $DIR (.br and .gz beside each)"
