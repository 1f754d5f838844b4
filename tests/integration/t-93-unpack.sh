#!/usr/bin/env bash
# kiln unpack: the image's filesystem with every layer and whiteout applied. It
# equals the source tree (owners, modes, xattrs, hardlinks, devices), equals what
# docker export shows for the same image, maps owners to the caller when not
# root, and refuses hostile layers (.., absolute names, symlink escapes) by name
# without writing anything outside (or anything at all). Layers umoci writes
# ('/' as the root entry; a last member with no padding, umoci#436) unpack as
# umoci, podman and docker unpack them, with a warning; other short layers
# stay refused.
. "$(dirname "$0")/lib.sh"
need_root
need jq python3 tar gzip skopeo dockerd umoci podman
MK=$(dirname "$0")/tools/mklayout.py
SETLAYER=$(dirname "$0")/tools/setlayer.py
export SOURCE_DATE_EPOCH=1700000000

say "a rich tree round-trips"
make_rich_rootfs "$T/rootfs"
kiln_build --rootfs "$T/rootfs" -o "oci:$T/rich:1" -o "docker-archive:$T/rich.tar"
run "$KILN" unpack "oci:$T/rich:1" "$T/u1"
assert_eq 0 "$RC" "kiln unpack exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
tree_manifest "$T/rootfs" >"$T/src.tree"; tree_manifest "$T/u1" >"$T/u1.tree"
assert_same_text "$T/src.tree" "$T/u1.tree" "unpacked = source tree (owners, modes, xattrs, links, devices)"
run "$KILN" unpack "docker-archive:$T/rich.tar" "$T/u1b"
tree_manifest "$T/u1b" >"$T/u1b.tree"
assert_same_text "$T/src.tree" "$T/u1b.tree" "the same from the docker archive"
run "$KILN" unpack "oci:$T/rich:1" "$T/u1"
assert_eq 1 "$RC" "an existing DIR is refused"

say "whiteouts and opaque directories"
cat >"$T/l1.json" <<'J'
[{"name":"a","type":"dir"},{"name":"a/x","type":"file","data":"x"},{"name":"a/y","type":"file","data":"y"},
 {"name":"b","type":"dir"},{"name":"b/z","type":"file","data":"z"},
 {"name":"d","type":"dir"},{"name":"d/old1","type":"file","data":"1"},{"name":"d/old2","type":"file","data":"2"},
 {"name":"usrbin","type":"dir"},{"name":"usrbin/tool","type":"file","data":"t"},
 {"name":"bin","type":"dir"},{"name":"bin/sh","type":"file","data":"sh"}]
J
cat >"$T/l2.json" <<'J'
[{"name":"a/.wh.x","type":"file"},{"name":".wh.b","type":"file"},
 {"name":"d/.wh..wh..opq","type":"file"},{"name":"d/new","type":"file","data":"n"},
 {"name":"bin","type":"symlink","target":"usrbin"},{"name":"lnk","type":"hardlink","target":"a/y"}]
J
python3 "$MK" "$T/wh" 1 "$T/l1.json" "$T/l2.json"
run "$KILN" unpack "oci:$T/wh:1" "$T/u2"
assert_eq 0 "$RC" "unpack of a layered image with whiteouts"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq "a a/y bin d d/new lnk usrbin usrbin/tool" "$(cd "$T/u2" && find . -mindepth 1 | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')" \
  "deleted files gone, opaque dir replaced, dir replaced by a symlink"
assert_eq "usrbin" "$(readlink "$T/u2/bin")" "bin is the symlink now"
assert_eq "$(stat -c %i "$T/u2/a/y")" "$(stat -c %i "$T/u2/lnk")" "the hardlink links"

