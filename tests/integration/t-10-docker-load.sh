#!/usr/bin/env bash
# kiln's docker-archive output, loaded into a real (private) dockerd and run:
# owners, modes, file types, devices, hardlinks, xattrs, file capabilities,
# long and non-UTF-8 names survive, and the image config is what was asked.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need busybox jq python3 setfattr getfattr setcap getcap
[ -x /bin/busybox ] || _missing busybox
start_dockerd

R=$T/rootfs
make_rich_rootfs "$R"
check_rich_rootfs "$R"

say "kiln build --rootfs → docker-archive"
kiln_build --rootfs "$R" --tag kiln-test:1 \
  --entrypoint '/bin/busybox sh -c' \
  --cmd '["echo kiln-ok $FOO $(id -u):$(id -g) $PWD"]' \
  --env PATH=/bin --env FOO=bar --env 'SPACEY=a b=c' \
  --workdir /data --user 1000:1000 \
  --port 8080 --port 53/udp \
  --volume /data/vol --volume /srv \
  --label org.example.a=1 --label 'b=two words' \
  --stop-signal SIGINT --author 'Kiln Test <kt@example.com>' \
  -o docker-archive:"$T/img.tar"
assert_match '^sha256:[0-9a-f]{64}$' "$DIGEST" "stdout is exactly one sha256 digest"
assert_eq 1 "$(printf '%s\n' "$OUT" | wc -l)" "stdout is one line"

say "archive structure (formats §1)"
mkdir "$T/x"
tar -C "$T/x" -xf "$T/img.tar"
M=$T/x/manifest.json
check "manifest.json is a JSON array of one image" jq -e 'type == "array" and length == 1' "$M"
assert_eq '["kiln-test:1"]' "$(jq -c '.[0].RepoTags' "$M")" "manifest.json RepoTags"
CFG=$(jq -r '.[0].Config' "$M")
assert_match '^[0-9a-f]{64}\.json$' "$CFG" "Config is <image id>.json"
assert_eq "${CFG%.json}" "$(sha256sum <"$T/x/$CFG" | cut -c1-64)" "config file name = sha256 of its bytes"
NL=$(jq '.[0].Layers | length' "$M")
assert_eq "$NL" "$(jq '.rootfs.diff_ids | length' "$T/x/$CFG")" "Layers count = diff_ids count"
i=0
for l in $(jq -r '.[0].Layers[]' "$M"); do
  assert_eq "$(jq -r ".rootfs.diff_ids[$i]" "$T/x/$CFG")" "sha256:$(decompress "$T/x/$l" | sha256sum | cut -c1-64)" "layer $i: uncompressed sha256 = diff_id"
  d=$(dirname "$l")
  if [ -f "$T/x/$d/VERSION" ]; then
    assert_eq "1.0" "$(cat "$T/x/$d/VERSION")" "layer $i: legacy VERSION"
    check "layer $i: legacy json has id = dir name" jq -e --arg d "$d" '.id == $d' "$T/x/$d/json"
  else
    not_ok "layer $i: legacy <id>/VERSION missing ($d)"
  fi
  i=$((i + 1))
done
check "repositories file maps kiln-test:1" jq -e '.["kiln-test"]["1"] | test("^[0-9a-f]{64}$")' "$T/x/repositories"
check_not "no blobs/ directory at the top (breaks Docker 1.9)" test -d "$T/x/blobs"

