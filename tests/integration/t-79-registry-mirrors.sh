#!/usr/bin/env bash
# Pull mirrors, for factories without internet: --registry-mirror [REGISTRY=]MIRROR
# and the "registry-mirrors" of docker's daemon.json (Docker Hub only, as dockerd
# uses them). Docker Hub itself is out of reach here, so every docker.io pull that
# works came from the mirror; the real dockerd, given the same daemon.json, pulls
# the same image from it. A mirror that lacks the image, or is down, is skipped
# for the next one, then the registry itself; pushes never go to a mirror.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need jq
[ -x /bin/busybox ] || _missing busybox
export SOURCE_DATE_EPOCH=1700000000

reg_rootfs "$T/rootfs" "hello from the mirror"
kiln_build --rootfs "$T/rootfs" --cmd '["/bin/cat","/hello.txt"]' -o "oci:$T/lay:1"
D=$DIGEST
ID=$(layout_manifest "$T/lay" 1 | jq -r .config.digest)

start_registry plain
MIRROR=$REG
MIRROR_LOG=$REG_LOG
run "$KILN" copy "oci:$T/lay:1" "docker://$MIRROR/library/hello:1"
assert_eq "0 $D" "$RC $OUT" "the image is on the mirror as library/hello:1"

say "docker.io through daemon.json's registry-mirrors"
printf '{"registry-mirrors": ["http://%s"]}\n' "$MIRROR" >"$T/daemon.json"
export KILN_DOCKER_DAEMON_JSON=$T/daemon.json
run "$KILN" inspect --format '{{.Digest}}' "docker://hello:1"
assert_eq "0 $D" "$RC $OUT" "kiln inspect docker://hello:1 is served by the mirror"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" digest "docker://docker.io/library/hello:1"
assert_eq "0 $D" "$RC $OUT" "kiln digest too"
run "$KILN" copy "docker://hello:1" "oci:$T/pulled:1"
assert_eq "0 $D" "$RC $OUT" "kiln copy pulls every blob from the mirror"
mkdir -p "$T/apptree"; echo app >"$T/apptree/app.txt"
run "$KILN" build --from "docker://hello:1" --rootfs "$T/apptree" -o "oci:$T/app:1"
assert_eq 0 "$RC" "kiln build --from docker://hello:1"; [ "$RC" -eq 0 ] || say "$ERR"
start_dockerd --config-file "$T/daemon.json"
run docker_ pull hello:1
assert_eq 0 "$RC" "dockerd with the same daemon.json pulls hello:1 from the mirror"; [ "$RC" -eq 0 ] || say "$ERR$OUT"
assert_eq "$ID" "$(docker_ image inspect -f '{{.Id}}' hello:1 2>/dev/null)" "the same image"
run docker_ run --rm --network none hello:1
assert_eq "hello from the mirror" "$OUT" "docker runs it"
run env KILN_DOCKER_DAEMON_JSON= "$KILN" inspect "docker://hello:1" --retries 0
assert_eq 1 "$RC" "without a daemon.json, docker.io is out of reach (so the mirror did the work above)"
unset KILN_DOCKER_DAEMON_JSON

say "--registry-mirror REGISTRY=MIRROR for another registry, which is down"
start_registry plain
UP=$REG
UP_LOG=$REG_LOG
run "$KILN" copy "oci:$T/lay:1" "docker://$UP/team/only-up:1"
run "$KILN" copy "oci:$T/lay:1" "docker://$MIRROR/team/app:1"
stop_registry
run "$KILN" inspect --format '{{.Digest}}' --registry-mirror "$UP=http://$MIRROR" "docker://$UP/team/app:1"
assert_eq "0 $D" "$RC $OUT" "served by the mirror while the registry is down"; [ "$RC" -eq 0 ] || say "$ERR"

say "a mirror without the image, then one that is down: the registry itself serves it"
start_registry plain
UP2=$REG
run "$KILN" copy "oci:$T/lay:1" "docker://$UP2/team/only-up:1"
M=$(REG_LOG=$MIRROR_LOG registry_log_mark)
run "$KILN" copy -v --registry-mirror "$UP2=$MIRROR" --registry-mirror "$UP2=127.0.0.1:1" \
  "docker://$UP2/team/only-up:1" "oci:$T/fallback:1"
assert_eq "0 $D" "$RC $OUT" "the copy falls back to the registry"; [ "$RC" -eq 0 ] || say "$ERR"
assert_contains "mirror $MIRROR" "$ERR" "-v says the first mirror did not have it"
assert_contains "mirror 127.0.0.1:1" "$ERR" "and the second was down"
assert_eq 1 "$(REG_LOG=$MIRROR_LOG registry_request_count '^GET /v2/team/only-up/manifests/1' "$M")" "the mirror was asked first"

say "pushes never go to a mirror"
M=$(REG_LOG=$MIRROR_LOG registry_log_mark)
run "$KILN" copy --registry-mirror "$UP2=$MIRROR" "oci:$T/lay:1" "docker://$UP2/team/pushed:1"
assert_eq "0 $D" "$RC $OUT" "the push works"
assert_eq 0 "$(REG_LOG=$MIRROR_LOG registry_request_count '^(PUT|POST|PATCH) ' "$M")" "nothing was written to the mirror"

say "a mirror with a path is a usage error"
run "$KILN" inspect --registry-mirror "https://mirror.example.com/v2/" "docker://hello:1"
assert_eq 2 "$RC" "exit 2"
assert_contains "mirror 'https://mirror.example.com/v2/'" "$ERR" "naming the mirror"
