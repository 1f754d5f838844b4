#!/bin/sh
# One fuzz test: replays the seed corpus and the saved regressions, then
# fuzzes for $KILN_FUZZ_SECONDS (default 60) seconds. The corpus is copied to
# a temporary directory first, so the run never writes into the source tree.
# Any crash, leak, sanitizer report, timeout or out-of-memory fails the test;
# the input that caused it is left in ARTIFACT_DIR.
#   run-fuzz.sh TARGET CORPUS_DIR REGRESSION_DIR ARTIFACT_DIR [libFuzzer args…]
set -eu
target=$1 corpus=$2 regressions=$3 artifacts=$4
shift 4
seconds=${KILN_FUZZ_SECONDS:-60}

work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-fuzz-corpus.XXXXXX")
# The targets' scratch directories (fast: tmpfs), removed even after a crash.
if [ -z "${KILN_FUZZ_TMP:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  KILN_FUZZ_TMP=$(mktemp -d /dev/shm/kiln-fuzz-run.XXXXXX)
else
  mkdir -p "$work/scratch"
  KILN_FUZZ_TMP=${KILN_FUZZ_TMP:-$work/scratch}
fi
export KILN_FUZZ_TMP
scratch=$KILN_FUZZ_TMP
trap 'rm -rf "$work"; case "$scratch" in /dev/shm/kiln-fuzz-run.*) rm -rf "$scratch";; esac' EXIT INT TERM
mkdir -p "$work/corpus" "$artifacts"
if [ -d "$corpus" ]; then
  cp -R "$corpus/." "$work/corpus/"
fi
set -- "$work/corpus" "$@"
if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions" 2>/dev/null)" ]; then
  set -- "$@" "$regressions"
fi

echo "run-fuzz: $(basename "$target") for ${seconds}s; artifacts in $artifacts"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# A smaller quarantine than ASan's 256 MB keeps long runs under -rss_limit_mb.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=64}"
# Leaks are checked (detect_leaks) after every input that does not crash.
rc=0
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=512 -detect_leaks=1 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" || rc=$?
[ "$rc" -eq 0 ] || echo "run-fuzz: $(basename "$target") failed (exit $rc); see $artifacts" >&2
exit "$rc"
