#!/usr/bin/env bash
# kiln's registry client under faults, injected by faultproxy.py in front of a real
# registry: connections dropped mid-blob (monolithic PUT, chunked PATCH, blob GET),
# 500/503 on a blob PUT, 429 + Retry-After on the manifest PUT, relative Location
# headers, an expired token mid-push, a mount answered 202 with an upload session. Each push completes and the image is intact
# (kiln copy back, skopeo, docker pull + run). Beyond the retry budget kiln exits 1
# with a clear error, and no tag points at an incomplete image.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need skopeo jq curl timeout
[ -x /bin/busybox ] || _missing busybox
export KILN_RETRY_BASE_MS=50
start_dockerd

TEXT="intact after faults"
reg_rootfs "$T/rootfs" "$TEXT"
mkdir -p "$T/big"
head -c 24000000 /dev/urandom >"$T/big/big.bin"
BUILD=(--rootfs "$T/rootfs" --rootfs "$T/big" --compression-level 1
       --entrypoint '["/bin/cat"]' --cmd '["/hello.txt"]' --source-date-epoch 1700000000)
kiln_build "${BUILD[@]}" -o "oci:$T/src:1"
SRC=$DIGEST
mapfile -t BLOBS < <(layout_manifest "$T/src" 1 | jq -r '.config.digest, .layers[].digest' | sort)
BIG=$(layout_manifest "$T/src" 1 | jq -r '.layers | max_by(.size) | .digest')
BIGSIZE=$(layout_manifest "$T/src" 1 | jq -r '.layers | max_by(.size) | .size')
[ "$BIGSIZE" -gt 20000000 ] || fail "the big layer is only $BIGSIZE bytes"
say "source image $SRC, big layer $BIG ($BIGSIZE bytes)"

start_registry plain
start_faultproxy '[]'

# fired MARK ACTION_ERE: how many requests since MARK a rule with that action acted on.
fired() { proxy_requests "$1" | awk '{print $4}' | grep -cE -- "^($2)$" || true; }
assert_fired() { # MARK ACTION_ERE MSG
  local n; n=$(fired "$1" "$2")
  if [ "$n" -ge 1 ]; then ok "$3 (fault injected ${n}x)"
  else not_ok "$3: the fault was never injected" "$(proxy_requests "$1" | cut -c1-200)"; fi
}
# push_faulted NAME RULES KILN-ARGS...: runs a kiln command under RULES; sets PM (proxy mark).
push_faulted() {
  local name=$1 rules=$2; shift 2
  set_faults "$rules"
  PM=$(proxy_log_mark)
  run timeout 300 "$KILN" "$@"
  PUSHED=$OUT
  set_faults '[]'
  if [ "$RC" -eq 0 ]; then ok "$name: kiln exits 0"
  else not_ok "$name: kiln exits 0 (rc=$RC)" "$(printf '%s' "$ERR" | tail -n 20)" "proxy log:" "$(proxy_requests "$PM" | cut -c1-200 | tail -n 30)"; fi
}
# verify_pushed NAME REPO:TAG: the image in the registry is the source image, whole.
verify_pushed() {
  local name=$1 ref=$2
  assert_eq "$SRC" "$PUSHED" "$name: printed digest = source digest"
  run "$KILN" copy "docker://$REG/$ref" "oci:$T/back-$name:1"
  assert_eq "0 $SRC" "$RC $OUT" "$name: kiln copy back prints the source digest"
  if [ -f "$T/back-$name/index.json" ]; then
    check "$name: every pulled blob hashes to its name" verify_layout_blobs "$T/back-$name"
    assert_eq "$(printf '%s ' "${BLOBS[@]}" "$SRC" | tr ' ' '\n' | sort | tr '\n' ' ')" \
      "$(cd "$T/back-$name/blobs/sha256" && ls | sed 's/^/sha256:/' | sort | tr '\n' ' ')" "$name: all blobs pulled back"
  fi
  run skopeo inspect --tls-verify=false "docker://$REG/$ref"
  assert_eq "$SRC" "$(printf '%s' "$OUT" | jq -r .Digest 2>/dev/null)" "$name: skopeo inspect Digest"
  run docker_reg pull "$REG/$ref"
  assert_eq 0 "$RC" "$name: docker pull"; [ "$RC" -eq 0 ] || say "$ERR"
  run docker_reg run --rm --network none "$REG/$ref"
  assert_eq "0 $TEXT" "$RC $OUT" "$name: docker run"
}

say "=== baseline: no faults"
push_faulted clean '[]' copy "oci:$T/src:1" "docker://$REG/faults/clean:1"
verify_pushed clean faults/clean:1

say "=== connection dropped mid-blob (monolithic PUT, 5 MB into the big layer), kiln copy"
push_faulted drop-put \
  '[{"method":"PUT","path":"/blobs/uploads/","min_length":20000000,"action":"drop","where":"request","after":5000000}]' \
  copy "oci:$T/src:1" "docker://$REG/faults/drop-put:1"
assert_fired "$PM" drop "drop-put: the big blob's PUT was cut"
verify_pushed drop-put faults/drop-put:1

