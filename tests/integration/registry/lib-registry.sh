# shellcheck shell=bash
# Registry helpers for kiln's registry integration tests (t-8*.sh). Source it
# after lib.sh:
#     . "$(dirname "$0")/lib.sh"
#     . "$(dirname "$0")/registry/lib-registry.sh"
#
# start_registry MODE   starts a private distribution registry (docker-registry
#                       2.8) on a free loopback port, storage and logs in $T:
#   plain       http, no auth
#   tls         https with a per-test CA (server cert for 127.0.0.1, ::1 and localhost)
#   mtls        https that also requires a client certificate signed by that CA
#               ($T/pki/client.cert and client.key)
#   basic       https + htpasswd (bcrypt) Basic auth
#   basic-http  http + htpasswd Basic auth (distribution 2.8 allows it)
#   token       http + token auth; tokenserver.py (http) issues RS256 JWTs whose
#               x5c cert chains to the registry's rootcertbundle
#   token-tls   https + token auth (the token server stays on http)
# It exports REG (127.0.0.1:PORT), REG_URL (http[s]://REG), REG_CA (the CA's PEM,
# TLS modes), REG_USER/REG_PASS (auth modes), REG_DIR, REG_LOG; token modes also
# TOKEN_URL, TOKEN_LOG. Tunables (set before the call): REG_TOKEN_LIFETIME
# (seconds, default 300), REG_ANON_PULL=1 (anonymous pull tokens), REG_DELETE=false
# (a registry that refuses deletes).
# Everything started here is stopped by the test's EXIT trap (lib.sh's
# _CLEANUP_HOOKS). Several registries may run in one test: each call replaces
# the REG* variables; stop_registry stops the current one early.
#
# start_faultproxy [RULES_JSON]   faultproxy.py in front of the current (plain-http)
#   registry: REG_DIRECT keeps the registry's address and REG/REG_URL become the
#   proxy's. PROXY_LOG is its request log; set_faults RULES_JSON changes the rules
#   (and resets their counters) while it runs.
#
# registry_request_count ERE [MARK]  requests in the registry's access log whose
#   "METHOD URI" matches ERE (after MARK, from registry_log_mark). proxy_request_count
#   and proxy_log_mark do the same on the proxy's log.
#
# Client flags for the current registry (arrays, set by start_registry):
#   REG_KILN_FLAGS     --ca-file / --creds for kiln
#   REG_SKOPEO_FLAGS   --tls-verify=false | --cert-dir, --creds for skopeo inspect / podman
#   reg_skopeo_flags PREFIX   the same with --src-/--dest- prefixes (one per line)
# docker_reg ARGS...   the docker CLI with a private DOCKER_CONFIG ($T/docker-cli)
# registry_docker_setup  makes the private dockerd trust/log in to the current registry

REG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Keep the caller's credentials out of every client: kiln, skopeo, podman and the
# docker CLI must see only what a test gives them.
mkdir -p "$T/docker-config" "$T/xdg"
chmod 700 "$T/xdg"
# (podman 4 fails when $DOCKER_CONFIG is set and has no config.json)
printf '{"auths": {}}\n' >"$T/docker-config/config.json"
export DOCKER_CONFIG="$T/docker-config"
export XDG_RUNTIME_DIR="$T/xdg"
unset REGISTRY_AUTH_FILE
export KILN_RETRY_BASE_MS=${KILN_RETRY_BASE_MS:-50}

_REG_PIDS=()
_REG_CERTSD=()
_REG_N=0
REG= REG_URL= REG_CA= REG_USER= REG_PASS= REG_DIR= REG_LOG= REG_MODE= REG_PID= TOKEN_PID=
TOKEN_URL= TOKEN_LOG= REG_DIRECT= PROXY_LOG= PROXY_RULES= PROXY_PID=
REG_KILN_FLAGS=()
REG_SKOPEO_FLAGS=()

_registry_cleanup() {
  local p i
  for p in "${_REG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for i in $(seq 50); do
    local alive=
    for p in "${_REG_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -n "$alive" ] || break
    sleep 0.1
  done
  for p in "${_REG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  _REG_PIDS=()
  for p in "${_REG_CERTSD[@]}"; do rm -rf "$p"; done
  _REG_CERTSD=()
}
_CLEANUP_HOOKS+=("_registry_cleanup")

