#!/bin/sh
# One command for issue 8's figures, all in one run on this machine: the raw
# limits and the broker (bench_broker: 1 in flight, 100, 4 x 100, a steady
# rate, scaling, memory, restart), real agents end to end (bench_e2e), and the
# RabbitMQ peer (bench_rabbit, on a node started here in a scratch folder and
# stopped after). The JSON of each lands in OUT; a summary prints the broker's
# figures beside the limits and the peer as ratios.
#
#   sh bench/run.sh [--seconds S] [--million] [--messages N] [--build DIR] [--out DIR]
#
# Needs bench/install-bench-deps.sh (rabbitmq-server, librabbitmq-dev) for the
# peer; without them the peer is left out and says so. Figures only: nothing
# here passes or fails on a time.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$SRC/build
SECS=5
MILLION=
MESSAGES=480
OUT=
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECS=$2; shift 2 ;;
    --million) MILLION=--million; shift ;;
    --messages) MESSAGES=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$OUT" ] || OUT=$BUILD/bench-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"

cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$OUT/cmake.log"
cmake --build "$BUILD" -j2 >>"$OUT/cmake.log"

{
  date -u +%Y-%m-%dT%H:%M:%SZ
  uptime
  nproc
  grep -m1 'model name' /proc/cpuinfo || true
  df -h "$BUILD" /tmp | tail -n +2
} >"$OUT/machine.txt"

echo "run.sh: bench_broker (figures in $OUT)" >&2
"$BUILD/bin/bench_broker" --seconds "$SECS" --json $MILLION >"$OUT/broker.json" 2>"$OUT/broker.err"
echo "run.sh: bench_e2e" >&2
"$BUILD/bin/bench_e2e" --messages "$MESSAGES" --json >"$OUT/e2e.json" 2>"$OUT/e2e.err"

# The peer: a RabbitMQ node of its own, on free loopback ports, in a scratch
# folder, so nothing of the system's (if any) is touched.
if [ -x "$BUILD/bin/bench_rabbit" ] && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  RMQ=$(mktemp -d "$BUILD/bench-rabbit.XXXXXX")
  PORTS=$(python3 -c 'import socket
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
print(free(), free())')
  AMQP=${PORTS% *}
  DIST=${PORTS#* }
  mkdir -p "$RMQ/home" "$RMQ/mnesia" "$RMQ/log"
  echo '[].' >"$RMQ/enabled_plugins"
  echo 'loopback_users = none' >"$RMQ/rabbitmq.conf"
  NODE=cfbench$$@localhost
  export HOME="$RMQ/home" RABBITMQ_NODENAME=$NODE RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT=$AMQP RABBITMQ_DIST_PORT=$DIST RABBITMQ_MNESIA_BASE="$RMQ/mnesia" \
    RABBITMQ_LOG_BASE="$RMQ/log" RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ/enabled_plugins" \
    RABBITMQ_CONFIG_FILE="$RMQ/rabbitmq" ERL_EPMD_ADDRESS=127.0.0.1
  EPMD_BEFORE=$(pgrep -x epmd || true) # the node starts one if none runs
  /usr/lib/rabbitmq/bin/rabbitmq-server >"$RMQ/server.out" 2>&1 &
  RMQ_PID=$!
  stop_rabbit() {
    /usr/lib/rabbitmq/bin/rabbitmqctl -n "$NODE" stop >/dev/null 2>&1 || kill "$RMQ_PID" 2>/dev/null || true
    wait "$RMQ_PID" 2>/dev/null || true
    [ -n "$EPMD_BEFORE" ] || epmd -kill >/dev/null 2>&1 || true
    [ -n "${KEEP_RABBIT:-}" ] || rm -rf "$RMQ"
  }
  trap stop_rabbit EXIT
  echo "run.sh: bench_rabbit (node $NODE on 127.0.0.1:$AMQP)" >&2
  # rabbitmqctl refuses at once until the node has registered: ask again.
  up=no
  for _ in $(seq 60); do
    if /usr/lib/rabbitmq/bin/rabbitmqctl -n "$NODE" await_startup --timeout 60 >/dev/null 2>&1; then
      up=yes
      break
    fi
    sleep 1
  done
  if [ $up = yes ]; then
    "$BUILD/bin/bench_rabbit" --port "$AMQP" --seconds "$SECS" --json >"$OUT/rabbit.json" 2>"$OUT/rabbit.err"
  else
    echo "run.sh: the RabbitMQ node did not start; see $RMQ/server.out" >&2
    cp "$RMQ/server.out" "$OUT/rabbit-server.out" 2>/dev/null || true
  fi
  stop_rabbit
  trap - EXIT
else
  echo "run.sh: no RabbitMQ (sh bench/install-bench-deps.sh); the peer is left out" >&2
fi

python3 "$SRC/bench/summary.py" "$OUT"