say "=== connection dropped mid-blob while pushing from kiln build"
push_faulted drop-build \
  '[{"method":"PUT","path":"/blobs/uploads/","min_length":20000000,"action":"drop","where":"request","after":8000000}]' \
  build "${BUILD[@]}" -o "docker://$REG/faults/drop-build:1"
assert_fired "$PM" drop "drop-build: the big blob's PUT was cut"
verify_pushed drop-build faults/drop-build:1

say "=== a registry that refuses large single requests (413 on every PUT with a body > 1 MB)"
push_faulted too-large \
  '[{"method":"PUT","path":"/blobs/uploads/","min_length":1000000,"on":"all","action":"status","status":413}]' \
  copy "oci:$T/src:1" "docker://$REG/faults/too-large:1"
assert_fired "$PM" status "too-large: the monolithic PUT was refused with 413"
n=$(proxy_requests "$PM" | awk '$1=="PATCH"' | wc -l)
if [ "$n" -ge 2 ]; then ok "too-large: kiln fell back to a chunked upload ($n PATCHes)"
else not_ok "too-large: kiln fell back to a chunked upload (PATCH count $n)"; fi
verify_pushed too-large faults/too-large:1

say "=== chunked upload (--chunk-size 4 MiB): the second 4 MiB PATCH dropped after 1 MB"
push_faulted drop-patch \
  '[{"method":"PATCH","path":"/blobs/uploads/","min_length":4000000,"on":2,"action":"drop","where":"request","after":1000000}]' \
  copy --chunk-size 4194304 "oci:$T/src:1" "docker://$REG/faults/drop-patch:1"
assert_fired "$PM" drop "drop-patch: a chunk was cut"
N=$(proxy_request_count '^PATCH /v2/faults/drop-patch/blobs/uploads/' "$PM")
[ "$N" -ge 6 ] && ok "drop-patch: the big blob went up in 4 MiB chunks ($N PATCHes)" \
  || not_ok "drop-patch: the big blob went up in 4 MiB chunks" "only $N PATCH requests"
verify_pushed drop-patch faults/drop-patch:1

for code in 500 503; do
  say "=== HTTP $code on the first blob PUT"
  push_faulted "s$code" "[{\"method\":\"PUT\",\"path\":\"/blobs/uploads/\",\"action\":\"status\",\"status\":$code}]" \
    copy "oci:$T/src:1" "docker://$REG/faults/s$code:1"
  assert_fired "$PM" status "s$code: a blob PUT got $code"
  verify_pushed "s$code" "faults/s$code:1"
done

say "=== 429 with Retry-After: 1 on the first manifest PUT"
push_faulted r429 '[{"method":"PUT","path":"/manifests/","action":"status","status":429,"retry_after":1}]' \
  copy "oci:$T/src:1" "docker://$REG/faults/r429:1"
assert_fired "$PM" status "r429: the manifest PUT got 429"
GAP=$(proxy_requests "$PM" | awk '$1 == "PUT" && $2 ~ /\/manifests\// { t[n++] = $6 } END { if (n >= 2) printf "%.3f", t[1] - t[0]; else print "none" }')
if [ "$GAP" != none ] && awk -v g="$GAP" 'BEGIN { exit !(g >= 0.9) }'; then ok "r429: the retry waited for Retry-After (${GAP}s)"
else not_ok "r429: the retry waited for Retry-After: 1" "gap between the manifest PUTs: $GAP"; fi
verify_pushed r429 faults/r429:1

say "=== relative Location on every upload POST"
push_faulted relloc '[{"method":"POST","path":"/blobs/uploads/","on":"all","action":"relative-location"}]' \
  copy "oci:$T/src:1" "docker://$REG/faults/relloc:1"
assert_fired "$PM" relative-location "relloc: the Locations were relative"
assert_eq "${#BLOBS[@]}" "$(proxy_request_count '^PUT /v2/faults/relloc/blobs/uploads/[^ ]*digest=' "$PM")" \
  "relloc: one completing PUT per blob, on the resolved path"
assert_eq 0 "$(proxy_requests "$PM" | awk '$3 !~ /^(2|3)/ && !($1 == "HEAD" && $3 == 404)' | wc -l)" "relloc: no request failed (but HEAD 404s)"
verify_pushed relloc faults/relloc:1

say "=== connection dropped mid-blob while pulling (GET of the big layer, after 1 MB)"
set_faults "[{\"method\":\"GET\",\"path\":\"/blobs/$BIG\",\"action\":\"drop\",\"where\":\"response\",\"after\":1000000}]"
PM=$(proxy_log_mark)
run timeout 300 "$KILN" copy "docker://$REG/faults/clean:1" "oci:$T/pull-drop:1"
set_faults '[]'
assert_eq "0 $SRC" "$RC $OUT" "pull-drop: kiln copy docker:// → oci: completes"; [ "$RC" -eq 0 ] || say "$ERR"
assert_fired "$PM" drop "pull-drop: the blob GET was cut"
[ -f "$T/pull-drop/index.json" ] && check "pull-drop: every blob hashes to its name" verify_layout_blobs "$T/pull-drop"

