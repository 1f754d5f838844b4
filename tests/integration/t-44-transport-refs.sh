#!/usr/bin/env bash
# Naming one image of a layout or archive, against what the real tools write
# and read (issue 18):
# - `docker save img1 img2` (docker 20.10: a layer shared by both is stored once,
#   the other image's directory links to it) and `podman save
#   --multi-image-archive`: kiln lists every image, chooses one by reference or
#   by @INDEX (skopeo's docker-archive:PATH[:REF|:@INDEX]), and refuses to pick
#   one silently; copy, inspect, digest, unpack and --from agree with docker,
#   podman and skopeo on which image that is.
# - names with ':' and '/' (podman's localhost/app:1) in index.json: the path
#   ends at the first ':', as skopeo 1.9 reads it; '\:' escapes a ':' of a path.
# - warnings where a consumer will not read what a copy keeps: a Docker-typed
#   manifest in an OCI layout (skopeo, podman, umoci), zstd in a docker-archive.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need jq skopeo umoci sha256sum tar
start_dockerd
setup_podman
export SOURCE_DATE_EPOCH=1700000000

# ---------------------------------------------------------------- images
say "three images that share their base layer, built by kiln and loaded into docker"
mkdir -p "$T/base/etc" "$T/app1/opt" "$T/app2/opt" "$T/app3/opt"
echo base >"$T/base/etc/base"
echo one >"$T/app1/opt/one"
echo two >"$T/app2/opt/two"
echo three >"$T/app3/opt/three"
kiln_build --rootfs "$T/base" -t img0:v1 -o docker-archive:"$T/i0.tar"
kiln_build --rootfs "$T/base" --rootfs "$T/app1" -t img1:v1 -t img1:latest \
  -o docker-archive:"$T/i1.tar"
kiln_build --rootfs "$T/base" --rootfs "$T/app2" -t img2:v1 -o docker-archive:"$T/i2.tar"
docker_ load -i "$T/i0.tar" >/dev/null
docker_ load -i "$T/i1.tar" >/dev/null
docker_ load -i "$T/i2.tar" >/dev/null
ID0=$(docker_ image inspect -f '{{.Id}}' img0:v1)
ID1=$(docker_ image inspect -f '{{.Id}}' img1:v1)
ID2=$(docker_ image inspect -f '{{.Id}}' img2:v1)
assert_ne "$ID1" "$ID2" "two different images"

# the base is img0's top layer and the others' lower one: docker writes it
# under two legacy ids, the second a symlink to the first
docker_ save img0:v1 img1:v1 img1:latest img2:v1 -o "$T/two.tar"
A=docker-archive:$T/two.tar
check "docker save stored the shared layer once (a symlink in the archive)" \
  bash -c "tar -tvf '$T/two.tar' | grep -E '^l.*layer.tar -> ' >/dev/null"
# which image manifest.json lists first: docker 20.10 orders them at random
ORDER=$(tar -xOf "$T/two.tar" manifest.json | jq -r '.[].RepoTags[0]' | xargs)
say "manifest.json lists: $ORDER"
read -r N0 N1 N2 <<<"$ORDER"
ID_AT0=$(docker_ image inspect -f '{{.Id}}' "$N0")
ID_AT1=$(docker_ image inspect -f '{{.Id}}' "$N1")
ID_AT2=$(docker_ image inspect -f '{{.Id}}' "$N2")

# config_id REF: the sha256 of the config kiln reads for REF
config_id() { echo "sha256:$("$KILN" inspect --config "$1" | sha256sum | cut -c1-64)"; }

say "kiln list: every image and name of the archive"
run "$KILN" list --format json "$A"
assert_eq 0 "$RC" "kiln list $A exits 0 (stderr: $ERR)"
assert_eq "img0:v1 img1:latest img1:v1 img2:v1" "$(jq -r '.[].name' <<<"$OUT" | sort | xargs)" \
  "kiln list names every RepoTag"
assert_eq "$ID1" "$(jq -r '.[] | select(.name == "img1:v1") | .config' <<<"$OUT")" \
  "kiln list: img1's image ID is docker's"
assert_eq "$ID2" "$(jq -r '.[] | select(.name == "img2:v1") | .config' <<<"$OUT")" \
  "kiln list: img2's image ID is docker's"
run "$KILN" list "$A:img2:v1"
assert_eq 0 "$RC" "kiln list $A:img2:v1 exits 0"
assert_eq 2 "$(wc -l <<<"$OUT")" "kiln list $A:img2:v1: a header and one line"
run "$KILN" list --format json "$A:@1"
assert_eq "$ID_AT1" "$(jq -r '.[0].config' <<<"$OUT")" "kiln list $A:@1: the second image"

