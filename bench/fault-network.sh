#!/bin/sh
# A longer soak of test_fault_network (tests/fault/): ROUNDS cycles of every
# network fault with BATCH referrals per sender before each, then prints the
# figures the test measured (delivery after each fault, heartbeat detection).
#   sh bench/fault-network.sh [ROUNDS] [BATCH]      (defaults 10 and 5)
#   CF_NET_BUILD=build-asan sh bench/fault-network.sh   another build folder (default: build)
set -eu
cd "$(dirname "$0")/.."
build=${CF_NET_BUILD:-build}
test -x "$build/tests/test_fault_network" || {
    echo "no $build/tests/test_fault_network: build first (see the README)" >&2
    exit 1
}
status=0
CF_NET_ROUNDS=${1:-10} CF_NET_BATCH=${2:-5} "$build/tests/test_fault_network" \
    > "$build/fault-network.txt" 2>&1 || status=$?
grep -E '^#|OK|FAILED|PASSED' "$build/fault-network.txt" || true
echo "(the whole output: $build/fault-network.txt)"
exit "$status"