# _stop_pid PID: stops one process started here.
_stop_pid() {
  local p=$1 i
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# _wait_port_file FILE PID WHAT: waits for a helper to write its port.
_wait_port_file() {
  local i
  for i in $(seq 100); do
    [ -s "$1" ] && { cat "$1"; return 0; }
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  fail "$3 did not start (no port in $1)"
}

# reg_pki: a per-test CA, a server certificate for 127.0.0.1/::1/localhost and a
# token-signing certificate, in $T/pki (made once per test).
reg_pki() {
  local d=$T/pki
  [ -s "$d/server.crt" ] && return 0
  need openssl
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj "/CN=kiln test CA $$" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -new -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1
    printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
      'extendedKeyUsage=serverAuth' 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.crt
    openssl req -new -newkey rsa:2048 -nodes -keyout token.key -out token.csr -subj "/CN=kiln test token signer"
    printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' >token.ext
    openssl x509 -req -in token.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile token.ext -out token.crt
    # a client certificate for mutual TLS (mode mtls), as docker's certs.d holds one
    openssl req -new -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=kiln test client"
    printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
      'extendedKeyUsage=clientAuth' >client.ext
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile client.ext -out client.cert
    # docker's certs.d / containers' --cert-dir layout
    mkdir -p certdir && cp ca.crt certdir/ca.crt
  ) >"$T/pki.log" 2>&1 || { cat "$T/pki.log"; fail "could not make the test CA"; }
}

# start_registry MODE: see the top of this file.
start_registry() {
  local mode=$1 tls= mtls= auth= attempt port secret
  need docker-registry python3 curl
  case $mode in
    plain) ;;
    tls) tls=1 ;;
    mtls) tls=1; mtls=1 ;;
    basic) tls=1; auth=basic ;;
    basic-http) auth=basic ;;
    token) auth=token ;;
    token-tls) tls=1; auth=token ;;
    *) fail "start_registry: unknown mode $mode" ;;
  esac
  _REG_N=$((_REG_N + 1))
  REG_MODE=$mode
  REG_DIR=$T/registry-$_REG_N-$mode
  REG_LOG=$REG_DIR/registry.log
  mkdir -p "$REG_DIR/data"
  REG_CA= REG_USER= REG_PASS= TOKEN_URL= TOKEN_LOG= TOKEN_PID= REG_DIRECT= PROXY_LOG= PROXY_PID=
  [ -n "$tls" ] && { reg_pki; REG_CA=$T/pki/ca.crt; }
  secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  local authcfg=
  if [ "$auth" = basic ]; then
    need htpasswd
    REG_USER=kiltest
    REG_PASS="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    htpasswd -Bbc "$REG_DIR/htpasswd" "$REG_USER" "$REG_PASS" >/dev/null 2>&1 || fail "htpasswd failed"
    authcfg="auth:
  htpasswd:
    realm: kiln-test-basic
    path: $REG_DIR/htpasswd"
  elif [ "$auth" = token ]; then
    reg_pki
    REG_USER=kiltoken
    REG_PASS="tk-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    TOKEN_LOG=$REG_DIR/tokens.log
    : >"$TOKEN_LOG"
    local extra=()
    [ "${REG_ANON_PULL:-}" = 1 ] && extra+=(--anonymous-pull)
    TOKEN_USER=$REG_USER TOKEN_PASSWORD=$REG_PASS \
      python3 "$REG_LIB_DIR/tokenserver.py" --key "$T/pki/token.key" --cert "$T/pki/token.crt" \
      --issuer kiln-test-issuer --service kiln-test-registry \
      --lifetime "${REG_TOKEN_LIFETIME:-300}" --log "$TOKEN_LOG" \
      --port-file "$REG_DIR/token.port" "${extra[@]}" \
      >"$REG_DIR/tokenserver.out" 2>&1 </dev/null &
    TOKEN_PID=$!
    _REG_PIDS+=("$TOKEN_PID")
    TOKEN_URL="http://127.0.0.1:$(_wait_port_file "$REG_DIR/token.port" "$TOKEN_PID" "the token server")/token"
    authcfg="auth:
  token:
    realm: $TOKEN_URL
    service: kiln-test-registry
    issuer: kiln-test-issuer
    rootcertbundle: $T/pki/ca.crt"
  fi
  local tlscfg=
  [ -n "$tls" ] && tlscfg="  tls:
    certificate: $T/pki/server.crt
    key: $T/pki/server.key"
  [ -n "$mtls" ] && tlscfg="$tlscfg
    clientcas:
      - $T/pki/ca.crt"
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    cat >"$REG_DIR/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: ${REG_DELETE:-true}
  maintenance:
    uploadpurging:
      enabled: false
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  secret: $secret
$tlscfg
$authcfg
EOF
    docker-registry serve "$REG_DIR/config.yml" >"$REG_LOG" 2>&1 </dev/null &
    REG_PID=$!
    REG=127.0.0.1:$port
    if [ -n "$tls" ]; then REG_URL=https://$REG; else REG_URL=http://$REG; fi
    local i code up=
    for i in $(seq 100); do
      # (our own registry: it logged that it listens, so a registry of a test
      # running in parallel that got the port first cannot be mistaken for it)
      if grep -q "listening on 127.0.0.1:$port" "$REG_LOG"; then
        code=$(curl -s -o /dev/null -w '%{http_code}' ${REG_CA:+--cacert "$REG_CA"} \
          ${mtls:+--cert "$T/pki/client.cert" --key "$T/pki/client.key"} "$REG_URL/v2/" 2>/dev/null) || true
        case $code in 200|401) kill -0 "$REG_PID" 2>/dev/null && { up=1; break; } ;; esac
      fi
      kill -0 "$REG_PID" 2>/dev/null || break
      sleep 0.1
    done
    if [ -n "$up" ]; then break; fi
    _stop_pid "$REG_PID"
    if grep -q 'address already in use' "$REG_LOG"; then continue; fi
    sed 's/^/#   /' "$REG_LOG" | tail -n 30
    fail "the $mode registry did not come up"
  done
  [ -n "$up" ] || fail "no free port for the registry"
  _REG_PIDS+=("$REG_PID")
  ln -sfn "$REG_LOG" "$T/registry.log"
  _reg_client_flags
  say "registry ($mode) at $REG_URL${TOKEN_URL:+, token server $TOKEN_URL}"
}

