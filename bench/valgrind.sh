#!/bin/sh
# Valgrind: runs the integration tests with every childfirst-broker and
# childfirst-agent they start under memcheck (the harness puts $CF_WRAP before
# those two programs), then reads each process's log for definite leaks and
# memory errors. Too slow for CI (DESIGN.md section 12), so it lives here.
#   sh bench/valgrind.sh                      every harness integration test
#   sh bench/valgrind.sh test_broker          the ones named
#   CF_VALGRIND_BUILD=build-vg sh bench/...   another build folder (default: build)
# A plain RelWithDebInfo build: valgrind and ASan do not mix. Timing-sensitive
# tests can time out under valgrind's slowdown; the summary keeps those apart
# from what valgrind itself found. Exits 1 if any process leaked definitely or
# made a memory error; the logs stay in the folder it prints.
set -eu
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }

build=${CF_VALGRIND_BUILD:-build}
tests=${*:-"test_broker test_agent test_conference test_conference_agents test_follow test_hostile"}

echo "== build $build (RelWithDebInfo, no sanitizers)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCF_SANITIZE=OFF >/dev/null
# shellcheck disable=SC2086 # one word per test
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target childfirst-broker childfirst-agent \
  childfirst $tests >/dev/null

logs=$(mktemp -d "${TMPDIR:-/tmp}/cf-valgrind.XXXXXX")
# --error-exitcode makes a leaking broker or agent exit 99, which the harness
# reports as an unclean stop; the per-process logs say what it was.
export CF_WRAP="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$logs/vg.%p.log"
failed_tests=""
for t in $tests; do
  echo "== $t"
  start=$(date +%s)
  if "$build/tests/$t" >"$logs/$t.out" 2>&1; then
    result=passed
  else
    result=FAILED
    failed_tests="$failed_tests $t"
  fi
  ok=$(grep -c '^\[       OK \]' "$logs/$t.out" || true)
  failed=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$logs/$t.out")
  errors=$(grep -c '^\[  ERROR   \] test_' "$logs/$t.out" || true)
  echo "   $result in $(($(date +%s) - start)) s ($ok ok, ${failed:-0} failed, $errors set-up errors)"
done

processes=$(find "$logs" -name 'vg.*.log' | wc -l)
# A process killed with SIGKILL (the crash tests) writes no summary: count those apart.
summarised=$(grep -l 'ERROR SUMMARY' "$logs"/vg.*.log 2>/dev/null | wc -l)
leaky=$(grep -lE 'definitely lost: [1-9]' "$logs"/vg.*.log 2>/dev/null || true)
erring=$(grep -lE 'ERROR SUMMARY: [1-9]' "$logs"/vg.*.log 2>/dev/null || true)
echo "== summary"
echo "processes under valgrind: $processes ($summarised ran to exit; the rest were killed by the tests)"
echo "with definite leaks:      $(echo "$leaky" | grep -c . || true)"
echo "with memory errors:       $(echo "$erring" | grep -c . || true)"
echo "tests that failed:        ${failed_tests:- none}"
echo "logs:                     $logs"
for f in $leaky $erring; do
  echo "--- $f"
  grep -E 'Command:|definitely lost|ERROR SUMMARY|Invalid|uninitialised' "$f" | head -n 8
done
[ -z "$leaky$erring" ] || exit 1
