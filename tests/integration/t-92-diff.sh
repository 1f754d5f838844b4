#!/usr/bin/env bash
# kiln diff / kiln build --diff: a changeset layer turning the tree OLD into
# the tree NEW (whiteouts, an opaque directory, a directory becoming a symlink
# as in merged /usr and the reverse, a file becoming a directory and the
# reverse, content changed with size and mtime unchanged, mode, owner and
# xattr changes, a hardlink group gaining a member), stacked on a base image
# built from OLD. docker, podman, umoci and kiln unpack must all see exactly
# NEW.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
if ! "$KILN" diff --help >/dev/null 2>&1 </dev/null; then
  fail "this kiln has no 'kiln diff' command"
fi
need jq python3 umoci setfattr
[ -x /bin/busybox ] || _missing busybox

OLD=$T/old
NEW=$T/new
T0=1600000000

say "the trees"
mkdir -p "$OLD"/{bin,usr/bin,usr/lib,etc/conf.d,var/cache/app/sub,var/log,data/sub,opt,srv/d/inner,home/user}
cp /bin/busybox "$OLD/bin/busybox"
ln -s busybox "$OLD/bin/sh"
echo "old tool" >"$OLD/bin/old-tool"
ln -s usr/lib "$OLD/lib"
echo libx >"$OLD/usr/lib/libx"
echo keep >"$OLD/etc/keep"
echo gone >"$OLD/etc/gone"
echo value=1 >"$OLD/etc/changed"
echo "dash sibling, old" >"$OLD/etc/-x"
echo mode >"$OLD/etc/mode"
echo owner >"$OLD/etc/owner"
echo xattr >"$OLD/etc/xattr"
setfattr -n user.t92 -v one "$OLD/etc/xattr"
echo a >"$OLD/etc/conf.d/a"
echo b >"$OLD/etc/conf.d/b"
echo 1 >"$OLD/var/cache/app/1"
echo 2 >"$OLD/var/cache/app/sub/2"
echo log >"$OLD/var/log/keep"
echo shared >"$OLD/data/hl-a"
ln "$OLD/data/hl-a" "$OLD/data/hl-b"
ln "$OLD/data/hl-a" "$OLD/data/sub/hl-c"
echo thing >"$OLD/opt/thing"
echo in >"$OLD/srv/d/inner/x"
echo same >"$OLD/home/user/file"

mkdir -p "$NEW"/{usr/bin,usr/lib,lib,etc/conf.d,var/log,data/sub,opt/thing,srv,home/user}
cp /bin/busybox "$NEW/usr/bin/busybox"
ln -s busybox "$NEW/usr/bin/sh"
ln -s usr/bin "$NEW/bin"                         # merged /usr: a directory becomes a symlink
echo libx >"$NEW/usr/lib/libx"
echo real >"$NEW/lib/real"                       # a symlink becomes a directory
echo keep >"$NEW/etc/keep"
echo value=2 >"$NEW/etc/changed"                 # same size, same mtime
echo "dash sibling, new" >"$NEW/etc/-x"
echo mode >"$NEW/etc/mode"; chmod 0600 "$NEW/etc/mode"
echo owner >"$NEW/etc/owner"; chown 1234:5678 "$NEW/etc/owner"
echo xattr >"$NEW/etc/xattr"
setfattr -n user.t92 -v two "$NEW/etc/xattr"
echo new >"$NEW/etc/new"
echo "-x" >"$NEW/etc/conf.d/-x"                  # every old child gone: opaque
echo new >"$NEW/etc/conf.d/new"
echo log >"$NEW/var/log/keep"                    # var/cache removed
echo shared >"$NEW/data/hl-a"
ln "$NEW/data/hl-a" "$NEW/data/hl-b"
ln "$NEW/data/hl-a" "$NEW/data/sub/hl-c"
ln "$NEW/data/hl-a" "$NEW/data/hl-d"             # the group gains a member
echo inner >"$NEW/opt/thing/inner"               # a file becomes a directory
echo "now a file" >"$NEW/srv/d"                  # a directory becomes a file
echo same >"$NEW/home/user/file"
chmod 0755 "$OLD" "$NEW"
for r in "$OLD" "$NEW"; do find "$r" -depth -exec touch -h -d "@$T0" {} +; done

say "kiln diff"
run "$KILN" diff "$OLD" "$NEW" -o "$T/diff.tar"
assert_eq 0 "$RC" "kiln diff OLD NEW -o FILE"
[ "$RC" -eq 0 ] || fail "kiln diff: $ERR"
# member names in archive order (tarfile drops the trailing / of directories)
python3 "$LIB_DIR/treeinfo.py" names "$T/diff.tar" >"$T/names"
cat >"$T/names.want" <<'EOF'
bin
data
data/hl-a
data/hl-b
data/hl-d
data/sub
data/sub/hl-c
etc
etc/.wh.gone
etc/-x
etc/changed
etc/conf.d
etc/conf.d/.wh..wh..opq
etc/conf.d/-x
etc/conf.d/new
etc/mode
etc/new
etc/owner
etc/xattr
lib
lib/real
opt
opt/thing
opt/thing/inner
srv
srv/d
usr
usr/bin
usr/bin/busybox
usr/bin/sh
var
var/.wh.cache
EOF
assert_same_text "$T/names.want" "$T/names" "the changeset's members, in order: whiteouts and the opaque marker first in their directory"
tarinfo() { # FILE MEMBER: type mode uid:gid size of one member
  python3 - "$1" "$2" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    m = t.getmember(sys.argv[2])
    print(m.type.decode(), "%o" % m.mode, "%d:%d" % (m.uid, m.gid), m.size)
PY
}
assert_eq "0 0 0:0 0" "$(tarinfo "$T/diff.tar" etc/.wh.gone)" "a whiteout is an empty regular file, mode 0, owned by 0:0"
assert_eq "0 0 0:0 0" "$(tarinfo "$T/diff.tar" etc/conf.d/.wh..wh..opq)" "so is the opaque marker"
assert_eq "1" "$(tarinfo "$T/diff.tar" data/hl-b | cut -d' ' -f1)" "later members of a hardlink group are links"

