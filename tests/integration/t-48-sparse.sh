#!/usr/bin/env bash
# Sparse files: holes are found with SEEK_DATA/SEEK_HOLE and written as zeros
# without being read, and the layer is byte for byte the one a fully written
# copy of the same content gives (the tar holds the full data: no sparse
# members). Data regions start and end at odd offsets, a file starts and ends
# with a hole, one ends in data, one is a hole only.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need python3 jq tar cmp strace

N=1700000000
# tmpfs keeps holes and answers SEEK_DATA/SEEK_HOLE on every kernel kiln runs on.
mkdir -p "$T/mnt"
mount -t tmpfs -o size=64m,mode=755 tmpfs "$T/mnt" || fail "cannot mount a tmpfs (tests run as root)"
S=$T/mnt/sparse
mkdir -p "$S/d"
python3 - "$S/d" <<'EOF'
import os, sys, random
d = sys.argv[1]
rnd = random.Random(46)
def make(name, size, regions):
    fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.ftruncate(fd, size)
    for off, n in regions:
        os.pwrite(fd, rnd.randbytes(n), off)
    os.close(fd)
M = 1 << 20
# a hole first and last, data at odd offsets across 1 MiB read chunks
make("holes", 100 * M + 12345, [(1, 7), (4097, 3 * M + 3), (49 * M + 511, 5000), (80 * M - 3, 9)])
# data up to the very end
make("data-at-end", 20 * M + 1, [(0, 513), (20 * M - 1000, 1001)])
# only a hole
make("empty-hole", 8 * M + 7, [])
EOF
touch -d "@$N" "$S/d"/* "$S/d" "$S"
blocks=$(stat -c %b "$S/d/holes"); size=$(stat -c %s "$S/d/holes")
[ $((blocks * 512)) -lt $((size / 10)) ] || fail "setup: $S/d/holes is not sparse ($blocks blocks for $size bytes)"
ok "setup: d/holes has $blocks blocks for $size bytes"

# The same content written out in full, outside the tmpfs (which is too small for it).
F=$T/full
mkdir -p "$F/d"
for f in "$S"/d/*; do cp --sparse=never "$f" "$F/d/"; done
touch -d "@$N" "$F/d"/* "$F/d" "$F"
assert_eq "$(stat -c %s "$S/d/holes")" "$(stat -c %s "$F/d/holes")" "setup: full copy has the same size"
check "setup: full copy has the same content" cmp "$S/d/holes" "$F/d/holes"
fb=$(stat -c %b "$F/d/holes")
[ $((fb * 512)) -ge "$size" ] || fail "setup: $F/d/holes is sparse too ($fb blocks), cannot compare"

for c in none gzip; do
  kiln_build --rootfs "$S" --compression "$c" --source-date-epoch "$N" -o "oci:$T/s-$c:x"
  ds=$DIGEST
  kiln_build --rootfs "$F" --compression "$c" --source-date-epoch "$N" -o "oci:$T/f-$c:x"
  assert_eq "$DIGEST" "$ds" "$c: the sparse tree's image digest = the fully written tree's"
  ls_=$(blob "$T/s-$c" "$(layout_manifest "$T/s-$c" | jq -r '.layers[0].digest')")
  lf=$(blob "$T/f-$c" "$(layout_manifest "$T/f-$c" | jq -r '.layers[0].digest')")
  check "$c: layer blobs byte-identical" cmp "$ls_" "$lf"
done

say "the layer holds the full content, no sparse members"
mkdir -p "$T/x"
decompress "$(blob "$T/s-gzip" "$(layout_manifest "$T/s-gzip" | jq -r '.layers[0].digest')")" >"$T/layer.tar"
tar -tvf "$T/layer.tar" >"$T/list"
check_not "no GNU sparse member (type S) or GNU.sparse records" grep -aqE 'GNU\.sparse|^S' "$T/list"
tar -xf "$T/layer.tar" -C "$T/x"
for f in holes data-at-end empty-hole; do
  check "d/$f extracted from the layer = the source" cmp "$S/d/$f" "$T/x/d/$f"
done
rm -f "$T/layer.tar"

say "holes are not read"
{
  # (LeakSanitizer cannot run under ptrace: an ASan build checks leaks elsewhere)
  run env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -e trace=read,pread64 -o "$T/strace" "$KILN" build --rootfs "$S" --compression none --source-date-epoch "$N" -o "oci:$T/st:x"
  assert_eq 0 "$RC" "kiln build under strace succeeded"
  # bytes read from the tree's files: a few MiB of data, not the 125 MiB of holes
  bytes=$(awk -F'= ' '/^[0-9]+ +(read|pread64)\(/ && $NF ~ /^[0-9]+$/ {s += $NF} END {print s + 0}' "$T/strace")
  if [ "$bytes" -lt $((16 << 20)) ]; then ok "kiln read $bytes bytes (the data, not the holes)"
  else not_ok "kiln read $bytes bytes: the holes were read"; fi
  rm -f "$T/strace"
}
