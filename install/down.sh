#!/usr/bin/env bash
# Stops everything install/up.sh started (its own supervisord and the programs under it) and nothing else.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR="$ROOT/run"
[ "${1:-}" = "--run-dir" ] && RUN_DIR=$(cd "$2" && pwd)
pidfile="$RUN_DIR/supervisord.pid"
if [ ! -f "$pidfile" ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "down.sh: no cluster running in $RUN_DIR"; exit 0
fi
pid=$(cat "$pidfile")
supervisorctl -c "$RUN_DIR/supervisord.conf" stop all >/dev/null 2>&1 || true
supervisorctl -c "$RUN_DIR/supervisord.conf" shutdown >/dev/null 2>&1 || kill "$pid"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$pid" 2>/dev/null && { echo "down.sh: supervisord ($pid) did not stop" >&2; exit 1; }
echo "down.sh: stopped (data kept in $RUN_DIR; remove it for a fresh cluster)"
