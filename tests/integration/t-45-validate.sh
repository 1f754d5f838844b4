#!/usr/bin/env bash
# kiln validate agrees with the consumers. Images kiln builds validate clean
# and run in docker and podman. Each deliberately broken image (one fault,
# every other digest made to match, tools/breakimage.py) is shown refused by
# the consumers that refuse it, with their own words, and flagged by kiln
# validate as an error; faults the consumers here take are warnings (or, for
# the descriptor size, an error that kiln copy shows). The runtime warnings
# (entrypoint, user, working directory) are shown failing `docker run`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln
need skopeo podman containerd ctr runc busybox jq python3 docker-registry
[ -x /bin/busybox ] || _missing busybox
BREAK=$LIB_DIR/tools/breakimage.py
start_dockerd
setup_podman

# A private containerd (as t-25): its own root, state and socket, no CRI.
short_dir CD kcd
cat >"$CD/config.toml" <<CFG
version = 2
root = "$CD/root"
state = "$CD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CD/sock"
CFG
containerd --config "$CD/config.toml" >"$CD/log" 2>&1 </dev/null &
CD_PID=$!
_CLEANUP_HOOKS+=("kill -TERM $CD_PID 2>/dev/null; sleep 0.5; _kill_pids_mentioning '$CD'")
ctr_() { ctr --address "$CD/sock" --namespace kiln "$@"; }
for i in $(seq 100); do
  ctr_ version >/dev/null 2>&1 && break
  kill -0 "$CD_PID" 2>/dev/null || break
  sleep 0.2
done
ctr_ version >/dev/null 2>&1 || { sed 's/^/#   /' "$CD/log" | tail -n 40; fail "containerd did not come up"; }

R=$T/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/data"
cp /bin/busybox "$R/bin/busybox"
for a in sh echo id; do ln -s busybox "$R/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/data:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' >"$R/etc/group"
COMMON=(--entrypoint '/bin/sh -c' --cmd '["echo kiln-ok $(id -un)"]' --env PATH=/bin --user app
  --workdir /data)

# base NAME: a kiln-built layout oci:$T/base-NAME:1 whose layer is NAME's own
# (a /fault file), so that no consumer's store already holds its blobs.
base() {
  mkdir -p "$T/r-$1"
  cp -a "$R/." "$T/r-$1/"
  echo "$1" >"$T/r-$1/fault"
  kiln_build --rootfs "$T/r-$1" "${COMMON[@]}" -o "oci:$T/base-$1:1"
  rm -rf "$T/r-$1"
}
# broken NAME FAULT: $T/NAME (layout), $T/NAME.oci.tar, $T/NAME.docker.tar (brk:NAME)
broken() {
  base "$1"
  python3 "$BREAK" "$T/base-$1" "$2" "$T/$1" "$T/$1.docker.tar" "brk:$1" || fail "breakimage.py $2"
  tar -C "$T/$1" -cf "$T/$1.oci.tar" .
}
# validate REF: kiln validate --format json; RC, OUT (the JSON), ERR
validate() { run "$KILN" validate --format json "$1"; }
# finding SEVERITY CHECK: the number of such findings in OUT
finding() { printf '%s' "$OUT" | jq --arg s "$1" --arg c "$2" '[.findings[] | select(.severity == $s and .check == $c)] | length'; }
# refused WHAT NEEDLE CMD...: CMD fails, saying NEEDLE
refused() {
  local what=$1 needle=$2; shift 2
  run "$@"
  if [ "$RC" -ne 0 ]; then ok "$what refuses it (exit $RC)"; else not_ok "$what refuses it" "it exited 0: $OUT"; fi
  assert_contains "$needle" "$OUT$ERR" "$what says: $needle"
}
# accepted WHAT CMD...: CMD succeeds
accepted() {
  local what=$1; shift
  run "$@"
  assert_eq 0 "$RC" "$what takes it"
  [ "$RC" -eq 0 ] || printf '%s\n' "$ERR" | tail -n 5 | sed 's/^/#   /'
}

