#!/usr/bin/env bash
# Ctrl-C (SIGINT) and SIGTERM in the middle of a build or a push: kiln exits 130,
# removes what it had started (staging directory, temporary outputs), leaves an
# existing layout as it was, and no tag in the registry points at a partial image.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need jq curl timeout base64

# A tree slow to compress at the highest level: ~48 MB of base64 text.
mkdir -p "$T/slow"
head -c 36000000 /dev/urandom | base64 >"$T/slow/text"
mkdir -p "$T/out"

# interrupt_after SECONDS SIGNAL CMD...: starts CMD, signals it, sets RC.
interrupt_after() {
  local delay=$1 sig=$2; shift 2
  "$@" >"$T/stdout" 2>"$T/stderr" &
  local pid=$!
  sleep "$delay"
  kill -s "$sig" "$pid" 2>/dev/null || true
  RC=0; wait "$pid" || RC=$?
}
leftovers() { find "$1" -maxdepth 1 \( -name '.kiln-*' -o -name '*.kiln-tmp-*' \) | sort; }

# --no-cache: the blocks an interrupted build compressed are in the cache, and
# a later build of the same tree, taking them, would end before its signal
for sig in INT TERM; do
  say "SIG$sig during a build into new outputs"
  interrupt_after 1 "$sig" "$KILN" build --no-cache --rootfs "$T/slow" --compression-level 12 -j 1 \
    -o "oci:$T/out/layout-$sig" -o "docker-archive:$T/out/img-$sig.tar" \
    -o "oci-archive:$T/out/img-$sig.oci.tar"
  assert_eq 130 "$RC" "SIG$sig: exit status 130"
  assert_contains "interrupted" "$(cat "$T/stderr")" "SIG$sig: says it was interrupted"
  assert_eq "" "$(cat "$T/stdout")" "SIG$sig: no digest printed"
  assert_not_exists "$T/out/layout-$sig" "SIG$sig: no layout"
  assert_not_exists "$T/out/img-$sig.tar" "SIG$sig: no docker archive"
  assert_not_exists "$T/out/img-$sig.oci.tar" "SIG$sig: no oci archive"
  assert_eq "" "$(leftovers "$T/out")" "SIG$sig: no staging or temporary files left"
done

say "SIGINT while adding to an existing layout"
mkdir -p "$T/small"; echo small >"$T/small/f"
kiln_build --rootfs "$T/small" --source-date-epoch 1 -o "oci:$T/out/existing:old"
before=$(cd "$T/out/existing" && find . -type f | sort | xargs sha256sum)
interrupt_after 1 INT "$KILN" build --no-cache --rootfs "$T/slow" --compression-level 12 -j 1 \
  -o "oci:$T/out/existing:new"
assert_eq 130 "$RC" "existing layout: exit status 130"
after=$(cd "$T/out/existing" && find . -type f | sort | xargs sha256sum)
assert_eq "$before" "$after" "existing layout: every file as it was"
assert_eq "" "$(leftovers "$T/out")" "existing layout: no staging files left"

say "SIGTERM during a push (uploads slowed by a proxy)"
kiln_build --rootfs "$T/slow" --source-date-epoch 1 --compression-level 1 -o "oci:$T/src:1"
start_registry plain
start_faultproxy '[{"method":"PUT","path":"/blobs/uploads/","on":"all","action":"delay","seconds":5}]'
interrupt_after 2 TERM "$KILN" copy "oci:$T/src:1" "docker://$REG/intr/app:1"
assert_eq 130 "$RC" "push: exit status 130"
assert_eq 404 "$(reg_manifest_status intr/app 1)" "push: no tag points at a partial image"
set_faults '[]'
run "$KILN" copy "oci:$T/src:1" "docker://$REG/intr/app:1"
assert_eq 0 "$RC" "push: a later push completes"
assert_eq 200 "$(reg_manifest_status intr/app 1)" "push: then the tag exists"

