#!/usr/bin/env bash
# Reproducibility: the same logical tree, created in a different order, with
# different mtimes and readdir order, gives byte-identical outputs under
# SOURCE_DATE_EPOCH / --source-date-epoch, for gzip, zstd and no compression.
# Without it, config "created" is now and file mtimes are kept.
# shellcheck disable=SC2154  # D_* are set through eval in build()
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need jq python3 setfattr getfattr setcap zstd gzip

N=1700000000                  # 2023-11-14T22:13:20Z
NISO=2023-11-14T22:13:20Z

# tmpfs lists a directory newest-first, so creating the entries in the
# opposite order really changes the order in which a walk sees them.
mkdir -p "$T/mnt"
mount -t tmpfs -o size=256m,mode=755 tmpfs "$T/mnt" || fail "cannot mount a tmpfs (tests run as root)"
A=$T/mnt/a
B=$T/mnt/b
make_rich_rootfs "$A" forward
sleep 1
make_rich_rootfs "$B" reverse
# B: every mtime moved to mid-2024 (all still after N); A keeps "now".
find "$B" -depth -exec touch -h -d '2024-06-01 12:34:56.789 UTC' {} +
tree_manifest "$A" >"$T/a.m"
tree_manifest "$B" >"$T/b.m"
assert_same_text "$T/a.m" "$T/b.m" "setup: A and B hold the same logical tree"
tree_manifest "$A" --mtime >"$T/a.mt"
tree_manifest "$B" --mtime >"$T/b.mt"
check_not "setup: A and B differ in mtimes" cmp -s "$T/a.mt" "$T/b.mt"
assert_ne "$(ls -f "$A/data" | tr '\n' ' ')" "$(ls -f "$B/data" | tr '\n' ' ')" "setup: A and B differ in readdir order"

outs() { # DIR: the -o arguments for one build into DIR
  echo "-o" "oci:$1/layout:r" "-o" "oci-archive:$1/img.oci.tar:r" "-o" "docker-archive:$1/img.docker.tar"
}
# build NAME ROOTFS [kiln args]: (SOURCE_DATE_EPOCH from the caller's env)
build() {
  local name=$1 root=$2; shift 2
  mkdir -p "$T/$name"
  # shellcheck disable=SC2046
  kiln_build --rootfs "$root" --tag rep:1 "$@" $(outs "$T/$name")
  eval "D_$name=\$DIGEST"
}
# same_outputs X Y WHAT: every output of build X and build Y is byte-identical
same_outputs() {
  local x=$T/$1 y=$T/$2 what=$3
  assert_same_file "$x/img.oci.tar" "$y/img.oci.tar" "$what: oci-archive identical"
  assert_same_file "$x/img.docker.tar" "$y/img.docker.tar" "$what: docker-archive identical"
  assert_same_file "$x/layout/index.json" "$y/layout/index.json" "$what: index.json identical"
  assert_eq "$(cd "$x/layout" && find . | sort)" "$(cd "$y/layout" && find . | sort)" "$what: same set of files in the layouts"
  check "$what: every blob identical (diff -r of the layouts)" diff -r "$x/layout" "$y/layout"
}

say "gzip (default): SOURCE_DATE_EPOCH env vs --source-date-epoch, forward vs reverse tree"
SOURCE_DATE_EPOCH=$N build g1 "$A"
# the second build runs from another directory with a relative --rootfs
( cd "$T/mnt" && build g2 b --source-date-epoch "$N" && printf '%s' "$DIGEST" >"$T/g2.digest" ) || fail "build g2"
D_g2=$(cat "$T/g2.digest")
assert_eq "$D_g1" "$D_g2" "gzip: printed digests equal"
same_outputs g1 g2 "gzip"
SOURCE_DATE_EPOCH=$N build g3 "$A"
assert_eq "$D_g1" "$D_g3" "gzip: the same tree built twice gives the same digest"
same_outputs g1 g3 "gzip, same tree twice"

MF=$(blob "$T/g1/layout" "$D_g1")
CF=$(blob "$T/g1/layout" "$(jq -r .config.digest "$MF")")
LB=$(blob "$T/g1/layout" "$(jq -r '.layers[0].digest' "$MF")")
assert_eq "$NISO" "$(jq -r .created "$CF")" "config created = SOURCE_DATE_EPOCH"
check "history entries (if any) are dated SOURCE_DATE_EPOCH" jq -e --arg c "$NISO" '[.history[]?.created // $c] | all(. == $c)' "$CF"
assert_eq "1f8b08" "$(head -c 3 "$LB" | od -An -tx1 | tr -d ' \n')" "gzip layer starts with the gzip magic"
assert_eq "00000000" "$(dd if="$LB" bs=1 skip=4 count=4 2>/dev/null | od -An -tx1 | tr -d ' \n')" "gzip header MTIME is 0"
assert_eq 0 "$(( $(dd if="$LB" bs=1 skip=3 count=1 2>/dev/null | od -An -tu1) & 8 ))" "gzip header has no file name"
python3 "$LIB_DIR/treeinfo.py" hygiene "$LB" --epoch "$N" >"$T/hyg" || true
for k in dup parent-after-child-or-missing absolute dotdot mtime-after-epoch pax-atime pax-ctime uname-gname mixed-dot-slash-prefix xattr-not-schily; do
  if grep -q "^$k:" "$T/hyg"; then not_ok "layer: no '$k' problems" "$(grep "^$k:" "$T/hyg" | head -n 5)"
  else ok "layer: no '$k' problems"; fi