_reg_client_flags() {
  REG_KILN_FLAGS=()
  REG_SKOPEO_FLAGS=()
  if [ -n "$REG_CA" ]; then
    REG_KILN_FLAGS+=(--ca-file "$REG_CA")
    REG_SKOPEO_FLAGS+=(--cert-dir "$T/pki/certdir")
  else
    REG_SKOPEO_FLAGS+=(--tls-verify=false)
  fi
  if [ -n "$REG_USER" ]; then
    REG_KILN_FLAGS+=(--creds "$REG_USER:$REG_PASS")
    REG_SKOPEO_FLAGS+=(--creds "$REG_USER:$REG_PASS")
  fi
}

# reg_skopeo_flags PREFIX: skopeo copy flags (--src- or --dest-), one per line.
reg_skopeo_flags() {
  local p=$1
  if [ -n "$REG_CA" ]; then printf '%s\n' "--${p}cert-dir" "$T/pki/certdir"
  else printf '%s\n' "--${p}tls-verify=false"; fi
  if [ -n "$REG_USER" ]; then printf '%s\n' "--${p}creds" "$REG_USER:$REG_PASS"; fi
}

stop_registry() {
  _stop_pid "$REG_PID"
  _stop_pid "$TOKEN_PID"
  _stop_pid "$PROXY_PID"
  REG_PID= TOKEN_PID= PROXY_PID=
}

# ---------------------------------------------------------------- logs
_access_lines() { # FILE: "METHOD URI STATUS" of each access-log line
  sed -nE 's/^[^ ]+ - [^ ]+ \[[^]]*\] "([A-Z]+) ([^ ]+) HTTP\/[0-9.]+" ([0-9]+) .*/\1 \2 \3/p' "$1"
}
registry_requests() { sleep 0.3; _access_lines "$REG_LOG" | tail -n +"$(( ${1:-0} + 1 ))"; }
registry_log_mark() { sleep 0.3; _access_lines "$REG_LOG" | wc -l; }
registry_request_count() { # ERE [MARK]
  registry_requests "${2:-0}" | awk '{print $1, $2}' | grep -cE -- "$1" || true
}
proxy_requests() { sleep 0.3; tail -n +"$(( ${1:-0} + 1 ))" "$PROXY_LOG" 2>/dev/null; }
proxy_log_mark() { sleep 0.3; wc -l <"$PROXY_LOG"; }
proxy_request_count() { # ERE [MARK]
  proxy_requests "${2:-0}" | awk '{print $1, $2}' | grep -cE -- "$1" || true
}
# token_log_tokens: every token (and refresh token) the token server issued.
token_log_tokens() {
  [ -n "$TOKEN_LOG" ] && [ -s "$TOKEN_LOG" ] || return 0
  jq -r 'select(.token != null) | .token, (.refresh_token // empty)' "$TOKEN_LOG"
}