say "images kiln builds validate clean, and run"
kiln_build --rootfs "$R" "${COMMON[@]}" --tag kv:clean -o "oci:$T/clean:1" \
  -o "oci-archive:$T/clean.oci.tar:1" -o "docker-archive:$T/clean.docker.tar"
for ref in "oci:$T/clean:1" "oci-archive:$T/clean.oci.tar:1" "docker-archive:$T/clean.docker.tar"; do
  validate "$ref"
  assert_eq 0 "$RC" "validate $ref exits 0"
  assert_eq "true 0 0" "$(printf '%s' "$OUT" | jq -r '"\(.valid) \(.errors) \(.warnings)"')" "validate $ref: valid, no findings"
done
run "$KILN" validate "oci:$T/clean:1"
assert_eq "oci:$T/clean:1: 0 errors, 0 warnings" "$OUT" "the table of a clean image is its count line"
accepted "docker load" docker_ load -i "$T/clean.docker.tar"
run docker_ run --rm --network none kv:clean
assert_eq "kiln-ok app" "$OUT" "docker runs it as its config says"
accepted "podman load" podman_ load -q -i "$T/clean.oci.tar"
IMG=$(printf '%s\n' "$OUT" | sed -n 's/^Loaded image: //p' | head -n 1)
run podman_ "${PODMAN_RUN[@]}" "$IMG"
assert_eq "kiln-ok app" "$OUT" "podman runs it as its config says"

say "a wrong diff_id"
broken diffid diff-id
refused "docker load" 'invalid diffID for layer 0' docker_ load -i "$T/diffid.docker.tar"
refused "podman load (docker-archive)" 'Digest did not match' podman_ load -q -i "$T/diffid.docker.tar"
refused "containerd (ctr images import)" 'wrong diff id calculated on extraction' \
  ctr_ images import --snapshotter native --index-name kv:diffid "$T/diffid.oci.tar"
validate "oci-archive:$T/diffid.oci.tar:1"
assert_eq 1 "$RC" "validate oci-archive: exits 1"
assert_eq 1 "$(finding error diff-id)" "validate oci-archive: a diff-id error"
validate "docker-archive:$T/diffid.docker.tar"
assert_eq 1 "$RC" "validate docker-archive: exits 1"
assert_contains "does not match its diff_id" "$OUT" "validate docker-archive: the reader's refusal, as a finding"

say "more diff_ids than layers"
broken count layer-count
refused "docker load" 'invalid manifest, layers length mismatch: expected 1, got 2' docker_ load -i "$T/count.docker.tar"
validate "docker-archive:$T/count.docker.tar"
assert_eq 1 "$RC" "validate exits 1"
assert_eq 1 "$(finding error layer-count)" "a layer-count error"

say "more history entries with layers than layers"
broken hist history
refused "docker load" 'too many non-empty layers in History section' docker_ load -i "$T/hist.docker.tar"
validate "oci:$T/hist:1"
assert_eq 1 "$RC" "validate exits 1"
assert_eq 1 "$(finding error history)" "a history error"

say "a blob that does not hash to its digest"
broken digest blob-digest
refused "skopeo copy" 'Digest did not match' skopeo copy "oci:$T/digest:1" "oci:$T/digest-copy:1"
rm -rf "$T/digest-copy"
refused "podman load (oci-archive)" 'gzip: invalid checksum' podman_ load -q -i "$T/digest.oci.tar"
refused "containerd (ctr images import)" 'failed to get reader from content store' \
  ctr_ images import --snapshotter native --index-name kv:digest "$T/digest.oci.tar"
validate "oci:$T/digest:1"
assert_eq 1 "$RC" "validate exits 1"
assert_eq 1 "$(finding error blob-digest)" "a blob-digest error"
assert_eq 0 "$(finding warning command)" "no runtime guesses about an unreadable layer"