say "several images and no choice: an error that lists them"
for cmd in inspect digest; do
  run "$KILN" $cmd "$A"
  assert_eq 1 "$RC" "kiln $cmd $A (no choice) exits 1"
  assert_contains "holds 3 images" "$ERR" "kiln $cmd: says how many"
  assert_contains "img2:v1" "$ERR" "kiln $cmd: names img2:v1"
  assert_contains "img1:latest" "$ERR" "kiln $cmd: names img1:latest"
  assert_contains ":@INDEX" "$ERR" "kiln $cmd: says how to choose"
done
run "$KILN" copy "$A" oci:"$T/never"
assert_eq 1 "$RC" "kiln copy of an unchosen image exits 1"
assert_not_exists "$T/never" "kiln copy of an unchosen image writes nothing"

say "choosing by reference, as docker names them, and by @INDEX"
assert_eq "$ID1" "$(config_id "$A:img1:v1")" "$A:img1:v1 is docker's img1:v1"
assert_eq "$ID1" "$(config_id "$A:img1")" "$A:img1 is img1:latest"
assert_eq "$ID1" "$(config_id "$A:docker.io/library/img1:latest")" "the full name chooses it too"
assert_eq "$ID2" "$(config_id "$A:img2:v1")" "$A:img2:v1 is docker's img2:v1"
assert_eq "$ID_AT0" "$(config_id "$A:@0")" "$A:@0 is the first image of manifest.json"
assert_eq "$ID_AT1" "$(config_id "$A:@1")" "$A:@1 is the second"
assert_eq "$ID_AT2" "$(config_id "$A:@2")" "$A:@2 is the third"
assert_eq "$ID0" "$(config_id "$A:img0:v1")" "$A:img0:v1 is docker's img0:v1"
run "$KILN" digest "$A:@3"
assert_eq 1 "$RC" "@3 of three images exits 1"
assert_contains "no image @3: the archive holds 3" "$ERR" "@3: says what the archive holds"
run "$KILN" digest "$A:img3:v1"
assert_eq 1 "$RC" "a name the archive lacks exits 1"
assert_contains "no image named img3:v1" "$ERR" "the missing name is named"
run "$KILN" digest "$A:Img3"
assert_eq 2 "$RC" "an invalid reference is a usage error"

say "skopeo 1.9 chooses the same images"
for r in img0:v1 img1:v1 img2:v1 @0 @1 @2; do
  assert_eq "$(config_id "$A:$r")" \
    "sha256:$(skopeo inspect --raw --config "$A:$r" | sha256sum | cut -c1-64)" \
    "skopeo and kiln agree on $A:$r"
done

say "copy, unpack and --from of a chosen image"
run "$KILN" copy "$A:img2:v1" oci:"$T/L:two"
assert_eq 0 "$RC" "kiln copy $A:img2:v1 oci: (stderr: $ERR)"
assert_eq "$ID2" "$(skopeo inspect --raw --config oci:"$T/L:two" | sha256sum | sed 's/^/sha256:/; s/ .*//')" \
  "skopeo reads the copy: img2's config"
run "$KILN" copy "$A:@0" docker-archive:"$T/back.tar:back:1"
assert_eq 0 "$RC" "kiln copy $A:@0 docker-archive:FILE:REF (stderr: $ERR)"
assert_eq '["back:1"]' "$(tar -xOf "$T/back.tar" manifest.json | jq -c '.[0].RepoTags')" \
  "the output's REF is its RepoTag"
docker_ load -i "$T/back.tar" >/dev/null
assert_eq "$ID_AT0" "$(docker_ image inspect -f '{{.Id}}' back:1)" "docker loads it as the image @0"
run "$KILN" copy "$A:img2:v1" docker-archive:"$T/named.tar"
assert_eq '["img2:v1"]' "$(tar -xOf "$T/named.tar" manifest.json | jq -c '.[0].RepoTags')" \
  "a copy keeps the RepoTag that chose the image"
run "$KILN" unpack "$A:img2:v1" "$T/u2"
assert_eq 0 "$RC" "kiln unpack $A:img2:v1 (stderr: $ERR)"
assert_eq "base two" "$(cat "$T/u2/etc/base" "$T/u2/opt/two" | xargs)" \
  "unpack: the shared layer (a symlink in the archive) and img2's own"
kiln_build --from "$A:img1:v1" --rootfs "$T/app3" -t img3:v1 -o docker-archive:"$T/i3.tar"
docker_ load -i "$T/i3.tar" >/dev/null
check "--from $A:img1:v1: docker runs the result's files" \
  bash -c "[ \"\$('$DOCKER' image inspect -f '{{len .RootFS.Layers}}' img3:v1)\" = 3 ]"
run "$KILN" build --from "$A" --rootfs "$T/app3" -o oci:"$T/never2"
assert_eq 1 "$RC" "--from an unchosen image of two exits 1"

