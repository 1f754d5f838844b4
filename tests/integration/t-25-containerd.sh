#!/usr/bin/env bash
# containerd (ctr images import): kiln's docker-archive and oci-archive
# outputs, gzip and zstd, are imported by a private containerd (which checks
# every digest), unpacked by its native snapshotter and run with runc: the
# config applies and owners, modes, file types and contents inside the
# container are the source tree's.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need containerd ctr runc busybox jq
[ -x /bin/busybox ] || _missing busybox

R=$T/rootfs
make_rich_rootfs "$R"

start_containerd

COMMON=(--rootfs "$R" --entrypoint '/bin/busybox sh -c'
  --cmd '["echo kiln-ok $FOO $(id -u):$(id -g) $PWD"]'
  --env PATH=/bin --env FOO=bar --workdir /data --source-date-epoch 1700000000)

# lib.sh's STAT_SCRIPT on the host and in the container, the paths as
# arguments (ctr run does not pass stdin through). Arguments travel through the runtime spec's JSON, which cannot carry the
# non-UTF-8 name of the rich tree: it is checked apart, through ls's output.
mapfile -t PATHS < <(cd "$R" && find . -mindepth 1 | sort | LC_ALL=C.UTF-8 grep -ax '.*')
assert_eq "$(($(cd "$R" && find . -mindepth 1 | wc -l) - 1))" "${#PATHS[@]}" "setup: one non-UTF-8 name set apart"
PATH=/bin /bin/busybox sh -c "$STAT_SCRIPT" sh "$R" "${PATHS[@]}" >"$T/host.stat"

n=0
# try_import WHAT ARCHIVE IMAGE-NAME UID:GID [ctr import args]
# (ctr run has no --user: the stat comparison runs only on images whose
# config runs as root, so that every file can be read)
try_import() {
  local what=$1 archive=$2 name=$3 ids=$4; shift 4
  n=$((n + 1))
  run ctr_ images import --snapshotter native "$@" "$archive"
  assert_eq 0 "$RC" "$what: ctr images import exits 0"
  [ "$RC" -eq 0 ] || { printf '%s\n' "$ERR" | sed 's/^/#   /'; return; }
  check "$what: $name is listed" bash -c "ctr --address '$CD/sock' --namespace kiln images ls -q | grep -qxF '$name'"
  run ctr_ images check
  assert_match "^$name .* complete " "$(printf '%s\n' "$OUT" | grep -F "$name " | tr -s ' ')" "$what: ctr images check: complete"
  run timeout 120 ctr --address "$CD/sock" --namespace kiln run --rm --snapshotter native "$name" "kiln-$n"
  assert_eq 0 "$RC" "$what: ctr run exits 0"
  assert_eq "kiln-ok bar $ids /data" "$OUT" "$what: entrypoint+cmd ran with Env, User, WorkingDir"
  [ "$ids" = 0:0 ] || return 0
  # The listing goes to a file of a bind mount, not through ctr's stdout:
  # ctr run --rm can lose the end of a task's output when it exits at once.
  mkdir -p "$T/out$n"
  timeout 120 ctr --address "$CD/sock" --namespace kiln run --rm --snapshotter native \
    --mount "type=bind,src=$T/out$n,dst=/kiln-out,options=rbind:rw" "$name" "kiln-$n-stat" \
    /bin/busybox sh -c "{ $STAT_SCRIPT
} >/kiln-out/stat" sh / "${PATHS[@]}" >"$T/c$n.out" 2>"$T/c$n.err" </dev/null || true
  cp "$T/out$n/stat" "$T/c$n.stat" 2>/dev/null || : >"$T/c$n.stat"
  assert_same_text "$T/host.stat" "$T/c$n.stat" "$what: owners/modes/types/sizes/contents/targets/devices in the container"
  timeout 120 ctr --address "$CD/sock" --namespace kiln run --rm --snapshotter native "$name" "kiln-$n-ls" \
    /bin/busybox sh -c 'cd /data && for f in caf*; do printf "%s" "$f" | od -An -tx1 | tr -d " \n"; printf " "; sha256sum <"$f" | cut -c1-64; done' \
    >"$T/c$n.ls" </dev/null || true
  assert_eq "636166e9 $(sha256sum <"$R/data/caf"$'\xe9' | cut -c1-64)" "$(cat "$T/c$n.ls")" "$what: the Latin-1 (non-UTF-8) name is there, byte for byte, with its contents"
}

say "docker-archive (gzip), as docker load takes it"
kiln_build "${COMMON[@]}" --user 1000:1000 --tag kiln-ctr:user -o docker-archive:"$T/img.user.tar"
try_import "docker-archive, --user 1000:1000" "$T/img.user.tar" docker.io/library/kiln-ctr:user 1000:1000
kiln_build "${COMMON[@]}" --tag kiln-ctr:docker -o docker-archive:"$T/img.docker.tar"
try_import "docker-archive" "$T/img.docker.tar" docker.io/library/kiln-ctr:docker 0:0

say "oci-archive (gzip)"
kiln_build "${COMMON[@]}" -o oci-archive:"$T/img.oci.tar":gz
DG=$DIGEST
try_import "oci-archive gzip" "$T/img.oci.tar" kiln/oci:gz 0:0 --base-name kiln/oci
run ctr_ images ls
assert_contains "$DG" "$OUT" "oci-archive gzip: containerd's image digest is the manifest digest kiln printed"

say "oci-archive (zstd)"
kiln_build "${COMMON[@]}" --compression zstd -o oci-archive:"$T/img.zstd.tar":zstd
try_import "oci-archive zstd" "$T/img.zstd.tar" kiln/oci:zstd 0:0 --base-name kiln/oci

say "a damaged archive is refused by containerd (a control for the checks above)"
cp "$T/img.oci.tar" "$T/bad.oci.tar"
python3 - "$T/bad.oci.tar" <<'PY'
import sys, tarfile, json, io
p = sys.argv[1]
t = tarfile.open(p)
members = {m.name: m for m in t.getmembers()}
idx = json.load(t.extractfile("index.json"))
man = json.load(t.extractfile("blobs/sha256/" + idx["manifests"][0]["digest"].split(":")[1]))
layer = "blobs/sha256/" + man["layers"][0]["digest"].split(":")[1]
t.close()
# flip one byte inside the layer blob's data, in place
t = tarfile.open(p)
off = members[layer].offset_data + members[layer].size // 2
t.close()
with open(p, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0xFF]))
PY
run ctr_ images import --snapshotter native --base-name kiln/bad "$T/bad.oci.tar"
if [ "$RC" -ne 0 ]; then ok "a flipped byte in a layer: containerd refuses the import"
else
  run ctr_ run --rm --snapshotter native kiln/bad:gz kiln-bad true
  assert_ne 0 "$RC" "a flipped byte in a layer: containerd refuses the image"
fi