say "a layer cut short (its digest and size made to match)"
broken trunc truncated
refused "docker load" 'unexpected EOF' docker_ load -i "$T/trunc.docker.tar"
refused "containerd (ctr images import)" 'failed to extract layer' \
  ctr_ images import --snapshotter native --index-name kv:trunc "$T/trunc.oci.tar"
refused "podman load" 'unexpected EOF' podman_ load -q -i "$T/trunc.oci.tar"
validate "oci:$T/trunc:1"
assert_eq 1 "$RC" "validate exits 1"
assert_eq 1 "$(finding error layer-tar)" "a layer-tar error"
assert_eq 00 "$(finding error diff-id)$(finding warning command)" "and no guesses past it"

say "an OCI layout without oci-layout, or of another version"
broken nolayout no-oci-layout
refused "containerd (ctr images import)" 'unrecognized image format' \
  ctr_ images import --snapshotter native --index-name kv:nolayout "$T/nolayout.oci.tar"
validate "oci-archive:$T/nolayout.oci.tar:1"
assert_eq "1 1" "$RC $(finding error oci-layout)" "validate: exits 1, an oci-layout error"
broken layoutv layout-version
refused "containerd (ctr images import)" 'unsupported OCI version 2.0.0' \
  ctr_ images import --snapshotter native --index-name kv:layoutv "$T/layoutv.oci.tar"
validate "oci:$T/layoutv:1"
assert_eq "1 1" "$RC $(finding error oci-layout)" "validate: exits 1, an oci-layout error"

say "a descriptor size that is not the blob's"
broken size blob-size=-1
refused "kiln copy" 'does not match its size' "$KILN" copy "oci:$T/size:1" "oci:$T/size-copy:1"
accepted "skopeo copy (it does not check sizes)" skopeo copy "oci:$T/size:1" "oci:$T/size-copy:1"
rm -rf "$T/size-copy"
validate "oci:$T/size:1"
assert_eq 1 "$RC" "validate exits 1"
assert_eq 1 "$(finding error blob-size)" "a blob-size error"

say "a Docker config media type in an OCI manifest"
broken mixcfg mixed-config
refused "podman load" 'unsupported image-specific operation on artifact with type' podman_ load -q -i "$T/mixcfg.oci.tar"
refused "skopeo inspect" 'unsupported image-specific operation on artifact with type' skopeo inspect "oci:$T/mixcfg:1"
validate "oci:$T/mixcfg:1"
assert_eq 1 "$RC" "validate exits 1"
assert_eq 1 "$(finding error media-type)" "a media-type error"

say "Docker layer media types in an OCI manifest: taken, but a warning"
broken mixlayer mixed-layer
accepted "podman load" podman_ load -q -i "$T/mixlayer.oci.tar"
accepted "containerd (ctr images import)" ctr_ images import --snapshotter native --index-name kv:mixlayer "$T/mixlayer.oci.tar"
validate "oci:$T/mixlayer:1"
assert_eq 0 "$RC" "validate exits 0"
assert_eq 1 "$(finding warning media-type)" "a media-type warning"

say "a hardlink to nowhere"
broken hardlink hardlink
refused "docker load" 'link /data/nowhere /data/link: no such file or directory' docker_ load -i "$T/hardlink.docker.tar"
refused "containerd (ctr images import)" 'no such file or directory' \
  ctr_ images import --snapshotter native --index-name kv:hardlink "$T/hardlink.oci.tar"
validate "oci:$T/hardlink:1"
assert_eq 1 "$RC" "validate exits 1"
assert_eq 1 "$(finding error hardlink)" "a hardlink error"
assert_eq "layer 1 (sha256:" "$(printf '%s' "$OUT" | jq -r '.findings[] | select(.check == "hardlink") | .where' | cut -c1-16)" "the finding names the layer"

