#!/usr/bin/env bash
# Allocation-failure injection through the HTTP code: every allocation of a push
# and of a pull against a real registry fails in turn; each time kiln ends with a
# clean error, leaks nothing, and leaves no output (tests/alloc/alloc_fail.c).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
AF=${KILN_BUILD_DIR:-}/tests/alloc/alloc_fail
[ -x "$AF" ] || fail "$AF is not built (it is, except with KILN_SANITIZE)"
start_registry plain
# a failed allocation inside libcurl can leave a transfer waiting: stalls end after 2 s
# A push makes a new repository each time. libcurl allocates a great deal per
# request, so a push or a pull takes thousands of allocations: the first 800 of
# each (ping, token/auth, HEAD, upload start, PUT, manifest) are failed in turn,
# which keeps this test to a few minutes.
run env KILN_ALLOC_REGISTRY="$REG" KILN_ALLOC_HTTP_MAX=800 KILN_STALL_SECONDS=2 timeout 1100 "$AF"
printf '%s\n' "$OUT" | sed 's/^/# /'
assert_eq 0 "$RC" "every allocation failed in turn, with a clean error, no leak, no output"
[ "$RC" -eq 0 ] || say "$(printf '%s' "$ERR" | tail -n 30)"
assert_match "push: failed each of (the first 800|[0-9]+) allocations in turn: 0 problems" "$OUT" "push: the allocations failed in turn, no problem"
assert_match "pull: failed each of (the first 800|[0-9]+) allocations in turn: 0 problems" "$OUT" "pull: the allocations failed in turn, no problem"
