#!/usr/bin/env bash
# Damaged local sources: a layer blob of an oci: layout with one byte flipped,
# or cut short, or a damaged config blob; the same inside an oci-archive: and a
# docker-archive:. kiln checks every blob it reads from a local source against
# its digest and size as it reads it, so `kiln copy` to oci:, docker-archive:,
# oci-archive: and a real registry, `kiln unpack` and `kiln build --from` all
# refuse with an error naming the blob and the source, exit 1, and leave nothing
# at the destination: no directory, file or temporary, an existing layout
# unchanged, no tag and no damaged blob in the registry; `kiln index` as well.
# Undamaged sources still copy everywhere.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln
need python3 jq tar truncate
start_registry plain

# flip_byte FILE: inverts the byte in the middle of FILE.
flip_byte() {
  python3 - "$1" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(bytes(b))
EOF
}
# snapshot DIR: every path, with its content's hash, sorted.
snapshot() { (cd "$1" && find . -printf '%p %y %s\n' | sort && find . -type f -exec sha256sum {} + | sort); }
# leftovers DIR: temporary files kiln could have left next to its destinations
leftovers() { ls -a "$1" | grep -E '\.kiln-|kiln-tmp|^\.tmp' || true; }

mkdir -p "$T/rootfs/etc" "$T/small"
head -c 300000 /dev/urandom | base64 >"$T/rootfs/etc/data"   # several gzip blocks
echo hello >"$T/rootfs/etc/hello"
echo small >"$T/small/file"
kiln_build --rootfs "$T/rootfs" --rootfs "$T/small" --source-date-epoch 1700000000 -t t:1 \
  -o "oci:$T/good:1"
GOOD=$DIGEST
LAYER=$(layout_manifest "$T/good" 1 | jq -r '.layers[0].digest')
CONFIG=$(layout_manifest "$T/good" 1 | jq -r '.config.digest')
run "$KILN" copy "oci:$T/good:1" "oci-archive:$T/good.oci.tar:1"
assert_eq 0 "$RC" "baseline: oci: -> oci-archive:"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" copy "oci:$T/good:1" "docker-archive:$T/good.docker.tar"
assert_eq 0 "$RC" "baseline: oci: -> docker-archive:"; [ "$RC" -eq 0 ] || say "$ERR"

# an existing layout that a failed copy must leave as it was (without the
# damaged blobs: a blob a layout already has is not copied again)
mkdir -p "$T/other"
echo other >"$T/other/file"
kiln_build --rootfs "$T/other" -o "oci:$T/existing:0"
EXISTING=$(snapshot "$T/existing")

say "undamaged sources go everywhere"
N=0
for SRC in "oci:$T/good:1" "oci-archive:$T/good.oci.tar:1" "docker-archive:$T/good.docker.tar"; do
  N=$((N + 1))
  run "$KILN" copy "$SRC" "oci:$T/ok-$N:1"
  assert_eq 0 "$RC" "good $SRC -> oci:"; [ "$RC" -eq 0 ] || say "$ERR"
  run "$KILN" copy "$SRC" "docker-archive:$T/ok-$N.tar"
  assert_eq 0 "$RC" "good $SRC -> docker-archive:"; [ "$RC" -eq 0 ] || say "$ERR"
  run "$KILN" copy "$SRC" "docker://$REG/ok/n$N:1"
  assert_eq 0 "$RC" "good $SRC -> docker://"; [ "$RC" -eq 0 ] || say "$ERR"
  run "$KILN" unpack "$SRC" "$T/ok-$N.rootfs"
  assert_eq 0 "$RC" "good $SRC -> unpack"; [ "$RC" -eq 0 ] || say "$ERR"
  assert_same_file "$T/rootfs/etc/data" "$T/ok-$N.rootfs/etc/data" "good $SRC: the unpacked file is intact"
done
assert_eq "$GOOD" "$(layout_manifest_digest "$T/ok-1" 1)" "an oci: copy keeps the manifest digest"

# refused NAME SRC PATTERN: every destination refuses SRC with an error matching
# PATTERN, exits 1 and leaves nothing behind.
refused() {
  local name=$1 src=$2 pat=$3 d=$T/dst-$1
  mkdir -p "$d"
  local what
  for what in oci docker-archive oci-archive docker existing unpack build index; do
    case $what in
      oci) run "$KILN" copy "$src" "oci:$d/layout:1" ;;
      docker-archive) run "$KILN" copy "$src" "docker-archive:$d/img.tar" ;;
      oci-archive) run "$KILN" copy "$src" "oci-archive:$d/img.oci.tar:1" ;;
      docker) run "$KILN" copy -j 1 "$src" "docker://$REG/dmg/$name:1" ;;
      existing) run "$KILN" copy "$src" "oci:$T/existing:1" ;;
      unpack) run "$KILN" unpack "$src" "$d/rootfs" ;;
      build) run "$KILN" build --from "$src" --rootfs "$T/small" -o "oci:$d/built:1" ;;
      index) run "$KILN" index -o "docker://$REG/dmg/$name:1" "$src" ;;
    esac
    assert_eq 1 "$RC" "$name -> $what: refused (exit 1)"
    assert_match "$pat" "$ERR" "$name -> $what: the error names the blob and the source"
    assert_contains "re-create" "$ERR" "$name -> $what: the error says what to do"
    [ "$RC" -eq 1 ] || say "$ERR"
  done
  assert_eq "" "$(ls -A "$d")" "$name: nothing at any local destination, no temporary file"
  assert_eq "" "$(leftovers "$T")" "$name: no temporary file next to the destinations"
  assert_eq "$EXISTING" "$(snapshot "$T/existing")" "$name: the existing layout is unchanged"
  assert_eq 404 "$(reg_manifest_status "dmg/$name" 1)" "$name: no tag in the registry"
}