done
layer_manifest "$LB" --mtime >"$T/g1.layer"
if awk -F' [|] ' -v n="$N" '{ sub(/^mtime=/, "", $8); if ($8 != n) { print; bad=1 } } END { exit bad }' "$T/g1.layer" >"$T/bad-mtime"; then
  ok "every entry's mtime is exactly N (all source mtimes were later)"
else
  not_ok "every entry's mtime is exactly N (all source mtimes were later)" "$(head -n 5 "$T/bad-mtime")"
fi
layer_manifest "$LB" >"$T/g1.content"
assert_same_text "$T/a.m" "$T/g1.content" "the layer holds the source tree"

say "zstd"
SOURCE_DATE_EPOCH=$N build z1 "$A" --compression zstd
build z2 "$B" --compression zstd --source-date-epoch "$N"
assert_eq "$D_z1" "$D_z2" "zstd: printed digests equal"
same_outputs z1 z2 "zstd"
MFZ=$(blob "$T/z1/layout" "$D_z1")
assert_eq "application/vnd.oci.image.layer.v1.tar+zstd" "$(jq -r '.layers[0].mediaType' "$MFZ")" "zstd: layer mediaType"
LZ=$(blob "$T/z1/layout" "$(jq -r '.layers[0].digest' "$MFZ")")
assert_eq "28b52ffd" "$(head -c 4 "$LZ" | od -An -tx1 | tr -d ' \n')" "zstd: blob starts with the zstd magic"
assert_eq "$(jq -c .rootfs.diff_ids "$CF")" "$(jq -c .rootfs.diff_ids "$(blob "$T/z1/layout" "$(jq -r .config.digest "$MFZ")")")" "zstd: same diff_ids as gzip (same uncompressed layer)"

say "no compression"
SOURCE_DATE_EPOCH=$N build n1 "$A" --compression none
build n2 "$B" --compression none --source-date-epoch "$N"
assert_eq "$D_n1" "$D_n2" "none: printed digests equal"
same_outputs n1 n2 "none"
MFN=$(blob "$T/n1/layout" "$D_n1")
assert_eq "application/vnd.oci.image.layer.v1.tar" "$(jq -r '.layers[0].mediaType' "$MFN")" "none: layer mediaType"
assert_eq "$(jq -r '.rootfs.diff_ids[0]' "$CF")" "$(jq -r '.layers[0].digest' "$MFN")" "none: layer digest = gzip build's diff_id"
assert_eq "$(jq -r .config.digest "$MF")" "$(jq -r .config.digest "$MFN")" "none: config identical to the gzip build's"

say "a different epoch changes the image"
SOURCE_DATE_EPOCH=$((N + 1)) build e1 "$A"
assert_ne "$D_g1" "$D_e1" "SOURCE_DATE_EPOCH=N+1 gives another digest"

say "clamping: older mtimes are kept, newer ones become N"
C=$T/c
mkdir -p "$C"
echo old >"$C/old"; echo new >"$C/new"; echo future >"$C/future"
touch -d '2001-02-03 04:05:06 UTC' "$C/old"        # 981173106
touch -d '2035-01-01 00:00:00 UTC' "$C/future"     # 2051222400
NEWM=$(stat -c %Y "$C/new")
SOURCE_DATE_EPOCH=$N build c1 "$C"
L1=$(blob "$T/c1/layout" "$(layout_manifest "$T/c1/layout" | jq -r '.layers[0].digest')")
layer_manifest "$L1" --mtime >"$T/c1.layer"
assert_contains "old | f | 0644 | 0:0 | 4:" "$(grep '^old ' "$T/c1.layer")" "c1: old file present"
assert_eq "mtime=981173106" "$(grep '^old ' "$T/c1.layer" | awk -F' [|] ' '{print $8}')" "with SOURCE_DATE_EPOCH: an mtime before N is kept"
assert_eq "mtime=$N" "$(grep '^new ' "$T/c1.layer" | awk -F' [|] ' '{print $8}')" "with SOURCE_DATE_EPOCH: a recent mtime is clamped to N"
assert_eq "mtime=$N" "$(grep '^future ' "$T/c1.layer" | awk -F' [|] ' '{print $8}')" "with SOURCE_DATE_EPOCH: a future mtime is clamped to N"