say "the same as docker export"
start_dockerd
{
  run skopeo copy "oci:$T/wh:1" "docker-archive:$T/wh.tar:wh:1"
  assert_eq 0 "$RC" "skopeo makes a docker archive of the hand-made image"
  run docker_ load -i "$T/wh.tar"
  assert_eq 0 "$RC" "docker load"
  cid=$(docker_ create wh:1 /nonexistent)
  mkdir -p "$T/exp"; docker_ export "$cid" | tar -C "$T/exp" -x
  docker_ rm "$cid" >/dev/null
  # docker adds its own runtime files (.dockerenv, /dev, /etc/hosts, ...)
  exp=$(cd "$T/exp" && find . -mindepth 1 | sed 's|^\./||' | grep -vE '^(\.dockerenv|dev|dev/.*|etc|etc/.*|proc|sys)$' | sort | tr '\n' ' ')
  got=$(cd "$T/u2" && find . -mindepth 1 | sed 's|^\./||' | sort | tr '\n' ' ')
  assert_eq "$exp" "$got" "kiln unpack = docker export (paths)"
  kiln_build --rootfs "$T/rootfs" --tag rich:1 -o "docker-archive:$T/rich-tagged.tar"
  run docker_ load -i "$T/rich-tagged.tar"
  cid=$(docker_ create rich:1 /nonexistent)
  mkdir -p "$T/exp2"; docker_ export "$cid" | tar --numeric-owner --xattrs --xattrs-include='*' -C "$T/exp2" -xp
  docker_ rm "$cid" >/dev/null
  rm -rf "$T/exp2/.dockerenv"; for p in dev etc/hosts etc/hostname etc/resolv.conf proc sys; do
    [ -e "$T/rootfs/$p" ] || rm -rf "$T/exp2/$p"; done
  # docker's runtime files aside, and xattrs aside (the vfs driver drops user.* ones;
  # kiln's xattrs are checked against the source tree above)
  strip() { grep -vE '^(dev|etc|proc|sys)( |/)' | awk -F' [|] ' -v OFS=' | ' '{$6 = "-"; print}'; }
  tree_manifest "$T/exp2" | strip >"$T/exp2.tree"
  strip <"$T/u1.tree" >"$T/u1f.tree"
  assert_same_text "$T/exp2.tree" "$T/u1f.tree" "kiln unpack = docker export (owners, modes, content, links)"
}

say "layers umoci writes: '/' as the root entry, a last member with no padding (umoci#436)"
run umoci init --layout "$T/um"
run umoci new --image "$T/um:um"
mkdir -p "$T/ins/sub"; printf 'hello\n' >"$T/ins/sub/f"; printf 'abc\n' >"$T/one.txt"
chmod 0750 "$T/ins/sub"
run umoci insert --image "$T/um:um" "$T/one.txt" /one.txt
assert_eq 0 "$RC" "umoci insert of one file"
run umoci insert --image "$T/um:um" "$T/ins" /
assert_eq 0 "$RC" "umoci insert of a directory at /"
mapfile -t UL < <(layout_manifest "$T/um" um | jq -r '.layers[].digest')
assert_eq 2 "${#UL[@]}" "umoci wrote two layers"
# what makes these layers special (if umoci stops writing them so, say so)
for l in "${UL[@]}"; do
  n=$(decompress "$(blob "$T/um" "$l")" | wc -c)
  [ $((n % 512)) -ne 0 ] && ok "layer ${l:7:12}: $n bytes, not a whole number of tar blocks" ||
    not_ok "umoci wrote ${l:7:12} with padding ($n bytes): the case under test is gone"
done
assert_eq "/" "$(decompress "$(blob "$T/um" "${UL[1]}")" | head -c 100 | tr -d '\0')" \
  "the directory layer's first entry is named '/'"
