#!/usr/bin/env bash
# Allocation-failure injection through the HTTP code: EVERY allocation of a push
# (oci: -> docker://) and of a pull (docker:// -> oci:) against a real registry
# fails in turn; each time kiln ends with a clean error (or succeeds, when a
# library absorbed the failure), leaks nothing, leaves no output, and a failed
# push leaves no tag at an incomplete image (tests/alloc/alloc_fail.c).
#
# libcurl makes thousands of allocations per operation and each run takes a
# tenth of a second, so alloc_fail runs them in a fork server: initialised once,
# one forked child per allocation N, KILN_ALLOC_JOBS (2) at a time. The build,
# copy, inspect and unpack operations are covered by ctest's alloc/alloc_fail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
AF=${KILN_BUILD_DIR:-}/tests/alloc/alloc_fail
[ -x "$AF" ] || fail "$AF is not built (it is, except with KILN_SANITIZE)"
start_registry plain
# a failed allocation inside libcurl can leave a transfer waiting: stalls end after 2 s
t0=$SECONDS
run env KILN_ALLOC_REGISTRY="$REG" KILN_ALLOC_REGISTRY_DATA="$REG_DIR/data" \
  KILN_ALLOC_OPS=push,pull KILN_ALLOC_JOBS="${KILN_ALLOC_JOBS:-2}" KILN_STALL_SECONDS=2 \
  timeout 1100 "$AF"
printf '%s\n' "$OUT" | sed 's/^/# /'
say "alloc_fail took $((SECONDS - t0)) s"
assert_eq 0 "$RC" "every allocation failed in turn, with a clean error, no leak, no output"
[ "$RC" -eq 0 ] || say "$(printf '%s' "$ERR" | tail -n 30)"
for op in push pull; do
  line=$(printf '%s\n' "$OUT" | grep "^$op: failed each of" || true)
  assert_match "^$op: failed each of [0-9]+ allocations in turn: 0 problems" "$line" "$op: every allocation failed in turn, no problem"
  n=$(printf '%s' "$line" | sed -n 's/^[a-z]*: failed each of \([0-9]*\) .*/\1/p')
  clean=$(printf '%s' "$line" | sed -n 's/.*clean run: \([0-9]*\) allocations.*/\1/p')
  # all of them, not a sample: at least the count of a clean run, less the few
  # that vary from run to run with timing
  if [ -n "$n" ] && [ -n "$clean" ] && [ "$n" -ge $((clean * 95 / 100)) ] && [ "$n" -gt 1000 ]; then
    ok "$op: $n allocations failed, a clean run makes $clean"
  else
    not_ok "$op: covers every allocation" "$line"
  fi
done
