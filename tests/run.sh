#!/bin/sh
# The test command: installs what is missing, builds, and runs the whole suite
# twice, plainly and under AddressSanitizer + UndefinedBehaviorSanitizer.
#   sh tests/run.sh          both passes (what CI runs)
#   sh tests/run.sh --quick  the plain pass only
set -eu
cd "$(dirname "$0")/.."
sh deploy/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

suite() {
  dir=$1
  shift
  echo "== $dir: configure, build, test"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs")
}

suite build
if [ "${1:-}" != "--quick" ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
  suite build-asan -DCF_SANITIZE=ON
fi
echo "== all tests passed"
