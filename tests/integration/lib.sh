# shellcheck shell=bash disable=SC2034
# Common helpers for kiln's integration tests. Every tests/integration/t-*.sh
# sources this file first:  . "$(dirname "$0")/lib.sh"
#
# Contract with ctest (tests/CMakeLists.txt): exit 0 = pass, 77 = skipped
# (a consumer tool is missing; on CI, CI=true, that is a failure instead),
# anything else = fail. Environment: KILN (the binary), KILN_SOURCE_DIR,
# KILN_BUILD_DIR. Run by hand:  KILN=build/src/cli/kiln bash tests/integration/t-10-docker-load.sh
# KILN_TEST_KEEP=1 keeps the per-test temp dir for inspection.

set -euo pipefail
export LC_ALL=C
export TZ=UTC
umask 022

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KILN_SOURCE_DIR=${KILN_SOURCE_DIR:-$(cd "$LIB_DIR/../.." && pwd)}
KILN_BUILD_DIR=${KILN_BUILD_DIR:-$KILN_SOURCE_DIR/build}
if [ -z "${KILN:-}" ]; then
  KILN=$KILN_BUILD_DIR/src/cli/kiln
  [ -x "$KILN" ] || KILN=$KILN_BUILD_DIR/kiln
fi
TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
# The tests must not pick up a SOURCE_DATE_EPOCH from the caller's environment.
unset SOURCE_DATE_EPOCH

# ---------------------------------------------------------------- reporting
_TESTNUM=0
_FAILS=0
say() { printf '# %s\n' "$*"; }
ok() { _TESTNUM=$((_TESTNUM + 1)); printf 'ok %d - %s\n' "$_TESTNUM" "$*"; }
# not_ok MSG [DETAIL...]: a soft failure; the test goes on, and exits 1 at the end.
not_ok() {
  _TESTNUM=$((_TESTNUM + 1)); _FAILS=$((_FAILS + 1))
  printf 'not ok %d - %s\n' "$_TESTNUM" "$1"
  shift
  local l
  for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
  return 0
}
# fail MSG: a hard failure, stops the test now.
fail() { printf 'not ok - FATAL: %s\n' "$*"; _FAILS=$((_FAILS + 1)); exit 1; }
skip_all() { printf '1..0 # SKIP %s\n' "$*"; exit 77; }

# check MSG CMD...: ok if CMD succeeds.
check() {
  local msg=$1; shift
  if "$@" >"$T/.check.out" 2>&1; then ok "$msg"
  else not_ok "$msg" "command failed: $*" "$(head -c 4000 "$T/.check.out")"; fi
}
# check_not MSG CMD...: ok if CMD fails.
check_not() {
  local msg=$1; shift
  if "$@" >"$T/.check.out" 2>&1; then not_ok "$msg" "command unexpectedly succeeded: $*" "$(head -c 2000 "$T/.check.out")"
  else ok "$msg"; fi
}
assert_eq() { # EXPECTED ACTUAL MSG
  if [ "$1" = "$2" ]; then ok "$3"
  else not_ok "$3" "expected: $(printf '%q' "$1")" "actual:   $(printf '%q' "$2")"; fi
}
assert_ne() { # A B MSG
  if [ "$1" != "$2" ]; then ok "$3"; else not_ok "$3" "both are: $(printf '%q' "$1")"; fi
}
assert_match() { # ERE ACTUAL MSG
  if printf '%s' "$2" | grep -Eq -- "$1"; then ok "$3"
  else not_ok "$3" "expected to match: $1" "actual: $(printf '%q' "$2")"; fi
}
assert_contains() { # NEEDLE HAYSTACK MSG (fixed string)
  case "$2" in
    *"$1"*) ok "$3" ;;
    *) not_ok "$3" "expected to contain: $(printf '%q' "$1")" "actual: $(printf '%q' "$2")" ;;
  esac
}
assert_file_exists() { if [ -e "$1" ]; then ok "${2:-$1 exists}"; else not_ok "${2:-$1 exists}" "missing: $1"; fi; }
assert_not_exists() { if [ -e "$1" ] || [ -L "$1" ]; then not_ok "${2:-$1 does not exist}" "exists: $(ls -ld "$1")"; else ok "${2:-$1 does not exist}"; fi; }
assert_same_file() { # A B MSG: byte-identical
  if cmp "$1" "$2" >"$T/.cmp.out" 2>&1; then ok "$3"; else not_ok "$3" "$(cat "$T/.cmp.out")"; fi
}
# assert_same_text FILE_EXPECTED FILE_ACTUAL MSG: shows a diff on failure.
assert_same_text() {
  if diff -u "$1" "$2" >"$T/.diff.out" 2>&1; then ok "$3"
  else not_ok "$3" "diff -u $1 $2:" "$(head -n 80 "$T/.diff.out")"; fi
}