run "$KILN" unpack "oci:$T/um:um" "$T/uu"
assert_eq 0 "$RC" "kiln unpack of umoci's image exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
assert_contains "layer ${UL[0]}: its last entry 'one.txt' ends short" "$ERR" "the warning names the layer and the entry"
assert_contains "umoci 0.4.7 writes such layers" "$ERR" "the warning names the tool that writes them"
assert_eq 2 "$(grep -c 'ends short' <<<"$ERR")" "one warning per short layer (not one per pass)"
run umoci unpack --image "$T/um:um" "$T/umb"
assert_eq 0 "$RC" "umoci unpack of its own image"
tree_manifest "$T/umb/rootfs" >"$T/umb.tree"; tree_manifest "$T/uu" >"$T/uu.tree"
assert_same_text "$T/umb.tree" "$T/uu.tree" "kiln unpack = umoci unpack"
assert_eq "abc" "$(cat "$T/uu/one.txt")" "the unpadded file's content is whole"
setup_podman
tar -C "$T/um" -cf "$T/um.oci.tar" .
run podman_ load -i "$T/um.oci.tar"
assert_eq 0 "$RC" "podman loads umoci's image"; [ "$RC" -eq 0 ] || say "$ERR"
pimg=$(sed -n 's/^Loaded image: //p' <<<"$OUT" | head -n 1)
cid=$(podman_ create "$pimg" /nonexistent)
mkdir -p "$T/pexp"; podman_ export "$cid" | tar --numeric-owner -C "$T/pexp" -xp
podman_ rm "$cid" >/dev/null; podman_ rmi -a >/dev/null 2>&1 || true
tree_manifest "$T/pexp" >"$T/pexp.tree"
assert_same_text "$T/pexp.tree" "$T/uu.tree" "kiln unpack = podman export"
run "$KILN" list "oci:$T/um"
assert_eq 0 "$RC" "kiln list of umoci's layout"; assert_contains "um" "$OUT" "it lists the tag"
run "$KILN" inspect --format json "oci:$T/um:um"
assert_eq 0 "$RC" "kiln inspect of umoci's image"
assert_eq "${UL[*]}" "$(jq -r '[.layers[].digest] | join(" ")' <<<"$OUT" 2>/dev/null || echo "$OUT")" "inspect shows umoci's layers"
run "$KILN" copy "oci:$T/um:um" "docker-archive:$T/um.docker.tar"
assert_eq 0 "$RC" "kiln copy to a docker archive"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" unpack "docker-archive:$T/um.docker.tar" "$T/uud"
assert_eq 0 "$RC" "kiln unpack of that docker archive"; [ "$RC" -eq 0 ] || say "$ERR"
assert_contains "umoci 0.4.7 writes such layers" "$ERR" "... with the same warning"
tree_manifest "$T/uud" >"$T/uud.tree"
assert_same_text "$T/uu.tree" "$T/uud.tree" "... and the same tree"
run "$KILN" copy "oci:$T/um:um" "oci:$T/um2:um"
assert_eq 0 "$RC" "kiln copy to another layout"
run umoci unpack --image "$T/um2:um" "$T/umb2"
assert_eq 0 "$RC" "umoci unpacks kiln's copy"
tree_manifest "$T/umb2/rootfs" >"$T/umb2.tree"
assert_same_text "$T/umb.tree" "$T/umb2.tree" "the copy unpacks as the original"
run docker_ load -i "$T/um.docker.tar"
assert_eq 0 "$RC" "docker loads kiln's copy"; [ "$RC" -eq 0 ] || say "$ERR"
dimg=$(sed -n 's/^Loaded image ID: //p; s/^Loaded image: //p' <<<"$OUT" | head -n 1)
cid=$(docker_ create "$dimg" /nonexistent)
mkdir -p "$T/dexp"; docker_ export "$cid" | tar --numeric-owner -C "$T/dexp" -xp
docker_ rm "$cid" >/dev/null
rm -rf "$T/dexp/.dockerenv" "$T/dexp/dev" "$T/dexp/etc" "$T/dexp/proc" "$T/dexp/sys"
tree_manifest "$T/dexp" >"$T/dexp.tree"
assert_same_text "$T/dexp.tree" "$T/uu.tree" "kiln unpack = docker export"
# '/' alone, in a layer that ends as tar layers should: no warning
rm -rf "$T/slash"; cp -a "$T/um" "$T/slash"
decompress "$(blob "$T/um" "${UL[1]}")" >"$T/slash.raw"
n=$(wc -c <"$T/slash.raw"); head -c $(( (n + 511) / 512 * 512 + 1024 - n )) /dev/zero >>"$T/slash.raw"
python3 "$SETLAYER" "$T/slash" "$T/slash.raw"
run "$KILN" unpack "oci:$T/slash:um" "$T/uslash"
assert_eq 0 "$RC" "a padded layer whose first entry is '/' unpacks"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq 1 "$(grep -c 'ends short' <<<"$ERR")" "only the other (unpadded) layer is warned about"
assert_eq "hello" "$(cat "$T/uslash/sub/f" 2>/dev/null)" "the entries below '/' are there"

say "other short layers stay refused, even when their digest matches"
short_refused() { # NAME RAWTAR EXPECTED_IN_ERROR
  rm -rf "$T/sh-$1"; cp -a "$T/um" "$T/sh-$1"
  python3 "$SETLAYER" "$T/sh-$1" "$2"
  run "$KILN" unpack "oci:$T/sh-$1:um" "$T/shu-$1"
  assert_eq 1 "$RC" "$1: refused (exit 1)"
  assert_contains "$3" "$ERR" "$1: the error says why"
  assert_not_exists "$T/shu-$1" "$1: no DIR left behind"
  assert_eq "" "$(ls -d "$T"/shu-"$1".kiln-tmp-* 2>/dev/null)" "$1: no temporary directory left"
}
decompress "$(blob "$T/um" "${UL[1]}")" >"$T/dir.raw"
n=$(wc -c <"$T/dir.raw")
head -c $((n - 3)) "$T/dir.raw" >"$T/cut-data.raw"
short_refused cut-in-data "$T/cut-data.raw" "corrupt or truncated"
python3 - "$T/two.raw" <<'P'
import io, sys, tarfile
b = io.BytesIO()
with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
    for name, data in (("a", b"x" * 600), ("b", b"y" * 10)):
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 1700000000
        t.addfile(ti, io.BytesIO(data))
