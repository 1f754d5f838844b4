#!/usr/bin/env bash
# --add SRC:DEST[:MODE[:UID:GID]]: single files and trees at chosen paths, in one
# extra layer on top of a base; docker sees them with the right content, mode and
# owner; destinations that overlap and malformed specs are refused.
. "$(dirname "$0")/lib.sh"
need_root
need jq
[ -x /bin/busybox ] || _missing busybox
export SOURCE_DATE_EPOCH=1700000000
start_dockerd

mkdir -p "$T/base/bin"; cp /bin/busybox "$T/base/bin/busybox"
for t in sh cat stat; do ln -s busybox "$T/base/bin/$t"; done
kiln_build --rootfs "$T/base" -o "oci:$T/base-oci:1"
echo "the app" >"$T/app"; chmod 600 "$T/app"
mkdir -p "$T/conf/sub"; echo a >"$T/conf/a.conf"; echo b >"$T/conf/sub/b.conf"; ln -s a.conf "$T/conf/link"

kiln_build --from "oci:$T/base-oci:1" --add "$T/app:/usr/local/bin/app:0755:1000:1001" \
  --add "$T/conf:/etc/app" --add "$T/app:/opt/plain" --tag added:1 -o "docker-archive:$T/img.tar" \
  -o "oci:$T/out:1"
M=$(layout_manifest "$T/out" 1)
assert_eq 2 "$(jq '.layers|length' <<<"$M")" "the base layer plus one layer for every --add"
assert_eq "kiln build --add" "$(layout_config "$T/out" 1 | jq -r '.history[-1].created_by')" "history names the --add layer"
run docker_ load -i "$T/img.tar"
assert_eq 0 "$RC" "docker load"
q() { docker_ run --rm --network none added:1 /bin/sh -c "$1"; }
assert_eq "the app|755 1000:1001" "$(q 'cat /usr/local/bin/app; stat -c "|%a %u:%g" /usr/local/bin/app' | tr -d '\n')" "a file with a forced mode and owner"
assert_eq "the app|600 0:0" "$(q 'cat /opt/plain; stat -c "|%a %u:%g" /opt/plain' | tr -d '\n')" "a file keeps its own mode and the build's owner"
assert_eq "a b a.conf" "$(q 'cat /etc/app/a.conf /etc/app/sub/b.conf; readlink /etc/app/link' | tr '\n' ' ' | sed 's/ $//')" "a tree with a symlink"
assert_eq "755 0:0" "$(q 'stat -c "%a %u:%g" /usr/local')" "created parents are root-owned 0755"

run "$KILN" build --add "$T/app:/a" --add "$T/conf:/a/b" -o "oci:$T/bad1"
assert_eq 2 "$RC" "overlapping destinations are a usage error"
run "$KILN" build --add "$T/app" -o "oci:$T/bad2"
assert_eq 2 "$RC" "a spec without DEST is a usage error"
run "$KILN" build --add "$T/app:/x:9999" -o "oci:$T/bad3"
assert_eq 2 "$RC" "a non-octal mode is a usage error"
run "$KILN" build --add "$T/missing:/x" -o "oci:$T/bad4"
assert_eq 1 "$RC" "a missing SRC fails"
assert_contains "$T/missing" "$ERR" "the error names the missing SRC"
assert_not_exists "$T/bad4" "nothing written"
