#!/usr/bin/env bash
# Renders the weekly digest as a chat message shows it and saves a screenshot
# as docs/digest.png (README, "Beside your other metrics"). Not part of
# `make test`: it documents, it does not check.
#
# The digest is the real one: `scoreboard digest --dry-run` over the demo
# files (public/demo), exactly the Markdown `--webhook` posts as {"text": …}.
# The Markdown is turned into HTML by Python-Markdown (Debian:
# python3-markdown) and photographed by headless Chromium.
#
# Usage: scripts/digest-screenshot.sh   (after `make build`)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${SCOREBOARD_BIN:-target/release/scoreboard}
CHROMIUM=${CHROMIUM:-chromium}
PY=/usr/bin/python3
OUT=docs/digest.png

[ -x "$BIN" ] || { echo "no $BIN: run make build first" >&2; exit 1; }
"$PY" -c 'import markdown' 2>/dev/null || {
  echo "Python-Markdown is missing: apt-get install python3-markdown" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The demo's as-of date (public/demo/manifest.json), so the picture is stable.
as_of=$(sed -n 's/.*"as_of": "\([0-9-]*\)".*/\1/p' public/demo/manifest.json)
"$BIN" digest --dry-run --as-of "$as_of" --url https://scoreboard.example.com/ \
  --roster public/demo/roster.csv public/demo/claude_code_usage.csv > "$work/digest.md"

"$PY" - "$work/digest.md" "$work/digest.html" <<'PYEOF'
import html, sys, markdown
text = open(sys.argv[1], encoding="utf-8").read()
body = markdown.markdown(text, extensions=["sane_lists"])
page = f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #f4f4f6; font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d1c1d; }}
.channel {{ background: #fff; margin: 16px; border: 1px solid #ddd; border-radius: 8px; }}
.channel header {{ padding: 10px 16px; border-bottom: 1px solid #eee; font-weight: 700; }}
.msg {{ display: flex; gap: 12px; padding: 14px 16px; }}
.avatar {{ width: 40px; height: 40px; border-radius: 6px; background: #4a3aff; color: #fff; font-weight: 700;
          display: flex; align-items: center; justify-content: center; flex: none; }}
.who {{ font-weight: 700; }} .who small {{ font-weight: 400; color: #777; margin-left: 6px; }}
.app {{ background: #eee; color: #555; font-size: 11px; padding: 1px 4px; border-radius: 3px; margin-left: 4px; }}
.text p {{ margin: 6px 0; }} .text ul {{ margin: 4px 0; padding-left: 22px; }}
.text code {{ background: #f6f6f6; border: 1px solid #e4e4e4; border-radius: 3px; padding: 0 3px; font-size: 13px; color: #c0265f; }}
.text a {{ color: #1264a3; }}
</style></head><body><div class="channel"><header># engineering-leads</header>
<div class="msg"><div class="avatar">S</div><div><div class="who">Scoreboard<span class="app">APP</span><small>Mon 09:00</small></div>
<div class="text">{body}</div></div></div></div></body></html>"""
open(sys.argv[2], "w", encoding="utf-8").write(page)
PYEOF

"$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size="${WIDTH:-900},${HEIGHT:-680}" --screenshot="$PWD/$OUT" "file://$work/digest.html" 2>/dev/null
echo "wrote $OUT"
