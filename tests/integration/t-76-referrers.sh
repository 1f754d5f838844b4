#!/usr/bin/env bash
# Referrers (OCI 1.1): kiln attach, kiln referrers, kiln list and
# kiln copy --referrers, on oci:, oci-archive: and docker://.
#  - the real docker-registry 2.8, which has no referrers API: the fallback tag
#    sha256-<hex> holds an OCI index whose descriptors carry artifactType and
#    annotations; 8 parallel attaches to one subject keep all 8 entries (kiln
#    serialises its read-modify-write of the tag);
#  - a registry WITH the referrers API: registry/referrersapi.py, a minimal
#    in-memory one we wrote for this test (none ships in Debian 12);
#  - skopeo and umoci still read a layout that holds referrers, and
#    oci-image-tool validates it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_kiln
need jq curl skopeo umoci oci-image-tool python3 tar

SPDX_MT=application/spdx+json
mkdir -p "$T/root" "$T/root2"
printf 'hello\n' >"$T/root/hello.txt"
printf 'arm\n' >"$T/root2/arm.txt"
printf '{"spdxVersion":"SPDX-2.3","name":"app"}\n' >"$T/app.spdx.json"
printf '{"bomFormat":"CycloneDX","specVersion":"1.5"}\n' >"$T/app.cdx.json"
kiln_build --rootfs "$T/root" --source-date-epoch 1700000000 -o "oci:$T/lay:1.0"
D=$DIGEST

say "--- oci: layout"
run env SOURCE_DATE_EPOCH=1700000000 "$KILN" attach --artifact-type spdx --annotation org.example.build=42 \
  "oci:$T/lay:1.0" "$T/app.spdx.json"
assert_eq 0 "$RC" "attach spdx to oci:"; [ "$RC" -eq 0 ] || say "$ERR"
A1=$OUT
assert_match '^sha256:[0-9a-f]{64}$' "$A1" "attach prints the artifact's digest"
M=$(cat "$(blob "$T/lay" "$A1")")
assert_eq "$A1" "sha256:$(printf '%s' "$M" | sha256sum | cut -d' ' -f1)" "the manifest blob hashes to its digest"
assert_eq "$SPDX_MT" "$(jq -r .artifactType <<<"$M")" "artifactType application/spdx+json"
assert_eq "application/vnd.oci.empty.v1+json sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a 2" \
  "$(jq -r '.config | "\(.mediaType) \(.digest) \(.size)"' <<<"$M")" "config is the empty descriptor"
assert_eq "$(cat "$(blob "$T/lay" sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a)")" "{}" "the empty blob is {}"
assert_eq "$SPDX_MT $(sha256_digest "$T/app.spdx.json") app.spdx.json" \
  "$(jq -r '.layers[0] | "\(.mediaType) \(.digest) \(.annotations["org.opencontainers.image.title"])"' <<<"$M")" \
  "one layer: the file, its media type and name"
assert_eq "$D" "$(jq -r .subject.digest <<<"$M")" "subject is the image"
assert_eq "2023-11-14T22:13:20Z 42" "$(jq -r '.annotations | "\(.["org.opencontainers.image.created"]) \(.["org.example.build"])"' <<<"$M")" \
  "created from SOURCE_DATE_EPOCH, and the user's annotation"
run env SOURCE_DATE_EPOCH=1700000000 "$KILN" attach --artifact-type spdx --annotation org.example.build=42 \
  "oci:$T/lay:1.0" "$T/app.spdx.json"
