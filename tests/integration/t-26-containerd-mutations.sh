#!/usr/bin/env bash
# containerd runs what kiln mutate, append, rebase and flatten make (issue 16):
# each result, in an oci-archive and a docker-archive, is imported by a private
# containerd (which checks every digest), unpacked by its native snapshotter
# and run with runc. The files are those of the layers the image should have
# (whiteouts of a layer applied, a rebased image without the old base's files,
# a flat image with the merged tree), and the config is the changed one.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need containerd ctr runc busybox jq
[ -x /bin/busybox ] || _missing busybox
export SOURCE_DATE_EPOCH=1700000000
start_containerd

mkroot() { # DIR WORD: a busybox tree whose /etc/base says WORD
  mkdir -p "$1/bin" "$1/etc"
  cp /bin/busybox "$1/bin/busybox"
  for a in sh cat ls; do ln -s busybox "$1/bin/$a"; done
  echo "$2" >"$1/etc/base"
  echo "only in $2" >"$1/etc/only-$2"
}
mkroot "$T/old" old
mkroot "$T/new" new
mkdir -p "$T/app/app" "$T/extra/app"
echo hello >"$T/app/app/hello"
echo doomed >"$T/app/app/doomed"
echo extra >"$T/extra/app/extra"
# a layer that whites out a file of the one below it
python3 - "$T/wh.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    d = tarfile.TarInfo('app/'); d.type = tarfile.DIRTYPE; d.mode = 0o755; d.mtime = 1700000000
    t.addfile(d)
    w = tarfile.TarInfo('app/.wh.doomed'); w.mtime = 1700000000
    t.addfile(w, io.BytesIO(b''))
PY

L=$T/lay
kiln_build --rootfs "$T/old" --env PATH=/bin -o "oci:$L:old"
kiln_build --rootfs "$T/new" --env PATH=/bin -o "oci:$L:new"
kiln_build --from "oci:$L:old" --rootfs "$T/app" --entrypoint '["/bin/sh","-c"]' \
  --cmd '["cat /etc/base /app/hello"]' -o "oci:$L:app"

say "the images"
mod() { # WHAT CMD...: a kiln command that must succeed
  local what=$1; shift
  run "$@"
  assert_eq 0 "$RC" "$what exits 0 (stderr: $ERR)"
  [ "$RC" -eq 0 ] || fail "$what: $ERR"
}
mod "kiln mutate" "$KILN" mutate "oci:$L:app" --env GREETING=mutated \
  --cmd '["echo $GREETING; cat /app/hello"]' --workdir /app -o "oci:$L:mutated"
mod "kiln append" "$KILN" append "oci:$L:app" --rootfs "$T/extra" --tar "$T/wh.tar" -o "oci:$L:appended"
mod "kiln rebase" "$KILN" rebase --old-base "oci:$L:old" --new-base "oci:$L:new" "oci:$L:app" -o "oci:$L:rebased"
mod "kiln flatten" "$KILN" flatten "oci:$L:appended" -o "oci:$L:flat"
assert_eq 1 "$("$KILN" inspect --format '{{len .Layers}}' "oci:$L:flat")" "the flat image has one layer"

# import TAG: TAG copied to both archive kinds and imported into containerd
# as docker.io/kiln-t26/TAG:KIND
import() {
  local tag=$1 kind archive name
  for kind in oci-archive docker-archive; do
    archive=$T/$tag.$kind.tar name=docker.io/kiln-t26/$tag:$kind
    if [ "$kind" = oci-archive ]; then
      mod "$tag: kiln copy to $kind" "$KILN" copy "oci:$L:$tag" "$kind:$archive:$tag"
      run ctr_ images import --snapshotter native --index-name "$name" "$archive"
    else
      mod "$tag: kiln copy to $kind" "$KILN" copy "oci:$L:$tag" "$kind:$archive:$name"
      run ctr_ images import --snapshotter native "$archive"
    fi
    assert_eq 0 "$RC" "$tag ($kind): ctr images import (stderr: $ERR)"
    run ctr_ images check
    assert_match "^$name .* complete " "$(printf '%s\n' "$OUT" | grep -F "$name " | tr -s ' ')" \
      "$tag ($kind): ctr images check: complete"
  done
}
n=0
# try WHAT TAG WANT [CMD...]: ctr run of TAG from both archive kinds (CMD, or
# the image's own) prints WANT
try() {
  local what=$1 tag=$2 want=$3 kind
  shift 3
  for kind in oci-archive docker-archive; do
    n=$((n + 1))
    run timeout 120 ctr --address "$CD/sock" --namespace kiln run --rm --snapshotter native \
      "docker.io/kiln-t26/$tag:$kind" "t26-$n" "$@"
    assert_eq 0 "$RC" "$what ($kind): ctr run exits 0 (stderr: $ERR)"
    assert_eq "$want" "$(echo $OUT)" "$what ($kind): what runs in containerd"
  done
}
for tag in app mutated appended rebased flat; do import "$tag"; done
try "the app" app "old hello"
try "mutate" mutated "mutated hello"
try "mutate: workdir" mutated "/app" /bin/sh -c pwd
try "append" appended "extra hello" /bin/sh -c 'cat /app/extra /app/hello'
try "append: the whiteout" appended "doomed gone" /bin/sh -c '[ -e /app/doomed ] && echo there || echo doomed gone'
try "rebase" rebased "new hello"
try "rebase: the old base's files are gone" rebased "only in new no old" \
  /bin/sh -c 'cat /etc/only-new; [ -e /etc/only-old ] && echo old || echo no old'
try "flatten" flat "extra hello" /bin/sh -c 'cat /app/extra /app/hello'
try "flatten: the whiteout applied" flat "app/doomed gone" /bin/sh -c '[ -e /app/doomed ] && echo there || echo app/doomed gone'
