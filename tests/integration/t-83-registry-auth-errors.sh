#!/usr/bin/env bash
# Registry authentication and error reporting: wrong password, unknown host,
# untrusted certificate (and --tls-verify=false, --cert-dir), kiln login/logout,
# credentials from $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json,
# $XDG_RUNTIME_DIR/containers/auth.json, credHelpers and credsStore; and no
# password, base64(user:pass) or token ever appears in kiln's output, --debug included.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_kiln_registry
need jq curl base64 timeout

reg_rootfs "$T/rootfs" "auth test"
kiln_build --rootfs "$T/rootfs" --source-date-epoch 1700000000 -o "oci:$T/src:1"
SRC=$DIGEST

# run_stdin INPUT CMD...: like run, with INPUT on stdin.
run_stdin() {
  local input=$1; shift
  set +e
  printf '%s' "$input" | "$@" >"$T/.run.out" 2>"$T/.run.err"
  RC=$?
  set -e
  OUT=$(cat "$T/.run.out")
  ERR=$(cat "$T/.run.err")
}
# keep OUTFILE: appends the last command's stdout and stderr to OUTFILE.
keep() { { printf '%s\n' "$OUT"; printf '%s\n' "$ERR"; } >>"$1"; }
b64() { printf '%s' "$1" | base64 -w0; }
# no_secret_in FILE WHAT SECRET...: none of the secrets appears in FILE.
no_secret_in() {
  local f=$1 what=$2 s leaked=(); shift 2
  for s in "$@"; do
    [ -n "$s" ] || continue
    if grep -qF -- "$s" "$f"; then
      leaked+=("${s:0:4}... (${#s} chars) on line(s) $(grep -nF -- "$s" "$f" | cut -d: -f1 | head -n 5 | tr '\n' ' ')")
    fi
  done
  if [ ${#leaked[@]} -eq 0 ]; then ok "$what: no secret in the output ($# secrets checked)"
  else not_ok "$what: secrets leaked into the output (kept in $f with KILN_TEST_KEEP=1)" "${leaked[@]}"; fi
}

# ============================================================ Basic auth (https)
start_registry basic
B=$REG BCA=$REG_CA BU=$REG_USER BP=$REG_PASS
BAUTH=$(b64 "$BU:$BP")
DBG=$T/debug-basic.txt
: >"$DBG"

say "wrong password"
run timeout 120 "$KILN" copy --debug --ca-file "$BCA" --creds "$BU:wrong-$BP" "oci:$T/src:1" "docker://$B/auth/app:1"
keep "$DBG"
assert_eq 1 "$RC" "wrong password: push exits 1"
assert_match '401|[Uu]nauthori[sz]ed|UNAUTHORIZED' "$ERR" "wrong password: the error says 401/unauthorized"
assert_contains "$B" "$ERR" "wrong password: the error names the registry $B"
assert_eq 404 "$(reg_manifest_status auth/app 1)" "wrong password: nothing tagged"
run timeout 120 "$KILN" inspect --ca-file "$BCA" --creds "$BU:wrong-$BP" "docker://$B/auth/app:1"
assert_eq 1 "$RC" "wrong password: inspect exits 1"
run timeout 120 "$KILN" copy --ca-file "$BCA" "oci:$T/src:1" "docker://$B/auth/app:1"
assert_eq 1 "$RC" "no credentials: push exits 1"
assert_match '401|[Uu]nauthori[sz]ed|UNAUTHORIZED' "$ERR" "no credentials: the error says 401/unauthorized"

say "untrusted certificate"
run timeout 120 "$KILN" inspect --creds "$BU:$BP" "docker://$B/auth/app:1"
assert_eq 1 "$RC" "no --ca-file: inspect exits 1"
assert_match '[Cc]ertificate' "$ERR" "no --ca-file: the error mentions the certificate"
assert_contains "$B" "$ERR" "no --ca-file: the error names the registry"
run timeout 120 "$KILN" copy --creds "$BU:$BP" "oci:$T/src:1" "docker://$B/auth/app:1"
assert_eq 1 "$RC" "no --ca-file: push exits 1"
assert_match '[Cc]ertificate' "$ERR" "no --ca-file: the push error mentions the certificate"
assert_eq 404 "$(reg_manifest_status auth/app 1)" "no --ca-file: nothing tagged"
run timeout 120 "$KILN" copy --tls-verify=false --creds "$BU:$BP" "oci:$T/src:1" "docker://$B/auth/noverify:1"
assert_eq "0 $SRC" "$RC $OUT" "--tls-verify=false: push works"; [ "$RC" -eq 0 ] || say "$ERR"
run timeout 120 "$KILN" inspect --tls-verify=false --creds "$BU:$BP" "docker://$B/auth/noverify:1"
assert_eq 0 "$RC" "--tls-verify=false: inspect works"
mkdir -p "$T/certs.d/$B"
cp "$BCA" "$T/certs.d/$B/ca.crt"
run timeout 120 "$KILN" digest --cert-dir "$T/certs.d" --creds "$BU:$BP" "docker://$B/auth/noverify:1"
assert_eq "0 $SRC" "$RC $OUT" "--cert-dir DIR/HOST:PORT/ca.crt: trusted"

say "unknown host"
# In an empty network namespace of its own, so the name lookup sends nothing
# anywhere: the resolver fails at once, as for a host that does not exist.
run timeout 120 unshare -n "$KILN" inspect "docker://no-such-host.invalid/x:1"
assert_eq 1 "$RC" "unknown host: inspect exits 1"
assert_contains "no-such-host.invalid" "$ERR" "unknown host: the error names the host"
run timeout 120 unshare -n "$KILN" copy "oci:$T/src:1" "docker://no-such-host.invalid/x:1"
assert_eq 1 "$RC" "unknown host: push exits 1"
assert_contains "no-such-host.invalid" "$ERR" "unknown host: the push error names the host"

say "kiln login / logout (--authfile)"
AF=$T/auth.json
run_stdin "wrong-$BP" "$KILN" login --debug --ca-file "$BCA" -u "$BU" --password-stdin --authfile "$AF" "$B"
keep "$DBG"
assert_eq 1 "$RC" "login with a wrong password exits 1"
assert_match '401|[Uu]nauthori[sz]ed|UNAUTHORIZED' "$ERR" "login with a wrong password: says 401/unauthorized"
if [ -f "$AF" ]; then
  assert_eq null "$(jq -c --arg h "$B" '.auths[$h]' "$AF")" "login with a wrong password writes no credentials"
else ok "login with a wrong password writes no auth file"; fi
run_stdin "$BP" "$KILN" login --debug --ca-file "$BCA" -u "$BU" --password-stdin --authfile "$AF" "$B"
keep "$DBG"
assert_eq 0 "$RC" "kiln login exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq "$BAUTH" "$(jq -r --arg h "$B" '.auths[$h].auth' "$AF" 2>/dev/null)" "login wrote auths[\"$B\"].auth = base64(user:pass)"
assert_eq 600 "$(stat -c %a "$AF" 2>/dev/null)" "the auth file is mode 0600"
run "$KILN" copy --debug --ca-file "$BCA" --authfile "$AF" "oci:$T/src:1" "docker://$B/auth/login:1"
keep "$DBG"
assert_eq "0 $SRC" "$RC $OUT" "push with --authfile (no --creds) works"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" logout --authfile "$AF" "$B"
assert_eq 0 "$RC" "kiln logout exits 0"
assert_eq null "$(jq -c --arg h "$B" '.auths[$h]' "$AF" 2>/dev/null)" "logout removed auths[\"$B\"]"
run "$KILN" copy --ca-file "$BCA" --authfile "$AF" "oci:$T/src:1" "docker://$B/auth/logout:1"
assert_eq 1 "$RC" "after logout the push is refused"

say "kiln login's default auth file"
run_stdin "$BP" env REGISTRY_AUTH_FILE="$T/ra-login.json" "$KILN" login --ca-file "$BCA" -u "$BU" --password-stdin "$B"
assert_eq "0 $BAUTH" "$RC $(jq -r --arg h "$B" '.auths[$h].auth' "$T/ra-login.json" 2>/dev/null)" "login writes \$REGISTRY_AUTH_FILE"
mkdir -p "$T/dc-login"
run_stdin "$BP" env DOCKER_CONFIG="$T/dc-login" "$KILN" login --ca-file "$BCA" -u "$BU" --password-stdin "$B"
assert_eq "0 $BAUTH" "$RC $(jq -r --arg h "$B" '.auths[$h].auth' "$T/dc-login/config.json" 2>/dev/null)" "login writes \$DOCKER_CONFIG/config.json"

say "credentials from the environment's auth files"
AUTHS=$(jq -n --arg h "$B" --arg a "$BAUTH" '{auths: {($h): {auth: $a}}}')
printf '%s\n' "$AUTHS" >"$T/ra.json"
run env REGISTRY_AUTH_FILE="$T/ra.json" "$KILN" copy --ca-file "$BCA" "oci:$T/src:1" "docker://$B/auth/env-ra:1"
assert_eq "0 $SRC" "$RC $OUT" "\$REGISTRY_AUTH_FILE credentials work"; [ "$RC" -eq 0 ] || say "$ERR"
mkdir -p "$T/dc"
printf '%s\n' "$AUTHS" >"$T/dc/config.json"
run env DOCKER_CONFIG="$T/dc" "$KILN" copy --ca-file "$BCA" "oci:$T/src:1" "docker://$B/auth/env-dc:1"
assert_eq "0 $SRC" "$RC $OUT" "\$DOCKER_CONFIG/config.json credentials work"; [ "$RC" -eq 0 ] || say "$ERR"
mkdir -p "$T/dcu"
jq -n --arg h "$B" --arg u "$BU" --arg p "$BP" '{auths: {($h): {username: $u, password: $p}}}' >"$T/dcu/config.json"
run env DOCKER_CONFIG="$T/dcu" "$KILN" copy --ca-file "$BCA" "oci:$T/src:1" "docker://$B/auth/env-dcu:1"
assert_eq "0 $SRC" "$RC $OUT" "config.json username/password credentials work"; [ "$RC" -eq 0 ] || say "$ERR"
mkdir -p "$T/xdg2/containers"
printf '%s\n' "$AUTHS" >"$T/xdg2/containers/auth.json"
run env XDG_RUNTIME_DIR="$T/xdg2" "$KILN" copy --ca-file "$BCA" "oci:$T/src:1" "docker://$B/auth/env-xdg:1"
assert_eq "0 $SRC" "$RC $OUT" "\$XDG_RUNTIME_DIR/containers/auth.json credentials work"; [ "$RC" -eq 0 ] || say "$ERR"

say "credential helpers"
mkdir -p "$T/helper/bin"
cat >"$T/helper/bin/docker-credential-test" <<EOF
#!/bin/sh
# docker-credential-helpers protocol: 'get' reads the server URL on stdin
echo "\$1" >>"$T/helper/calls.log"
[ "\$1" = get ] || exit 1
read -r server
echo "server=\$server" >>"$T/helper/calls.log"
printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\n' "\$server" "$BU" "$BP"
EOF
chmod 755 "$T/helper/bin/docker-credential-test"
mkdir -p "$T/dch"
jq -n --arg h "$B" --arg bad "$(b64 nobody:wrong)" '{credHelpers: {($h): "test"}, auths: {($h): {auth: $bad}}}' >"$T/dch/config.json"
run env PATH="$T/helper/bin:$PATH" DOCKER_CONFIG="$T/dch" "$KILN" copy --debug --ca-file "$BCA" "oci:$T/src:1" "docker://$B/auth/helper:1"
keep "$DBG"
assert_eq "0 $SRC" "$RC $OUT" "credHelpers entry (docker-credential-test) works, and wins over auths"; [ "$RC" -eq 0 ] || say "$ERR"
assert_match "server=(https://)?$B" "$(cat "$T/helper/calls.log" 2>/dev/null)" "the helper was asked for $B"
mkdir -p "$T/dcs"
jq -n '{credsStore: "test"}' >"$T/dcs/config.json"
run env PATH="$T/helper/bin:$PATH" DOCKER_CONFIG="$T/dcs" "$KILN" copy --ca-file "$BCA" "oci:$T/src:1" "docker://$B/auth/store:1"
assert_eq "0 $SRC" "$RC $OUT" "credsStore (docker-credential-test) works"; [ "$RC" -eq 0 ] || say "$ERR"

say "--debug output of every command (Basic)"
run "$KILN" build --debug --rootfs "$T/rootfs" --ca-file "$BCA" --creds "$BU:$BP" -o "docker://$B/auth/debug:1"
keep "$DBG"; assert_eq 0 "$RC" "basic: build -o docker:// --debug"
run "$KILN" copy --debug --ca-file "$BCA" --creds "$BU:$BP" "docker://$B/auth/debug:1" "oci:$T/dbg-basic:1"
keep "$DBG"; assert_eq 0 "$RC" "basic: copy docker:// → oci: --debug"
for cmd in "inspect" "inspect --raw" "inspect --config" "digest"; do
  # shellcheck disable=SC2086
  run "$KILN" $cmd --debug --ca-file "$BCA" --creds "$BU:$BP" "docker://$B/auth/debug:1"
  keep "$DBG"; assert_eq 0 "$RC" "basic: $cmd --debug"
done
run "$KILN" tags --debug --ca-file "$BCA" --creds "$BU:$BP" "docker://$B/auth/debug"
keep "$DBG"; assert_eq "0 1" "$RC $OUT" "basic: tags --debug"
assert_contains "/v2/" "$(cat "$DBG")" "basic: --debug logs the HTTP requests"
no_secret_in "$DBG" "basic --debug" "$BP" "$BAUTH" "$(b64 "$BP")"
stop_registry

# ============================================================ token auth (http)
start_registry token
K=$REG KU=$REG_USER KP=$REG_PASS
KAUTH=$(b64 "$KU:$KP")
TDBG=$T/debug-token.txt
: >"$TDBG"
TOKEN_HOST=${TOKEN_URL#http://}; TOKEN_HOST=${TOKEN_HOST%%/*}

say "token: wrong password"
run timeout 120 "$KILN" copy --debug --creds "$KU:wrong-$KP" "oci:$T/src:1" "docker://$K/auth/app:1"
keep "$TDBG"
assert_eq 1 "$RC" "token, wrong password: push exits 1"
assert_match '401|[Uu]nauthori[sz]ed|UNAUTHORIZED' "$ERR" "token, wrong password: the error says 401/unauthorized"
assert_match "$K|$TOKEN_HOST" "$ERR" "token, wrong password: the error names the registry or its token server"
run timeout 120 "$KILN" copy "oci:$T/src:1" "docker://$K/auth/app:1"
assert_eq 1 "$RC" "token, no credentials: push exits 1"
assert_match '401|[Uu]nauthori[sz]ed|UNAUTHORIZED|denied|DENIED' "$ERR" "token, no credentials: the error says unauthorized/denied"

say "token: login, and --debug of every command"
run_stdin "$KP" "$KILN" login --debug -u "$KU" --password-stdin --authfile "$T/tauth.json" "$K"
keep "$TDBG"
assert_eq "0 $KAUTH" "$RC $(jq -r --arg h "$K" '.auths[$h].auth' "$T/tauth.json" 2>/dev/null)" "token: kiln login writes auths[host].auth"
run "$KILN" build --debug --rootfs "$T/rootfs" --authfile "$T/tauth.json" -o "docker://$K/auth/debug:1"
keep "$TDBG"; assert_eq 0 "$RC" "token: build -o docker:// --debug (credentials from the login)"
run "$KILN" copy --debug --creds "$KU:$KP" "oci:$T/src:1" "docker://$K/auth/debug:2"
keep "$TDBG"; assert_eq "0 $SRC" "$RC $OUT" "token: copy oci: → docker:// --debug"
run "$KILN" copy --debug --creds "$KU:$KP" "docker://$K/auth/debug:2" "oci:$T/dbg-token:1"
keep "$TDBG"; assert_eq "0 $SRC" "$RC $OUT" "token: copy docker:// → oci: --debug"
for cmd in "inspect" "inspect --raw" "inspect --config" "digest"; do
  # shellcheck disable=SC2086
  run "$KILN" $cmd --debug --creds "$KU:$KP" "docker://$K/auth/debug:2"
  keep "$TDBG"; assert_eq 0 "$RC" "token: $cmd --debug"
done
run "$KILN" tags --debug --creds "$KU:$KP" "docker://$K/auth/debug"
keep "$TDBG"; assert_eq 0 "$RC" "token: tags --debug"
assert_eq "1 2" "$(printf '%s\n' "$OUT" | sort | tr '\n' ' ' | sed 's/ $//')" "token: tags lists 1 and 2"
assert_contains "/v2/" "$(cat "$TDBG")" "token: --debug logs the HTTP requests"
mapfile -t TOKENS < <(token_log_tokens)
[ "${#TOKENS[@]}" -ge 5 ] && ok "token: the token server issued ${#TOKENS[@]} tokens" \
  || not_ok "token: the token server issued tokens" "only ${#TOKENS[@]}"
SIGS=()
for t in "${TOKENS[@]}"; do SIGS+=("${t##*.}"); done
no_secret_in "$TDBG" "token --debug" "$KP" "$KAUTH" "$(b64 "$KP")" "${TOKENS[@]}" "${SIGS[@]}"