say "docker load"
run docker_ load -i "$T/img.tar"
assert_eq 0 "$RC" "docker load exits 0"
assert_contains "Loaded image: kiln-test:1" "$OUT" "docker load reports kiln-test:1"
[ "$RC" -eq 0 ] || fail "docker load failed: $ERR"
docker_ image inspect kiln-test:1 >"$T/inspect.json"
I=$T/inspect.json
assert_eq "sha256:${CFG%.json}" "$(jq -r '.[0].Id' "$I")" "image ID = config digest"
assert_eq '["/bin/busybox","sh","-c"]' "$(jq -c '.[0].Config.Entrypoint' "$I")" "Entrypoint (shell-split string)"
assert_eq '["echo kiln-ok $FOO $(id -u):$(id -g) $PWD"]' "$(jq -c '.[0].Config.Cmd' "$I")" "Cmd (JSON array)"
assert_eq '["PATH=/bin","FOO=bar","SPACEY=a b=c"]' "$(jq -c '.[0].Config.Env' "$I")" "Env"
assert_eq /data "$(jq -r '.[0].Config.WorkingDir' "$I")" "WorkingDir"
assert_eq 1000:1000 "$(jq -r '.[0].Config.User' "$I")" "User"
assert_eq '{"53/udp":{},"8080/tcp":{}}' "$(jq -cS '.[0].Config.ExposedPorts' "$I")" "ExposedPorts"
assert_eq '{"/data/vol":{},"/srv":{}}' "$(jq -cS '.[0].Config.Volumes' "$I")" "Volumes"
assert_eq '{"b":"two words","org.example.a":"1"}' "$(jq -cS '.[0].Config.Labels' "$I")" "Labels"
assert_eq SIGINT "$(jq -r '.[0].Config.StopSignal' "$I")" "StopSignal"
assert_eq 'Kiln Test <kt@example.com>' "$(jq -r '.[0].Author' "$I")" "Author"
assert_eq linux "$(jq -r '.[0].Os' "$I")" "Os"
case $(uname -m) in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; *) ARCH=$(uname -m) ;; esac
assert_eq "$ARCH" "$(jq -r '.[0].Architecture' "$I")" "Architecture = host arch"
assert_eq "$NL" "$(jq '.[0].RootFS.Layers | length' "$I")" "RootFS layer count"

say "the loaded layer, as docker's vfs driver unpacked it, equals the source tree"
# docker 20.10 reports no GraphDriver.Data for vfs: find the top layer's
# directory through the layer store (ChainID -> cache-id -> vfs/dir/<id>).
GD=$(jq -r '.[0].GraphDriver.Data.Dir // empty' "$I")
if [ -z "$GD" ]; then
  chain=
  for d in $(jq -r '.[0].RootFS.Layers[]' "$I"); do
    if [ -z "$chain" ]; then chain=$d
    else chain=sha256:$(printf '%s %s' "$chain" "$d" | sha256sum | cut -c1-64); fi
  done
  cid=$(cat "$DOCKERD_DIR/data/image/vfs/layerdb/sha256/${chain#sha256:}/cache-id" 2>/dev/null || true)
  [ -z "$cid" ] || GD=$DOCKERD_DIR/data/vfs/dir/$cid
fi
if [ -n "$GD" ] && [ -d "$GD" ]; then
  tree_manifest "$R" >"$T/src.m"
  tree_manifest "$GD" >"$T/docker.m"
  assert_same_text "$T/src.m" "$T/docker.m" "docker's unpacked image = source (owners, modes, types, devices, xattrs, caps, hardlinks, contents)"
else
  not_ok "found docker's vfs directory of the image" "$(jq -c '.[0].GraphDriver' "$I")" "$(ls "$DOCKERD_DIR/data/image/vfs/layerdb/sha256" 2>&1)"
fi

say "docker run: the config applies at run time"
run docker_ run --rm --network none kiln-test:1
assert_eq 0 "$RC" "docker run IMG exits 0"
assert_eq "kiln-ok bar 1000:1000 /data" "$OUT" "entrypoint+cmd ran with Env, User, WorkingDir"

say "docker run: stat inside the container equals stat on the host"
# Every path of the source tree, compared with the same busybox on both sides.
(cd "$R" && find . -mindepth 1 | sort) >"$T/paths"
PATH=/bin /bin/busybox sh -c "$STAT_SCRIPT" sh "$R" <"$T/paths" >"$T/host.stat"
docker_ run --rm -i --network none --user 0:0 --entrypoint /bin/busybox kiln-test:1 \
  sh -c "$STAT_SCRIPT" sh / <"$T/paths" >"$T/container.stat" 2>"$T/container.err" || true
