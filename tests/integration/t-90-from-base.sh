#!/usr/bin/env bash
# kiln build --from: an app on a base image from every transport. Base layers are
# referenced (same digests, not recompressed), the base config is inherited and
# overridden, history appended; pushing next to the base in the same registry
# mounts the base layers and uploads only the app's layer and config.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need jq curl
[ -x /bin/busybox ] || _missing busybox
start_dockerd
export SOURCE_DATE_EPOCH=1700000000

reg_rootfs "$T/base" "from the base"
mkdir -p "$T/base/etc"; echo "base-release 1" >"$T/base/etc/release"
kiln_build --rootfs "$T/base" --env PATH=/bin --env BASE=1 --label layer=base --label keep=yes \
  --cmd '["/bin/sh"]' --workdir /base --port 80 -o "oci:$T/base-oci:1" \
  -o "docker-archive:$T/base.docker.tar" -o "oci-archive:$T/base.oci.tar:1"
BASE_DIGEST=$DIGEST
BASE_LAYER=$(layout_manifest "$T/base-oci" 1 | jq -r '.layers[0].digest')

mkdir -p "$T/app/usr/bin"
printf '#!/bin/sh\necho "app sees: $(cat /etc/release) / $(cat /hello.txt) / BASE=$BASE APP=$APP"\n' \
  >"$T/app/usr/bin/app"
chmod 755 "$T/app/usr/bin/app"
APP_ARGS=(--rootfs "$T/app" --entrypoint '["/usr/bin/app"]' --env APP=2 --env BASE=overridden
          --label layer=app --port 8080/udp)

check_config() { # NAME CONFIG_JSON
  local n=$1 c=$2
  assert_eq '["PATH=/bin","BASE=overridden","APP=2"]' "$(jq -c .config.Env <<<"$c")" "$n: Env inherited, overridden in place, extended"
  assert_eq '{"keep":"yes","layer":"app"}' "$(jq -c -S .config.Labels <<<"$c")" "$n: Labels merged"
  assert_eq '["/usr/bin/app"]' "$(jq -c .config.Entrypoint <<<"$c")" "$n: Entrypoint set"
  assert_eq null "$(jq -c .config.Cmd <<<"$c")" "$n: the base Cmd is dropped with a new Entrypoint (as docker build)"
  assert_eq /base "$(jq -r .config.WorkingDir <<<"$c")" "$n: WorkingDir inherited"
  assert_eq '["80/tcp","8080/udp"]' "$(jq -c '.config.ExposedPorts|keys' <<<"$c")" "$n: ports united"
  assert_eq 2 "$(jq '.rootfs.diff_ids|length' <<<"$c")" "$n: base diff_id + app diff_id"
  assert_eq 2 "$(jq '.history|length' <<<"$c")" "$n: history appended"
}

for src in "oci:$T/base-oci:1" "oci-archive:$T/base.oci.tar:1" "docker-archive:$T/base.docker.tar"; do
  name=${src%%:*}
  say "--from $name"
  kiln_build --from "$src" "${APP_ARGS[@]}" -o "oci:$T/app-$name:1" -o "docker-archive:$T/app-$name.tar"
  assert_eq "$BASE_LAYER" "$(layout_manifest "$T/app-$name" 1 | jq -r '.layers[0].digest')" "$name: the base layer is referenced unchanged"
  check_config "$name" "$(layout_config "$T/app-$name" 1)"
  run docker_ load -i "$T/app-$name.tar"
  assert_eq 0 "$RC" "$name: docker load"
  IMG=$(printf '%s' "$OUT" | sed -n 's/^Loaded image ID: //p')
  run docker_ run --rm --network none "$IMG"
  assert_eq "app sees: base-release 1 / from the base / BASE=overridden APP=2" "$OUT" "$name: docker run sees base and app"
done

