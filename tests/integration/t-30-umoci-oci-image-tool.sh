#!/usr/bin/env bash
# kiln's OCI layout passes oci-image-tool's validation, and umoci unpacks it
# (as root) into exactly the source tree: owners, modes, types, symlink
# targets, xattrs (incl. security.capability), hardlinks, devices, contents.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need umoci oci-image-tool jq python3 setfattr getfattr setcap getcap tar gzip bzip2 xz zstd

R=$T/rootfs
make_rich_rootfs "$R"
check_rich_rootfs "$R"

say "kiln build --rootfs → oci layout"
kiln_build --rootfs "$R" --tag t30:1.0 -o "oci:$T/layout:1.0"
assert_eq "$DIGEST" "$(layout_manifest_digest "$T/layout" 1.0)" "printed digest = index.json descriptor with ref.name 1.0"
check "every blob hashes to its name" verify_layout_blobs "$T/layout"

say "oci-image-tool validate"
run oci-image-tool validate --type image --ref name=1.0 "$T/layout"
assert_eq 0 "$RC" "oci-image-tool validate --type image --ref name=1.0 (layout)"
[ "$RC" -eq 0 ] || say "$OUT $ERR"
MF=$(blob "$T/layout" "$DIGEST")
run oci-image-tool validate --type manifest "$MF"
assert_eq 0 "$RC" "oci-image-tool validate --type manifest" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
run oci-image-tool validate --type config "$(blob "$T/layout" "$(jq -r .config.digest "$MF")")"
assert_eq 0 "$RC" "oci-image-tool validate --type config" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
run oci-image-tool validate --type imageIndex "$T/layout/index.json"
assert_eq 0 "$RC" "oci-image-tool validate --type imageIndex (index.json)" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"

say "umoci unpack"
run umoci unpack --image "$T/layout:1.0" "$T/bundle"
assert_eq 0 "$RC" "umoci unpack --image layout:1.0"
[ "$RC" -eq 0 ] || fail "umoci unpack: $ERR"
tree_manifest "$R" >"$T/src.m"
tree_manifest "$T/bundle/rootfs" >"$T/umoci.m"
assert_same_text "$T/src.m" "$T/umoci.m" "umoci's unpacked rootfs = source tree"
# a few of the properties spelled out, so that a failure above is easy to read
for p in data/owned data/bigid bin/suidbox data/sgid data/tmp data/devices/nullish data/devices/loopish data/fifo; do
  assert_eq "$(stat -c '%u:%g %a %F %t:%T' "$R/$p")" "$(stat -c '%u:%g %a %F %t:%T' "$T/bundle/rootfs/$p" 2>&1)" "$p: owner, mode, type, device numbers"
done
for p in data/rel-link data/abs-link data/dangling data/deep-symlink; do
  assert_eq "$(readlink "$R/$p")" "$(readlink "$T/bundle/rootfs/$p" 2>&1)" "$p: symlink target"
done
assert_eq "$(getfattr -h -d -m - -e hex "$R/data/hello.txt" 2>/dev/null | tail -n +2)" \
  "$(getfattr -h -d -m - -e hex "$T/bundle/rootfs/data/hello.txt" 2>/dev/null | tail -n +2)" "data/hello.txt: xattrs"
assert_eq "$(getcap "$R/capbin/busybox" | awk '{print $2}')" "$(getcap "$T/bundle/rootfs/capbin/busybox" | awk '{print $2}')" "capbin/busybox: file capability"
assert_eq "$(stat -c %i "$T/bundle/rootfs/data/hl-a")" "$(stat -c %i "$T/bundle/rootfs/data/sub/hl-c")" "hardlinks share an inode after unpack"
assert_eq "$(stat -c %i "$T/bundle/rootfs/$DEEPDIR/deep-file")" "$(stat -c %i "$T/bundle/rootfs/data/deep-hardlink")" "hardlink to a >255-byte path shares the inode"

