#!/usr/bin/env bash
# Scrapes a demo `scoreboard serve` with a local Prometheus (Debian's
# `prometheus` package: apt-get install prometheus; locally only, never in
# `make test` or CI) and saves Prometheus' graph of
# scoreboard_weekly_active_engineers as docs/prometheus.png (README). Grafana
# is not packaged for Debian, npm, PyPI or crates.io; the dashboard JSON in
# deploy/grafana reads these same series.
#
# The server serves the demo files through its exports folder (--imports), so
# nothing is invented here: the series are what /metrics says for them.
#
# Usage: scripts/prometheus-screenshot.sh   (after `make build`)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${SCOREBOARD_BIN:-target/release/scoreboard}
CHROMIUM=${CHROMIUM:-chromium}
PROMETHEUS=${PROMETHEUS:-prometheus}
SCRAPES=${SCRAPES:-12}   # 5 s apart
OUT=docs/prometheus.png

[ -x "$BIN" ] || { echo "no $BIN: run make build first" >&2; exit 1; }
command -v "$PROMETHEUS" >/dev/null || { echo "no prometheus: apt-get install prometheus" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sb_port=$(free_port); prom_port=$(free_port)

mkdir -p "$work/exports" "$work/data" "$work/prom"
cp public/demo/claude_code_usage.csv "$work/exports/"
"$BIN" serve --listen "127.0.0.1:$sb_port" --data-dir "$work/data" \
  --roster public/demo/roster.csv --imports "$work/exports" 2> "$work/serve.log" &
pids+=($!)

cat > "$work/prometheus.yml" <<YML
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: scoreboard
    static_configs:
      - targets: ["127.0.0.1:$sb_port"]
YML
"$PROMETHEUS" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
  --web.listen-address="127.0.0.1:$prom_port" 2> "$work/prom.log" &
pids+=($!)

echo "scraping http://127.0.0.1:$sb_port/metrics for $((SCRAPES * 5)) s…"
sleep $((SCRAPES * 5 + 5))
curl -fsS "http://127.0.0.1:$prom_port/api/v1/query?query=scoreboard_weekly_active_engineers" \
  | grep -q '"result":\[{' || { echo "Prometheus has no samples; see $work/prom.log" >&2; cat "$work/serve.log" >&2; exit 1; }

url="http://127.0.0.1:$prom_port/graph?g0.expr=scoreboard_weekly_active_engineers&g0.tab=0&g0.stacked=0&g0.show_exemplars=0&g0.range_input=1m"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=10000 \
  --window-size=1200,1000 --screenshot="$PWD/$OUT" "$url" 2>/dev/null
echo "wrote $OUT"
