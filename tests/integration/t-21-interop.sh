#!/usr/bin/env bash
# Images that the real tools write, fed to kiln as a user migrating from them
# would (issue 18), and kiln's results read back by those tools:
# - buildah 1.28 commit in both formats, to oci:, oci-archive:, docker-archive:
#   and, by buildah push, to a registry;
# - podman 4.3 save in every format it has (docker-archive, oci-archive,
#   oci-dir, docker-dir), manifest push --all of a two-image list;
# - skopeo 1.9 copy to a registry with zstd layers (podman 4.3's push keeps
#   the gzip blobs it has);
# - umoci 0.4.7 unpack and repack of buildah's image.
# For each: kiln list, inspect (the config skopeo 1.9 reads), copy to a
# registry (skopeo sees the same config), --from (podman runs the result, with
# the base's files and the new one) and unpack (the files buildah put in).
# podman's docker-dir (containers/image's dir: transport) is not a transport of
# kiln: the error says what it is and how to convert it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need buildah podman skopeo umoci jq python3
[ -x /bin/busybox ] || _missing busybox
setup_podman
start_registry plain
export SOURCE_DATE_EPOCH=1700000000

short_dir BD kb
BUILDAH=(buildah --root "$BD/root" --runroot "$BD/run" --storage-driver vfs)
_CLEANUP_HOOKS+=("_kill_pids_mentioning '$BD'")
buildah_() { "${BUILDAH[@]}" "$@"; }
NOTLS=--tls-verify=false

# ---------------------------------------------------------------- producers
say "buildah: an image from scratch, committed in both formats"
R=$T/rootfs
mkdir -p "$R/bin" "$R/etc"
cp /bin/busybox "$R/bin/busybox"
for a in sh cat; do ln -s busybox "$R/bin/$a"; done
echo "made by buildah" >"$R/etc/origin"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
CTR=$(buildah_ from scratch) || fail "buildah from scratch"
buildah_ copy "$CTR" "$R" / >/dev/null || fail "buildah copy"
buildah_ config --cmd '["/bin/cat","/etc/origin"]' --env PATH=/bin "$CTR" || fail "buildah config"
quiet() { "$@" >"$T/producer.log" 2>&1 || { cat "$T/producer.log" >&2; return 1; }; }
for f in oci docker; do
  check "buildah commit --format $f to oci:" quiet buildah_ commit --format "$f" "$CTR" "oci:$T/bl:$f"
  check "buildah commit --format $f to oci-archive:" \
    quiet buildah_ commit --format "$f" "$CTR" "oci-archive:$T/b-$f.oci.tar:b-$f:1"
  check "buildah commit --format $f to docker-archive:" \
    quiet buildah_ commit --format "$f" "$CTR" "docker-archive:$T/b-$f.docker.tar:b-$f:1"
  check "buildah commit --format $f to its storage" quiet buildah_ commit --format "$f" "$CTR" "b-$f:1"
done

say "skopeo: an image with zstd layers"
# a layer of its own: containers/image's blob-info cache would otherwise give
# skopeo the gzip blob of the same layer, or buildah the zstd one
CZ=$(buildah_ from scratch) || fail "buildah from scratch"
buildah_ copy "$CZ" "$R" / >/dev/null || fail "buildah copy"
buildah_ copy "$CZ" /etc/hostname /etc/zstd >/dev/null || fail "buildah copy"
check "buildah commit of the image to compress" quiet buildah_ commit --format oci "$CZ" "oci:$T/bz:1"
check "skopeo copy --dest-compress-format zstd to the registry" \
  quiet skopeo copy --dest-tls-verify=false --dest-compress-format zstd "oci:$T/bz:1" "docker://$REG/skopeo/zstd:1"
for f in oci docker; do
  check "buildah push --format $f to the registry" \
    quiet buildah_ push $NOTLS --format "$f" "b-$f:1" "docker://$REG/buildah/$f:1"
done

say "umoci: buildah's OCI image unpacked, changed and repacked"
check "umoci unpack" quiet umoci unpack --image "$T/bl:oci" "$T/bundle"
echo "added by umoci" >"$T/bundle/rootfs/etc/umoci"
check "umoci repack" quiet umoci repack --image "$T/bl:umoci" "$T/bundle"

say "podman: the image loaded and saved in every format"
check "podman load buildah's docker-archive" quiet podman_ load -i "$T/b-docker.docker.tar"
for f in docker-archive oci-archive oci-dir docker-dir; do
  check "podman save --format $f" quiet podman_ save --format "$f" -o "$T/p-$f" b-docker:1
done
mkdir -p "$T/second"
echo "second image" >"$T/second/second"
C2=$(buildah_ from b-oci:1) || fail "buildah from b-oci:1"
buildah_ copy "$C2" "$T/second/second" /second >/dev/null || fail "buildah copy"
check "buildah commit of a second image to podman's storage" \
  quiet buildah_ commit --format oci "$C2" "oci-archive:$T/second.tar:second:1"
check "podman load the second image" quiet podman_ load -i "$T/second.tar"
check "podman manifest create" quiet podman_ manifest create "localhost/two:1"
check "podman manifest add (first)" quiet podman_ manifest add --arch amd64 localhost/two:1 "containers-storage:docker.io/library/b-docker:1"
check "podman manifest add (second)" quiet podman_ manifest add --arch arm64 localhost/two:1 "containers-storage:localhost/second:1"
check "podman manifest push --all" \
  quiet podman_ manifest push $NOTLS --all localhost/two:1 "docker://$REG/podman/list:1"