say "umoci reads the image config"
run umoci stat --image "$T/layout:1.0" --json
assert_eq 0 "$RC" "umoci stat --json"
check "bundle config.json was generated" jq -e '.process != null and .root.path == "rootfs"' "$T/bundle/config.json"

say "--no-xattrs drops every extended attribute (and only them)"
kiln_build --rootfs "$R" --no-xattrs -o "oci:$T/noxattr:1"
layer_manifest "$(blob "$T/noxattr" "$(layout_manifest "$T/noxattr" | jq -r '.layers[0].digest')")" >"$T/noxattr.m"
awk 'BEGIN { FS = " [|] "; OFS = " | " } { $6 = "-"; print }' "$T/src.m" >"$T/src-noxattr.m"
check "setup: the source has xattrs to drop" grep -q 'security.capability=' "$T/src.m"
assert_same_text "$T/src-noxattr.m" "$T/noxattr.m" "--no-xattrs layer = source without xattrs"

say "sockets are skipped with a warning"
mkdir -p "$T/sock"
echo keep >"$T/sock/file"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/sock/the.sock"
[ -S "$T/sock/the.sock" ] || fail "setup: no socket"
run "$KILN" build --rootfs "$T/sock" -o "oci:$T/sockout:1"
assert_eq 0 "$RC" "a tree with a socket builds"
assert_contains "the.sock" "$ERR" "stderr warns about the skipped socket"
if [ "$RC" -eq 0 ]; then
  assert_eq "file" "$(python3 "$LIB_DIR/treeinfo.py" names "$(blob "$T/sockout" "$(layout_manifest "$T/sockout" | jq -r '.layers[0].digest')")" | sed 's#^\./##; s#/$##' | grep -v '^\.\?$' | tr '\n' ' ' | sed 's/ $//')" "the layer holds the file and not the socket"
fi
run "$KILN" build -q --rootfs "$T/sock" -o "oci:$T/sockout-q:1"
assert_eq 0 "$RC" "-q: a tree with a socket builds"
assert_eq "" "$ERR" "-q: no warning on stderr"

say "--platform: GNU/Yocto names map to Go's"
mkdir -p "$T/tiny"; echo tiny >"$T/tiny/f"
while read -r given os arch variant; do
  run "$KILN" build --rootfs "$T/tiny" --platform "$given" -o "oci:$T/plat:p"
  if [ "$RC" -ne 0 ]; then not_ok "--platform $given builds" "$ERR"; continue; fi
  cf=$(layout_config "$T/plat" p)
  got="$(printf '%s' "$cf" | jq -r '.os + " " + .architecture + " " + (.variant // "-")')"
  if [ "$given" = linux/aarch64 ] && [ "$got" = "linux arm64 v8" ]; then got="linux arm64 -"; fi
  assert_eq "$os $arch $variant" "$got" "--platform $given → $os/$arch${variant#-}"
  pl=$(jq -c --arg d "$OUT" '.manifests[] | select(.digest == $d) | .platform // empty' "$T/plat/index.json" 2>/dev/null || true)
  if [ -n "$OUT" ] && [ -n "$pl" ]; then
    assert_eq "$os $arch $variant" "$(printf '%s' "$pl" | jq -r '.os + " " + .architecture + " " + (.variant // "-")' | sed 's/^linux arm64 v8$/linux arm64 -/')" "--platform $given: index.json descriptor platform agrees"
  fi
  rm -rf "$T/plat"
done <<'EOF2'
linux/x86_64 linux amd64 -
linux/amd64 linux amd64 -
linux/aarch64 linux arm64 -
linux/armv7 linux arm v7
linux/armhf linux arm v7
linux/arm/v7 linux arm v7
linux/armv6 linux arm v6
linux/armel linux arm v6
linux/i686 linux 386 -
linux/ppc64le linux ppc64le -
linux/riscv64 linux riscv64 -
linux/mips64el linux mips64le -
linux/loongarch64 linux loong64 -
EOF2

