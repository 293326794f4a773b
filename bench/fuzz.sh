#!/bin/sh
# Fuzzing with libFuzzer: builds every fuzz target of tests/CMakeLists.txt with
# clang (-DCF_FUZZ=ON, so ASan and UBSan too) in build-fuzz, runs each for a
# while on a scratch copy of its committed corpus, and merges back, minimised
# (-merge=1: only inputs that add coverage), what it found into
# tests/fuzz/corpus/TARGET/. The committed corpus is what CI replays, so review
# and commit the additions like code; keep them small.
#   sh bench/fuzz.sh                      every target, 60 s each
#   sh bench/fuzz.sh 10                   every target, 10 s each
#   sh bench/fuzz.sh 300 fuzz_envelope    one target, 5 minutes
#   CF_FUZZ_SECONDS=30 sh bench/fuzz.sh   the time from the environment
# Exits 1 if any target crashed, leaked, timed out or ran out of memory; the
# input that did it is kept in build-fuzz/artifacts/TARGET/.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

seconds=${CF_FUZZ_SECONDS:-60}
if [ $# -gt 0 ]; then
  seconds=$1
  shift
fi
case $seconds in
  '' | *[!0-9]*) echo "fuzz.sh: the time per target must be whole seconds, not '$seconds'" >&2; exit 2 ;;
esac
build=${CF_FUZZ_BUILD:-$top/build-fuzz}
jobs=${CF_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

# The targets, from the one list that defines them, as "a b c".
all=$(sed -n '/^foreach(f /,/)/p' tests/CMakeLists.txt | tr '()' '  ' | tr -s ' \n' '\n' |
  grep '^fuzz_' | tr '\n' ' ' || true)
all=${all% }
[ -n "$all" ] || { echo "fuzz.sh: no fuzz targets found in tests/CMakeLists.txt" >&2; exit 1; }
targets=$all
if [ $# -gt 0 ]; then
  for t in "$@"; do
    case " $all " in
      *" $t "*) ;;
      *) echo "fuzz.sh: '$t' is not one of: $all" >&2; exit 2 ;;
    esac
  done
  targets=$*
fi

command -v clang >/dev/null || { echo "fuzz.sh: needs clang (apt-get install clang)" >&2; exit 1; }

echo "== configure $build (clang, CF_FUZZ=ON)"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCF_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >/dev/null
echo "== build: $targets"
# shellcheck disable=SC2086 # one word per target
cmake --build "$build" -j "$jobs" --target $targets >/dev/null

scratch=$(mktemp -d "${TMPDIR:-/tmp}/cf-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

summary=""
failed=0
for t in $targets; do
  corpus=$top/tests/fuzz/corpus/$t
  work=$scratch/$t
  rm -rf "$build/artifacts/$t" # what is kept there is this run's, no older one's
  mkdir -p "$work/corpus" "$work/artifacts" "$corpus"
  cp -R "$corpus/." "$work/corpus/"
  before=$(find "$corpus" -type f | wc -l)
  echo "== $t: ${seconds}s on a copy of $before committed inputs"

  status=0
  "$build/tests/$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/fuzz.log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n 1)
  [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/fuzz.log" | tail -n 1)
  [ -n "$runs" ] || runs='?'

  found=$(find "$work/artifacts" -type f | wc -l)
  if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    mkdir -p "$build/artifacts/$t"
    cp "$work/fuzz.log" "$build/artifacts/$t/fuzz.log"
    [ "$found" -eq 0 ] || cp "$work/artifacts/"* "$build/artifacts/$t/"
    echo "   FAILED (exit $status) after $runs executions:"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)|libFuzzer: (deadly|out-of-memory|timeout)' \
      "$work/fuzz.log" | head -n 5 | sed 's/^/     /'
    for a in "$build/artifacts/$t/"*; do
      case $a in *fuzz.log) ;; *) echo "     reproduce: $build/tests/$t $a" ;; esac
    done
    result="CRASH, $found input(s) in $build/artifacts/$t/"
  else
    result=ok
  fi

  # Back into the committed corpus: only what adds coverage to it.
  # An input that crashes the merge is kept with the artifacts, not in the
  # checkout (libFuzzer's default is the current folder).
  mkdir -p "$build/artifacts/$t"
  if "$build/tests/$t" -merge=1 -artifact_prefix="$build/artifacts/$t/merge-" "$corpus" \
    "$work/corpus" >"$work/merge.log" 2>&1; then
    added=$(($(find "$corpus" -type f | wc -l) - before))
  else
    mkdir -p "$build/artifacts/$t"
    cp "$work/merge.log" "$build/artifacts/$t/merge.log"
    added='?'
    result="$result; the merge failed: $build/artifacts/$t/merge.log"
    failed=1
  fi
  echo "   $runs executions, $added new corpus inputs, $result"
  summary="$summary$(printf '%-20s %12s executions  %4s new inputs  %s' "$t" "$runs" "$added" \
    "$result")
"
done

echo "== summary (${seconds}s per target)"
printf '%s' "$summary"
[ -z "$(git status --porcelain -- tests/fuzz/corpus 2>/dev/null)" ] ||
  echo "New inputs are in tests/fuzz/corpus/: review them (git status) before committing."
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: at least one target failed; see above" >&2
  exit 1
fi
