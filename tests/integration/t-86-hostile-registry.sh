#!/usr/bin/env bash
# A hostile registry: oversized manifests, endless bodies, a wrong
# Docker-Content-Digest, blobs whose bytes do not match their digest, redirect
# loops, a redirect to another host (Authorization must not follow) and stalled
# answers. kiln refuses each with a clear error, in bounded time and memory, and
# never writes unverified content into a layout.
. "$(dirname "$0")/lib.sh"
need_root
need python3 timeout
H=$(dirname "$0")/registry/hostile.py

start_hostile() { # NAME [OTHERPORT] -> sets PORT (not in $(...): the cleanup hook must reach this shell)
  local pf=$T/$1.port
  python3 "$H" "$pf" "$T/$1.log" "${2:-0}" >"$T/$1.out" 2>&1 &
  _CLEANUP_HOOKS+=("kill $! 2>/dev/null")
  for _ in $(seq 50); do [ -s "$pf" ] && break; sleep 0.1; done
  [ -s "$pf" ] || fail "hostile registry $1 did not start"
  PORT=$(cat "$pf")
}
start_hostile other
OTHER=$PORT
start_hostile main "$OTHER"
P=$PORT
R=127.0.0.1:$P
export KILN_RETRY_BASE_MS=20 KILN_STALL_SECONDS=2
C=(--creds user:secretpass --retries 1)

# pull NAME CASE: kiln copy from repository CASE/app into a layout; sets RC/ERR
pull() {
  local t0=$SECONDS
  run timeout 60 "$KILN" copy "${C[@]}" "docker://$R/$2/app:1" "oci:$T/out-$1:1"
  ELAPSED=$((SECONDS - t0))
}
check_refused() { # NAME PATTERN
  assert_eq 1 "$RC" "$1: refused (exit 1)"
  assert_match "$2" "$ERR" "$1: the error says why"
  assert_contains "$R" "$ERR" "$1: the error names the registry"
  assert_not_exists "$T/out-$1" "$1: no layout written"
  assert_eq "" "$(ls -d "$T"/out-"$1".kiln-tmp-* "$T"/.kiln-* 2>/dev/null)" "$1: no temporary files left"
}

pull baseline ok
assert_eq 0 "$RC" "baseline: a well-behaved image is copied"; [ "$RC" -eq 0 ] || say "$ERR"

pull big big
check_refused big "limit|too large|exceeds"
pull endless endless
check_refused endless "more than the [0-9]+ bytes announced"
pull wrongdigest wrongdigest
check_refused wrongdigest "Docker-Content-Digest"
pull badblob badblob
check_refused badblob "hash|refusing"
pull loop loop
check_refused loop "too many redirects"
pull stall stall
check_refused stall "[Tt]imeout|too slow|transfer|Operation|stall|[Ss]peed"
if [ "$ELAPSED" -le 30 ]; then ok "stall: gave up in ${ELAPSED}s (bounded)"; else not_ok "stall: took ${ELAPSED}s"; fi

say "a redirect to another host does not carry Authorization"
pull away away
assert_eq 0 "$RC" "away: the blob is fetched from the other host"; [ "$RC" -eq 0 ] || say "$ERR"
assert_match "GET /elsewhere/sha256:[0-9a-f]+ auth=no" "$(cat "$T/other.log")" "the other host got no Authorization"
assert_eq "" "$(grep 'auth=yes' "$T/other.log")" "no request to the other host had Authorization"

say "no secret in output"
run timeout 60 "$KILN" copy --debug "${C[@]}" "docker://$R/ok/app:1" "oci:$T/dbg:1"
assert_eq 0 "$RC" "debug copy works"
for s in secretpass "$(printf user:secretpass | base64)"; do
  case "$OUT$ERR" in *"$s"*) not_ok "the secret '$s' appears in output" ;; *) ok "the secret does not appear in --debug output" ;; esac
done