lq() { printf '%s' "$1" | sed 's/[][\.*^$/]/\\&/g'; }

say "oci: layout, a layer with one byte flipped"
cp -a "$T/good" "$T/flip"
flip_byte "$(blob "$T/flip" "$LAYER")"
refused layer-flip "oci:$T/flip:1" "blob $LAYER in oci:$(lq "$T")/flip:1 does not match its digest: the layout is damaged"
assert_eq 404 "$(REG_SCOPE=repository:dmg/layer-flip:pull reg_curl "/v2/dmg/layer-flip/blobs/$LAYER" -o /dev/null -I -w '%{http_code}')" \
  "layer-flip: the damaged blob never reached the registry"
assert_eq "" "$(verify_layout_blobs "$T/good" 2>&1)" "the undamaged layout was not touched"

say "oci: layout, a layer cut short"
cp -a "$T/good" "$T/trunc"
truncate -s -100 "$(blob "$T/trunc" "$LAYER")"
refused layer-trunc "oci:$T/trunc:1" "blob $LAYER in oci:$(lq "$T")/trunc:1 does not match its size"

say "oci: layout, a layer grown by a byte"
cp -a "$T/good" "$T/grown"
printf x >>"$(blob "$T/grown" "$LAYER")"
refused layer-grown "oci:$T/grown:1" "blob $LAYER in oci:$(lq "$T")/grown:1 does not match its size"

say "oci: layout, a damaged config"
cp -a "$T/good" "$T/cfg"
flip_byte "$(blob "$T/cfg" "$CONFIG")"
refused config-flip "oci:$T/cfg:1" "blob $CONFIG in oci:$(lq "$T")/cfg:1 does not match its digest: the layout is damaged"

# rearchive SRC_TAR DST_TAR CMD: CMD runs in the extracted archive, then it is re-packed
rearchive() {
  local x=$T/x-$(basename "$2")
  mkdir -p "$x" && tar -C "$x" -xf "$1"
  (cd "$x" && eval "$3")
  tar -C "$x" -cf "$2" .
}

say "oci-archive:, a damaged layer and a damaged config"
rearchive "$T/good.oci.tar" "$T/flip.oci.tar" "flip_byte blobs/sha256/${LAYER#sha256:}"
refused ociarchive-layer "oci-archive:$T/flip.oci.tar:1" "blob $LAYER in oci-archive:$(lq "$T")/flip\.oci\.tar:1 does not match its digest: the archive is damaged"
rearchive "$T/good.oci.tar" "$T/trunc.oci.tar" "truncate -s -1 blobs/sha256/${LAYER#sha256:}"
refused ociarchive-trunc "oci-archive:$T/trunc.oci.tar:1" "blob $LAYER in oci-archive:$(lq "$T")/trunc\.oci\.tar:1 does not match its size"
rearchive "$T/good.oci.tar" "$T/cfg.oci.tar" "flip_byte blobs/sha256/${CONFIG#sha256:}"
refused ociarchive-config "oci-archive:$T/cfg.oci.tar:1" "blob $CONFIG in oci-archive:$(lq "$T")/cfg\.oci\.tar:1 does not match its digest"

say "docker-archive:, a damaged layer and a damaged config"
DL=$(tar -xOf "$T/good.docker.tar" manifest.json | jq -r '.[0].Layers[0]')
DC=$(tar -xOf "$T/good.docker.tar" manifest.json | jq -r '.[0].Config')
rearchive "$T/good.docker.tar" "$T/flip.docker.tar" "flip_byte $DL"
refused dockerarchive-layer "docker-archive:$T/flip.docker.tar" "layer $(lq "$DL") in docker-archive:$(lq "$T")/flip\.docker\.tar (does not match|is damaged)"
rearchive "$T/good.docker.tar" "$T/trunc.docker.tar" "truncate -s -100 $DL"
refused dockerarchive-trunc "docker-archive:$T/trunc.docker.tar" "layer $(lq "$DL") in docker-archive:$(lq "$T")/trunc\.docker\.tar (does not match|is damaged)"
rearchive "$T/good.docker.tar" "$T/cfg.docker.tar" "flip_byte $DC"
refused dockerarchive-config "docker-archive:$T/cfg.docker.tar" "blob sha256:${DC%.json} in docker-archive:$(lq "$T")/cfg\.docker\.tar does not match its digest: the archive is damaged"

say "a push of a damaged layer in chunks stops before the last chunk completes"
run "$KILN" copy -j 1 --chunk-size 65536 "oci:$T/flip:1" "docker://$REG/dmg/chunked:1"
assert_eq 1 "$RC" "chunked push of a damaged layer: refused"
assert_match "blob $LAYER in oci:.* does not match its digest" "$ERR" "chunked push: the error names the blob"
assert_eq 404 "$(reg_manifest_status dmg/chunked 1)" "chunked push: no tag"
assert_eq 404 "$(REG_SCOPE=repository:dmg/chunked:pull reg_curl "/v2/dmg/chunked/blobs/$LAYER" -o /dev/null -I -w '%{http_code}')" \
  "chunked push: the damaged blob never completed"