say "--from docker:// in the same registry: base layers mounted, only the app uploaded"
start_registry plain
run "$KILN" copy "oci:$T/base-oci:1" "docker://$REG/library/base:1"
assert_eq "0 $BASE_DIGEST" "$RC $OUT" "base pushed"
M=$(registry_log_mark)
kiln_build --from "docker://$REG/library/base:1" "${APP_ARGS[@]}" -o "docker://$REG/team/app:1"
APP_DIGEST=$DIGEST
assert_eq 1 "$(registry_request_count "^POST /v2/team/app/blobs/uploads/\?.*mount=$BASE_LAYER" "$M")" "the base layer was mounted"
assert_eq 0 "$(registry_request_count "^GET /v2/library/base/blobs/$BASE_LAYER" "$M")" "the base layer was not downloaded"
assert_eq 2 "$(registry_request_count '^PUT /v2/team/app/blobs/uploads/' "$M")" "only the app layer and the config were uploaded"
run docker_reg pull "$REG/team/app:1"
assert_eq 0 "$RC" "docker pull of the app"
run docker_reg run --rm --network none "$REG/team/app:1"
assert_eq "app sees: base-release 1 / from the base / BASE=overridden APP=2" "$OUT" "docker run of the pulled app"
run "$KILN" inspect --config "docker://$REG/team/app:1"
check_config registry "$OUT"

say "a Dockerfile FROM a registry image opens it once: one manifest read, each base layer downloaded once"
mkdir -p "$T/dfctx"
printf 'from the Dockerfile\n' >"$T/dfctx/df.txt"
printf 'FROM %s\nCOPY df.txt /df.txt\nCMD ["/bin/sh", "-c", "cat /etc/release /df.txt"]\n' \
  "$REG/library/base:1" >"$T/dfctx/Dockerfile"
M=$(registry_log_mark)
kiln_build -o "oci:$T/df-app:1" "$T/dfctx"
assert_eq 1 "$(registry_request_count '^GET /v2/library/base/manifests/' "$M")" "the base manifest is read once"
assert_eq 1 "$(registry_request_count "^GET /v2/library/base/blobs/$BASE_LAYER" "$M")" "the base layer is downloaded once (for the files and for the image)"
assert_eq "$BASE_LAYER" "$(layout_manifest "$T/df-app" 1 | jq -r '.layers[0].digest')" "the Dockerfile image keeps the base layer"
run "$KILN" copy "oci:$T/df-app:1" "docker-archive:$T/df-app.tar"
run docker_ load -i "$T/df-app.tar"
IMG=$(printf '%s' "$OUT" | sed -n 's/^Loaded image ID: //p')
run docker_ run --rm --network none "$IMG"
assert_eq "$(printf 'base-release 1\nfrom the Dockerfile')" "$OUT" "docker runs the Dockerfile image on the registry base"

say "--from an index picks the platform (--platform), or the host's"
run "$KILN" build --from "docker://$REG/library/base:1" --platform linux/arm64 --rootfs "$T/app" -o "oci:$T/x:1"
assert_eq 1 "$RC" "a single amd64 base with --platform linux/arm64 is refused"
assert_contains "not linux/arm64" "$ERR" "the error names the platform"

say "an app on a Debian base pulled from the local registry: only the app layer is uploaded"
need debootstrap
DEB=$(debian_minbase)
run "$KILN" build --rootfs "$DEB" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd '["bash"]' -o "docker://$REG/debian/base:12"
assert_eq 0 "$RC" "the Debian base is pushed"
mkdir -p "$T/debapp/usr/local/bin"
printf '#!/bin/sh\necho "app on Debian $(cat /etc/debian_version)"\n' >"$T/debapp/usr/local/bin/app"
chmod 755 "$T/debapp/usr/local/bin/app"
M=$(registry_log_mark)
kiln_build --from "docker://$REG/debian/base:12" --rootfs "$T/debapp" --entrypoint '["/usr/local/bin/app"]' \
  -o "docker://$REG/team/debapp:1"
DEBLAYER=$(run "$KILN" inspect --raw "docker://$REG/debian/base:12"; jq -r '.layers[0].digest' <<<"$OUT")
assert_eq 0 "$(registry_request_count "^PUT /v2/team/debapp/blobs/uploads/.*digest=$DEBLAYER" "$M")" "the Debian layer is not uploaded again"
assert_eq 1 "$(registry_request_count "^POST /v2/team/debapp/blobs/uploads/\?.*mount=$DEBLAYER" "$M")" "it is mounted from the base repository"
assert_eq 2 "$(registry_request_count '^PUT /v2/team/debapp/blobs/uploads/' "$M")" "only the app layer and the config are uploaded"
run docker_reg pull "$REG/team/debapp:1"
assert_eq 0 "$RC" "docker pull of the Debian app"
run docker_reg run --rm --network none "$REG/team/debapp:1"
assert_eq "app on Debian $(cat "$DEB/etc/debian_version")" "$OUT" "docker run of the Debian app"
