#!/usr/bin/env bash
# Pushing what the registry already has uploads nothing: a re-push only HEADs the
# blobs; several tags in one build upload each blob once; a copy between two
# repositories of one registry mounts the blobs instead of uploading them.
# Counted in the registry's own access log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_kiln_registry
need jq curl

export SOURCE_DATE_EPOCH=1700000000
# set_build NAME: BUILD = kiln build inputs for an image whose two layers are new
# to the registry (so that no scenario can reuse another one's blobs).
set_build() {
  reg_rootfs "$T/rootfs-$1" "re-push me ($1)"
  mkdir -p "$T/layer2-$1"
  head -c 3000000 /dev/urandom >"$T/layer2-$1/random.bin"
  BUILD=(--rootfs "$T/rootfs-$1" --rootfs "$T/layer2-$1" --cmd '["/bin/cat","/hello.txt"]')
}

start_registry plain
UPLOADS='^(POST|PATCH|PUT) /v2/[^ ]*/blobs/uploads'

# blobs_of LAYOUT [TAG]: the config and layer digests of a layout's image.
blobs_of() { layout_manifest "$@" | jq -r '.config.digest, .layers[].digest' | sort; }
# completed_uploads REPO DIGEST [MARK]: PUTs that completed an upload of DIGEST into REPO.
completed_uploads() {
  local hex=${2#sha256:}
  registry_request_count "^PUT /v2/$1/blobs/uploads/[^ ]*digest=sha256(%3[Aa]|:)$hex" "${3:-}"
}

say "first push (kiln build -o docker:// -o oci:)"
set_build app
M0=$(registry_log_mark)
kiln_build "${BUILD[@]}" -o "docker://$REG/team/app:1" -o "oci:$T/local:1"
D1=$DIGEST
assert_eq "$(layout_manifest_digest "$T/local" 1)" "$D1" "pushed digest = oci: output's digest"
mapfile -t BLOBS < <(blobs_of "$T/local" 1)
assert_eq 3 "${#BLOBS[@]}" "the image has a config and two layers"
for b in "${BLOBS[@]}"; do
  assert_eq 1 "$(completed_uploads team/app "$b" "$M0")" "first push: $b uploaded once"
done

say "second push of the same build: HEADs only, no upload"
M1=$(registry_log_mark)
kiln_build "${BUILD[@]}" -o "docker://$REG/team/app:1"
assert_eq "$D1" "$DIGEST" "the re-build has the same digest"
assert_eq 0 "$(registry_request_count "$UPLOADS" "$M1")" "second push: no POST/PATCH/PUT to /blobs/uploads"
N=$(registry_request_count '^(HEAD|GET) /v2/team/app/(blobs|manifests)/' "$M1")
[ "$N" -ge 1 ] && ok "second push: asked the registry what it has ($N HEAD/GET)" \
  || not_ok "second push: asked the registry what it has" "$(registry_requests "$M1")"
assert_eq 200 "$(reg_manifest_status team/app 1)" "tag 1 is there"

say "kiln copy oci: → docker:// of the same image: no upload either"
M2=$(registry_log_mark)
run "$KILN" copy "oci:$T/local:1" "docker://$REG/team/app:1"
assert_eq "0 $D1" "$RC $OUT" "kiln copy prints the digest"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq 0 "$(registry_request_count "$UPLOADS" "$M2")" "copy of a present image: no POST/PATCH/PUT to /blobs/uploads"

say "two tags in one build: each blob uploaded once"
set_build multi
M3=$(registry_log_mark)
kiln_build "${BUILD[@]}" -o "docker://$REG/team/multi:a" -o "docker://$REG/team/multi:b" -o "oci:$T/multi:a"
D3=$DIGEST
mapfile -t BLOBS3 < <(blobs_of "$T/multi" a)
for b in "${BLOBS3[@]}"; do
  assert_eq 1 "$(completed_uploads team/multi "$b" "$M3")" "two tags: $b uploaded once"
done
assert_eq "${#BLOBS3[@]}" "$(registry_request_count '^POST /v2/team/multi/blobs/uploads/?$' "$M3")" \
  "two tags: one upload session per blob"
assert_eq 1 "$(registry_request_count '^PUT /v2/team/multi/manifests/a$' "$M3")" "two tags: manifest PUT as a"
assert_eq 1 "$(registry_request_count '^PUT /v2/team/multi/manifests/b$' "$M3")" "two tags: manifest PUT as b"
for t in a b; do
  run "$KILN" digest "docker://$REG/team/multi:$t"
  assert_eq "0 $D3" "$RC $OUT" "two tags: kiln digest of :$t"
done

say "cross-repository mount: kiln copy docker://R/team/one:1 → docker://R/team/two:1"
set_build one
kiln_build "${BUILD[@]}" -o "docker://$REG/team/one:1" -o "oci:$T/one:1"
D4=$DIGEST
mapfile -t BLOBS4 < <(blobs_of "$T/one" 1)
M4=$(registry_log_mark)
run "$KILN" copy "docker://$REG/team/one:1" "docker://$REG/team/two:1"
assert_eq "0 $D4" "$RC $OUT" "registry → registry copy prints the digest"; [ "$RC" -eq 0 ] || say "$ERR"
for b in "${BLOBS4[@]}"; do
  hex=${b#sha256:}
  n=$(registry_request_count "^POST /v2/team/two/blobs/uploads/\?([^ ]*&)?mount=sha256(%3[Aa]|:)$hex" "$M4")
  f=$(registry_requests "$M4" | grep -E "^POST /v2/team/two/blobs/uploads/\?[^ ]*mount=sha256(%3[Aa]|:)$hex" | grep -cE '[?&]from=team(%2[Ff]|/)one(&| )' || true)
  [ "$n" -ge 1 ] && [ "$f" -ge 1 ] && ok "mount: $b mounted from team/one" \
    || not_ok "mount: $b mounted from team/one (POST ...?mount=$b&from=team/one)" "$(registry_requests "$M4")"
  assert_eq 0 "$(completed_uploads team/two "$b" "$M4")" "mount: $b not uploaded into team/two"
done
assert_eq 0 "$(registry_request_count '^(PATCH|PUT) /v2/team/two/blobs/uploads' "$M4")" "mount: no PATCH/PUT upload into team/two"
L4=$(layout_manifest "$T/one" 1 | jq -r '[.layers[].digest | sub("^sha256:"; "")] | join("|")')
assert_eq 0 "$(registry_request_count "^GET /v2/team/one/blobs/sha256:($L4)" "$M4")" "mount: no layer was downloaded from team/one"
run "$KILN" copy "docker://$REG/team/two:1" "oci:$T/two:1"
assert_eq "0 $D4" "$RC $OUT" "team/two:1 pulls back with the same digest"
check "team/two:1: every blob hashes to its name" verify_layout_blobs "$T/two"

say "cross-repository, one build with two repositories: each blob's bytes sent once"
set_build three
M5=$(registry_log_mark)
kiln_build "${BUILD[@]}" -o "docker://$REG/team/three:1" -o "docker://$REG/team/four:1" -o "oci:$T/three:1"
mapfile -t BLOBS5 < <(blobs_of "$T/three" 1)
for b in "${BLOBS5[@]}"; do
  u=$(( $(completed_uploads team/three "$b" "$M5") + $(completed_uploads team/four "$b" "$M5") ))
  assert_eq 1 "$u" "two repositories: $b uploaded once (mounted or skipped in the other)"
done
for r in three four; do
  run "$KILN" digest "docker://$REG/team/$r:1"
  assert_eq "0 $DIGEST" "$RC $OUT" "team/$r:1 has the build's digest"
done