say "oci: DEST TAG defaults, and adding to an existing layout"
kiln_build --rootfs "$T/tiny" --tag registry.example.com/team/app:3.1 -o "oci:$T/deftag"
assert_eq "3.1" "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$T/deftag/index.json")" "TAG defaults to the first --tag's tag"
kiln_build --rootfs "$T/tiny" -o "oci:$T/notag"
assert_eq "latest" "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$T/notag/index.json")" "TAG defaults to latest without --tag"
kiln_build --rootfs "$T/tiny" --source-date-epoch 1 -o "oci:$T/multi:a"
DA=$DIGEST
kiln_build --rootfs "$R" --source-date-epoch 1 -o "oci:$T/multi:b"
DB=$DIGEST
assert_eq "a=$DA b=$DB" "$(jq -r '[.manifests[] | "\(.annotations["org.opencontainers.image.ref.name"])=\(.digest)"] | sort | join(" ")' "$T/multi/index.json")" "a second build adds its image to the existing layout"
check "the shared layout's blobs all hash to their names" verify_layout_blobs "$T/multi"
for ref in a b; do
  run oci-image-tool validate --type image --ref "name=$ref" "$T/multi"
  assert_eq 0 "$RC" "oci-image-tool validates ref $ref in the shared layout" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
done
echo changed >"$T/tiny/f"
kiln_build --rootfs "$T/tiny" --source-date-epoch 1 -o "oci:$T/multi:a"
DA2=$DIGEST
assert_ne "$DA" "$DA2" "setup: the rebuilt image differs"
assert_eq "a=$DA2 b=$DB" "$(jq -r '[.manifests[] | "\(.annotations["org.opencontainers.image.ref.name"])=\(.digest)"] | sort | join(" ")' "$T/multi/index.json")" "rebuilding tag a replaces its descriptor (no duplicate ref.name)"
run umoci unpack --image "$T/multi:a" "$T/bundle-a"
assert_eq "changed" "$(cat "$T/bundle-a/rootfs/f" 2>&1)" "umoci unpacks the new a"

say "--tar of the same tree (GNU tar, Yocto style), in every compression"
tar --numeric-owner --xattrs --xattrs-include='*' -C "$R" -cf "$T/rich.tar" .
bzip2 -kc "$T/rich.tar" >"$T/rich.tar.bz2"
gzip -c "$T/rich.tar" >"$T/rich.tar.gz"
xz -T1 -c "$T/rich.tar" >"$T/rich.tar.xz"
zstd -qc "$T/rich.tar" >"$T/rich.tar.zst"
prev=
for f in rich.tar rich.tar.gz rich.tar.bz2 rich.tar.xz rich.tar.zst; do
  run "$KILN" build --tar "$T/$f" --source-date-epoch 1700000000 -o "oci:$T/tar-$f:1"
  if [ "$RC" -ne 0 ]; then not_ok "--tar $f builds" "$ERR"; continue; fi
  ok "--tar $f builds"
  mf=$(layout_manifest "$T/tar-$f")
  layer_manifest "$(blob "$T/tar-$f" "$(printf '%s' "$mf" | jq -r '.layers[0].digest')")" >"$T/tar-$f.m"
  assert_same_text "$T/src.m" "$T/tar-$f.m" "--tar $f: layer = source tree"
  did=$(layout_config "$T/tar-$f" | jq -r '.rootfs.diff_ids[0]')
  if [ -n "$prev" ]; then assert_eq "$prev" "$did" "--tar $f: same diff_id as the plain tar (compression of the input does not matter)"; fi
  prev=$did
done
kiln_build --rootfs "$R" --source-date-epoch 1700000000 -o "oci:$T/rootfs-sde:1"
rd=$(layout_config "$T/rootfs-sde" | jq -r '.rootfs.diff_ids[0]')
if [ "$rd" = "$prev" ]; then say "--rootfs and --tar of the same tree give the same diff_id"
else say "note: --rootfs and --tar of the same tree give different diff_ids ($rd vs $prev): same content, different tar encoding"; fi
