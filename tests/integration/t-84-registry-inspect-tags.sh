#!/usr/bin/env bash
# kiln inspect (human, --raw, --config) and kiln digest on every transport
# (docker://, oci:, oci-archive:, docker-archive:): --raw prints the exact manifest
# bytes, whose sha256 is the digest; kiln tags lists all of a repository's 250
# tags, following Link pagination (served by faultproxy's paginate-tags, since
# distribution 2.8 ignores ?n=).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_kiln_registry
need jq curl skopeo

reg_rootfs "$T/rootfs" "inspect me"
mkdir -p "$T/layer2"
printf 'second layer\n' >"$T/layer2/two.txt"
kiln_build --rootfs "$T/rootfs" --rootfs "$T/layer2" --source-date-epoch 1700000000 --cmd '["/bin/cat","/hello.txt"]' \
  --label org.example.team=platform --label tier=base \
  -t insp/app:1.0 -o "oci:$T/lay:1.0" -o "oci-archive:$T/img.oci.tar:1.0" -o "docker-archive:$T/img.docker.tar"
D=$DIGEST
CFG=$(layout_manifest "$T/lay" 1.0 | jq -r .config.digest)
case $(uname -m) in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; *) ARCH=$(uname -m) ;; esac

start_registry plain
run "$KILN" copy "oci:$T/lay:1.0" "docker://$REG/insp/app:1.0"
assert_eq "0 $D" "$RC $OUT" "pushed with kiln copy"; [ "$RC" -eq 0 ] || say "$ERR"

n=0
for ref in "docker://$REG/insp/app:1.0" "docker://$REG/insp/app@$D" "oci:$T/lay:1.0" \
           "oci-archive:$T/img.oci.tar:1.0" "docker-archive:$T/img.docker.tar"; do
  n=$((n + 1))
  say "--- $ref"
  set +e
  "$KILN" inspect --raw "$ref" >"$T/raw.$n" 2>"$T/raw.$n.err"; rc=$?
  set -e
  assert_eq 0 "$rc" "inspect --raw $ref exits 0"; [ "$rc" -eq 0 ] || say "$(cat "$T/raw.$n.err")"
  run "$KILN" digest "$ref"
  assert_eq 0 "$RC" "digest $ref exits 0"
  DG=$OUT
  assert_match '^sha256:[0-9a-f]{64}$' "$DG" "digest $ref prints one digest"
  assert_eq "$DG" "$(sha256_digest "$T/raw.$n")" "sha256 of inspect --raw bytes = kiln digest ($ref)"
  case $ref in
    docker-archive:*)
      check "docker-archive: --raw is a schema 2 manifest" jq -e '.schemaVersion == 2 and (.layers | length) == 2' "$T/raw.$n"
      assert_eq "$CFG" "$(jq -r .config.digest "$T/raw.$n")" "docker-archive: same config digest as the OCI image" ;;
    *)
      assert_eq "$D" "$DG" "digest $ref = the build's digest"
      assert_same_file "$(blob "$T/lay" "$D")" "$T/raw.$n" "inspect --raw $ref = the built manifest, byte for byte" ;;
  esac
  set +e
  "$KILN" inspect --config "$ref" >"$T/cfg.$n" 2>/dev/null; rc=$?
  set -e
  assert_eq "0 $(jq -r .config.digest "$T/raw.$n" 2>/dev/null)" "$rc $(sha256_digest "$T/cfg.$n")" "inspect --config $ref: the config's exact bytes"
  run "$KILN" inspect "$ref"
  assert_eq 0 "$RC" "inspect $ref exits 0"
  assert_contains "$DG" "$OUT" "inspect $ref: shows the manifest digest"
  assert_contains "$(jq -r .config.digest "$T/raw.$n")" "$OUT" "inspect $ref: shows the config digest"
  assert_contains "$(jq -r .mediaType "$T/raw.$n")" "$OUT" "inspect $ref: shows the media type"
  assert_contains "linux/$ARCH" "$OUT" "inspect $ref: shows the platform"
  for l in $(jq -r '.layers[].digest' "$T/raw.$n"); do
    assert_contains "$l" "$OUT" "inspect $ref: lists layer ${l:0:19}"
  done
  for l in $(jq -r '.layers[] | "\(.digest)=\(.size)"' "$T/raw.$n"); do
    line=$(printf '%s\n' "$OUT" | grep -F "${l%=*}" | head -n 1)
    assert_match "(^|[^0-9])${l#*=}([^0-9]|$)|[0-9.]+ ?([kKMG]i?B|B)" "$line" "inspect $ref: the layer line has its size (${l#*=} bytes)"
  done
