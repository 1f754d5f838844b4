#!/usr/bin/env bash
# Hostile and extreme inputs: tar bombs (bounded by --max-bytes and --max-entries),
# a directory of 100,000 files, deeply nested long
# names (paths of several KiB), names with newlines and other control bytes.
# Each builds in bounded memory, round-trips exactly through umoci and kiln
# unpack, and the layer tar is valid for Python's and GNU tar's readers.
. "$(dirname "$0")/lib.sh"
need_root
need umoci python3 tar
export SOURCE_DATE_EPOCH=1700000000

say "100,000 files in one directory"
mkdir -p "$T/many/d"
python3 - "$T/many/d" <<'PY'
import os, sys
d = sys.argv[1]
for i in range(100000):
    with open(os.path.join(d, "f%06d" % i), "w") as f:
        f.write("%d\n" % i)
PY
run /usr/bin/time -f '%M' "$KILN" build --rootfs "$T/many" -o "oci:$T/many-oci:1"
assert_eq 0 "$RC" "kiln builds it"
rss=$(printf '%s\n' "$ERR" | tail -n 1)
if [ "${rss:-999999}" -lt 131072 ]; then ok "peak RSS ${rss} KiB (< 128 MiB)"; else not_ok "peak RSS ${rss} KiB"; fi
n=$(tar -tzf "$(blob "$T/many-oci" "$(layout_manifest "$T/many-oci" 1 | jq -r '.layers[0].digest')")" | wc -l)
assert_eq 100001 "$n" "the layer lists d/ and the 100,000 files, nothing else"

say "deeply nested long names and odd bytes"
python3 - "$T/odd" <<'PY'
import os, sys
root = sys.argv[1]
p = root
for i in range(30):                      # 30 levels of 100-byte names: 3 KiB paths
    p = os.path.join(p, ("n%02d" % i) + "x" * 97)
os.makedirs(p)
with open(os.path.join(p, "deep.txt"), "w") as f:
    f.write("deep\n")
odd = os.path.join(root, "odd")
os.makedirs(odd)
for name in ["new\nline", "tab\there", "carriage\rreturn", "esc\x1b[31m", "back\\slash",
             "quote\"'", "star*?[x]", " leading space", "trailing space ", "-dash", "\x7fdel"]:
    with open(os.path.join(odd, name), "w") as f:
        f.write(repr(name))
os.symlink("new\nline", os.path.join(odd, "link\nto newline"))
PY
kiln_build --rootfs "$T/odd" -o "oci:$T/odd-oci:1"
L=$(blob "$T/odd-oci" "$(layout_manifest "$T/odd-oci" 1 | jq -r '.layers[0].digest')")
run python3 -c 'import sys, tarfile; t = tarfile.open(sys.argv[1]); print(len(t.getmembers()))' "$L"
assert_eq 0 "$RC" "Python's tarfile reads the layer"
run tar -tzf "$L"
assert_eq 0 "$RC" "GNU tar reads the layer"
run "$KILN" unpack "oci:$T/odd-oci:1" "$T/odd-unpacked"
assert_eq 0 "$RC" "kiln unpack applies it"
tree_manifest "$T/odd" >"$T/odd.src"; tree_manifest "$T/odd-unpacked" >"$T/odd.kiln"
assert_same_text "$T/odd.src" "$T/odd.kiln" "kiln unpack = source (3 KiB paths, newlines, control bytes)"
run umoci unpack --image "$T/odd-oci:1" "$T/odd-bundle"
assert_eq 0 "$RC" "umoci unpacks it"
tree_manifest "$T/odd-bundle/rootfs" >"$T/odd.umoci"
assert_same_text "$T/odd.src" "$T/odd.umoci" "umoci unpack = source"

say "tar bombs are bounded by --max-bytes and --max-entries"
mkdir -p "$T/bomb"; head -c 60000000 /dev/zero >"$T/bomb/zeros"
tar -C "$T/bomb" -czf "$T/bomb.tgz" zeros
python3 - "$T/many.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for i in range(5000):
        t.addfile(tarfile.TarInfo("f%d" % i), io.BytesIO(b""))
PY
run "$KILN" build --tar "$T/bomb.tgz" --max-bytes 10000000 -o "oci:$T/b1"
assert_eq 1 "$RC" "a tarball expanding beyond --max-bytes is refused"
assert_contains "--max-bytes" "$ERR" "the error names the bound"
assert_not_exists "$T/b1" "nothing written"
# a sparse member: 1 GiB of holes in a few hundred bytes; streamed (sorted)
# and spooled (the same members out of order) alike, holes count
mkdir -p "$T/sparse"; truncate -s 1G "$T/sparse/holes"; echo a >"$T/sparse/a"
tar -S -C "$T/sparse" -czf "$T/sparse-sorted.tgz" a holes
tar -S -C "$T/sparse" -czf "$T/sparse-unsorted.tgz" holes a
for v in sorted unsorted; do
  run "$KILN" build --tar "$T/sparse-$v.tgz" --max-bytes 10000000 -o "oci:$T/b-$v"
  assert_eq 1 "$RC" "a sparse member expanding beyond --max-bytes is refused ($v members)"
  assert_contains "--max-bytes" "$ERR" "… naming the bound ($v)"
  assert_not_exists "$T/b-$v" "… writing nothing ($v)"
done
run "$KILN" build --tar "$T/many.tar" --max-entries 1000 -o "oci:$T/b2"
assert_eq 1 "$RC" "a tarball of more than --max-entries members is refused"
assert_contains "--max-entries" "$ERR" "the error names the bound"
run "$KILN" build --tar "$T/bomb.tgz" -o "oci:$T/b3"
assert_eq 0 "$RC" "within the default bounds it builds"