say "a hardlink to a lower layer's file: vfs and containerd take it (overlay2 cannot: cited)"
broken hllower hardlink-lower
accepted "docker load (vfs)" docker_ load -i "$T/hllower.docker.tar"
accepted "containerd (ctr images import)" ctr_ images import --snapshotter native --index-name kv:hllower "$T/hllower.oci.tar"
validate "oci:$T/hllower:1"
assert_eq "0 1" "$RC $(finding warning hardlink)" "validate: exits 0, a hardlink warning"
assert_contains "overlay2/overlay.go:680" "$OUT" "the warning cites moby's source"

say "a '..' name: taken by the consumers, refused by kiln unpack: a warning"
broken dotdot dotdot
accepted "docker load" docker_ load -i "$T/dotdot.docker.tar"
accepted "containerd (ctr images import)" ctr_ images import --snapshotter native --index-name kv:dotdot "$T/dotdot.oci.tar"
refused "kiln unpack" "'..'" "$KILN" unpack "oci:$T/dotdot:1" "$T/dotdot-tree"
validate "oci:$T/dotdot:1"
assert_eq 0 "$RC" "validate exits 0"
assert_eq 1 "$(finding warning layer-path)" "a layer-path warning"

# listed NAME: "NAME:yes" if OUT has a line NAME
listed() { if printf '%s\n' "$OUT" | grep -qx "$1"; then echo "$1:yes"; else echo "$1:no"; fi; }
say "a whiteout of an entry of its own layer: the specs keep the entry, docker and containerd do not"
broken slw same-layer-whiteout
accepted "docker load" docker_ load -i "$T/slw.docker.tar"
run docker_ run --rm --network none --entrypoint /bin/busybox brk:slw ls /
if [ "$RC" -eq 0 ] && [ -z "$OUT" ]; then
  # docker run --rm once lost all of a short-lived container's output (rc 0,
  # nothing on stdout) on a loaded machine: ask again, and say so
  say "docker run printed nothing (rc 0): running it again"
  run docker_ run --rm --network none --entrypoint /bin/busybox brk:slw ls /
fi
assert_eq "0 bin:yes kept:no" "$RC $(listed bin) $(listed kept)" "docker removed /kept (and lists /bin)"
accepted "containerd (ctr images import)" ctr_ images import --snapshotter native --index-name kv:slw "$T/slw.oci.tar"
run timeout 120 ctr --address "$CD/sock" --namespace kiln run --rm --snapshotter native kv:slw kv-slw /bin/busybox ls /
assert_eq "0 bin:yes kept:no" "$RC $(listed bin) $(listed kept)" "containerd removed /kept (and lists /bin)"
validate "oci:$T/slw:1"
assert_eq 0 "$RC" "validate exits 0"
assert_eq 1 "$(finding warning whiteout)" "a whiteout warning"

say "zstd: Debian's docker.io 20.10 loads it (upstream Docker < 23 does not): a warning"
kiln_build --rootfs "$R" "${COMMON[@]}" --compression zstd --tag kv:zstd -o "docker-archive:$T/zstd.tar"
accepted "docker load ($(docker_ version -f '{{.Server.Version}}'))" docker_ load -i "$T/zstd.tar"
validate "docker-archive:$T/zstd.tar"
assert_eq 0 "$RC" "validate exits 0"
assert_eq 1 "$(finding warning zstd)" "a zstd warning"

say "more layers than overlay2 mounts (cited: vfs here has no limit)"
broken deep layers=129
validate "oci:$T/deep:1"
assert_eq 1 "$RC" "validate exits 1"
assert_eq 1 "$(finding error layer-count)" "a layer-count error"
assert_contains "overlay2/overlay.go:76" "$OUT" "the finding cites moby's source"
broken deep128 layers=128
validate "oci:$T/deep128:1"
assert_eq 0 "$RC" "128 layers: validate exits 0"