assert_eq "0 $A1" "$RC $OUT" "the same attach again gives the same digest"
assert_eq 1 "$(jq "[.manifests[] | select(.digest == \"$A1\")] | length" "$T/lay/index.json")" "and adds no second entry"
assert_eq "null $SPDX_MT null" "$(jq -r ".manifests[] | select(.digest == \"$A1\") | \"\(.annotations) \(.artifactType) \(.platform)\"" "$T/lay/index.json")" \
  "the layout entry is untagged, has the artifactType and no platform"
# (oci-image-tool 1.0 calls the ref "not unique" in any layout of 3 entries or
# more, 3 tagged images too: it validates the layout with one referrer)
run oci-image-tool validate --type image --ref name=1.0 "$T/lay"
assert_eq 0 "$RC" "oci-image-tool validates the image of a layout with a referrer"; [ "$RC" -eq 0 ] || say "$OUT $ERR"
run "$KILN" attach --artifact-type cyclonedx "oci:$T/lay:1.0" "$T/app.cdx.json"
assert_eq 0 "$RC" "attach cyclonedx to oci:"
A2=$OUT

run "$KILN" referrers --json "oci:$T/lay:1.0"
assert_eq 0 "$RC" "referrers --json oci:"
assert_eq "application/vnd.oci.image.index.v1+json 2" "$(jq -r '"\(.mediaType) \(.manifests | length)"' <<<"$OUT")" "two referrers, as an OCI index"
assert_eq "$A1 $SPDX_MT 42" "$(jq -r ".manifests[] | select(.digest == \"$A1\") | \"\(.digest) \(.artifactType) \(.annotations[\"org.example.build\"])\"" <<<"$OUT")" \
  "the descriptor carries artifactType and annotations"
run "$KILN" referrers --artifact-type cyclonedx "oci:$T/lay:1.0"
assert_eq 0 "$RC" "referrers --artifact-type (table)"
assert_contains "$A2" "$OUT" "the table lists the CycloneDX one"
assert_eq 2 "$(printf '%s\n' "$OUT" | wc -l)" "and only it (header + 1 line)"
run "$KILN" referrers "oci:$T/lay"
assert_eq 0 "$RC" "a layout of one image and its referrers names the image without :NAME"
run "$KILN" list "oci:$T/lay"
assert_eq 0 "$RC" "kiln list of the layout"
assert_eq 2 "$(grep -c '(referrer)' <<<"$OUT")" "kiln list marks the two referrers"
run "$KILN" list --format json "oci:$T/lay"
assert_eq "1.0 false" "$(jq -r '.[] | select(.name == "1.0") | "\(.name) \(.referrer)"' <<<"$OUT")" "the image is no referrer (json)"
assert_eq 2 "$(jq '[.[] | select(.referrer)] | length' <<<"$OUT")" "two referrers (json)"

say "--- skopeo, umoci, oci-image-tool read the layout"
run skopeo inspect --raw "oci:$T/lay:1.0"
assert_eq "0 $D" "$RC sha256:$(printf '%s' "$OUT" | sha256sum | cut -d' ' -f1)" "skopeo inspect oci:lay:1.0"
run skopeo copy "oci:$T/lay:1.0" "oci:$T/sk:1.0"
assert_eq 0 "$RC" "skopeo copy from the layout"; [ "$RC" -eq 0 ] || say "$ERR"
run umoci ls --layout "$T/lay"
assert_eq "0 1.0" "$RC $OUT" "umoci ls lists the one tag"
run umoci unpack --rootless --image "$T/lay:1.0" "$T/bundle"
assert_eq 0 "$RC" "umoci unpack"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq hello "$(cat "$T/bundle/rootfs/hello.txt" 2>/dev/null)" "umoci unpacked the image"
run oci-image-tool validate --type manifest "$(blob "$T/lay" "$A1")"
assert_eq 0 "$RC" "oci-image-tool validates the artifact manifest"; [ "$RC" -eq 0 ] || say "$OUT $ERR"
run oci-image-tool validate --type imageIndex "$T/lay/index.json"
assert_eq 0 "$RC" "oci-image-tool validates index.json with its referrer entries"; [ "$RC" -eq 0 ] || say "$OUT $ERR"
run "$KILN" gc "oci:$T/lay"
assert_eq 0 "$RC" "kiln gc"
run "$KILN" referrers --json "oci:$T/lay:1.0"
assert_eq 2 "$(jq '.manifests | length' <<<"$OUT")" "gc keeps the referrers' blobs"

say "--- oci-archive: (offline, rewritten atomically)"
run "$KILN" copy "oci:$T/lay:1.0" "oci-archive:$T/a.tar:1.0"
assert_eq 0 "$RC" "copy to oci-archive (no --referrers)"
run "$KILN" referrers --json "oci-archive:$T/a.tar"
assert_eq 0 "$(jq '.manifests | length' <<<"$OUT")" "without --referrers none are copied"
run "$KILN" attach --artifact-type spdx "oci-archive:$T/a.tar:1.0" "$T/app.spdx.json"
assert_eq 0 "$RC" "attach to oci-archive"; [ "$RC" -eq 0 ] || say "$ERR"
AA=$OUT
run "$KILN" referrers --json "oci-archive:$T/a.tar:1.0"
assert_eq "$AA" "$(jq -r '.manifests[].digest' <<<"$OUT")" "the archive holds the referrer"
assert_eq "" "$(ls "$T" | grep kiln-tmp || true)" "no temporary left beside the archive"
run skopeo inspect --raw "oci-archive:$T/a.tar:1.0"
assert_eq "0 $D" "$RC sha256:$(printf '%s' "$OUT" | sha256sum | cut -d' ' -f1)" "skopeo reads the rewritten archive"
run "$KILN" copy --referrers "oci:$T/lay:1.0" "oci-archive:$T/b.tar:1.0"
assert_eq 0 "$RC" "copy --referrers to oci-archive"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" referrers --json "oci-archive:$T/b.tar"
assert_eq "$(printf '%s\n' "$A1" "$A2" | sort)" "$(jq -r '.manifests[].digest' <<<"$OUT" | sort)" "both referrers arrived in the archive"
run "$KILN" copy --referrers "oci-archive:$T/b.tar:1.0" "oci:$T/lay2:1.0"
assert_eq 0 "$RC" "copy --referrers oci-archive -> oci"
run "$KILN" referrers --json "oci:$T/lay2:1.0"
assert_eq 2 "$(jq '.manifests | length' <<<"$OUT")" "and back into a layout"
verify_layout_blobs "$T/lay2"
run "$KILN" copy --referrers "oci:$T/lay:1.0" "docker-archive:$T/d.tar:app:1"
assert_eq 0 "$RC" "copy --referrers to docker-archive works"
assert_contains "referrers of" "$ERR" "and warns that the referrers are dropped"
run "$KILN" attach --artifact-type spdx "docker-archive:$T/d.tar" "$T/app.spdx.json"
assert_eq 2 "$RC" "attach to a docker-archive is refused (usage)"
assert_contains "docker-archive" "$ERR" "naming why"

say "--- bad input"
run "$KILN" attach --artifact-type 'not a type' "oci:$T/lay:1.0" "$T/app.spdx.json"
assert_eq 2 "$RC" "a bad artifact type is a usage error"
run "$KILN" attach "oci:$T/lay:1.0" "$T/app.spdx.json"
assert_eq 2 "$RC" "--artifact-type is required"
run "$KILN" attach --artifact-type spdx "oci:$T/lay:1.0" "$T/missing.json"
assert_eq 1 "$RC" "a missing file fails"
assert_contains "missing.json" "$ERR" "naming the file"
run "$KILN" attach --artifact-type spdx --annotation novalue "oci:$T/lay:1.0" "$T/app.spdx.json"
assert_eq 2 "$RC" "an annotation without = is refused"
run env SOURCE_DATE_EPOCH=soon "$KILN" attach --artifact-type spdx "oci:$T/lay:1.0" "$T/app.spdx.json"
assert_ne 0 "$RC" "a malformed SOURCE_DATE_EPOCH is refused"
assert_contains "SOURCE_DATE_EPOCH" "$ERR" "naming it"
run env SOURCE_DATE_EPOCH=1700000000 "$KILN" attach --artifact-type spdx "oci:$T/nolayout:1.0" "$T/app.spdx.json"
assert_eq 1 "$RC" "attach to a layout that does not exist fails"
assert_not_exists "$T/nolayout" "and creates nothing"
assert_eq 2 "$(jq '[.manifests[] | select(.artifactType)] | length' "$T/lay/index.json")" "failed attaches changed nothing"

say "--- docker-registry 2.8 (fallback tag)"
start_registry plain
R1=$REG
run "$KILN" copy "oci:$T/lay:1.0" "docker://$R1/app:1.0"
assert_eq "0 $D" "$RC $OUT" "push the image"
run "$KILN" attach --artifact-type spdx "docker://$R1/app:1.0" "$T/app.spdx.json"
assert_eq 0 "$RC" "attach to the registry"; [ "$RC" -eq 0 ] || say "$ERR"
RA=$OUT
TAG=sha256-${D#sha256:}
FB=$(curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R1/v2/app/manifests/$TAG")
assert_eq "application/vnd.oci.image.index.v1+json" "$(jq -r .mediaType <<<"$FB")" "the fallback tag $TAG holds an OCI index"
assert_eq "$RA $SPDX_MT" "$(jq -r '.manifests[0] | "\(.digest) \(.artifactType)"' <<<"$FB")" "descriptor: digest and artifactType"
assert_eq true "$(jq '.manifests[0].annotations | has("org.opencontainers.image.created")' <<<"$FB")" "descriptor: the manifest's annotations"
run "$KILN" referrers --json "docker://$R1/app:1.0"
assert_eq "$RA" "$(jq -r '.manifests[].digest' <<<"$OUT")" "kiln referrers reads the fallback tag"
run "$KILN" referrers "docker://$R1/app@$D"
assert_contains "$RA" "$OUT" "by digest too (table)"

say "--- 8 parallel attaches to one subject"
pids=()
for i in 1 2 3 4 5 6 7 8; do
  printf '{"spdxVersion":"SPDX-2.3","name":"part%d"}\n' "$i" >"$T/p$i.json"
  timeout 120 "$KILN" attach --artifact-type spdx --annotation "n=$i" "docker://$R1/app:1.0" "$T/p$i.json" \
    >"$T/p$i.out" 2>"$T/p$i.err" &
  pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
assert_eq 0 "$fails" "all 8 attaches finished and succeeded (none hung)"
[ "$fails" -eq 0 ] || say "$(cat "$T"/p*.err)"
run "$KILN" referrers --json "docker://$R1/app:1.0"
assert_eq 9 "$(jq '.manifests | length' <<<"$OUT")" "all 8 entries remain, with the first"
for i in 1 2 3 4 5 6 7 8; do
  grep -qx "$(cat "$T/p$i.out")" <(jq -r '.manifests[].digest' <<<"$OUT") || not_ok "entry $i is listed"
done
ok "each attach's digest is listed"
run "$KILN" attach --artifact-type spdx "docker://$R1/app:1.0" "$T/p1.json"
assert_eq 0 "$RC" "attaching after the parallel ones still works (no lock left held)"

say "--- a tag that resolves to the subject itself is no referrers list (oras-go#1396)"
M0=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R1/v2/app/manifests/1.0")
kiln_build --rootfs "$T/root2" --source-date-epoch 1700000001 -o "oci:$T/lay3:x"
D3=$DIGEST
run "$KILN" copy "oci:$T/lay3:x" "docker://$R1/evil:x"
MX=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R1/v2/evil/manifests/x")
curl -s -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary "$MX" "http://$R1/v2/evil/manifests/sha256-${D3#sha256:}"
run "$KILN" referrers "docker://$R1/evil:x"
assert_eq 1 "$RC" "kiln referrers refuses the subject served at its fallback tag"
assert_contains "itself" "$ERR" "saying it is the subject itself"
run "$KILN" attach --artifact-type spdx "docker://$R1/evil:x" "$T/app.spdx.json"
assert_eq 1 "$RC" "attach does not overwrite it"
assert_eq "$MX" "$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R1/v2/evil/manifests/sha256-${D3#sha256:}")" "the tag is left alone"

say "--- copy --referrers to a second registry and back"
start_registry plain
R2=$REG
run "$KILN" copy --referrers "docker://$R1/app:1.0" "docker://$R2/mirror/app:1.0"
assert_eq "0 $D" "$RC $OUT" "copy --referrers registry -> registry"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" referrers --json "docker://$R2/mirror/app:1.0"
assert_eq 10 "$(jq '.manifests | length' <<<"$OUT")" "all 10 referrers arrived"
run "$KILN" copy --referrers "docker://$R2/mirror/app:1.0" "oci:$T/pulled:1.0"
assert_eq 0 "$RC" "copy --referrers registry -> oci:"
run "$KILN" referrers --json "oci:$T/pulled:1.0"
assert_eq 10 "$(jq '.manifests | length' <<<"$OUT")" "and into a layout"
verify_layout_blobs "$T/pulled"
run "$KILN" copy --referrers "docker://$R2/mirror/app:1.0" "oci-archive:$T/pulled.tar:1.0"
assert_eq 0 "$RC" "copy --referrers registry -> oci-archive:"
run "$KILN" referrers --json "oci-archive:$T/pulled.tar:1.0"
assert_eq 10 "$(jq '.manifests | length' <<<"$OUT")" "and into an archive"
BLOB=$(jq -r ".manifests[] | select(.digest == \"$RA\") | .digest" <<<"$OUT")
assert_eq "$RA" "$BLOB" "the first attach is among them"

say "--- an index: the referrers of each image travel"
kiln_build --rootfs "$T/root2" --platform linux/arm64 --source-date-epoch 1700000000 -o "oci:$T/arm:1.0"
run "$KILN" index -o "oci:$T/multi:1.0" "oci:$T/lay:1.0" "oci:$T/arm:1.0"
assert_eq 0 "$RC" "an index of two platforms"; [ "$RC" -eq 0 ] || say "$ERR"
DI=$OUT
run "$KILN" copy "oci:$T/arm:1.0" "oci:$T/multi:arm"
DARM=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$(blob "$T/multi" "$DI")")
run "$KILN" attach --artifact-type spdx "oci:$T/multi:arm" "$T/app.spdx.json"
assert_eq 0 "$RC" "attach to the arm64 image"
run "$KILN" attach --artifact-type in-toto "oci:$T/multi:1.0" "$T/app.cdx.json"
assert_eq 0 "$RC" "attach to the index"
run "$KILN" copy --referrers "oci:$T/multi:1.0" "docker://$R2/multi:1.0"
assert_eq "0 $DI" "$RC $OUT" "copy --referrers of the index"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" referrers --json "docker://$R2/multi@$DARM"
assert_eq 1 "$(jq '.manifests | length' <<<"$OUT")" "the arm64 image's referrer arrived"
run "$KILN" referrers --artifact-type in-toto --json "docker://$R2/multi:1.0"
assert_eq application/vnd.in-toto+json "$(jq -r '.manifests[0].artifactType' <<<"$OUT")" "the index's referrer arrived"
IDX=$(curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R2/v2/multi/manifests/1.0")
assert_eq 2 "$(jq '.manifests | length' <<<"$IDX")" "the index still has its 2 platforms, no referrer among them"

say "--- a registry with the referrers API (our minimal registry/referrersapi.py)"
pf=$T/rapi.port
python3 "$(dirname "$0")/registry/referrersapi.py" "$pf" "$T/rapi.log" >"$T/rapi.out" 2>&1 </dev/null &
RAPI_PID=$!
_CLEANUP_HOOKS+=("_stop_pid $RAPI_PID")
R3=127.0.0.1:$(_wait_port_file "$pf" "$RAPI_PID" "referrersapi.py")
run "$KILN" copy --referrers "oci:$T/lay:1.0" "docker://$R3/app:1.0"
assert_eq "0 $D" "$RC $OUT" "copy --referrers to the referrers-API registry"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" attach -v --artifact-type spdx3 "docker://$R3/app:1.0" "$T/app.spdx.json"
assert_eq 0 "$RC" "attach there"
assert_contains "referrers API" "$ERR" "the registry's OCI-Subject made kiln use the API"
assert_eq 0 "$(grep -c "manifests/sha256-" "$T/rapi.log" || true)" "no fallback tag was read or written"
run "$KILN" referrers --json "docker://$R3/app:1.0"
assert_eq 3 "$(jq '.manifests | length' <<<"$OUT")" "the API lists the 3 referrers"
run "$KILN" referrers --artifact-type spdx3 --json "docker://$R3/app:1.0"
assert_eq application/spdx3+json "$(jq -r '[.manifests[].artifactType] | unique | join(",")' <<<"$OUT")" "filtered by the registry"
assert_contains "artifactType=application%2Fspdx3%2Bjson" "$(cat "$T/rapi.log")" "kiln asked for the filter"
run "$KILN" copy --referrers "docker://$R3/app:1.0" "docker://$R1/fromapi:1.0"
assert_eq 0 "$RC" "copy --referrers API registry -> fallback-tag registry"
run "$KILN" referrers --json "docker://$R1/fromapi:1.0"
assert_eq 3 "$(jq '.manifests | length' <<<"$OUT")" "the 3 referrers, now at the fallback tag"
