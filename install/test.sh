#!/usr/bin/env bash
# README's test command: installs what is missing, builds, and runs every test against real MariaDB, Redis and
# embedded Kafka processes that the test fixtures start themselves. Prints the runners' summary and a total line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/install/setup.sh"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet restore PoolCluster.sln --nologo -v q
dotnet build PoolCluster.sln -c Release --no-restore --nologo -v q

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test PoolCluster.sln -c Release --no-build --nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain total over all test projects ('N passed, N failed, N skipped').
awk '/(Passed|Failed)!/ {
       for (i = 1; i <= NF; i++) {
         if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1)
       } }
     END { gsub(/,/, ""); printf "Total: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