# ---------------------------------------------------------------- podman
say "podman save --multi-image-archive"
podman_ load -i "$T/i1.tar" >/dev/null
podman_ load -i "$T/i2.tar" >/dev/null
podman_ save --multi-image-archive -o "$T/pm.tar" img1:v1 img2:v1 >/dev/null
P=docker-archive:$T/pm.tar
run "$KILN" list --format json "$P"
assert_eq 0 "$RC" "kiln list $P (stderr: $ERR)"
assert_eq 2 "$(jq length <<<"$OUT")" "kiln list $P: two images"
# podman 4.3 names what it loads from a docker-archive localhost/NAME:TAG
PN2=$(jq -r '.[] | select(.config == "'"$ID2"'") | .name' <<<"$OUT")
say "podman saved img2 as $PN2"
assert_match '(^|/)img2:v1$' "$PN2" "kiln list: podman's name of img2"
assert_eq "$ID2" "$(config_id "$P:$PN2")" "$P:$PN2 is img2"
assert_eq "$(config_id "$P:$PN2")" \
  "sha256:$(skopeo inspect --raw --config "$P:$PN2" | sha256sum | cut -c1-64)" \
  "skopeo and kiln agree on $P:$PN2"
assert_eq "$(config_id "$P:@0")" \
  "sha256:$(skopeo inspect --raw --config "$P:@0" | sha256sum | cut -c1-64)" \
  "skopeo and kiln agree on $P:@0"
run "$KILN" digest "$P"
assert_eq 1 "$RC" "podman's two-image archive with no choice exits 1"

say "podman's names with ':' and '/' (localhost/ba-oci:1)"
podman_ tag img1:v1 localhost/ba-oci:1
podman_ tag img2:v1 localhost/ba-two:1
podman_ save --format oci-archive -o "$T/ps-oci.tar" localhost/ba-oci:1 >/dev/null
podman_ save --format oci-dir -o "$T/ps-dir" localhost/ba-two:1 >/dev/null
run "$KILN" list --format json oci-archive:"$T/ps-oci.tar"
NAME=$(jq -r '.[0].name' <<<"$OUT")
say "podman named it $NAME in index.json"
assert_match '(^|/)ba-oci:1$' "$NAME" "kiln list shows podman's name"
for spec in "oci-archive:$T/ps-oci.tar:$NAME" "oci:$T/ps-dir:$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$T/ps-dir/index.json")"; do
  run "$KILN" digest "$spec"
  assert_eq 0 "$RC" "kiln digest $spec (stderr: $ERR)"
  assert_eq "$(skopeo inspect "$spec" | jq -r .Digest)" "$OUT" "kiln and skopeo agree on $spec"
  run "$KILN" inspect --format json "$spec"
  assert_eq 0 "$RC" "kiln inspect $spec"
done
kiln_build --from "oci-archive:$T/ps-oci.tar:$NAME" --rootfs "$T/app3" -o oci:"$T/F"
assert_match '^sha256:' "$DIGEST" "--from a podman OCI archive by its ':' name"

say "skopeo writes such a name; kiln reads it, and writes one skopeo reads"
skopeo copy -q docker-archive:"$T/i2.tar" oci:"$T/SL:localhost/sk:1"
assert_eq "$(skopeo inspect oci:"$T/SL:localhost/sk:1" | jq -r .Digest)" \
  "$("$KILN" digest oci:"$T/SL:localhost/sk:1")" "kiln reads skopeo's oci:DIR:localhost/sk:1"
run "$KILN" copy oci:"$T/SL:localhost/sk:1" oci:"$T/kl:localhost/k:1"
assert_eq 0 "$RC" "kiln copy to oci:DIR:localhost/k:1 (stderr: $ERR)"
assert_eq "localhost/k:1" "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$T/kl/index.json")" \
  "index.json names it localhost/k:1"
assert_eq "$OUT" "$(skopeo inspect oci:"$T/kl:localhost/k:1" | jq -r .Digest)" \
  "skopeo reads kiln's oci:DIR:localhost/k:1"
# (podman 4.3 names what it pulls from oci: after the directory, not the name)
run bash -c "cd '$T' && $(printf '%q ' "${PODMAN[@]}") pull -q oci:kl:localhost/k:1"
assert_eq 0 "$RC" "podman pulls kiln's oci:DIR:localhost/k:1 (stderr: $ERR)"
assert_eq "$(config_id oci:"$T/kl:localhost/k:1")" "sha256:$OUT" "podman pulled that image"

