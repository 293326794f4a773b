#!/bin/sh
# A longer run of test_fault_crash (tests/fault/): KILLS broker kills, then
# KILLS recipient-agent kills, each while MESSAGES referrals stream from four
# senders, and prints the schedule's seed and what each kill caught.
#   sh bench/fault-crash.sh [KILLS] [MESSAGES]         (defaults 60 and 2000)
#   CF_FAULT_SEED=N sh bench/fault-crash.sh            repeat a printed schedule
#   CF_CRASH_BUILD=build-asan sh bench/fault-crash.sh  another build folder (default: build)
set -eu
cd "$(dirname "$0")/.."
build=${CF_CRASH_BUILD:-build}
test -x "$build/tests/test_fault_crash" || {
    echo "no $build/tests/test_fault_crash: build first (see the README)" >&2
    exit 1
}
status=0
CF_FAULT_KILLS=${1:-60} CF_FAULT_MESSAGES=${2:-2000} "$build/tests/test_fault_crash" \
    > "$build/fault-crash.txt" 2>&1 || status=$?
grep -E '^#|OK|FAILED|PASSED|ERROR' "$build/fault-crash.txt" || true
echo "(the whole output: $build/fault-crash.txt)"
exit "$status"