assert_eq "$(wc -l <"$T/paths")" "$(wc -l <"$T/host.stat")" "host stat covered every path"
assert_same_text "$T/host.stat" "$T/container.stat" "owners/modes/types/sizes/contents/targets/devices in the container"
grep -q '^./data/bigid|3000000:3000001 644 ' "$T/container.stat" && ok "uid 3000000 inside the container" || not_ok "uid 3000000 inside the container" "$(grep bigid "$T/container.stat")"
grep -q '^./bin/suidbox|0:0 4755 ' "$T/container.stat" && ok "setuid bit inside the container" || not_ok "setuid bit inside the container"
grep -q '^./data/devices/nullish|0:0 666 character special file 1|1,3$' "$T/container.stat" && ok "char device 1,3 inside the container" || not_ok "char device inside the container" "$(grep nullish "$T/container.stat")"
run docker_ run --rm --network none --user 0:0 --entrypoint /bin/busybox kiln-test:1 stat -c %i /data/hl-a /data/hl-b /data/sub/hl-c /data/deep-hardlink "/$DEEPDIR/deep-file"
read -r -a inodes <<<"$(printf "%s" "$OUT" | tr "\n" " ")"
if [ ${#inodes[@]} -eq 5 ] && [ "${inodes[0]}" = "${inodes[1]}" ] && [ "${inodes[0]}" = "${inodes[2]}" ] && [ "${inodes[3]}" = "${inodes[4]}" ] && [ "${inodes[0]}" != "${inodes[3]}" ]; then
  ok "hardlinks share inodes inside the container"
else
  not_ok "hardlinks share inodes inside the container" "inodes: $OUT $ERR"
fi

say "docker run: the file capability works (cap_net_raw = bit 13 = 0x2000)"
run docker_ run --rm --network none --user 1000:1000 --entrypoint /capbin/busybox kiln-test:1 grep -E '^Cap(Prm|Eff):' /proc/self/status
assert_eq $'CapPrm:\t0000000000002000\nCapEff:\t0000000000002000' "$OUT" "capbox as uid 1000 gets CAP_NET_RAW from its file capability"
run docker_ run --rm --network none --user 1000:1000 --entrypoint /bin/busybox kiln-test:1 grep -E '^Cap(Prm|Eff):' /proc/self/status
assert_eq $'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000' "$OUT" "control: plain busybox as uid 1000 has no capabilities"

say "two inputs = two layers, the second one on top"
S=$T/small
mkdir -p "$S/bin" "$S/etc"
cp /bin/busybox "$S/bin/busybox"
echo lower >"$S/etc/msg"; echo only-lower >"$S/etc/lower"
U=$T/upper
mkdir -p "$U/etc"
echo upper >"$U/etc/msg"
tar --numeric-owner -C "$U" -czf "$T/upper.tar.gz" .
kiln_build --rootfs "$S" --tar "$T/upper.tar.gz" --tag two:1 --tag registry.example.com/team/app:2.0 \
  --entrypoint /bin/busybox -o docker-archive:"$T/two.tar"
mkdir "$T/x2"; tar -C "$T/x2" -xf "$T/two.tar"
assert_eq 2 "$(jq '.[0].Layers | length' "$T/x2/manifest.json")" "two inputs give two layers"
assert_eq '["two:1","registry.example.com/team/app:2.0"]' "$(jq -c '.[0].RepoTags' "$T/x2/manifest.json")" "RepoTags = both --tag values, in order"
run docker_ load -i "$T/two.tar"
assert_eq 0 "$RC" "docker load of the two-layer archive" ; [ "$RC" -eq 0 ] || say "$ERR"
run docker_ run --rm --network none two:1 cat /etc/msg /etc/lower
assert_eq $'upper\nonly-lower' "$OUT" "the --tar layer overrides the --rootfs layer; lower files stay visible"
run docker_ image inspect -f '{{.Id}}' registry.example.com/team/app:2.0
assert_eq 0 "$RC" "the second tag names the image too"

say "docker-archive without --tag: an untagged image"
kiln_build --rootfs "$S" -o docker-archive:"$T/untagged.tar"
mkdir "$T/x3"; tar -C "$T/x3" -xf "$T/untagged.tar"
assert_eq '[]' "$(jq -c '.[0].RepoTags' "$T/x3/manifest.json")" "RepoTags is [] without --tag"
CFG3=$(jq -r '.[0].Config' "$T/x3/manifest.json")
run docker_ load -i "$T/untagged.tar"
assert_eq 0 "$RC" "docker load of an untagged archive"
assert_contains "sha256:${CFG3%.json}" "$OUT" "docker load reports the image ID"