run "$KILN" diff "$NEW" "$NEW" -o "$T/empty.tar"
assert_eq "0" "$RC" "kiln diff of a tree with itself"
assert_eq "" "$(python3 "$LIB_DIR/treeinfo.py" names "$T/empty.tar")" "... is an empty changeset"
run "$KILN" diff "$T/missing" "$NEW" -o "$T/x.tar"
assert_ne 0 "$RC" "kiln diff with a missing OLD fails"
assert_contains "$T/missing" "$ERR" "... naming it"

say "kiln build --from base --diff OLD NEW"
kiln_build --rootfs "$OLD" -t kiln-t92/base:1 -o "oci:$T/base:1"
BASE_LAYER=$(layout_manifest "$T/base" 1 | jq -r '.layers[0].digest')
kiln_build --from "oci:$T/base:1" --diff "$OLD" "$NEW" -t kiln-t92/app:1 \
  -o "oci:$T/app:1" -o "docker-archive:$T/app.docker.tar"
M=$(layout_manifest "$T/app" 1)
assert_eq 2 "$(jq '.layers | length' <<<"$M")" "the app image: the base layer + the changeset"
assert_eq "$BASE_LAYER" "$(jq -r '.layers[0].digest' <<<"$M")" "the base layer is referenced unchanged"
assert_eq "sha256:$(decompress "$T/diff.tar" | sha256sum | cut -c1-64)" \
  "$(layout_config "$T/app" 1 | jq -r '.rootfs.diff_ids[1]')" \
  "build --diff writes the same changeset as kiln diff (diff_id)"

tree_manifest "$NEW" >"$T/new.m"

say "kiln unpack"
run "$KILN" unpack "oci:$T/app:1" "$T/kiln-unpacked"
assert_eq 0 "$RC" "kiln unpack of the app image"
tree_manifest "$T/kiln-unpacked" >"$T/kiln.m"
assert_same_text "$T/new.m" "$T/kiln.m" "kiln unpack: base + changeset = NEW"

say "umoci unpack"
run umoci unpack --image "$T/app:1" "$T/bundle"
assert_eq 0 "$RC" "umoci unpack of the app image"
tree_manifest "$T/bundle/rootfs" >"$T/umoci.m"
assert_same_text "$T/new.m" "$T/umoci.m" "umoci: base + changeset = NEW"

# One line per path, by the container's own busybox: type, mode, owner, link
# count, content checksum or symlink target. The runtimes' own files are left out.
# shellcheck disable=SC2016 # expanded by the shell that runs it
LISTING='cd "${1:-/}" || exit 1
/bin/busybox find bin lib usr etc var data opt srv home | /bin/busybox sort | while read -r p; do
  case $p in etc/hosts|etc/hostname|etc/resolv.conf|etc/mtab|etc/passwd|etc/group) continue ;; esac
  if [ -L "$p" ]; then echo "$p l -> $(/bin/busybox readlink "$p")"
  elif [ -d "$p" ]; then echo "$p d $(/bin/busybox stat -c "%a %u:%g" "$p")"
  else echo "$p f $(/bin/busybox stat -c "%a %u:%g %h %s" "$p") $(/bin/busybox md5sum <"$p" | /bin/busybox cut -c1-32)"
  fi
done'
/bin/busybox sh -c "$LISTING" sh "$NEW" >"$T/new.ls"
assert_match '^bin l -> usr/bin$' "$(grep '^bin ' "$T/new.ls")" "the listing sees bin as a symlink"

say "docker"
start_dockerd
run docker_ load -i "$T/app.docker.tar"
assert_eq 0 "$RC" "docker load"
run docker_ run --rm --network none kiln-t92/app:1 /bin/busybox sh -c "$LISTING"
assert_eq 0 "$RC" "docker run (/bin/busybox through the bin -> usr/bin symlink)"
printf '%s\n' "$OUT" >"$T/docker.ls"
assert_same_text "$T/new.ls" "$T/docker.ls" "docker: the container sees exactly NEW"
stop_dockerd || true

if command -v podman >/dev/null 2>&1; then
  say "podman"
  setup_podman
  run podman_ load -i "$T/app.docker.tar"
  assert_eq 0 "$RC" "podman load"
  run podman_ "${PODMAN_RUN[@]}" kiln-t92/app:1 /bin/busybox sh -c "$LISTING"
  assert_eq 0 "$RC" "podman run"
  printf '%s\n' "$OUT" >"$T/podman.ls"
  assert_same_text "$T/new.ls" "$T/podman.ls" "podman: the container sees exactly NEW"
else
  _missing podman
fi
