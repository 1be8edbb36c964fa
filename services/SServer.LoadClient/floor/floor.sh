#!/usr/bin/env bash
# The machine's floor for SServer's two socket-bound targets, measured by C programs with no logic at all
# (docs/sserver.md, "What this machine allows"): CPU per request/reply over loopback TCP with the load client's
# traffic shape, and the time to push one 1,000-byte line to 15,000 loopback connections. Needs gcc.
#   bash services/SServer.LoadClient/floor/floor.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/sserver-floor.XXXXXX)
gcc -O2 -pthread "$here/echo_floor.c" -o "$work/echo_floor"
gcc -O2 -pthread "$here/push_floor.c" -o "$work/push_floor"
port=${PORT:-23334}

echo "== request/reply: 200 connections x 100/s (20,000/s), 2 server threads, 15 s"
for shape in burst even; do
  "$work/echo_floor" server $port 2 15 >"$work/echo.out" &
  server=$!
  sleep 0.5
  "$work/echo_floor" client $port 200 100 15 $shape
  wait $server
  echo "$shape: $(cat "$work/echo.out")"
done

echo "== push: one 1,000-byte line to 15,000 connections, 2 sender threads, 5 rounds"
for reading in 0 1; do
  "$work/push_floor" server $port 2 15000 1000 5 >"$work/push.out" 2>&1 &
  server=$!
  sleep 0.5
  timeout 30 "$work/push_floor" client $port 15000 $reading 16 || true
  wait $server || true
  echo "clients reading: $reading"
  grep round "$work/push.out"
done
rm -rf "$work"
