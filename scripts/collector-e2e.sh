#!/usr/bin/env bash
# A real OpenTelemetry Collector in front of a real `scoreboard serve`
# (ARCHITECTURE.md, "Beyond one server"): the collector's batch processor and
# otlphttp exporter (gzip, protobuf, the ingest token as a header, retries
# and its sending queue) deliver Claude Code `api_request` events into
# Scoreboard, which must store exactly their tokens and cost.
#
#   scripts/collector-e2e.sh OTELCOL [SCOREBOARD_BIN]
#
# OTELCOL: any collector build with the filelog receiver, the batch processor
# and the otlphttp exporter (no distribution is packaged for Debian, npm or
# crates.io; see ARCHITECTURE.md for what was found). The events come from a
# file (filelog) rather than the otlp receiver, so that a build without the
# otlp receiver can run it; deploy/otel-collector.yaml's exporter section is
# what is exercised. The collector starts first, while Scoreboard is still
# down, so its first exports fail and are retried from its queue.
set -euo pipefail

OTELCOL=${1:?usage: scripts/collector-e2e.sh OTELCOL [SCOREBOARD_BIN]}
BIN=${2:-target/release/scoreboard}
WORK=$(mktemp -d)
trap 'kill ${SB_PID:-} ${OC_PID:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)

TOKEN=$("$BIN" token create --data-dir "$WORK/data" --name collector --endpoint "http://127.0.0.1:$PORT" \
  | grep -o 'sbi_[0-9a-f]*' | head -1)

# 60 engineers × 5 api_request events today: 300 records for the collector to batch.
USERS=60
EVENTS=5
python3 - "$WORK/events.jsonl" "$USERS" "$EVENTS" <<'EOF'
import json, sys, time
path, users, events = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
now = int(time.time())
with open(path, "w") as f:
    for u in range(users):
        for e in range(events):
            f.write(json.dumps({
                "ts": str(now - 60 + e),
                "event.name": "api_request",
                "user.email": f"engineer{u:03}@example.com",
                "session.id": f"session-{u:03}",
                "model": "claude-sonnet-4-5",
                "input_tokens": str(100 + e),
                "output_tokens": "10",
                "cache_read_tokens": "0",
                "cache_creation_tokens": "0",
                "cost_usd": "0.001",
            }) + "\n")
EOF

cat > "$WORK/collector.yaml" <<EOF
receivers:
  filelog:
    include: [$WORK/events.jsonl]
    start_at: beginning
    operators:
      - type: json_parser
        parse_to: attributes
        timestamp:
          parse_from: attributes.ts
          layout_type: epoch
          layout: s
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 256
  batch:
    timeout: 2s
    send_batch_size: 128
    send_batch_max_size: 256
exporters:
  otlphttp/scoreboard:
    endpoint: http://127.0.0.1:$PORT
    encoding: proto
    compression: gzip
    headers:
      Authorization: "Bearer \${env:SCOREBOARD_INGEST_TOKEN}"
    timeout: 30s
    retry_on_failure:
      enabled: true
      initial_interval: 1s
      max_interval: 2s
      max_elapsed_time: 2m
    sending_queue:
      enabled: true
      num_consumers: 4
      queue_size: 5000
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [filelog]
      processors: [memory_limiter, batch]
      exporters: [otlphttp/scoreboard]
EOF

SCOREBOARD_INGEST_TOKEN=$TOKEN "$OTELCOL" --config "$WORK/collector.yaml" > "$WORK/collector.log" 2>&1 &
OC_PID=$!
sleep 4 # its first exports find nobody listening: retried
"$BIN" serve --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
SB_PID=$!

want_tokens=$(( USERS * (EVENTS * 100 + EVENTS * (EVENTS - 1) / 2) ))
want_cost=$(( USERS * EVENTS * 1000 ))
today=$(date -u +%F)
for _ in $(seq 60); do
  sleep 1
  got=$(curl -fsS "http://127.0.0.1:$PORT/api/rows?from=$today&to=$today" 2>/dev/null \
    | python3 -c 'import json,sys; r=json.load(sys.stdin)["rows"]; print(len(r), sum(x.get("input_tokens",0) for x in r), sum(x.get("cost_micros",0) for x in r))' 2>/dev/null || true)
  if [ "$got" = "$USERS $want_tokens $want_cost" ]; then
    retried=$(grep -c -i 'retry\|Exporting failed' "$WORK/collector.log" || true)
    echo "PASS: $USERS engineers' rows, $want_tokens input tokens, $want_cost micro-dollars stored through the collector ($retried retry lines in its log)"
    grep -i 'refused\|401\|400' "$WORK/serve.log" && { echo "FAIL: the server refused something"; exit 1; }
    exit 0
  fi
done
echo "FAIL: stored (rows, input tokens, cost) = ($got), want ($USERS $want_tokens $want_cost)"
curl -sS "http://127.0.0.1:$PORT/api/rows?from=$today&to=$today" | head -c 600; echo
echo "--- collector log"; tail -30 "$WORK/collector.log"
echo "--- serve log"; tail -30 "$WORK/serve.log"
exit 1
