#!/usr/bin/env bash
# kiln mutate and kiln append: an existing image changed in place, on every
# transport, without recompressing or uploading its layers again (the registry
# log shows only the new config, the new layer and the manifest go up). docker,
# podman and skopeo run or read the results; the manifest format (OCI or Docker
# v2 schema 2) and the created time are kept; a mutation is reproducible; an
# index must be changed one platform at a time. Also build --manifest-format.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need jq skopeo umoci
[ -x /bin/busybox ] || _missing busybox
export SOURCE_DATE_EPOCH=1700000000

reg_rootfs "$T/rootfs" "hello from the base"
mkdir -p "$T/extra/opt"; echo "appended" >"$T/extra/opt/extra.txt"
kiln_build --rootfs "$T/rootfs" --cmd '["/bin/cat","/hello.txt"]' --env BASE=1 -o "oci:$T/lay:base" \
  -o "docker-archive:$T/base.tar" -t kiln/base:1
BASE=$DIGEST
LAYER=$(layout_manifest "$T/lay" base | jq -r '.layers[0].digest')
CREATED=$(layout_config "$T/lay" base | jq -r .created)
unset SOURCE_DATE_EPOCH
start_registry plain
start_dockerd
run "$KILN" copy "oci:$T/lay:base" "docker://$REG/team/app:1"
assert_eq "0 $BASE" "$RC $OUT" "the base is in the registry"

say "kiln mutate docker://: only the config and the manifest are uploaded"
M=$(registry_log_mark)
run "$KILN" mutate --env APP=2 --entrypoint '["/bin/cat"]' --cmd /opt/none --label tier=web \
  "docker://$REG/team/app:1"
assert_eq 0 "$RC" "kiln mutate exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
MUT=$OUT
assert_eq 1 "$(registry_request_count '^PUT /v2/team/app/blobs/uploads/' "$M")" "one blob uploaded: the config"
assert_eq 0 "$(registry_request_count "^PUT /v2/team/app/blobs/uploads/.*digest=$LAYER" "$M")" "not the layer"
assert_eq 1 "$(registry_request_count '^PUT /v2/team/app/manifests/1' "$M")" "the tag is written back"
run skopeo inspect --tls-verify=false --format '{{.Digest}} {{len .Layers}} {{index .Labels "tier"}}' "docker://$REG/team/app:1"
assert_eq "0 $MUT 1 web" "$RC $OUT" "skopeo sees the new image: same single layer, the new label"
run skopeo inspect --tls-verify=false --config "docker://$REG/team/app:1"
assert_eq '["BASE=1","APP=2"]' "$(jq -c .config.Env <<<"$OUT")" "Env kept and extended"
assert_eq "$CREATED" "$(jq -r .created <<<"$OUT")" "the created time is the image's (no SOURCE_DATE_EPOCH)"
assert_eq "$LAYER" "$(skopeo inspect --tls-verify=false --raw "docker://$REG/team/app:1" | jq -r '.layers[0].digest')" "the layer is the base's, byte for byte"
run docker_ pull "$REG/team/app:1"
assert_eq 0 "$RC" "docker pulls the mutated image"
run docker_ run --rm --network none "$REG/team/app:1" /hello.txt
assert_eq "hello from the base" "$OUT" "docker runs it with the new entrypoint"
run docker_ image inspect -f '{{json .Config.Env}}' "$REG/team/app:1"
assert_eq '["BASE=1","APP=2"]' "$OUT" "docker sees the new Env"

say "a mutation is reproducible"
run "$KILN" copy "oci:$T/lay:base" "oci:$T/again:base"
run "$KILN" mutate --env APP=2 --entrypoint '["/bin/cat"]' --cmd /opt/none --label tier=web "oci:$T/again:base"
assert_eq "0 $MUT" "$RC $OUT" "the same change of the same image, elsewhere: the same digest"

say "kiln append docker://: only the new layer, the config and the manifest are uploaded"
M=$(registry_log_mark)
run "$KILN" append --rootfs "$T/extra" "docker://$REG/team/app:1" -o "docker://$REG/team/app:2"
assert_eq 0 "$RC" "kiln append exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq 2 "$(registry_request_count '^PUT /v2/team/app/blobs/uploads/' "$M")" "two blobs uploaded: the new layer and the config"
assert_eq 0 "$(registry_request_count "^PUT /v2/team/app/blobs/uploads/.*digest=$LAYER" "$M")" "not the image's own layer"
run docker_ pull "$REG/team/app:2"
run docker_ run --rm --network none "$REG/team/app:2" /opt/extra.txt /hello.txt
assert_eq "$(printf 'appended\nhello from the base')" "$OUT" "docker runs it: both layers, the mutated entrypoint"
setup_podman
run podman_ pull --tls-verify=false "docker://$REG/team/app:2"
assert_eq 0 "$RC" "podman pulls the appended image"; [ "$RC" -eq 0 ] || say "$ERR"
run podman_ "${PODMAN_RUN[@]}" "$REG/team/app:2" /opt/extra.txt
assert_eq "appended" "$OUT" "podman runs it"; [ "$RC" -eq 0 ] || say "$ERR"