say "a path with ':' is written '\\:' (skopeo cannot name it)"
mkdir "$T/p:q"
kiln_build --rootfs "$T/app1" -o "oci:$T/p\\:q/L:v1"
assert_file_exists "$T/p:q/L/index.json" "the layout is in the directory p:q"
assert_eq "$DIGEST" "$("$KILN" digest "oci:$T/p\\:q/L:v1")" "kiln reads it back by the escaped path"
run skopeo inspect "oci:$T/p:q/L:v1"
assert_ne 0 "$RC" "skopeo 1.9 reads oci:$T/p:q/L:v1 as the path $T/p (cannot name it)"

say "an oci: layout of several images: an error that lists them, or @INDEX"
kiln_build --rootfs "$T/app1" -o oci:"$T/M:a"
kiln_build --rootfs "$T/app2" -o oci:"$T/M:b"
DB=$DIGEST
run "$KILN" digest oci:"$T/M"
assert_eq 1 "$RC" "kiln digest of a two-image layout exits 1"
assert_contains "holds 2 images" "$ERR" "it says how many"
assert_contains "a, b" "$ERR" "it lists the tags"
assert_eq "$DB" "$("$KILN" digest oci:"$T/M:@1")" "oci:DIR:@1 is the second entry"

# ---------------------------------------------------------------- warnings
say "a Docker-typed manifest copied to an OCI layout: kept, with a warning"
# an image with Docker media types, as a registry serves a docker push
kiln_build --rootfs "$T/app1" -o oci:"$T/O:o"
cp -a "$T/O" "$T/OD"
D=$T/OD/blobs/sha256
M=$(jq -r '.manifests[0].digest' "$T/OD/index.json")
jq -c '.mediaType = "application/vnd.docker.distribution.manifest.v2+json"
      | .config.mediaType = "application/vnd.docker.container.image.v1+json"
      | .layers[].mediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"' \
  "$D/${M#sha256:}" | tr -d '\n' >"$T/dm.json"
DM=sha256:$(sha256sum <"$T/dm.json" | cut -c1-64)
cp "$T/dm.json" "$D/${DM#sha256:}"
jq -c --arg d "$DM" --argjson s "$(stat -c %s "$T/dm.json")" \
  '.manifests[0].digest = $d | .manifests[0].size = $s
   | .manifests[0].mediaType = "application/vnd.docker.distribution.manifest.v2+json"
   | .manifests[0].annotations["org.opencontainers.image.ref.name"] = "dm"' \
  "$T/OD/index.json" >"$T/OD/index.new" && mv "$T/OD/index.new" "$T/OD/index.json"
run "$KILN" copy oci:"$T/OD:dm" oci:"$T/DL:dm"
assert_eq 0 "$RC" "kiln copy of a Docker-typed manifest to oci: succeeds"
assert_eq "$DM" "$OUT" "its bytes (digest) are kept"
assert_contains "skopeo, podman and umoci will not find it by its tag" "$ERR" "it warns"
assert_contains "application/vnd.docker.distribution.manifest.v2+json" "$ERR" "the warning names the type"
run skopeo inspect oci:"$T/DL:dm"
assert_ne 0 "$RC" "skopeo indeed does not read it by its tag"
run umoci stat --image "$T/DL:dm"
assert_ne 0 "$RC" "nor does umoci"
run "$KILN" copy -q oci:"$T/OD:dm" oci:"$T/DL2:dm"
assert_eq "" "$ERR" "-q: no warning"
run "$KILN" copy oci:"$T/O:o" oci:"$T/DL3:o"
assert_eq "" "$ERR" "an OCI manifest: no warning"

say "zstd layers into a docker-archive: a warning (copy and build --from)"
kiln_build -q --rootfs "$T/app1" --compression zstd -o oci:"$T/Z:z"
run "$KILN" copy oci:"$T/Z:z" docker-archive:"$T/z.tar"
assert_eq 0 "$RC" "kiln copy of a zstd image to docker-archive: succeeds"
assert_contains "Docker before 23 cannot load this" "$ERR" "kiln copy warns"
run "$KILN" build --from oci:"$T/Z:z" --rootfs "$T/app2" -o docker-archive:"$T/z2.tar"
assert_eq 0 "$RC" "kiln build --from a zstd image to docker-archive: succeeds"
assert_contains "Docker before 23 cannot load this" "$ERR" "kiln build --from warns"
assert_contains "of --from oci:$T/Z:z" "$ERR" "the warning names the base"
if [ "$(docker_ version -f '{{.Server.Version}}' | cut -d. -f1)" -lt 23 ]; then
  run docker_ load -i "$T/z.tar"
  assert_ne 0 "$RC" "and docker $(docker_ version -f '{{.Server.Version}}') indeed refuses it"
fi
run "$KILN" copy oci:"$T/Z:z" oci-archive:"$T/z.oci.tar"
assert_eq "" "$ERR" "zstd into an oci-archive: no warning"

podman_ rmi -a -f >/dev/null 2>&1 || true