# ---------------------------------------------------------------- fault proxy
start_faultproxy() {
  [ -n "$REG" ] || fail "start_faultproxy: no registry"
  case $REG_URL in http://*) ;; *) fail "start_faultproxy: the registry must be plain http" ;; esac
  REG_DIRECT=$REG
  PROXY_LOG=$REG_DIR/proxy.log
  PROXY_RULES=$REG_DIR/proxy-rules.json
  : >"$PROXY_LOG"
  printf '%s\n' "${1:-[]}" >"$PROXY_RULES"
  python3 "$REG_LIB_DIR/faultproxy.py" --upstream "$REG_DIRECT" --rules "@$PROXY_RULES" \
    --log "$PROXY_LOG" --port-file "$REG_DIR/proxy.port" >"$REG_DIR/proxy.out" 2>&1 </dev/null &
  PROXY_PID=$!
  _REG_PIDS+=("$PROXY_PID")
  REG=127.0.0.1:$(_wait_port_file "$REG_DIR/proxy.port" "$PROXY_PID" "the fault proxy")
  REG_URL=http://$REG
  say "fault proxy at $REG_URL in front of $REG_DIRECT"
}
# set_faults RULES_JSON: new rules for the running proxy (counters restart).
set_faults() {
  printf '%s\n' "$1" >"$PROXY_RULES.tmp"
  mv "$PROXY_RULES.tmp" "$PROXY_RULES"
}

# ---------------------------------------------------------------- clients
docker_reg() { DOCKER_CONFIG="$T/docker-cli" docker_ "$@"; }

# registry_docker_setup: after start_dockerd and start_registry, make docker trust
# the test CA (certs.d, named by the unique port, removed at exit) and log in.
registry_docker_setup() {
  mkdir -p "$T/docker-cli"
  if [ -n "$REG_CA" ]; then
    local d=/etc/docker/certs.d/$REG
    mkdir -p "$d"
    cp "$REG_CA" "$d/ca.crt"
    _REG_CERTSD+=("$d")
  fi
  if [ -n "$REG_USER" ]; then
    printf '%s' "$REG_PASS" | docker_reg login --username "$REG_USER" --password-stdin "$REG" \
      >"$T/docker-login.out" 2>&1 || { cat "$T/docker-login.out"; fail "docker login $REG failed"; }
  fi
}

# reg_rootfs DIR [TEXT]: a small runnable tree: a static busybox (or /bin/true) and
# /hello.txt with TEXT.
reg_rootfs() {
  local d=$1
  mkdir -p "$d/bin"
  cp "$(payload_bin)" "$d/bin/busybox"
  ln -sf busybox "$d/bin/sh"
  ln -sf busybox "$d/bin/cat"
  printf '%s\n' "${2:-hello from kiln}" >"$d/hello.txt"
}

# kiln_has_registry: true once kiln has the registry commands.
kiln_has_registry() { "$KILN" help copy >/dev/null 2>&1; }
need_kiln_registry() {
  need_kiln
  kiln_has_registry || fail "kiln at $KILN has no 'copy' command (the registry client is missing)"
}

# manifest_digest_of FILE: sha256 of a file's bytes as a digest.
sha256_digest() { printf 'sha256:%s\n' "$(sha256sum <"$1" | cut -c1-64)"; }

# reg_curl ARGS...: curl against the current registry's direct address, with
# its CA and credentials (Basic, or a token fetched for SCOPE in $REG_SCOPE).
reg_curl() {
  local base=${REG_DIRECT:-$REG} url
  if [ -n "$REG_CA" ]; then url=https://$base; else url=http://$base; fi
  local auth=()
  if [ -n "$REG_USER" ] && [ -z "$TOKEN_URL" ]; then auth=(-u "$REG_USER:$REG_PASS"); fi
  if [ -n "$TOKEN_URL" ]; then
    local tok
    tok=$(curl -sf -u "$REG_USER:$REG_PASS" "$TOKEN_URL?service=kiln-test-registry&scope=${REG_SCOPE:-registry:catalog:*}" | jq -r .token)
    auth=(-H "Authorization: Bearer $tok")
  fi
  local path=$1; shift
  curl -s ${REG_CA:+--cacert "$REG_CA"} "${auth[@]}" "$@" "$url$path"
}
# reg_manifest_status REPO REF: HTTP status of GET /v2/REPO/manifests/REF (direct).
reg_manifest_status() {
  REG_SCOPE="repository:$1:pull" reg_curl "/v2/$1/manifests/$2" -o /dev/null -w '%{http_code}' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json'
}