say "runtime: what docker loads but cannot run"
# rt NAME FAULT NEEDLE CHECK: docker run fails saying NEEDLE; validate warns CHECK
rt() {
  broken "$1" "$2"
  accepted "docker load ($2)" docker_ load -i "$T/$1.docker.tar"
  refused "docker run ($2)" "$3" docker_ run --rm --network none "brk:$1"
  validate "oci:$T/$1:1"
  assert_eq "$5" "$RC" "validate ($2) exits $5"
  assert_eq 1 "$(finding "$6" "$4")" "validate ($2): a $4 $6"
}
rt nope entrypoint=/nope 'stat /nope: no such file or directory' command 0 warning
rt noexec noexec=/app/run.sh 'exec: "/app/run.sh": permission denied' command 0 warning
rt nouser user=nobody2 'unable to find user nobody2: no matching entries in passwd file' user 0 warning
rt nogroup user=app:staff 'unable to find group staff: no matching entries in group file' user 0 warning
rt relwd workdir-rel 'Cwd must be an absolute path' workdir 1 error
rt filewd workdir=/etc/passwd 'not a directory' workdir 0 warning
rt nocmd nocmd 'No command specified' command 0 warning
run podman_ load -q -i "$T/nocmd.docker.tar"
refused "podman run (nocmd)" 'no command or entrypoint provided' podman_ "${PODMAN_RUN[@]}" localhost/brk:nocmd
broken numeric user=4321:4321
accepted "docker load (numeric user)" docker_ load -i "$T/numeric.docker.tar"
run docker_ run --rm --network none brk:numeric
assert_eq "kiln-ok " "$(printf '%s' "$OUT" | head -n 1 | cut -c1-8)" "docker runs a numeric user with no passwd entry"
validate "oci:$T/numeric:1"
assert_eq "0 0" "$RC $(printf '%s' "$OUT" | jq .warnings)" "validate: a numeric user is fine"

say "docker://: validated in a registry, and what docker pull refuses there"
start_registry plain
registry_docker_setup
run "$KILN" copy "oci:$T/clean:1" "docker://$REG/kv/clean:1"
assert_eq 0 "$RC" "kiln copy pushes the clean image"
validate "docker://$REG/kv/clean:1"
assert_eq "0 true 0" "$RC $(printf '%s' "$OUT" | jq -r '"\(.valid) \(.warnings)"')" "validate docker://: exits 0, valid, no warnings"
mapfile -t DEST_FLAGS < <(reg_skopeo_flags dest-)
accepted "skopeo copy --format v2s2" skopeo copy --format v2s2 "${DEST_FLAGS[@]}" "oci:$T/clean:1" "docker://$REG/kv/v2s2:1"
validate "docker://$REG/kv/v2s2:1"
assert_eq "0 0 0" "$RC $(printf '%s' "$OUT" | jq -r '"\(.errors) \(.warnings)"')" "validate a Docker v2 schema 2 image: no findings"
run "$KILN" inspect --raw "docker://$REG/kv/v2s2:1"
assert_contains "application/vnd.docker.distribution.manifest.v2+json" "$OUT" "(it is one)"
# skopeo pushes what kiln copy would refuse (it checks no diff_id of an OCI image)
broken regdiff diff-id
accepted "skopeo copy to the registry" skopeo copy "${DEST_FLAGS[@]}" "oci:$T/regdiff:1" "docker://$REG/kv/regdiff:1"
refused "docker pull" "layers from manifest don't match image configuration" docker_reg pull "$REG/kv/regdiff:1"
validate "docker://$REG/kv/regdiff:1"
assert_eq 1 "$RC" "validate docker://: exits 1"
assert_eq 1 "$(finding error diff-id)" "validate docker://: a diff-id error"
stop_registry