open(sys.argv[1], "wb").write(b.getvalue())
P
head -c $((1024 + 512 + 300)) "$T/two.raw" >"$T/cut-header.raw"
short_refused cut-in-header "$T/cut-header.raw" "corrupt or truncated"
head -c $((1024 + 512 + 5)) "$T/two.raw" >"$T/cut-second.raw"
short_refused cut-in-second-member "$T/cut-second.raw" "corrupt or truncated"
# the same bytes with a digest that does not match: the digest is the error, no warning
rm -rf "$T/sh-bad"; cp -a "$T/um" "$T/sh-bad"
decompress "$(blob "$T/um" "${UL[0]}")" | gzip -9 -n >"$(blob "$T/sh-bad" "${UL[0]}")"
run "$KILN" unpack "oci:$T/sh-bad:um" "$T/shu-bad"
assert_eq 1 "$RC" "a short layer whose blob does not match its digest is refused"
assert_contains "does not match" "$ERR" "the damage is the error"
assert_eq "" "$(grep 'ends short' <<<"$ERR")" "and no warning says it is read as written"
assert_not_exists "$T/shu-bad" "no DIR left behind"

say "hostile layers are refused by name"
mkdir -p "$T/outside"
hostile() { # NAME JSON EXPECTED_NAME_IN_ERROR
  printf '%s\n' "$2" >"$T/h-$1.json"
  python3 "$MK" "$T/h-$1" 1 "$T/h-$1.json"
  run "$KILN" unpack "oci:$T/h-$1:1" "$T/hu-$1"
  assert_eq 1 "$RC" "$1: refused (exit 1)"
  assert_contains "$3" "$ERR" "$1: the error names the entry"
  assert_not_exists "$T/hu-$1" "$1: no DIR left behind"
  assert_eq "" "$(ls -A "$T/outside")" "$1: nothing written outside"
  assert_eq "" "$(ls -d "$T"/hu-"$1".kiln-tmp-* 2>/dev/null)" "$1: no temporary directory left"
}
hostile dotdot '[{"name":"../outside/pwned","type":"file","data":"x"}]' "../outside/pwned"
hostile absolute '[{"name":"/tmp/kiln-abs-pwned","type":"file","data":"x"}]' "/tmp/kiln-abs-pwned"
hostile symlink "[{\"name\":\"esc\",\"type\":\"symlink\",\"target\":\"../../../../../../..$T/outside\"},{\"name\":\"esc/pwned\",\"type\":\"file\",\"data\":\"x\"}]" "esc/pwned"
hostile hardlink '[{"name":"h","type":"hardlink","target":"../../../../etc/passwd"}]' "h"
assert_not_exists /tmp/kiln-abs-pwned "no absolute path was written"
# an absolute symlink stays inside: /etc -> resolved below the root
printf '%s\n' '[{"name":"abs","type":"symlink","target":"/inside"},{"name":"abs/f","type":"file","data":"ok"}]' >"$T/in.json"
python3 "$MK" "$T/inside" 1 "$T/in.json"
run "$KILN" unpack "oci:$T/inside:1" "$T/u3"
assert_eq 0 "$RC" "an absolute symlink is resolved inside the root"
assert_eq "ok" "$(cat "$T/u3/inside/f" 2>/dev/null)" "its target was created below the root"

say "a later layer turning a directory into a symlink does not redirect the final modes"
mkdir -p "$T/outside2/y"; chmod 0755 "$T/outside2/y"
printf '%s\n' '[{"name":"x","type":"dir"},{"name":"x/y","type":"dir","mode":448}]' >"$T/s1.json"
printf '%s\n' "[{\"name\":\"x\",\"type\":\"symlink\",\"target\":\"$T/outside2\"}]" >"$T/s2.json"
python3 "$MK" "$T/swap" 1 "$T/s1.json" "$T/s2.json"
run "$KILN" unpack "oci:$T/swap:1" "$T/u4"
assert_eq 0 "$RC" "the image unpacks"
assert_eq 755 "$(stat -c %a "$T/outside2/y")" "the directory outside keeps its mode"
assert_eq "$T/outside2" "$(readlink "$T/u4/x")" "x is the symlink (not followed)"

say "as a non-root user, owners become the caller's"
KN=$(kiln_for_nobody)
chmod 755 "$T"; mkdir -p "$T/nb"; chown 65534:65534 "$T/nb"; chmod -R a+rX "$T/rich"
run as_nobody "$KN" unpack "oci:$T/rich:1" "$T/nb/u"
assert_eq 0 "$RC" "unpack as nobody exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq "65534" "$(find "$T/nb/u" -not -type l -printf '%U\n' | sort -u | tr '\n' ' ' | sed 's/ $//')" "every file is owned by the caller"
