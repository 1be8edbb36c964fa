#!/usr/bin/env bash
# Brings up the whole local PoolCluster under supervisord: MariaDB, Redis, an embedded Kafka, a regtest DevNode (or a
# real node with --node-rpc), and GbtMaker, JobMaker, SServer, BlkMaker, ShareLogger and StatsHttpd. Returns when the
# stratum port accepts and the stats API answers. Addresses go to run/cluster.env; install/down.sh stops it all.
#
#   install/up.sh [--node-rpc http://USER:PASS@HOST:PORT] [--node-zmq tcp://HOST:PORT] [--payout-address ADDR]
#                 [--network regtest|testnet|signet|mainnet] [--run-dir DIR] [--stratum-port N] [--stats-port N]
#                 [--block-bits HEX] (DevNode's block difficulty, default 1d07248b)
#                 [--no-build]   (the services are already built in Release: the test suite uses this)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR="$ROOT/run"
NODE_RPC_URL="" NODE_ZMQ="" PAYOUT_ADDRESS="" NETWORK="regtest" STRATUM_PORT=3333 STATS_PORT=8080 BUILD=1
# DevNode block difficulty ~0.14: a 10 MH/s CPU miner finds a block about once a minute (regtest: every share).
BLOCK_BITS=1d07248b

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --node-rpc) NODE_RPC_URL=$2; shift 2 ;;
    --node-zmq) NODE_ZMQ=$2; shift 2 ;;
    --payout-address) PAYOUT_ADDRESS=$2; shift 2 ;;
    --network) NETWORK=$2; shift 2 ;;
    --run-dir) RUN_DIR=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    --stratum-port) STRATUM_PORT=$2; shift 2 ;;
    --stats-port) STATS_PORT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --block-bits) BLOCK_BITS=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "up.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$NETWORK" in regtest|testnet|signet|mainnet) ;; *) echo "up.sh: --network must be regtest, testnet, signet or mainnet" >&2; exit 2 ;; esac
if [ -z "$NODE_RPC_URL" ] && [ "$NETWORK" != regtest ]; then
  echo "up.sh: the DevNode is regtest only; give --node-rpc for $NETWORK" >&2; exit 2
fi
if [ -n "$NODE_RPC_URL" ] && [ -z "$PAYOUT_ADDRESS" ]; then
  echo "up.sh: with --node-rpc, give --payout-address (an address of the node's network)" >&2; exit 2
fi