done
say "kiln digest of a registry image asks with HEAD (Docker Hub counts GETs against its pull limit)"
M=$(registry_log_mark)
run "$KILN" digest "docker://$REG/insp/app:1.0"
assert_eq "0 $D" "$RC $OUT" "kiln digest docker://…:1.0"
assert_eq 1 "$(registry_request_count '^HEAD /v2/insp/app/manifests/1.0' "$M")" "one HEAD of the manifest"
assert_eq 0 "$(registry_request_count '^GET /v2/insp/app/(manifests|blobs)/' "$M")" "no manifest or blob is downloaded"
run "$KILN" digest "docker://$REG/insp/app:nope"
assert_eq 1 "$RC" "kiln digest of a missing tag exits 1"
assert_match 'insp/app:nope' "$ERR" "the error names the reference"
run "$KILN" digest "docker://$REG/insp/app@sha256:$(printf '0%.0s' $(seq 64))"
assert_eq 1 "$RC" "kiln digest of a missing digest exits 1"
M=$(registry_log_mark)
run "$KILN" digest --platform "linux/$ARCH" "docker://$REG/insp/app:1.0"
assert_eq "0 $D" "$RC $OUT" "kiln digest --platform of a single image reads the manifest (to check its platform)"
say "--format TEMPLATE: the fields scripts ask for, as skopeo inspect --format gives them"
F='{{.Digest}} {{.Os}}/{{.Architecture}} {{index .Labels "org.example.team"}} {{len .Labels}} {{.Labels}}'
run skopeo inspect --tls-verify=false --format "$F" "docker://$REG/insp/app:1.0"
assert_eq 0 "$RC" "skopeo inspect --format"; [ "$RC" -eq 0 ] || say "$ERR"
SK=$OUT
for ref in "docker://$REG/insp/app:1.0" "oci:$T/lay:1.0" "oci-archive:$T/img.oci.tar:1.0"; do
  run "$KILN" inspect --format "$F" "$ref"
  assert_eq "0 $SK" "$RC $OUT" "kiln inspect --format = skopeo inspect --format ($ref)"
done
run "$KILN" inspect --format '{{range .Layers}}{{.Digest}} {{end}}' "docker://$REG/insp/app:1.0"
assert_eq "$(jq -r '[.layers[].digest] | join(" ")' "$T/raw.1") " "$OUT" "range over the layers"
run "$KILN" inspect --format '{{.Digest' "docker://$REG/insp/app:1.0"
assert_eq 2 "$RC" "a broken template is a usage error"
assert_contains "expected '}}'" "$ERR" "that says what is wrong"

run skopeo inspect --raw --tls-verify=false "docker://$REG/insp/app:1.0"
assert_eq "$(cat "$T/raw.1")" "$OUT" "skopeo inspect --raw = kiln inspect --raw (docker://)"

say "errors"
run "$KILN" inspect "docker://$REG/insp/app:nope"
assert_eq 1 "$RC" "inspect of a missing tag exits 1"
assert_match 'MANIFEST_UNKNOWN|404|not found' "$ERR" "the error says the manifest is unknown"
run "$KILN" tags "docker://$REG/insp/nothing-here"
assert_eq 1 "$RC" "tags of a missing repository exits 1"
assert_match 'NAME_UNKNOWN|404|not found' "$ERR" "the error says the repository is unknown"

say "250 tags"
CT=$(jq -r .mediaType "$T/raw.1")
run "$KILN" copy "oci:$T/lay:1.0" "docker://$REG/insp/many:t000"
assert_eq "0 $D" "$RC $OUT" "first tag pushed"
for i in $(seq 1 249); do
  tag=$(printf 't%03d' "$i")
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $CT" \
    --data-binary "@$T/raw.1" "http://$REG/v2/insp/many/manifests/$tag")
  [ "$code" = 201 ] || fail "PUT manifest $tag: HTTP $code"
done
seq 0 249 | xargs printf 't%03d\n' | sort >"$T/tags.expected"
run "$KILN" tags "docker://$REG/insp/many"
assert_eq 0 "$RC" "kiln tags exits 0"
printf '%s\n' "$OUT" | sort >"$T/tags.direct"
assert_same_text "$T/tags.expected" "$T/tags.direct" "kiln tags docker://R/insp/many lists all 250 tags"
assert_eq 250 "$(printf '%s\n' "$OUT" | wc -l)" "one tag a line, no duplicates"
run "$KILN" tags "$REG/insp/many"
printf '%s\n' "$OUT" | sort >"$T/tags.bare"
assert_same_text "$T/tags.expected" "$T/tags.bare" "kiln tags HOST/REPO (without docker://) works too"

say "250 tags, served 100 a page with Link headers"
start_faultproxy '[{"method":"GET","path":"/tags/list","on":"all","action":"paginate-tags","page":100}]'
PM=$(proxy_log_mark)
run "$KILN" tags "docker://$REG/insp/many"
assert_eq 0 "$RC" "kiln tags through the paginating proxy exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
printf '%s\n' "$OUT" >"$T/tags.paged.raw"
sort "$T/tags.paged.raw" >"$T/tags.paged"
assert_same_text "$T/tags.expected" "$T/tags.paged" "kiln tags followed the Link headers: all 250 tags"
assert_eq 250 "$(wc -l <"$T/tags.paged.raw")" "paged: no duplicates"
N=$(proxy_request_count '^GET /v2/insp/many/tags/list' "$PM")
[ "$N" -ge 3 ] && ok "paged: $N page requests" || not_ok "paged: at least 3 page requests" "$(proxy_requests "$PM")"
assert_eq 0 "$(proxy_requests "$PM" | awk '$2 ~ /tags\/list/ && $3 != 200' | wc -l)" "paged: every page request succeeded"

say "a registry that sends no Docker-Content-Digest: kiln reads the manifest and hashes it"
set_faults '[{"method":"HEAD","path":"/manifests/","on":"all","action":"strip-header","header":"Docker-Content-Digest"}]'
PM=$(proxy_log_mark)
run "$KILN" digest "docker://$REG/insp/app:1.0"
assert_eq "0 $D" "$RC $OUT" "kiln digest through the proxy: the same digest"
assert_eq 1 "$(proxy_request_count '^HEAD /v2/insp/app/manifests/1.0' "$PM")" "it asked with HEAD first"
assert_eq 1 "$(proxy_request_count '^GET /v2/insp/app/manifests/1.0' "$PM")" "then fell back to one GET"