# ---------------------------------------------------------------- consumers
# config_of REF: the sha256 of the config skopeo reads for REF
config_of() { skopeo inspect $NOTLS --raw --config "$1" | sha256sum | sed 's/^/sha256:/; s/ .*//'; }
mkdir -p "$T/app"
echo "added by kiln" >"$T/app/kiln"
N=0
# consume REF NAME [ORIGIN_FILE]: everything a user does with an image from a peer
consume() {
  local ref=$1 name=$2 origin=${3:-/etc/origin} want got
  N=$((N + 1))
  say "$name: $ref"
  want=$(config_of "$ref")
  run "$KILN" inspect --config "$ref"
  assert_eq 0 "$RC" "$name: kiln inspect --config (stderr: $ERR)"
  assert_eq "$want" "sha256:$(sha256sum <"$T/.run.out" | cut -c1-64)" \
    "$name: kiln inspect reads the config skopeo reads"
  run "$KILN" copy "$ref" "docker://$REG/kiln/copy$N:1"
  assert_eq 0 "$RC" "$name: kiln copy to a registry (stderr: $ERR)"
  assert_eq "$want" "$(config_of "docker://$REG/kiln/copy$N:1")" "$name: skopeo reads kiln's copy: the same config"
  run "$KILN" unpack "$ref" "$T/u$N"
  assert_eq 0 "$RC" "$name: kiln unpack (stderr: $ERR)"
  assert_eq "made by buildah" "$(cat "$T/u$N/etc/origin" 2>&1)" "$name: unpack: buildah's file"
  assert_same_file /bin/busybox "$T/u$N/bin/busybox" "$name: unpack: busybox, byte for byte"
  run "$KILN" build --from "$ref" --rootfs "$T/app" -o "docker://$REG/kiln/from$N:1"
  assert_eq 0 "$RC" "$name: kiln build --from (stderr: $ERR)"
  if quiet podman_ pull $NOTLS "$REG/kiln/from$N:1"; then
    got=$(podman_ "${PODMAN_RUN[@]}" "$REG/kiln/from$N:1" /bin/cat "$origin" /kiln 2>&1) || true
    assert_eq "$(cat "$T/u$N$origin" 2>/dev/null) added by kiln" "$(echo $got)" \
      "$name: podman runs the --from image: the base's file and kiln's"
  else
    not_ok "$name: podman pulls the --from image" "$(cat "$T/producer.log")"
  fi
}

for f in oci docker; do
  run "$KILN" list --format json "oci:$T/bl"
  assert_eq 0 "$RC" "kiln list of buildah's layout (stderr: $ERR)"
  assert_eq "1" "$(jq --arg f "$f" '[.[] | select(.name == $f)] | length' <<<"$OUT")" \
    "kiln list names buildah's $f entry"
  consume "oci:$T/bl:$f" "buildah --format $f, oci:"
  consume "oci-archive:$T/b-$f.oci.tar" "buildah --format $f, oci-archive:"
  consume "docker-archive:$T/b-$f.docker.tar" "buildah --format $f, docker-archive:"
  consume "docker://$REG/buildah/$f:1" "buildah push --format $f"
done
consume "oci:$T/bl:umoci" "umoci repack" /etc/umoci
for f in docker-archive oci-archive; do
  consume "$f:$T/p-$f" "podman save --format $f"
done
consume "oci:$T/p-oci-dir" "podman save --format oci-dir"
consume "docker://$REG/skopeo/zstd:1" "skopeo copy --dest-compress-format zstd"
run "$KILN" inspect --raw "docker://$REG/skopeo/zstd:1"
assert_eq "application/vnd.oci.image.layer.v1.tar+zstd" "$(jq -r '.layers[0].mediaType' <<<"$OUT")" \
  "skopeo pushed a zstd layer"

say "podman manifest push --all: the list and each image"
run "$KILN" copy "docker://$REG/podman/list:1" "oci:$T/list:1"
assert_eq 0 "$RC" "kiln copy of the whole list to oci: (stderr: $ERR)"
# the second image's config says amd64 (it was built here); podman manifest
# add --arch arm64 put it in the list for arm64 hosts, and they are what the
# consumers pick by
run "$KILN" list --format json "oci:$T/list"
assert_eq 0 "$RC" "kiln list of the copy (stderr: $ERR)"
assert_eq '["linux/amd64","linux/arm64"]' "$(jq -c '.[0].platforms' <<<"$OUT")" \
  "kiln list: the platforms the list's entries give"
run "$KILN" validate "oci:$T/list:1"
assert_contains "the entry says linux/arm64, the image's config linux/amd64" "$OUT$ERR" \
  "kiln validate: the entry and the config disagree"
assert_eq "$(skopeo inspect $NOTLS --raw "docker://$REG/podman/list:1" | sha256sum | cut -c1-64)" \
  "$(skopeo inspect --raw "oci:$T/list:1" | sha256sum | cut -c1-64)" \
  "skopeo reads kiln's copy of the list: the same bytes"
for p in amd64 arm64; do
  assert_eq "$(skopeo inspect $NOTLS --raw --override-arch "$p" --config "docker://$REG/podman/list:1" | sha256sum | cut -c1-64)" \
    "$("$KILN" inspect --config --platform "linux/$p" "oci:$T/list:1" | sha256sum | cut -c1-64)" \
    "kiln --platform linux/$p picks the image skopeo picks"
done

say "podman's docker-dir is not a kiln transport: the error says so"
run "$KILN" inspect "oci:$T/p-docker-dir"
assert_eq 1 "$RC" "kiln inspect oci:DOCKER-DIR exits 1"
assert_contains "dir:" "$ERR" "the error names containers/image's dir: format"
assert_contains "skopeo copy dir:$T/p-docker-dir oci:" "$ERR" "the error says how to convert it"