say "a multi-platform index: every image, each line named by its platform (its config's)"
kiln_build --rootfs "$R" "${COMMON[@]}" --platform linux/arm64 -o "oci:$T/arm:1"
run "$KILN" index -o "oci:$T/multi:1" "oci:$T/clean:1" "oci:$T/arm:1"
assert_eq 0 "$RC" "kiln index"
validate "oci:$T/multi:1"
assert_eq "0 0" "$RC $(printf '%s' "$OUT" | jq .warnings)" "validate index: exits 0, no findings"
broken armnope entrypoint=/nope
python3 - "$T/armnope" <<'PY'
import json, sys, os
d = sys.argv[1]
idx = json.load(open(os.path.join(d, "index.json")))
idx["manifests"][0]["platform"] = {"os": "linux", "architecture": "arm64"}
idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
       "manifests": idx["manifests"]}
b = json.dumps(idx).encode()
import hashlib
h = hashlib.sha256(b).hexdigest()
open(os.path.join(d, "blobs", "sha256", h), "wb").write(b)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": idx["mediaType"], "digest": "sha256:" + h,
           "size": len(b), "annotations": {"org.opencontainers.image.ref.name": "1"}}]},
          open(os.path.join(d, "index.json"), "w"))
PY
validate "oci:$T/armnope:1"
assert_eq "0" "$RC" "validate index with a warning: exits 0"
assert_eq "1 1" "$(finding warning index) $(finding warning command)" "validate index: the entry's platform is not the config's; the entrypoint is missing"
assert_eq "linux/amd64: config Entrypoint[0]" "$(printf '%s' "$OUT" | jq -r '.findings[] | select(.check == "command") | .where')" "the image's findings begin with its platform"
run "$KILN" validate --platform linux/arm64 "oci:$T/multi:1"
assert_eq "0 oci:$T/multi:1: 0 errors, 0 warnings" "$RC $OUT" "validate --platform: that image"
run "$KILN" validate --platform linux/s390x "oci:$T/multi:1"
assert_eq 1 "$RC" "validate --platform with no such image: exits 1"
assert_contains "no image for platform linux/s390x" "$OUT" "and says so"

say "names that are not UTF-8 stay JSON"
broken latin1 latin1
validate "oci:$T/latin1:1"
assert_eq 0 "$RC" "validate exits 0 (a duplicate path is a warning)"
assert_eq "layer-path"$'\t'"caf"$'\xc3\xa9' "$(printf '%s' "$OUT" | jq -r '.findings[] | "\(.check)\t\(.where | sub("^layer 1 [(][^)]*[)]: "; ""))"')" "jq reads it: the name's byte 0xe9 as U+00E9"

say "the table, and errors of the command itself"
run "$KILN" validate "oci:$T/hardlink:1"
assert_eq 1 "$RC" "table: exits 1"
assert_match '^SEVERITY +WHERE +FINDING$' "$(printf '%s\n' "$OUT" | head -n 1)" "table: a header"
assert_match '^error +layer 1 \(sha256:[0-9a-f]{12}\): data/link +a hardlink' "$(printf '%s\n' "$OUT" | sed -n 2p)" "table: severity, where, finding"
assert_eq "oci:$T/hardlink:1: 1 error, 0 warnings" "$(printf '%s\n' "$OUT" | tail -n 1)" "table: the count last"
run "$KILN" validate
assert_eq 2 "$RC" "no REF: usage error (2)"
run "$KILN" validate --format yaml "oci:$T/clean:1"
assert_eq 2 "$RC" "--format yaml: usage error (2)"
run "$KILN" validate "docker://127.0.0.1:1/kv/none:1"
assert_eq 1 "$RC" "a registry that does not answer: exits 1"
assert_eq "" "$OUT" "no findings about an image it could not read"
assert_contains "127.0.0.1:1" "$ERR" "the error names the registry"
validate "oci:$T/does-not-exist:1"
assert_eq 1 "$RC" "a missing layout: exits 1"
assert_contains "does-not-exist" "$OUT" "the finding names the path"
