#!/usr/bin/env bash
# Installs what PoolCluster needs on a Debian machine (root, package registries reachable) and builds the local
# package feed. Idempotent: what is already there is skipped. Used by install/test.sh and install/up.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# Debian packages: native libraries the services load, and the servers the tests and the local cluster run.
debs=(librdkafka1 libzmq5 libssl3 mariadb-server mariadb-client redis-server redis-tools supervisor gettext-base)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages present"
fi
# The Debian package starts a system MariaDB/Redis where it can; the project never uses them (tests and the local
# cluster run their own on free ports), so nothing here depends on them running or not.

command -v dotnet >/dev/null || { echo "setup: the .NET SDK (dotnet) is required and not on PATH" >&2; exit 1; }

"$root/install/build-local-packages.sh"