# ---------------------------------------------------------------- requirements
_missing() { # TOOL: exit 77, or 1 on CI
  if [ "${CI:-}" = true ]; then
    printf 'not ok - missing consumer %s on CI\n' "$1"
    echo "missing consumer $1 on CI" >&2
    exit 1
  fi
  skip_all "missing consumer $1"
}
need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || _missing "$t"
  done
}
need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = true ]; then fail "this test needs root, and CI runs as root"; fi
    skip_all "needs root"
  fi
}
need_kiln() {
  [ -x "$KILN" ] || fail "KILN=$KILN is not an executable file (build kiln first)"
  local v
  v=$("$KILN" version 2>&1 </dev/null | head -n 1) || true
  case $v in
    "kiln "*) say "testing $KILN ($v)" ;;
    *) fail "KILN=$KILN is not the kiln program ('kiln version' printed: $v)" ;;
  esac
}

# ---------------------------------------------------------------- temp dir & cleanup
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-${TEST_NAME}.XXXXXX")
chmod 755 "$T"   # non-root helpers (nobody) must be able to traverse it
# Everything the test runs puts its temporaries here; at the end it must be
# empty (_check_left_behind), so a temporary file that kiln or a helper
# forgets fails the test instead of piling up in /tmp.
mkdir -m 1777 "$T/tmp"
export TMPDIR=$T/tmp
# kiln build's chunk cache (docs/cache.md): one per test, removed with $T, so
# that no test reads or fills the caller's ~/.cache, and none sees another's.
export KILN_CACHE_DIR=$T/kiln-cache
unset XDG_CACHE_HOME
_EXTRA_DIRS=()   # short dirs under /tmp (docker, podman) to clean up too
_PSEUDO_STATES=()
_CLEANUP_HOOKS=()
DOCKERD_PID=
DOCKERD_DIR=

# short_dir VAR PREFIX: sets VAR to a fresh short directory under /tmp (for
# unix socket paths), removed at exit. (Not via $(...): the subshell would lose
# the cleanup registration.)
short_dir() {
  local _d
  _d=$(mktemp -d "/tmp/$2.XXXXXX")
  _EXTRA_DIRS+=("$_d")
  printf -v "$1" '%s' "$_d"
}

# _umount_under DIR: unmount everything mounted at or below DIR, deepest first.
_umount_under() {
  local dir=$1 m
  [ -n "$dir" ] || return 0
  awk -v d="$dir" '{ m=$5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' \
    /proc/self/mountinfo | sort -r | while IFS= read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "# cleanup: cannot unmount $m" >&2
    done
}

# _pids_mentioning STR: pids (other than ours) whose command line contains STR.
_pids_mentioning() {
  local p cmd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = "$$" ] && continue
    [ "$p" = "${BASHPID:-$$}" ] && continue
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") 2>/dev/null || continue
    case "$cmd" in *"$1"*) echo "$p" ;; esac
  done
}
# _kill_pids_mentioning STR: TERM, then KILL, the processes started for STR.
_kill_pids_mentioning() {
  local pids p i
  pids=$(_pids_mentioning "$1")
  [ -n "$pids" ] || return 0
  for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 50); do
    pids=$(_pids_mentioning "$1"); [ -n "$pids" ] || return 0
    sleep 0.1
  done
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
}

# _check_left_behind: after the cleanup, no process of the test may still
# run (its command line names $T) and its TMPDIR must be empty; either fails
# the test (and the process is stopped).
_check_left_behind() {
  local pids p left
  pids=$(_pids_mentioning "$T")
  if [ -n "$pids" ]; then
    not_ok "the test left no process behind" \
      "$(for p in $pids; do printf '%s: %s\n' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done)"
    _kill_pids_mentioning "$T"
  fi
  if [ -d "$T/tmp" ]; then
    left=$(find "$T/tmp" -mindepth 1 -maxdepth 2 2>/dev/null | head -n 20)
    [ -z "$left" ] || not_ok "the test left no temporary file behind (in its TMPDIR)" "$left"
  fi
}

