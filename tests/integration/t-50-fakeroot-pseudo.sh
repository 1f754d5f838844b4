#!/usr/bin/env bash
# kiln run by an unprivileged user inside fakeroot and inside pseudo (the Yocto
# way): the owners, device nodes, setuid bits and file capabilities that exist
# only in the fake-root database must reach the layer.
# The sessions run as nobody (65534), so the real files are all owned by 65534,
# device nodes are really empty files and no capability is really set.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need fakeroot pseudo setpriv setcap getcap getfattr python3 jq

KN=$(kiln_for_nobody)
# The tree, created by this script (run as root for the expected tree, and as
# nobody inside each fake-root session).
CREATE='set -e
mkdir -p tree/etc tree/dev tree/bin tree/srv/data
echo root-owned >tree/etc/rootfile
chown 0:0 tree/etc/rootfile
echo app >tree/srv/data/appfile
chown 1234:5678 tree/srv tree/srv/data tree/srv/data/appfile
chmod 0750 tree/srv/data
chown 0:42 tree/etc
mknod tree/dev/nullish c 1 3
chmod 0666 tree/dev/nullish
mknod tree/dev/blk b 8 1
chown 0:6 tree/dev/blk
chmod 0660 tree/dev/blk
cp /bin/true tree/bin/suid
chmod 4755 tree/bin/suid
cp /bin/true tree/bin/cap
setcap cap_net_raw+ep tree/bin/cap
ln -s ../etc/rootfile tree/bin/link
chown -h 1234:5678 tree/bin/link
'

say "expected tree, made for real by root"
mkdir -p "$T/expected"
(cd "$T/expected" && sh -c "$CREATE") || fail "creating the expected tree as root"
tree_manifest "$T/expected/tree" >"$T/expected.m"
grep -q 'bin/cap | f | 0755 | 0:0 | .* | security.capability=' "$T/expected.m" || fail "expected tree has no capability: $(cat "$T/expected.m")"

# layer_of LAYOUT: the (only) layer blob of the image in LAYOUT
layer_of() { blob "$1" "$(layout_manifest "$1" | jq -r '.layers[0].digest')"; }

# verify NAME WORKDIR STRICT: the build in WORKDIR/out carries the fake-root
# view that the same session saw (WORKDIR/view.m, written by treeinfo.py run
# inside the session). STRICT=1: that view must also be the expected tree.
verify() {
  local name=$1 w=$2 strict=$3
  assert_eq "65534:65534 regular empty file" "$(stat -c '%u:%g %F' "$w/tree/dev/nullish")" "$name: on disk the device is a plain file owned by nobody"
  assert_eq "" "$(getcap "$w/tree/bin/cap")" "$name: on disk bin/cap has no capability"
  if [ ! -f "$w/out/index.json" ]; then not_ok "$name: kiln wrote the layout"; return; fi
  if [ ! -s "$w/view.m" ]; then not_ok "$name: the session's own view of the tree was recorded"; return; fi
  local lb
  lb=$(layer_of "$w/out")
  layer_manifest "$lb" >"$T/$name.m"
  assert_same_text "$w/view.m" "$T/$name.m" "$name: layer = what lstat/llistxattr show inside the session"
  if [ "$strict" = 1 ]; then
    assert_same_text "$T/expected.m" "$T/$name.m" "$name: layer = the tree made for real by root"
  elif ! cmp -s "$T/expected.m" "$w/view.m"; then
    say "$name: the session's view differs from a real root's tree (a limitation of $name, not kiln's):"
    diff "$T/expected.m" "$w/view.m" | grep '^[<>]' | sed 's/^/#   /' || true
  fi
  local l
  l=$(grep '^srv/data/appfile ' "$T/$name.m" || true)
  assert_contains " | 1234:5678 | " "$l" "$name: srv/data/appfile is 1234:5678"
  l=$(grep '^srv/data ' "$T/$name.m" || true)
  assert_contains " | d | 0750 | 1234:5678 | " "$l" "$name: srv/data is a 1234:5678 0750 dir"
  l=$(grep '^etc/rootfile ' "$T/$name.m" || true)
  assert_contains " | f | 0644 | 0:0 | " "$l" "$name: etc/rootfile is 0:0 (really owned by 65534)"
  l=$(grep '^dev/nullish ' "$T/$name.m" || true)
  assert_contains " | c | 0666 | 0:0 | 1,3 | " "$l" "$name: dev/nullish is char 1,3"
  l=$(grep '^dev/blk ' "$T/$name.m" || true)
  assert_contains " | b | 0660 | 0:6 | 8,1 | " "$l" "$name: dev/blk is block 8,1 owned 0:6"
  l=$(grep '^bin/suid ' "$T/$name.m" || true)
  assert_contains " | f | 4755 | 0:0 | " "$l" "$name: bin/suid is setuid root"
  if [ "$strict" = 1 ] || grep -q '^bin/cap .*security.capability=' "$w/view.m"; then
    l=$(grep '^bin/cap ' "$T/$name.m" || true)
    assert_contains "security.capability=0100000200200000000000000000000000000000" "$l" "$name: bin/cap carries cap_net_raw+ep"
  else
    say "$name: the session does not show bin/cap's capability (fakeroot -s/-i does not save xattrs): not checked"
  fi
}