log() { printf 'up.sh: %s\n' "$*"; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { local p; for p in $(seq "$1" "$(( $1 + 500 ))"); do port_free "$p" && { echo "$p"; return; }; done; echo "no free port near $1" >&2; exit 1; }
wait_for() { # description, seconds, command...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq 1 $(( seconds * 5 ))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "up.sh: $what not ready after ${seconds}s; see $RUN_DIR/logs/" >&2; exit 1
}

if [ -f "$RUN_DIR/supervisord.pid" ] && kill -0 "$(cat "$RUN_DIR/supervisord.pid")" 2>/dev/null; then
  echo "up.sh: the cluster in $RUN_DIR is already running (install/down.sh stops it)" >&2; exit 1
fi

if [ "$BUILD" = 1 ]; then
  "$ROOT/install/setup.sh"
  log "building the services (Release)"
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  dotnet build "$ROOT/install/services.slnf" -c Release --nologo -v q >"$RUN_DIR.build.log" 2>&1 || { cat "$RUN_DIR.build.log" >&2; exit 1; }
  rm -f "$RUN_DIR.build.log"
fi

mkdir -p "$RUN_DIR"/{logs,conf,redis,supervisor.d}
# Secrets of this local cluster, made once and kept, so a restart keeps its data readable.
[ -f "$RUN_DIR/secrets.env" ] || {
  umask 077
  printf 'MYSQL_PASSWORD=%s\nNODE_RPC_PASSWORD=%s\n' "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" >"$RUN_DIR/secrets.env"
}
# shellcheck disable=SC1091
. "$RUN_DIR/secrets.env"

port_free "$STRATUM_PORT" || { log "port $STRATUM_PORT is taken; using another"; STRATUM_PORT=$(free_port $(( STRATUM_PORT + 1 ))); }
port_free "$STATS_PORT" || STATS_PORT=$(free_port $(( STATS_PORT + 1 )))
MYSQL_PORT=$(free_port 13306)
REDIS_PORT=$(free_port 16379)
MYSQL_USER=pool MYSQL_DATABASE=poolcluster
KAFKA_BOOTSTRAP_FILE="$RUN_DIR/kafka.bootstrap"
if [ -z "$NODE_RPC_URL" ]; then
  NODE_RPC_PORT=$(free_port 18443); NODE_ZMQ="tcp://127.0.0.1:$(free_port 28332)"
  NODE_RPC_USER=pool NODE_RPC_URL="http://127.0.0.1:$NODE_RPC_PORT/"
  PAYOUT_ADDRESS=${PAYOUT_ADDRESS:-bcrt1q9ntpqjwlvyea5mq65v9puwujpljffkvxlh0mh4}
  USE_DEVNODE=1
else
  # Credentials in the URL go to RpcUser/RpcPassword; the URL the services get has none.
  NODE_RPC_USER=$(printf '%s' "$NODE_RPC_URL" | sed -n 's#^[a-z]*://\([^:@/]*\):\([^@/]*\)@.*#\1#p')
  NODE_RPC_PASSWORD=$(printf '%s' "$NODE_RPC_URL" | sed -n 's#^[a-z]*://\([^:@/]*\):\([^@/]*\)@.*#\2#p')
  NODE_RPC_URL=$(printf '%s' "$NODE_RPC_URL" | sed 's#://[^@/]*@#://#')
  USE_DEVNODE=0
fi
export ROOT RUN_DIR STRATUM_PORT STATS_PORT MYSQL_PORT MYSQL_USER MYSQL_PASSWORD MYSQL_DATABASE REDIS_PORT \
  KAFKA_BOOTSTRAP_FILE NODE_RPC_URL NODE_RPC_PORT NODE_RPC_USER NODE_RPC_PASSWORD NODE_ZMQ PAYOUT_ADDRESS NETWORK BLOCK_BITS

# Configs from templates (install/templates, supervisor/): readable, and an operator may edit run/conf/*.json.
render() { envsubst '${ROOT} ${RUN_DIR} ${STRATUM_PORT} ${STATS_PORT} ${MYSQL_PORT} ${MYSQL_USER} ${MYSQL_PASSWORD} ${MYSQL_DATABASE} ${REDIS_PORT} ${KAFKA_BOOTSTRAP_FILE} ${NODE_RPC_URL} ${NODE_RPC_PORT} ${NODE_RPC_USER} ${NODE_RPC_PASSWORD} ${NODE_ZMQ} ${PAYOUT_ADDRESS} ${NETWORK} ${BLOCK_BITS} ${PROGRAM} ${SERVICE}' <"$1" >"$2"; }
rm -f "$RUN_DIR"/supervisor.d/*.conf
render "$ROOT/supervisor/supervisord.conf.template" "$RUN_DIR/supervisord.conf"
render "$ROOT/supervisor/infra.conf.template" "$RUN_DIR/supervisor.d/00-infra.conf"
if [ "$USE_DEVNODE" = 1 ]; then
  render "$ROOT/install/templates/devnode.json" "$RUN_DIR/conf/devnode.json"
  render "$ROOT/supervisor/devnode.conf.template" "$RUN_DIR/supervisor.d/10-devnode.conf"
fi
SERVICES=""
for SERVICE in GbtMaker JobMaker SServer BlkMaker ShareLogger StatsHttpd; do
  PROGRAM=$(printf '%s' "$SERVICE" | tr 'A-Z' 'a-z'); export SERVICE PROGRAM
  [ -f "$ROOT/install/templates/$PROGRAM.json" ] || { log "no template for $SERVICE yet: not started"; continue; }
  render "$ROOT/install/templates/$PROGRAM.json" "$RUN_DIR/conf/$PROGRAM.json"
  render "$ROOT/supervisor/service.conf.template" "$RUN_DIR/supervisor.d/50-$PROGRAM.conf"
  SERVICES="$SERVICES $PROGRAM"
done

if [ ! -d "$RUN_DIR/mysql/mysql" ]; then
  log "initialising MariaDB data in $RUN_DIR/mysql"
  mariadb-install-db --no-defaults --datadir="$RUN_DIR/mysql" --user=root --auth-root-authentication-method=socket \
    --skip-test-db >"$RUN_DIR/logs/mariadb-install.log" 2>&1
fi
rm -f "$KAFKA_BOOTSTRAP_FILE" "$RUN_DIR/devnode.ready"

supervisorctl() { command supervisorctl -c "$RUN_DIR/supervisord.conf" "$@"; }
log "starting supervisord ($RUN_DIR/supervisord.conf)"
supervisord -c "$RUN_DIR/supervisord.conf"

wait_for "MariaDB" 60 mariadb --no-defaults --socket="$RUN_DIR/mysql.sock" -uroot -e "SELECT 1"
mariadb --no-defaults --socket="$RUN_DIR/mysql.sock" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\` CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$MYSQL_USER'@'127.0.0.1' IDENTIFIED BY '$MYSQL_PASSWORD';
ALTER USER '$MYSQL_USER'@'127.0.0.1' IDENTIFIED BY '$MYSQL_PASSWORD';
GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
wait_for "Redis" 30 redis-cli -p "$REDIS_PORT" ping
wait_for "embedded Kafka" 60 test -s "$KAFKA_BOOTSTRAP_FILE"
[ "$USE_DEVNODE" = 1 ] && wait_for "DevNode" 60 test -s "$RUN_DIR/devnode.ready"

log "starting the pool services:$SERVICES"
# shellcheck disable=SC2086
[ -n "$SERVICES" ] && supervisorctl start $SERVICES >/dev/null

cat >"$RUN_DIR/cluster.env" <<ENV
STRATUM_URL=stratum+tcp://127.0.0.1:$STRATUM_PORT
STRATUM_PORT=$STRATUM_PORT
STATS_URL=http://127.0.0.1:$STATS_PORT/
MYSQL_HOST=127.0.0.1
MYSQL_PORT=$MYSQL_PORT
MYSQL_USER=$MYSQL_USER
MYSQL_PASSWORD=$MYSQL_PASSWORD
MYSQL_DATABASE=$MYSQL_DATABASE
REDIS=127.0.0.1:$REDIS_PORT
KAFKA_BOOTSTRAP=$(cat "$KAFKA_BOOTSTRAP_FILE")
NODE_RPC_URL=$NODE_RPC_URL
NODE_RPC_USER=$NODE_RPC_USER
NODE_RPC_PASSWORD=$NODE_RPC_PASSWORD
NODE_ZMQ=$NODE_ZMQ
SUPERVISOR_CONF=$RUN_DIR/supervisord.conf
RUN_DIR=$RUN_DIR
ENV
chmod 600 "$RUN_DIR/cluster.env"

case " $SERVICES " in *" sserver "*) wait_for "SServer (stratum port $STRATUM_PORT)" 120 bash -c "exec 3<>/dev/tcp/127.0.0.1/$STRATUM_PORT" ;; esac
case " $SERVICES " in *" statshttpd "*) wait_for "StatsHttpd ($STATS_PORT)" 120 bash -c "exec 3<>/dev/tcp/127.0.0.1/$STATS_PORT" ;; esac

supervisorctl status || true
cat <<MSG

PoolCluster is up.
  Stratum:  stratum+tcp://127.0.0.1:$STRATUM_PORT   (any user name works here: users are registered on first use,
            e.g. minerd -a sha256d -o stratum+tcp://127.0.0.1:$STRATUM_PORT -u alice.rig1 -p x)
  Stats:    http://127.0.0.1:$STATS_PORT/
  Node:     $NODE_RPC_URL ($NETWORK)
  Logs:     $RUN_DIR/logs/      Addresses for scripts: $RUN_DIR/cluster.env
  Status:   supervisorctl -c $RUN_DIR/supervisord.conf status
  Stop:     install/down.sh
MSG