_on_exit() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  local h
  for h in "${_CLEANUP_HOOKS[@]}"; do eval "$h"; done
  stop_dockerd
  local s
  for s in "${_PSEUDO_STATES[@]}"; do
    PSEUDO_PREFIX=/usr PSEUDO_LOCALSTATEDIR=$s pseudo -S >/dev/null 2>&1
    _kill_pids_mentioning "$s"
  done
  local d
  for d in "${_EXTRA_DIRS[@]}"; do _kill_pids_mentioning "$d"; _umount_under "$d"; done
  [ "$rc" -eq 77 ] || _check_left_behind
  _umount_under "$T"
  if [ "$rc" -eq 0 ] && [ "$_FAILS" -gt 0 ]; then rc=1; fi
  if [ -n "${KILN_TEST_KEEP:-}" ]; then
    echo "# kept $T ${_EXTRA_DIRS[*]}"
  else
    # undo chattr/chmod that could block removal
    chmod -R u+rwX "$T" 2>/dev/null
    rm -rf "$T" "${_EXTRA_DIRS[@]}" 2>/dev/null || echo "# cleanup: could not fully remove $T" >&2
  fi
  if [ "$rc" -eq 0 ]; then echo "# $TEST_NAME: PASS ($_TESTNUM checks)"
  elif [ "$rc" -eq 77 ]; then echo "# $TEST_NAME: SKIP"
  else echo "# $TEST_NAME: FAIL ($_FAILS failed of $_TESTNUM checks, rc=$rc)"; fi
  exit "$rc"
}
trap _on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- running kiln
# run CMD...: runs CMD without stopping the test; sets RC, OUT, ERR.
run() {
  set +e
  "$@" >"$T/.run.out" 2>"$T/.run.err" </dev/null
  RC=$?
  set -e
  OUT=$(cat "$T/.run.out")
  ERR=$(cat "$T/.run.err")
}
# kiln_build ARGS...: runs "kiln build ARGS"; a failure stops the test.
# Sets DIGEST (stdout), RC, OUT, ERR.
kiln_build() {
  run "$KILN" build "$@"
  if [ "$RC" -ne 0 ]; then
    printf '%s\n' "$ERR" | sed 's/^/#   stderr: /'
    fail "kiln build $* exited $RC"
  fi
  DIGEST=$OUT
}
# A copy of kiln that the nobody user can execute, wherever the build tree is.
kiln_for_nobody() {
  if [ ! -x "$T/kiln-bin/kiln" ]; then
    mkdir -p "$T/kiln-bin"
    cp "$KILN" "$T/kiln-bin/kiln"
    chmod 755 "$T/kiln-bin" "$T/kiln-bin/kiln"
  fi
  printf '%s\n' "$T/kiln-bin/kiln"
}
# as_nobody CMD...: runs CMD as uid/gid 65534 with no supplementary groups.
as_nobody() {
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent LC_ALL=C TZ=UTC \
    ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} ${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} \
    "$@"
}