say "without SOURCE_DATE_EPOCH: created is now, mtimes are kept"
t0=$(date +%s)
build c2 "$C"
t1=$(date +%s)
CR=$(layout_config "$T/c2/layout" | jq -r .created)
CRS=$(date -d "$CR" +%s 2>/dev/null || echo 0)
if [ "$CRS" -ge $((t0 - 2)) ] && [ "$CRS" -le $((t1 + 2)) ]; then ok "config created ($CR) is the build time"
else not_ok "config created ($CR) is the build time" "expected between $t0 and $t1, got $CRS"; fi
L2=$(blob "$T/c2/layout" "$(layout_manifest "$T/c2/layout" | jq -r '.layers[0].digest')")
layer_manifest "$L2" --mtime >"$T/c2.layer"
assert_eq "mtime=981173106" "$(grep '^old ' "$T/c2.layer" | awk -F' [|] ' '{print $8}')" "no epoch: old mtime kept"
assert_eq "mtime=$NEWM" "$(grep '^new ' "$T/c2.layer" | awk -F' [|] ' '{print $8}')" "no epoch: recent mtime kept"
assert_eq "mtime=2051222400" "$(grep '^future ' "$T/c2.layer" | awk -F' [|] ' '{print $8}')" "no epoch: future mtime kept"

say "tarball input: streamed when already sorted, spooled and sorted otherwise; same image either way"
# GNU tar --sort=name writes members in kiln's canonical order: kiln streams
# them (no spool file). B's tar is in tmpfs order (reverse creation order):
# kiln notices the first member out of order and starts the layer again,
# spooled and sorted. A duplicate appended at the end (tar -r) is noticed
# only on the last member.
tar_of() { tar --numeric-owner --format=posix --xattrs --xattrs-include='*' -C "$1" -cf "$2" "${@:3}" .; }
tar_of "$A" "$T/sorted.tar" --sort=name
tar_of "$B" "$T/unsorted.tar"
check_not "setup: the two tarballs list their members in different orders" \
  cmp -s <(tar -tf "$T/sorted.tar") <(tar -tf "$T/unsorted.tar")
cp "$T/sorted.tar" "$T/dup.tar"
tar --numeric-owner --format=posix --xattrs --xattrs-include='*' -C "$A" -rf "$T/dup.tar" ./data
tartest() { # NAME TAR [kiln args]
  local name=$1 tarball=$2; shift 2
  mkdir -p "$T/$name"
  # shellcheck disable=SC2046
  kiln_build -v --tar "$tarball" --tag rep:1 --source-date-epoch "$N" "$@" $(outs "$T/$name")
  eval "D_$name=\$DIGEST"
  eval "E_$name=\$ERR"
}
tartest ts "$T/sorted.tar"
tartest tu "$T/unsorted.tar"
tartest td "$T/dup.tar"
assert_eq "$D_ts" "$D_tu" "sorted (streamed) and unsorted (spooled) tarballs give the same digest"
same_outputs ts tu "streamed vs spooled --tar"
assert_eq "$D_ts" "$D_td" "a duplicate member at the very end: same image (the last copy wins, it is identical)"
check_not "sorted tarball: streamed (no 'sorting them' notice)" grep -q "sorting them" <<<"$E_ts"
check "unsorted tarball: kiln says it sorts the members" grep -q "not in canonical order: sorting them" <<<"$E_tu"
check "duplicate at the end: noticed, sorted" grep -q "sorting them" <<<"$E_td"
# Streaming needs no temporary space at all: with TMPDIR unusable, the sorted
# tarball still builds, the unsorted one fails naming TMPDIR.
mkdir -p "$T/tsn"
TMPDIR=/nonexistent/kiln-tmp run "$KILN" build --tar "$T/sorted.tar" --tag rep:1 --source-date-epoch "$N" -o "oci:$T/tsn/layout:r"
assert_eq 0 "$RC" "sorted tarball with TMPDIR unusable: built (nothing spooled)"
assert_eq "$D_ts" "$OUT" "… and the same digest"
mkdir -p "$T/tun"
TMPDIR=/nonexistent/kiln-tmp run "$KILN" build --tar "$T/unsorted.tar" --tag rep:1 --source-date-epoch "$N" -o "oci:$T/tun/layout:r"
assert_ne 0 "$RC" "unsorted tarball with TMPDIR unusable: refused"
assert_contains "/nonexistent/kiln-tmp" "$ERR" "… naming the temporary directory"
assert_not_exists "$T/tun/layout" "… and writing nothing"
# A tarball of a tree is the tree: --tar of GNU tar's archive = --rootfs.
assert_eq "$(layout_config "$T/g1/layout" r | jq -r ".rootfs.diff_ids[0]")" "$(layout_config "$T/ts/layout" r | jq -r ".rootfs.diff_ids[0]")" "--tar of a GNU tar archive of A = --rootfs A (same diff_id)"

