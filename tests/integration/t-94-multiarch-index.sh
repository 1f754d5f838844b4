#!/usr/bin/env bash
# Multi-arch: images built per platform (kiln build --platform) assembled with
# kiln index into one OCI index, pushed; docker pull --platform gets the right
# manifest for each platform; skopeo sees the index; kiln copy --platform and an
# oci: layout index agree.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need jq skopeo
[ -x /bin/busybox ] || _missing busybox
export SOURCE_DATE_EPOCH=1700000000
start_dockerd
start_registry plain

declare -A D
for p in linux/amd64 linux/arm64 linux/arm/v7; do
  n=${p//\//-}
  mkdir -p "$T/$n"; reg_rootfs "$T/$n" "I am $p"
  kiln_build --rootfs "$T/$n" --platform "$p" --entrypoint '["/bin/cat"]' --cmd '["/hello.txt"]' \
    -o "oci:$T/per:$n"
  D[$p]=$DIGEST
done

run "$KILN" index -o "docker://$REG/multi/app:1" "oci:$T/per:linux-amd64" "oci:$T/per:linux-arm64" "oci:$T/per:linux-arm-v7"
assert_eq 0 "$RC" "kiln index pushes the index"; [ "$RC" -eq 0 ] || say "$ERR"
IDX=$OUT
run skopeo inspect --raw --tls-verify=false "docker://$REG/multi/app:1"
RAW=$OUT
assert_eq "application/vnd.oci.image.index.v1+json" "$(jq -r .mediaType <<<"$OUT")" "skopeo sees an OCI index"
assert_eq "$IDX" "sha256:$(printf '%s' "$OUT" | sha256sum | cut -d' ' -f1)" "the index digest printed = the registry's bytes"
assert_eq "amd64 arm64 arm/v7" "$(jq -r '[.manifests[].platform | .architecture + (if .variant then "/" + .variant else "" end)] | join(" ")' <<<"$OUT")" "one entry per platform, in order"
for p in linux/amd64 linux/arm64 linux/arm/v7; do
  assert_eq "${D[$p]}" "$(jq -r --arg a "$(cut -d/ -f2 <<<"$p")" --arg v "$(cut -d/ -f3 <<<"$p")" \
    '.manifests[] | select(.platform.architecture == $a and ((.platform.variant // "") == $v)) | .digest' <<<"$RAW")" "$p: the index points at its image"
  run docker_reg pull --platform "$p" "$REG/multi/app:1"
  assert_eq 0 "$RC" "docker pull --platform $p"
  got=$(docker_ image inspect --format '{{.Os}}/{{.Architecture}}{{if .Variant}}/{{.Variant}}{{end}}' "$REG/multi/app:1" 2>/dev/null)
  assert_eq "$p" "$got" "docker pull --platform $p gets the $p image"
  docker_ rmi -f "$REG/multi/app:1" >/dev/null 2>&1
done
run docker_reg pull "$REG/multi/app:1"
run docker_reg run --rm --network none "$REG/multi/app:1"
assert_eq "I am linux/amd64" "$OUT" "docker run without --platform runs the host's image"

say "copy one platform, and an index into a layout"
run "$KILN" copy --platform linux/arm64 "docker://$REG/multi/app:1" "oci:$T/arm:1"
assert_eq "0 ${D[linux/arm64]}" "$RC $OUT" "kiln copy --platform linux/arm64 copies that image"
run "$KILN" index -o "oci:$T/idx:1" "oci:$T/per:linux-amd64" "oci:$T/per:linux-arm64"
assert_eq 0 "$RC" "kiln index into an oci: layout"
run "$KILN" inspect --format json "oci:$T/idx:1"
assert_eq 2 "$(jq '.manifests | length' <<<"$OUT")" "kiln inspect sees two manifests"
run "$KILN" index -o "oci:$T/dup:1" "oci:$T/per:linux-amd64" "oci:$T/per:linux-amd64"
assert_eq 1 "$RC" "two images of one platform are refused"
assert_contains "linux/amd64" "$ERR" "the error names the platform"