# The tree viewer, where nobody can read it, and a python3 nobody can run.
cp "$LIB_DIR/treeinfo.py" "$T/treeinfo.py"; chmod 644 "$T/treeinfo.py"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
VIEW="$PY $T/treeinfo.py tree tree >view.m"

say "fakeroot: create the tree in one session (-s), build in another (-i)"
W=$T/fakeroot
mkdir -p "$W"; chown 65534:65534 "$W"
run as_nobody sh -c 'cd "$1" && fakeroot -s "$1/state" sh -c "$2"' sh "$W" "$CREATE"
assert_eq 0 "$RC" "fakeroot session 1 (create) succeeded" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
run as_nobody sh -c 'cd "$1" && fakeroot -i "$1/state" -s "$1/state" sh -c "$3 && \"\$0\" build --rootfs tree --source-date-epoch 1700000000 -o \"oci:\$1/out:fr\"" "$2" "$1"' sh "$W" "$KN" "$VIEW"
assert_eq 0 "$RC" "fakeroot session 2: kiln build succeeded" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
assert_match '^sha256:[0-9a-f]{64}$' "$OUT" "fakeroot: kiln printed the digest"
verify fakeroot "$W" 0

say "fakeroot: create and build in one session"
W=$T/fakeroot1
mkdir -p "$W"; chown 65534:65534 "$W"
run as_nobody sh -c 'cd "$1" && fakeroot sh -c "$2
$4
\"$3\" build --rootfs tree -o \"oci:$1/out:fr\""' sh "$W" "$CREATE" "$KN" "$VIEW"
assert_eq 0 "$RC" "fakeroot single session succeeded" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
verify fakeroot-single "$W" 0

say "pseudo: create the tree in one invocation, build in another (shared database)"
W=$T/pseudo
mkdir -p "$W"; chown 65534:65534 "$W"
_PSEUDO_STATES+=("$W/state")
run as_nobody env PSEUDO_PREFIX=/usr PSEUDO_LOCALSTATEDIR="$W/state" sh -c 'cd "$1" && pseudo sh -c "$2"' sh "$W" "$CREATE"
assert_eq 0 "$RC" "pseudo invocation 1 (create) succeeded" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
run as_nobody env PSEUDO_PREFIX=/usr PSEUDO_LOCALSTATEDIR="$W/state" sh -c 'cd "$1" && pseudo sh -c "$3 && \"\$0\" build --rootfs tree --source-date-epoch 1700000000 -o \"oci:\$1/out:ps\"" "$2" "$1"' sh "$W" "$KN" "$VIEW"
assert_eq 0 "$RC" "pseudo invocation 2: kiln build succeeded" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
assert_match '^sha256:[0-9a-f]{64}$' "$OUT" "pseudo: kiln printed the digest"
verify pseudo "$W" 1

say "the pseudo build equals a real-root build of the expected tree"
kiln_build --rootfs "$T/expected/tree" --source-date-epoch 1700000000 -o "oci:$T/real:fr"
assert_eq "$(layout_manifest "$T/real" | jq -c .layers)" "$(layout_manifest "$T/pseudo/out" 2>/dev/null | jq -c .layers)" "pseudo build's layer = real root's layer (same epoch)"

say "pseudo: the walk costs two messages per entry (stat, xattr list) and one per xattr"
# pseudo's debug log (PSEUDO_DEBUG=o) has one line per wrapped call; all but
# those marked "(no request)" went to its server. Path calls (lstat,
# llistxattr) cost ~2.8 messages per entry, and pseudo resolves every
# component of every path they name; the walk by descriptor needs 2.
W=$T/pseudo
run as_nobody env PSEUDO_PREFIX=/usr PSEUDO_LOCALSTATEDIR="$W/state" sh -c 'cd "$1" && pseudo env PSEUDO_DEBUG=o PSEUDO_DEBUG_FILE="$1/ops.%s.log" "$2" build --rootfs tree --source-date-epoch 1700000000 -o "oci:$1/out2:ps"' sh "$W" "$KN"
assert_eq 0 "$RC" "pseudo build with the debug log succeeded" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
assert_eq "$(layout_manifest "$W/out" | jq -c .layers)" "$(layout_manifest "$W/out2" 2>/dev/null | jq -c .layers)" "the same layer as the first pseudo build"
E=$(find "$W/tree" -mindepth 1 | wc -l)
M=$(cat "$W"/ops.*.log 2>/dev/null | grep -F " $W/tree/" | grep -vc '(no request)$' || true)
say "$E entries, $M messages to the pseudo server about them"
if [ "$M" -gt 0 ] && [ "$M" -le $((2 * E + 1)) ]; then ok "at most 2 messages per entry, plus one for bin/cap's capability"; else not_ok "at most $((2 * E + 1)) messages for $E entries" "got $M: $(cat "$W"/ops.*.log | grep -F " $W/tree/" | grep -v '(no request)$' | awk '{print $1}' | sort | uniq -c | tr '\n' ' ')"; fi
rm -f "$W"/ops.*.log