say "sparse members (GNU tar -S): holes, a trailing hole included, streamed as zeros like the spool path"
S=$T/sparse
mkdir -p "$S"
truncate -s 20M "$S/sparse"
printf x | dd of="$S/sparse" bs=1 seek=100 conv=notrunc 2>/dev/null
printf middle | dd of="$S/sparse" bs=1 seek=5000000 conv=notrunc 2>/dev/null
echo hi >"$S/small"
tar -S --numeric-owner --format=posix -C "$S" -cf "$T/sp-sorted.tar" ./small ./sparse
tar -S --numeric-owner --format=posix -C "$S" -cf "$T/sp-unsorted.tar" ./sparse ./small
tartest sps "$T/sp-sorted.tar"
tartest spu "$T/sp-unsorted.tar"
check_not "sparse, sorted: streamed" grep -q "sorting them" <<<"$E_sps"
assert_eq "$D_sps" "$D_spu" "sparse: streamed and spooled give the same image"
L=$(blob "$T/sps/layout" "$(layout_manifest "$T/sps/layout" r | jq -r '.layers[0].digest')")
assert_same_file "$S/sparse" <(decompress "$L" | tar -xOf - sparse) "sparse: the layer holds the file's exact bytes (20 MiB, holes as zeros)"

say "a layer of several gzip members (4 MiB of tar each) reads back with zlib and with GNU gzip"
DIFF=$(layout_config "$T/sps/layout" r | jq -r '.rootfs.diff_ids[0]')
read -r members zsum < <(python3 - "$L" <<'PY'
import hashlib, sys, zlib
data = open(sys.argv[1], "rb").read()
h, n = hashlib.sha256(), 0
while data:
    d = zlib.decompressobj(wbits=31)  # zlib's gzip reader, one member at a time
    h.update(d.decompress(data))
    if not d.eof:
        sys.exit("truncated member")
    data, n = d.unused_data, n + 1
print(n, "sha256:" + h.hexdigest())
PY
)
TARBYTES=$(gzip -dc <"$L" | wc -c)
assert_eq $(( (TARBYTES + 4194303) / 4194304 )) "$members" "one gzip member per 4 MiB of tar ($TARBYTES bytes)"
assert_eq "$DIFF" "$zsum" "zlib (Python's zlib, member by member): uncompressed sha256 = diff_id"
assert_eq "$DIFF" "sha256:$(gzip -dc <"$L" | sha256sum | cut -c1-64)" "GNU gzip -dc: uncompressed sha256 = diff_id"

say "golden digests: a fixed tree gives the same image across kiln versions"
# The digests below were computed by kiln at b3be4d9 (before the shared-layout
# and image-model work of #12): a change that moves them changes every user's
# images, and must say so.
G=$T/golden
mkdir -p "$G/etc" "$G/usr/bin" "$G/var/empty" "$G/opt/app"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/opt/app:/bin/sh\n' >"$G/etc/passwd"
printf '#!/bin/sh\necho golden\n' >"$G/usr/bin/hello"
seq 1 20000 >"$G/opt/app/data.txt"
ln -s ../usr/bin/hello "$G/opt/app/run"
ln "$G/opt/app/data.txt" "$G/opt/app/data-link.txt"
chmod 0755 "$G/usr/bin/hello"; chmod 0700 "$G/var/empty"; chmod 4755 "$G/opt/app"
chown -R 1000:1000 "$G/opt/app"
golden() { # COMPRESSION: the manifest digest of the fixed tree
  SOURCE_DATE_EPOCH=$N "$KILN" build --rootfs "$G" --compression "$1" --entrypoint '["/usr/bin/hello"]' \
    --env A=1 --label k=v --user 1000:1000 --platform linux/amd64 -t golden:1 -o "oci:$T/golden-$1"
}
assert_eq sha256:9a757885edb3a87420cc0b25334f5d0ad84fc97c9484e03d52134a1fe4f352b7 "$(golden gzip)" "golden: gzip image digest unchanged"
assert_eq sha256:6f5cf3e29c99c63d21df60b5c48fab8350b32f6b62be9b96c25048e3cd58c6f7 "$(golden zstd)" "golden: zstd image digest unchanged"
assert_eq sha256:4168cd04de176e144d935f6dd24b5eb8a536d45e1ef2095f21f7fc4657aa039d "$(golden none)" "golden: uncompressed image digest unchanged"