say "=== beyond the retry budget: --retries 2 and 503 on every blob PUT"
set_faults '[{"method":"PUT","path":"/blobs/uploads/","on":"all","action":"status","status":503}]'
PM=$(proxy_log_mark)
t0=$SECONDS
run timeout 300 "$KILN" copy --retries 2 "oci:$T/src:1" "docker://$REG/faults/broken:1"
el=$((SECONDS - t0))
set_faults '[]'
assert_eq 1 "$RC" "broken: kiln exits 1"
assert_eq "" "$OUT" "broken: nothing on stdout"
assert_contains "$REG" "$ERR" "broken: the error names the registry"
assert_contains "503" "$ERR" "broken: the error has the HTTP status 503"
named=
for b in "${BLOBS[@]}"; do case $ERR in *"$b"*) named=$b ;; esac; done
[ -n "$named" ] && ok "broken: the error names the blob ($named)" || not_ok "broken: the error names a blob digest" "$ERR"
[ "$el" -lt 120 ] && ok "broken: gave up in ${el}s" || not_ok "broken: gave up in reasonable time" "took ${el}s"
MAXPUT=0
for b in "${BLOBS[@]}"; do
  n=$(proxy_request_count "^PUT /v2/faults/broken/blobs/uploads/[^ ]*digest=sha256(%3[Aa]|:)${b#sha256:}" "$PM")
  [ "$n" -gt "$MAXPUT" ] && MAXPUT=$n
done
assert_eq 3 "$MAXPUT" "broken: a blob PUT was tried 1 + 2 times, never more"
assert_eq 0 "$(proxy_request_count '^PUT /v2/faults/broken/manifests/' "$PM")" "broken: no manifest was PUT"
assert_eq 404 "$(reg_manifest_status faults/broken 1)" "broken: the tag does not exist (GET manifest → 404)"

say "=== token expiry mid-push (token auth, 3 s tokens, one blob at a time, each blob PUT delayed"
say "    1.5 s so that the push outlives a token, and the proxy expires the token in use twice)"
say "a mount answered 202 with an upload session (ECR, Harbor): copy goes on with it"
run "$KILN" copy "oci:$T/src:1" "docker://$REG/faults/m202-src:1"
assert_eq 0 "$RC" "mount-202: the source repository (stderr: $ERR)"
push_faulted mount-202 '[{"method":"POST","path":"mount=","on":"all","action":"mount-202"}]' \
  copy "docker://$REG/faults/m202-src:1" "docker://$REG/faults/m202-dst:1"
assert_fired "$PM" mount-202 "mount-202: every mount was answered with a session"
assert_eq "${#BLOBS[@]}" "$(proxy_request_count '^POST /v2/faults/m202-dst/blobs/uploads/' "$PM")" \
  "mount-202: one POST a blob: the session the mount opened is used, no second one opened"
assert_eq 0 "$(proxy_request_count '^POST /v2/faults/m202-dst/blobs/uploads/$' "$PM")" \
  "mount-202: no plain POST after the mount"
verify_pushed mount-202 faults/m202-dst:1

stop_registry
REG_TOKEN_LIFETIME=3 start_registry token
start_faultproxy '[]'
TM=$(wc -l <"$TOKEN_LOG")
push_faulted token-expiry \
  '[{"method":"PUT","path":"/blobs/uploads/","action":"expire-token"},
    {"method":"PUT","path":"/manifests/","action":"expire-token"},
    {"method":"PUT","path":"/blobs/uploads/","on":"all","action":"delay","seconds":1.5}]' \
  copy -j 1 --creds "$REG_USER:$REG_PASS" "oci:$T/src:1" "docker://$REG/faults/token:1"
assert_fired "$PM" expire-token "token-expiry: a token was expired mid-push"
NT=$(tail -n +"$((TM + 1))" "$TOKEN_LOG" | jq -s '[.[] | select(.status == 200)] | length')
[ "$NT" -ge 3 ] && ok "token-expiry: kiln fetched new tokens ($NT)" || not_ok "token-expiry: kiln fetched new tokens" "only $NT issued"
NE=$(fired "$PM" expired-token)
[ "$NE" -le 8 ] && ok "token-expiry: few requests with a dead token ($NE)" || not_ok "token-expiry: kiln kept using an expired token" "$NE requests"
assert_eq "$SRC" "$PUSHED" "token-expiry: printed digest = source digest"
run "$KILN" copy --creds "$REG_USER:$REG_PASS" "docker://$REG/faults/token:1" "oci:$T/back-token:1"
assert_eq "0 $SRC" "$RC $OUT" "token-expiry: kiln copy back prints the source digest"
[ -f "$T/back-token/index.json" ] && check "token-expiry: every pulled blob hashes to its name" verify_layout_blobs "$T/back-token"
run skopeo inspect --tls-verify=false --creds "$REG_USER:$REG_PASS" "docker://$REG/faults/token:1"
assert_eq "$SRC" "$(printf '%s' "$OUT" | jq -r .Digest 2>/dev/null)" "token-expiry: skopeo inspect Digest"