say "oci: and docker-archive: in place"
run "$KILN" mutate --label where=layout "oci:$T/lay:base"
assert_eq 0 "$RC" "mutate oci:DIR:TAG"
run umoci stat --image "$T/lay:base" --json
assert_eq 0 "$RC" "umoci reads the mutated entry"
run skopeo inspect --format '{{index .Labels "where"}}' "oci:$T/lay:base"
assert_eq layout "$OUT" "skopeo sees the label"
run "$KILN" append --tar <(tar -C "$T/extra" -cf - .) "docker-archive:$T/base.tar"
assert_eq 0 "$RC" "append to a docker-archive, written back"; [ "$RC" -eq 0 ] || say "$ERR"
run docker_ load -i "$T/base.tar"
assert_eq 0 "$RC" "docker loads it"
run docker_ run --rm --network none kiln/base:1 /bin/cat /opt/extra.txt
assert_eq appended "$OUT" "and runs the appended layer"

run docker_ tag kiln/base:1 kiln/other:1
run docker_ pull "$REG/team/app:2"
run docker_ save -o "$T/two.tar" kiln/base:1 "$REG/team/app:2"
run "$KILN" mutate --env X=1 "docker-archive:$T/two.tar:kiln/base:1"
assert_eq 2 "$RC" "an archive of several images is not written back with one of them"
assert_contains "write it elsewhere with -o" "$ERR" "the error says what to do"
run "$KILN" mutate --env X=1 -t kiln/one:1 "docker-archive:$T/two.tar:kiln/base:1" -o "docker-archive:$T/one.tar"
assert_eq 0 "$RC" "with -o, one image of it"
run docker_ load -i "$T/one.tar"
assert_contains "kiln/one:1" "$OUT" "docker loads it under its -t name"

say "the manifest format is kept: a Docker v2 schema 2 image stays one"
run skopeo copy --format v2s2 --dest-tls-verify=false "oci:$T/again:base" "docker://$REG/team/v2:1"
assert_eq 0 "$RC" "skopeo pushes a v2s2 image"
run "$KILN" mutate --env V2=yes "docker://$REG/team/v2:1"
assert_eq 0 "$RC" "kiln mutate of the v2s2 image"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq application/vnd.docker.distribution.manifest.v2+json "$(skopeo inspect --tls-verify=false --raw "docker://$REG/team/v2:1" | jq -r .mediaType)" "still Docker v2 schema 2"
run docker_ pull "$REG/team/v2:1"
assert_eq 0 "$RC" "docker pulls it"
run "$KILN" mutate --manifest-format oci --env V2=no "docker://$REG/team/v2:1" -o "docker://$REG/team/v2:oci"
assert_eq application/vnd.oci.image.manifest.v1+json "$(skopeo inspect --tls-verify=false --raw "docker://$REG/team/v2:oci" | jq -r .mediaType)" "--manifest-format oci converts it"

say "kiln build --manifest-format docker"
kiln_build --rootfs "$T/rootfs" --cmd '["/bin/cat","/hello.txt"]' --manifest-format docker -o "docker://$REG/team/built:v2s2"
assert_eq application/vnd.docker.distribution.manifest.v2+json "$(skopeo inspect --tls-verify=false --raw "docker://$REG/team/built:v2s2" | jq -r .mediaType)" "a v2s2 manifest"
assert_eq application/vnd.docker.image.rootfs.diff.tar.gzip "$(skopeo inspect --tls-verify=false --raw "docker://$REG/team/built:v2s2" | jq -r '.layers[0].mediaType')" "with Docker layer types"
run docker_ pull "$REG/team/built:v2s2"
run docker_ run --rm --network none "$REG/team/built:v2s2"
assert_eq "hello from the base" "$OUT" "docker runs it"
run "$KILN" build --rootfs "$T/rootfs" --manifest-format docker --annotation a=b -o "oci:$T/x:1"
assert_eq 2 "$RC" "annotations on a Docker manifest: usage error"
assert_contains "has no annotations" "$ERR" "that says why"

say "an index is changed one platform at a time"
kiln_build --rootfs "$T/rootfs" --platform linux/arm64 -o "oci:$T/arm:1"
run "$KILN" index -o "docker://$REG/team/multi:1" "oci:$T/lay:base" "oci:$T/arm:1"
run "$KILN" mutate --env X=1 "docker://$REG/team/multi:1"
assert_eq 2 "$RC" "mutate of an index without --platform: usage error"
assert_contains "multi-platform index" "$ERR" "that says so"
assert_contains "kiln index" "$ERR" "and how to assemble it again"
run "$KILN" mutate --env X=1 --platform linux/arm64 "docker://$REG/team/multi:1" -o "oci:$T/arm-mut:1"
assert_eq 0 "$RC" "with --platform, one image"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq '"arm64"' "$(layout_config "$T/arm-mut" 1 | jq .architecture)" "the arm64 one"

say "usage errors"
run "$KILN" mutate --rootfs "$T/extra" "oci:$T/lay:base"
assert_eq 2 "$RC" "mutate takes no layers"
run "$KILN" append "oci:$T/lay:base"
assert_eq 2 "$RC" "append needs a layer"
run "$KILN" mutate --from "oci:$T/lay:base" "oci:$T/lay:base"
assert_eq 2 "$RC" "no --from"
run "$KILN" mutate
assert_eq 2 "$RC" "no REF"