# ---------------------------------------------------------------- OCI helpers
# blob LAYOUT DIGEST: the path of a blob in an OCI layout.
blob() { printf '%s/blobs/%s/%s\n' "$1" "${2%%:*}" "${2#*:}"; }
# layout_manifest_digest LAYOUT [TAG]: digest of the index.json descriptor (with ref.name TAG).
layout_manifest_digest() {
  if [ $# -ge 2 ]; then
    jq -r --arg t "$2" '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)] | .[0].digest' "$1/index.json"
  else
    jq -r '.manifests[0].digest' "$1/index.json"
  fi
}
layout_manifest() { cat "$(blob "$1" "$(layout_manifest_digest "$@")")"; }
layout_config() { cat "$(blob "$1" "$(layout_manifest "$@" | jq -r .config.digest)")"; }
# verify_layout_blobs LAYOUT: every blob hashes to its name.
verify_layout_blobs() {
  local f bad=0 n=0
  for f in "$1"/blobs/sha256/*; do
    n=$((n + 1))
    [ "$(sha256sum <"$f" | cut -c1-64)" = "$(basename "$f")" ] || { echo "bad blob: $f"; bad=1; }
  done
  [ "$n" -gt 0 ] || { echo "no blobs in $1"; return 1; }
  return $bad
}
# decompress FILE: writes the uncompressed stream (gzip/zstd/bzip2/xz/plain) to stdout.
decompress() {
  local magic
  magic=$(head -c 6 "$1" | od -An -tx1 | tr -d ' \n')
  case "$magic" in
    1f8b*) gzip -dc <"$1" ;;
    28b52ffd*) zstd -dcq <"$1" ;;
    425a68*) bzip2 -dc <"$1" ;;
    fd377a585a00*) xz -dc <"$1" ;;
    *) cat "$1" ;;
  esac
}

# tree_manifest DIR [--mtime]: one line per path below DIR (owner, mode, type,
# content digest, symlink target, device numbers, xattrs, hardlink group).
tree_manifest() { python3 "$LIB_DIR/treeinfo.py" tree "$@"; }
# layer_manifest TARFILE [--mtime]: the same format, from a (compressed) layer tar.
layer_manifest() { python3 "$LIB_DIR/treeinfo.py" layer "$@"; }

# ---------------------------------------------------------------- docker
DOCKER=
pick_docker() {
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
  else need docker; DOCKER=$(command -v docker); fi
}
docker_() { "$DOCKER" "$@"; }

# start_dockerd [DOCKERD-ARGS...]: a private dockerd (vfs, no networking) for this test
# only; the arguments go to dockerd (--config-file, --registry-mirror, ...).
start_dockerd() {
  need_root
  need dockerd containerd runc
  pick_docker
  local d="$T/docker"
  # unix socket paths (exec-root/containerd/containerd.sock.ttrpc) must stay < ~100 chars
  if [ ${#d} -gt 40 ]; then short_dir d kd; else mkdir -p "$d"; fi
  DOCKERD_DIR=$d
  # (its containerd writes a goroutine dump, containerd.PID.stacks.log, into
  # TMPDIR when it is stopped: the daemon's own directory, not the test's)
  mkdir -p "$d/tmp"
  TMPDIR=$d/tmp dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --data-root="$d/data" --exec-root="$d/exec" -H "unix://$d/sock" --pidfile "$d/pid" "$@" \
    >"$d/log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$d/sock"
  local i
  for i in $(seq 120); do
    if docker_ info >/dev/null 2>&1; then
      say "dockerd $(docker_ version -f '{{.Server.Version}}' 2>/dev/null) running, DOCKER_HOST=$DOCKER_HOST"
      return 0
    fi
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "# dockerd log:"; sed 's/^/#   /' "$d/log" | tail -n 60
  fail "dockerd did not come up within 60 s"
}
stop_dockerd() {
  [ -n "$DOCKERD_PID" ] || return 0
  local d=$DOCKERD_DIR i
  kill -TERM "$DOCKERD_PID" 2>/dev/null
  for i in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$DOCKERD_PID" 2>/dev/null
  wait "$DOCKERD_PID" 2>/dev/null
  DOCKERD_PID=
  # containerd and its shims were started for this daemon: their command lines
  # (or their sockets) mention our private exec-root.
  _kill_pids_mentioning "$d/exec"
  _kill_pids_mentioning "$d/data"
  _umount_under "$d"
}

# ---------------------------------------------------------------- podman
PODMAN=()
# Podman in this sandbox cannot raise RLIMIT_NOFILE/NPROC to its defaults: pin them.
PODMAN_RUN=(run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
setup_podman() {
  need_root
  need podman
  local d
  short_dir d kp
  mkdir -p "$d/tmp"
  PODMAN=(podman --root "$d/root" --runroot "$d/run" --tmpdir "$d/tmp" --storage-driver vfs
          --cgroup-manager cgroupfs --events-backend file)
  _CLEANUP_HOOKS+=("_kill_pids_mentioning '$d'")
}
podman_() { "${PODMAN[@]}" "$@"; }

# ---------------------------------------------------------------- containerd
# start_containerd: a private containerd (its own root, state and socket, no
# CRI plugin), stopped by the EXIT trap. Sets CD (its directory); ctr_ ARGS...
# runs ctr against it in the namespace "kiln".
CD=
start_containerd() {
  need containerd ctr runc
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
  local pid=$! i
  _CLEANUP_HOOKS+=("kill -TERM $pid 2>/dev/null; sleep 0.5; _kill_pids_mentioning '$CD'")
  for i in $(seq 100); do
    ctr_ version >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if ! ctr_ version >/dev/null 2>&1; then
    sed 's/^/#   /' "$CD/log" | tail -n 40
    fail "containerd did not come up"
  fi
  say "containerd $(ctr_ version 2>/dev/null | awk '/Server/{s=1} s && /Version/{print $2; exit}') running"
}
ctr_() { ctr --address "$CD/sock" --namespace kiln "$@"; }

# ---------------------------------------------------------------- pseudo
# pseudo_ STATEDIR CMD...: runs CMD under pseudo with its database in STATEDIR.
pseudo_() {
  local s=$1; shift
  mkdir -p "$s"
  case " ${_PSEUDO_STATES[*]} " in *" $s "*) ;; *) _PSEUDO_STATES+=("$s") ;; esac
  PSEUDO_PREFIX=/usr PSEUDO_LOCALSTATEDIR=$s pseudo "$@"
}

# ---------------------------------------------------------------- test trees
# The payload binary put into the rich rootfs: a static busybox if there is one
# (so that containers can run it), else /bin/true.
payload_bin() { if [ -x /bin/busybox ]; then echo /bin/busybox; else echo /bin/true; fi; }

LONG60=d123456789012345678901234567890123456789012345678901234567890
LONGNAME=f$(printf 'n%.0s' $(seq 150))
DEEPDIR=data/deep/$LONG60/$LONG60/$LONG60/$LONG60/$LONG60
# rich_entries: the rich test tree, one entry a line, fields separated by '|':
#   d|path|mode|uid|gid       f|path|mode|uid|gid|content (or @file to copy)
#   l|path|-|uid|gid|target   h|path|-|-|-|existing-path
#   p|path|mode|uid|gid       c|path|mode|uid|gid|major minor  (b likewise)
#   x|path|-|-|-|name=value   (xattr)      C|path|-|-|-|capability text (setcap)
rich_entries() {
  local bb; bb=$(payload_bin)
  cat <<EOF
d|bin|0755|0|0
d|capbin|0755|0|0
f|bin/busybox|0755|0|0|@$bb
l|bin/sh|-|0|0|busybox
l|bin/cat|-|0|0|busybox
l|bin/stat|-|0|0|busybox
l|bin/ls|-|0|0|busybox
l|bin/id|-|0|0|busybox
l|bin/grep|-|0|0|busybox
l|bin/sha256sum|-|0|0|busybox
l|bin/readlink|-|0|0|busybox
f|capbin/busybox|0755|0|0|@$bb
C|capbin/busybox|-|-|-|cap_net_raw+ep
f|bin/suidbox|4755|0|0|@$bb
f|bin/sgidbox|2755|0|0|@$bb
d|data|0755|0|0
f|data/hello.txt|0644|0|0|hello kiln
x|data/hello.txt|-|-|-|user.test=kiln xattr value
f|data/empty|0644|0|0|
f|data/secret|0600|0|0|secret
f|data/nomode|0000|0|0|no permissions at all
f|data/owned|0640|1234|5678|owned by 1234:5678
f|data/bigid|0644|3000000|3000001|uid above 2097151
f|data/exec.sh|0755|0|0|#!/bin/sh
d|data/sgid|2775|0|1234
f|data/sgid/inner|0664|0|1234|in a setgid dir
d|data/tmp|1777|0|0
d|data/owneddir|0750|1234|5678
f|data/owneddir/f|0640|1234|5678|inside an owned dir
d|data/emptydir|0700|0|0
x|data/emptydir|-|-|-|user.dirattr=on a directory
l|data/rel-link|-|0|0|hello.txt
l|data/abs-link|-|0|0|/bin/busybox
l|data/dangling|-|0|0|/nonexistent/dangling/target
l|data/owned-link|-|1234|5678|owned
f|data/hl-a|0644|0|0|shared inode
h|data/hl-b|-|-|-|data/hl-a
h|data/sub/hl-c|-|-|-|data/hl-a
p|data/fifo|0620|0|0
c|data/devices/nullish|0666|0|0|1 3
b|data/devices/loopish|0660|0|6|7 200
f|data/caf@E9@|0644|0|0|latin-1 file name
f|data/naïve 日本 space|0644|0|0|utf-8 file name with a space
f|data/$LONGNAME|0644|0|0|a 151-byte file name
f|$DEEPDIR/deep-file|0644|0|0|more than 255 bytes of path
h|data/deep-hardlink|-|-|-|$DEEPDIR/deep-file
l|data/deep-symlink|-|0|0|/$DEEPDIR/deep-file
EOF
}
# STAT_SCRIPT: a busybox sh script, run on the host and inside containers, that
# prints "path|owner mode type [links size]|sha256, link target or device" for
# each path below $1: the paths come as the other arguments, or one per line
# on stdin when there are none. Usage: sh -c "$STAT_SCRIPT" sh ROOT [PATH...]
STAT_SCRIPT='cd "$1" || exit 1
shift
stat_one() {
  t=$(busybox stat -c %F "$1")
  case $t in
    directory) s=$(busybox stat -c "%u:%g %a %F" "$1"); x=- ;;
    "regular file"|"regular empty file") s=$(busybox stat -c "%u:%g %a %F %h %s" "$1"); x=$(busybox sha256sum <"$1" | busybox cut -c1-64) ;;
    "symbolic link") s=$(busybox stat -c "%u:%g %F" "$1"); x=$(busybox readlink "$1") ;;
    *special*) s=$(busybox stat -c "%u:%g %a %F %h" "$1"); x=$(busybox stat -c "%t,%T" "$1") ;;
    *) s=$(busybox stat -c "%u:%g %a %F %h" "$1"); x=- ;;
  esac
  printf "%s|%s|%s\n" "$1" "$s" "$x"
}
if [ $# -gt 0 ]; then for p in "$@"; do stat_one "$p"; done
else while IFS= read -r p; do stat_one "$p"; done; fi'
# make_rich_rootfs DIR [reverse]: creates the rich test tree (as root).
# "reverse" creates every entry in the opposite order (same final tree).
make_rich_rootfs() {
  local root=$1 order=${2:-forward} e ty p mode uid gid arg
  local -a ents
  mapfile -t ents < <(rich_entries)
  # @E9@ stands for the byte 0xe9 (a Latin-1 name that is not valid UTF-8)
  local i
  for i in "${!ents[@]}"; do ents[$i]=${ents[$i]//@E9@/$'\xe9'}; done
  if [ "$order" = reverse ]; then
    local -a rev=()
    for ((i = ${#ents[@]} - 1; i >= 0; i--)); do rev+=("${ents[$i]}"); done
    ents=("${rev[@]}")
  fi
  mkdir -p "$root"
  # pass 1: objects (directories' metadata last, so that creation inside works)
  for e in "${ents[@]}"; do
    IFS='|' read -r ty p mode uid gid arg <<<"$e"
    case $ty in
      d) mkdir -p "$root/$p" ;;
      f) mkdir -p "$(dirname "$root/$p")"
         case $arg in
           @*) cp "${arg#@}" "$root/$p" ;;
           '') : >"$root/$p" ;;
           *) printf '%s\n' "$arg" >"$root/$p" ;;
         esac
         chown "$uid:$gid" "$root/$p"; chmod "$mode" "$root/$p" ;;
      l) mkdir -p "$(dirname "$root/$p")"; ln -s "$arg" "$root/$p"; chown -h "$uid:$gid" "$root/$p" ;;
      p) mkdir -p "$(dirname "$root/$p")"; mkfifo "$root/$p"; chown "$uid:$gid" "$root/$p"; chmod "$mode" "$root/$p" ;;
      c|b) mkdir -p "$(dirname "$root/$p")"
         # shellcheck disable=SC2086
         mknod "$root/$p" "$ty" $arg; chown "$uid:$gid" "$root/$p"; chmod "$mode" "$root/$p" ;;
    esac
  done
  # pass 2: hard links
  for e in "${ents[@]}"; do
    IFS='|' read -r ty p mode uid gid arg <<<"$e"
    if [ "$ty" = h ]; then mkdir -p "$(dirname "$root/$p")"; ln "$root/$arg" "$root/$p"; fi
  done
  # pass 3: xattrs and capabilities (after chown, which clears capabilities)
  for e in "${ents[@]}"; do
    IFS='|' read -r ty p mode uid gid arg <<<"$e"
    case $ty in
      x) setfattr -h -n "${arg%%=*}" -v "${arg#*=}" "$root/$p" ;;
      C) setcap "$arg" "$root/$p" ;;
    esac
  done
  # pass 4: directory owners and modes (implicit parents stay root 0755)
  for e in "${ents[@]}"; do
    IFS='|' read -r ty p mode uid gid arg <<<"$e"
    if [ "$ty" = d ]; then chown "$uid:$gid" "$root/$p"; chmod "$mode" "$root/$p"; fi
  done
}
# sanity-check the rich tree on the host, so that a broken setup cannot make a
# comparison pass vacuously.
check_rich_rootfs() {
  local r=$1
  assert_eq "1234:5678 640" "$(stat -c '%u:%g %a' "$r/data/owned")" "source tree: data/owned is 1234:5678 0640"
  assert_eq "3000000:3000001" "$(stat -c '%u:%g' "$r/data/bigid")" "source tree: data/bigid has uid 3000000"
  assert_eq "4755" "$(stat -c '%a' "$r/bin/suidbox")" "source tree: setuid file"
  assert_eq "2775 1777" "$(stat -c '%a' "$r/data/sgid" "$r/data/tmp" | tr '\n' ' ' | sed 's/ $//')" "source tree: setgid and sticky dirs"
  assert_eq "character special file 1:3" "$(stat -c '%F %Hr:%Lr' "$r/data/devices/nullish")" "source tree: char device 1:3"
  assert_eq "fifo" "$(stat -c '%F' "$r/data/fifo")" "source tree: fifo"
  assert_eq "3" "$(stat -c '%h' "$r/data/hl-a")" "source tree: hardlink count 3"
  assert_eq "kiln xattr value" "$(getfattr -h --only-values -n user.test "$r/data/hello.txt" 2>/dev/null)" "source tree: user.test xattr"
  assert_match "cap_net_raw[+=]ep" "$(getcap "$r/capbin/busybox")" "source tree: file capability"
  assert_eq "/nonexistent/dangling/target" "$(readlink "$r/data/dangling")" "source tree: dangling symlink"
  local deep="$r/$DEEPDIR/deep-file"
  [ ${#DEEPDIR} -gt 255 ] && [ -f "$deep" ] && ok "source tree: a path of ${#DEEPDIR}+ bytes" || not_ok "source tree: deep path"
  [ -f "$r/data/caf"$'\xe9' ] && ok "source tree: non-UTF-8 name" || not_ok "source tree: non-UTF-8 name"
}

# ---------------------------------------------------------------- Debian rootfs
# debian_minbase: prints the path of a real Debian rootfs (debootstrap
# --variant=minbase bookworm), created once and cached between runs under
# ${KILN_TEST_CACHE:-/var/cache/kiln-tests}; parallel tests wait for one another.
debian_minbase() {
  local cache=${KILN_TEST_CACHE:-/var/cache/kiln-tests}
  local deb=$cache/minbase-bookworm mirror=${KILN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  mkdir -p "$cache"
  (
    flock 9
    if [ ! -f "$deb/etc/debian_version" ]; then
      echo "# creating the debootstrap cache $deb (once)" >&2
      local tmp
      tmp=$(mktemp -d "$deb.tmp.XXXXXX")
      chmod 755 "$tmp" # it becomes the image's / : not mktemp's 0700
      if ! timeout 900 debootstrap --variant=minbase bookworm "$tmp" "$mirror" >"$T/debootstrap.log" 2>&1; then
        tail -n 30 "$T/debootstrap.log" | sed 's/^/#   /' >&2
        _umount_under "$tmp"; rm -rf "$tmp"
        exit 1
      fi
      _umount_under "$tmp"
      mv -T "$tmp" "$deb" 2>/dev/null || rm -rf "$tmp"
    fi
  ) 9>"$cache/.lock" || fail "debootstrap failed"
  [ -f "$deb/etc/debian_version" ] || fail "no usable debootstrap tree at $deb"
  printf '%s\n' "$deb"
}
