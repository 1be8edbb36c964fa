#!/usr/bin/env bash
# Measures SServer as docs/sserver.md reports it. Everything runs on this machine (127.0.0.1), bounded in time;
# every process started here is stopped by its pid at the end.
#   bash services/SServer.LoadClient/measure.sh shares   # CPU microseconds per accepted share
#   bash services/SServer.LoadClient/measure.sh idle     # memory per idle connection, clean-job push time (15,000 connections)
#   READ_JOBS=0 bash ... idle                            # the same, clients not reading: SServer's sends alone
set -euo pipefail
mode=${1:-shares}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/sserver-measure.XXXXXX)
ulimit -n 20000
dotnet build "$repo/services/SServer" -c Release -v q >/dev/null
dotnet build "$repo/services/SServer.LoadClient" -c Release -v q >/dev/null
dotnet build "$repo/services/EmbeddedKafka" -c Release -v q >/dev/null
sserver="$repo/services/SServer/bin/Release/net10.0/PoolCluster.SServer.dll"
client="$repo/services/SServer.LoadClient/bin/Release/net10.0/PoolCluster.SServer.LoadClient.dll"
kafka="$repo/services/EmbeddedKafka/bin/Release/net10.0/PoolCluster.EmbeddedKafka.dll"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

dotnet "$kafka" --bootstrap-file "$work/kafka" >"$work/kafka.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/kafka" ] && break; sleep 0.1; done
bootstrap=$(cat "$work/kafka")
port=${PORT:-23333} # below the ephemeral range, where the embedded Kafka picks its port
if [ "$mode" = shares ]; then
  # Every hash is a share at difficulty 1e-12: the client need not mine; SServer still hashes and judges each one.
  vardiff='"InitialDifficulty":1e-12,"MinDifficulty":1e-12,"MaxDifficulty":1e-12'
else
  vardiff='"InitialDifficulty":16384'
fi
cat >"$work/sserver.json" <<JSON
{"Stratum":{"BindAddress":"127.0.0.1","Port":$port,"ServerId":1,"Extranonce2Size":4,"StatsIntervalSeconds":5,
  "Limits":{"MaxConnectionsPerIp":20000,"UnauthorizedTimeoutSeconds":300},"Ban":{"MaxInvalidSharesPerMinute":0}},
 "Vardiff":{$vardiff},"Users":{"Source":"None"},"Logging":{"LogLevel":{"Default":"Information"}},
 "Kafka":{"BootstrapServers":"$bootstrap","ClientId":"sserver-measure"}}
JSON
dotnet "$sserver" --config "$work/sserver.json" >"$work/sserver.log" 2>&1 &
server_pid=$!
pids+=($server_pid)
for _ in $(seq 200); do grep -q "listening for miners" "$work/sserver.log" && break; sleep 0.1; done
dotnet "$client" job --bootstrap "$bootstrap" --height-offset 1
sleep 2
echo "sserver pid $server_pid, rss before clients: $(grep VmRSS /proc/$server_pid/status)"

if [ "$mode" = shares ]; then
  dotnet "$client" shares --port $port --connections ${CONNECTIONS:-200} --rate ${RATE:-100} --seconds ${SECONDS_RUN:-20} --server-pid "$server_pid"
else
  dotnet "$client" idle --port $port --connections ${CONNECTIONS:-15000} --seconds ${SECONDS_RUN:-90} --read-jobs ${READ_JOBS:-1} >"$work/idle.log" 2>&1 &
  idle_pid=$!
  pids+=($idle_pid)
  for _ in $(seq 1200); do grep -q READY "$work/idle.log" && break; sleep 0.1; done
  cat "$work/idle.log"
  sleep 5
  echo "rss with clients: $(grep VmRSS /proc/$server_pid/status)"
  # Eight clean jobs: the first ones also warm up the JIT (report the later ones).
  for i in $(seq 2 9); do
    dotnet "$client" job --bootstrap "$bootstrap" --height-offset $i
    sleep 6
  done
  wait "$idle_pid" || true
  cat "$work/idle.log"
fi
grep -E "stats:|sent to" "$work/sserver.log" | tail -12
echo "logs in $work"
