#!/usr/bin/env bash
# examples/: the static C program packaged alone (examples/static-app/build.sh)
# runs in a private dockerd and prints what its image config says; the CI
# script (examples/ci/build-and-push.sh, the step of the GitLab CI job and the
# GitHub Actions workflow) logs in to a local registry with Basic auth, builds
# and pushes, and docker pulls and runs what it pushed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln
need cc jq python3 tar readelf
EX=$KILN_SOURCE_DIR/examples
# the scripts must not pick up the checkout's git history or the caller's settings
cd "$T" || exit 1
unset SOURCE_DATE_EPOCH REGISTRY IMAGE TAG EXTRA_TAG REGISTRY_USER REGISTRY_PASSWORD KILN_FLAGS

say "examples/static-app: a static binary, alone in its image"
run env KILN="$KILN" OUT="$T/out" sh "$EX/static-app/build.sh"
assert_eq 0 "$RC" "build.sh exits 0"; [ "$RC" -eq 0 ] || fail "build.sh: $ERR"
assert_match '^sha256:[0-9a-f]{64}$' "$OUT" "it prints the manifest digest"
D1=$OUT
check "the program is static: no program interpreter (ld.so)" sh -c "readelf -l '$T/out/static-app' >'$T/readelf' && ! grep -q INTERP '$T/readelf'"
check "and no shared libraries" sh -c "! readelf -d '$T/out/static-app' | grep -q NEEDED"
run env KILN="$KILN" OUT="$T/out2" sh "$EX/static-app/build.sh"
assert_eq "$D1" "$OUT" "a second build gives the same digest (SOURCE_DATE_EPOCH, reproducible)"
assert_eq "$D1" "$("$KILN" digest "oci:$T/out/static-app-oci")" "the OCI layout holds the same image"
M=$(layout_manifest "$T/out/static-app-oci")
assert_eq 1 "$(jq '.layers | length' <<<"$M")" "one layer"
L=$(blob "$T/out/static-app-oci" "$(jq -r '.layers[0].digest' <<<"$M")")
assert_eq "-rwxr-xr-x 0/0 static-app" "$(decompress "$L" | tar -tvf - --numeric-owner | awk '{ print $1, $2, $NF }')" \
  "the layer is the one binary, root-owned 0755"
C=$(layout_config "$T/out/static-app-oci")
assert_eq '["/static-app"] ["default","arguments"] ["GREETING=hello"] 65534:65534' \
  "$(jq -c '.config.Entrypoint, .config.Cmd, .config.Env' <<<"$C" | tr '\n' ' ')$(jq -r .config.User <<<"$C")" "the config: entrypoint, cmd, env, user"

start_dockerd
run docker_ load -i "$T/out/static-app.tar"
assert_eq 0 "$RC" "docker loads the docker-archive"; assert_contains "static-app:1.0" "$OUT" "as static-app:1.0"
run docker_ run --rm --network none static-app:1.0
assert_eq 0 "$RC" "docker run exits 0"
assert_eq $'hello from static-app, uid 65534, pid 1\narg 1: default\narg 2: arguments' "$OUT" "the program runs as the config says (user, env, default arguments)"
run docker_ run --rm --network none -e GREETING=hi static-app:1.0 one
assert_eq $'hi from static-app, uid 65534, pid 1\narg 1: one' "$OUT" "arguments and environment from docker run replace the defaults"

say "examples/ci: build-and-push.sh against a registry with Basic auth"
start_registry basic-http
registry_docker_setup
cp "$DOCKER_CONFIG/config.json" "$T/config.before"
mkdir -p "$T/tmp"
CIENV=(env KILN="$KILN" REGISTRY="$REG" IMAGE=ci/static-app TAG=1.0 OUT="$T/ci" TMPDIR="$T/tmp")
run "${CIENV[@]}" sh "$EX/ci/build-and-push.sh"
assert_ne 0 "$RC" "without credentials the push is refused (the registry wants them)"
run "${CIENV[@]}" EXTRA_TAG=latest REGISTRY_USER="$REG_USER" REGISTRY_PASSWORD="$REG_PASS" \
  sh "$EX/ci/build-and-push.sh"
assert_eq 0 "$RC" "build-and-push.sh exits 0"; [ "$RC" -eq 0 ] || { say "$OUT"; say "$ERR"; }
DCI=$(printf '%s\n' "$OUT" | tail -n 1)
assert_match '^sha256:[0-9a-f]{64}$' "$DCI" "its last line is the pushed digest"
assert_eq "$DCI" "$(cat "$T/ci/digest" 2>/dev/null)" "the digest is kept as an artifact"
assert_eq "$DCI" "$("$KILN" digest "oci-archive:$T/ci/image.oci.tar:1.0")" "so is an OCI archive of the pushed image"
assert_eq "$D1" "$(jq -r '.[0].digest' <<<"$("$KILN" list --format json "oci:$T/out/static-app-oci")")" "(the static-app layout lists its image)"
assert_eq "1.0 latest" "$("$KILN" tags --creds "$REG_USER:$REG_PASS" "$REG/ci/static-app" | sort | tr '\n' ' ' | sed 's/ $//')" \
  "the registry has the tag and the extra tag"
assert_same_file "$T/config.before" "$DOCKER_CONFIG/config.json" "the login did not touch the docker config"
assert_eq "" "$(ls -A "$T/tmp")" "the throw-away auth file is gone"
run docker_reg pull "$REG/ci/static-app:1.0"
assert_eq 0 "$RC" "docker pulls the pushed image"; [ "$RC" -eq 0 ] || say "$ERR"
run docker_ run --rm --network none "$REG/ci/static-app:1.0" from-ci
assert_eq $'hello from static-app, uid 65534, pid 1\narg 1: from-ci' "$OUT" "and runs it"

say "the CI files run that script"
for f in gitlab-ci.yml github-actions.yml; do
  check "$f is valid YAML" python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$EX/ci/$f"
  check "$f runs examples/ci/build-and-push.sh" grep -q 'sh examples/ci/build-and-push.sh' "$EX/ci/$f"
done
