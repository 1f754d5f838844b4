#!/usr/bin/env bash
# kiln's benchmark: kiln build and kiln copy side by side with the tools they replace.
#
#   bench/run.sh [--runs N] [--quick] [--corpus tiny|minbase|big|all|LIST] [--only build|push]
#                [--out FILE] [--kiln PATH] [--keep] [--prepare]
#
# Run as root on Debian 12 (see bench/README.md). Prints a Markdown report on stdout
# (progress goes to stderr); --out FILE writes the same report to FILE too. A peer
# that is missing is skipped with a note, never failing the run.
set -uo pipefail
export LC_ALL=C TZ=UTC
umask 022

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$BENCH_DIR/.." && pwd)
CACHE=${KILN_BENCH_CACHE:-/var/cache/kiln-bench}
TEST_CACHE=${KILN_TEST_CACHE:-/var/cache/kiln-tests}
MIRROR=${KILN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
TIMEOUT=${KILN_BENCH_TIMEOUT:-3600}   # per measured command
SDE=1700000000                        # SOURCE_DATE_EPOCH for every kiln build
KILN=${KILN:-}
RUNS=
QUICK=
CORPORA=
ONLY=
ROWS=
OUT=
KEEP=
PREPARE=

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF'
Options:
  --runs N        runs of each measurement (default 3; median reported)
  --quick         1 run, corpora tiny and minbase (explicit --runs/--corpus still win)
  --corpus C      tiny, minbase, big, all (default), or a comma-separated list
  --only W        build or push (default: both)
  --rows LIST     build rows to run, by id, comma-separated (e.g. kiln,kiln-tar,umoci,umoci-raw;
                  default: all; the ids are listed in bench_build_corpus)
  --out FILE      also write the Markdown report to FILE
  --kiln PATH     the kiln binary (default: build/src/cli/kiln, built if missing)
  --keep          keep the work directory
  --prepare       only prepare (cache) the corpora, then exit
Environment: KILN_BENCH_CACHE (corpora, default /var/cache/kiln-bench), KILN_TEST_CACHE
(the test suite's debootstrap cache, reused), KILN_DEBIAN_MIRROR, KILN_BENCH_TIMEOUT
(seconds per measured command, default 3600), KILN_BENCH_WORK (work dir parent, /var/tmp),
KILN_BENCH_NICE (priority of measured commands, default -10 as root; 0 = unchanged),
KILN_BENCH_QUIET_WAIT (seconds to wait for an idle machine before each measurement, default 10).
EOF
}

ORIG_ARGS=("$@")
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --quick) QUICK=1; shift ;;
    --corpus) CORPORA=${2:?--corpus needs a value}; shift 2 ;;
    --corpus=*) CORPORA=${1#*=}; shift ;;
    --only) ONLY=${2:?--only needs build or push}; shift 2 ;;
    --only=*) ONLY=${1#*=}; shift ;;
    --rows) ROWS=${2:?--rows needs a list}; shift 2 ;;
    --rows=*) ROWS=${1#*=}; shift ;;
    --out) OUT=${2:?--out needs a file}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --kiln) KILN=${2:?--kiln needs a path}; shift 2 ;;
    --kiln=*) KILN=${1#*=}; shift ;;
    --keep) KEEP=1; shift ;;
    --prepare) PREPARE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$QUICK" ]; then RUNS=${RUNS:-1}; CORPORA=${CORPORA:-tiny,minbase}; fi
RUNS=${RUNS:-3}
CORPORA=${CORPORA:-all}
case $RUNS in ''|*[!0-9]*|0) echo "run.sh: --runs must be a positive number" >&2; exit 2 ;; esac
[ "$CORPORA" = all ] && CORPORA=tiny,minbase,big
CORPUS_LIST=()
IFS=, read -r -a _cs <<<"$CORPORA"
for c in "${_cs[@]}"; do
  case $c in
    tiny|minbase|big) CORPUS_LIST+=("$c") ;;
    *) echo "run.sh: unknown corpus '$c' (tiny, minbase, big, all)" >&2; exit 2 ;;
  esac
done
case $ONLY in ''|build|push) ;; *) echo "run.sh: --only takes build or push" >&2; exit 2 ;; esac
DO_BUILD=1 DO_PUSH=1
[ "$ONLY" = build ] && DO_PUSH=
[ "$ONLY" = push ] && DO_BUILD=

# Measured commands (and the dockerd, registry and proxy they use) run at a raised
# priority, so that other load on the machine disturbs them less. Root only.
NICE=${KILN_BENCH_NICE:--10}
[ "$(id -u)" -eq 0 ] || NICE=0
case $NICE in ''|*[!0-9-]*) NICE=0 ;; esac
NICE_CMD=
[ "$NICE" != 0 ] && NICE_CMD="nice -n $NICE"
# With the kernel's autogroup scheduling (sched_autogroup_enabled=1) a nice value only
# counts within its session: start a session of our own and raise the priority of that.
if [ "$NICE" != 0 ] && [ -z "${KILN_BENCH_SESSION:-}" ] && [ -w /proc/self/autogroup ] &&
   [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] && command -v setsid >/dev/null; then
  export KILN_BENCH_SESSION=1
  setsid --wait bash "$0" "${ORIG_ARGS[@]}" &
  _child=$!
  trap 'kill -TERM "$_child" 2>/dev/null' INT TERM
  while :; do
    wait "$_child"; _rc=$?
    kill -0 "$_child" 2>/dev/null || exit "$_rc"
  done
fi
if [ -n "${KILN_BENCH_SESSION:-}" ] && [ "$NICE" != 0 ]; then
  echo "$NICE" >/proc/self/autogroup 2>/dev/null || true
fi

# ------------------------------------------------------------------ output
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
W=$(mktemp -d "${KILN_BENCH_WORK:-/var/tmp}/kiln-bench.XXXXXX") || { echo "run.sh: no work dir" >&2; exit 1; }
chmod 755 "$W"
REPORT=$W/report.md
RESULTS=$W/results.tsv
: >"$REPORT"
: >"$RESULTS"
md() { printf '%s\n' "$@" | tee -a "$REPORT"; }
mdfile() { tee -a "$REPORT" <"$1"; }

# ------------------------------------------------------------------ cleanup
PIDS_TO_STOP=()      # registries, proxies: stopped at exit (by pid)
DOCKERD_PID=
DOCKERD_DIR=
EXTRA_DIRS=()
stop_pid() {
  local p=$1
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  return 0
}
umount_under() {
  local dir=$1 m
  [ -n "$dir" ] || return 0
  awk -v d="$dir" '{ m=$5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' \
    /proc/self/mountinfo | sort -r | while IFS= read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}
cleanup() {
  set +e
  local p
  for p in "${PIDS_TO_STOP[@]}"; do stop_pid "$p"; done
  stop_dockerd
  for p in "${EXTRA_DIRS[@]}"; do umount_under "$p"; done
  umount_under "$W"
  if [ -n "$KEEP" ]; then
    log "kept the work directory $W"
  else
    rm -rf "$W" "${EXTRA_DIRS[@]}" 2>/dev/null ||
      { sleep 1; rm -rf "$W" "${EXTRA_DIRS[@]}" 2>/dev/null || log "could not remove all of $W ${EXTRA_DIRS[*]}"; }
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ prerequisites
IS_ROOT=
[ "$(id -u)" -eq 0 ] && IS_ROOT=1
UMOCI_RL="--rootless "   # umoci insert needs it when not root
[ -n "$IS_ROOT" ] && UMOCI_RL=

have() { command -v "$1" >/dev/null 2>&1; }
declare -A HAVE=() WHY=()
peer() { # NAME OK? WHY
  if [ "$2" = 1 ]; then HAVE[$1]=1; else HAVE[$1]=; WHY[$1]=$3; fi
}
ver() { "$@" 2>&1 </dev/null | head -n 1 | tr -d '\r' | cut -c1-80; }

if [ -z "$KILN" ]; then
  KILN=$SRC/build/src/cli/kiln
  if [ ! -x "$KILN" ]; then
    log "building kiln (cmake -B $SRC/build)"
    { cmake -B "$SRC/build" -S "$SRC" && cmake --build "$SRC/build" -j"$(nproc)"; } >"$W/kiln-build.log" 2>&1 ||
      { tail -n 30 "$W/kiln-build.log" >&2; echo "run.sh: could not build kiln" >&2; exit 1; }
  fi
fi
if ! "$KILN" version >/dev/null 2>&1; then
  echo "run.sh: $KILN is not a working kiln binary" >&2
  exit 1
fi
# A private copy of kiln (and its libkiln), so that a rebuild of the tree during the
# run cannot change or break the binary being measured.
KILN_ORIG=$KILN
mkdir -p "$W/kiln-bin"
cp "$KILN" "$W/kiln-bin/kiln"
ldd "$KILN" 2>/dev/null | awk '$1 ~ /^libkiln/ && $3 ~ /^\// { print $3 }' | while read -r l; do cp -L "$l" "$W/kiln-bin/"; done
if LD_LIBRARY_PATH=$W/kiln-bin "$W/kiln-bin/kiln" version >/dev/null 2>&1; then
  KILN=$W/kiln-bin/kiln
  export LD_LIBRARY_PATH=$W/kiln-bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
# kiln's default compression levels, from its --help ("gzip 1-12 (default 4), zstd 1-22 (default 3)")
KHELP=$("$KILN" build --help 2>&1)
GZ_LEVEL=$(printf '%s\n' "$KHELP" | sed -n 's/.*gzip [0-9]*-[0-9]* (default \([0-9]*\)[;)].*/\1/p' | head -n 1)
ZS_LEVEL=$(printf '%s\n' "$KHELP" | sed -n 's/.*zstd [0-9]*-[0-9]* (default \([0-9]*\)).*/\1/p' | head -n 1)
GZ_LEVEL=${GZ_LEVEL:-6} ZS_LEVEL=${ZS_LEVEL:-3}
for t in python3 tar gzip; do
  have "$t" || { echo "run.sh: $t is required" >&2; exit 1; }
done

GNU_TIME=
if [ -x /usr/bin/time ] && /usr/bin/time -f '%M' true 2>&1 | grep -q '^[0-9]'; then GNU_TIME=/usr/bin/time; fi

DOCKER=
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; elif have docker; then DOCKER=$(command -v docker); fi
peer umoci "$(have umoci && echo 1)" "umoci not installed"
peer pigz "$(have pigz && echo 1)" "pigz not installed"
peer zstd "$(have zstd && echo 1)" "zstd not installed"
peer gz6 "$([ "$GZ_LEVEL" != 6 ] && echo 1)" "level 6 is kiln's default"
peer libdeflate "$(have libdeflate-gzip && echo 1)" "libdeflate-gzip not installed (Debian: libdeflate-tools)"
peer cc "$(have cc && echo 1)" "no C compiler (cc)"
if [ -z "$IS_ROOT" ]; then
  for t in buildah podman docker debootstrap; do peer "$t" 0 "needs root"; done
else
  peer buildah "$(have buildah && echo 1)" "buildah not installed"
  peer podman "$(have podman && echo 1)" "podman not installed"
  if [ -n "$DOCKER" ] && have dockerd && have containerd; then peer docker 1 ""
  else peer docker 0 "docker.io (docker, dockerd, containerd) not installed"; fi
  peer debootstrap "$(have debootstrap && echo 1)" "debootstrap not installed"
fi
peer skopeo "$(have skopeo && echo 1)" "skopeo not installed"
peer registry "$(have docker-registry && echo 1)" "docker-registry not installed"

# ------------------------------------------------------------------ header
KILN_VER=$("$KILN" version 2>/dev/null | head -n 1)
GIT_REV=$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
MEM_GIB=$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
md "# kiln benchmark" ""
md "$(date -u '+%Y-%m-%d %H:%M UTC') · $KILN_VER (\`$GIT_REV\`, $KILN_ORIG) · $(nproc) CPUs ($CPU_MODEL) · ${MEM_GIB} GiB RAM · $(uname -sr) · runs: $RUNS · corpora: ${CORPUS_LIST[*]}${ONLY:+ · only: $ONLY}${ROWS:+ · rows: $ROWS} · load average at start: $(cut -d' ' -f1-3 /proc/loadavg)${NICE_CMD:+ · measured at nice $NICE}" ""

md "## Prerequisites" ""
md "| tool | version | status |" "|---|---|---|"
prow() { # NAME KEY VERSION-CMD...
  local name=$1 key=$2; shift 2
  if [ -n "${HAVE[$key]:-}" ]; then md "| $name | $(ver "$@" | sed 's/|/\\|/g') | ✓ |"
  else md "| $name | — | skipped: ${WHY[$key]} |"; fi
}
md "| kiln | $KILN_VER | ✓ |"
prow umoci umoci umoci --version
prow buildah buildah buildah --version
prow podman podman podman --version
prow docker docker "$DOCKER" --version
prow skopeo skopeo skopeo --version
prow docker-registry registry docker-registry --version
prow pigz pigz pigz --version
prow zstd zstd zstd --version
prow libdeflate-gzip libdeflate dpkg-query -W -f='${Version}' libdeflate-tools
prow debootstrap debootstrap dpkg-query -W -f='${Version}' debootstrap
if [ -n "$GNU_TIME" ]; then md "| GNU time | $(dpkg-query -W -f='${Version}' time 2>/dev/null || echo present) | ✓ (CPU and peak RSS) |"
else md "| GNU time | — | missing: CPU and peak RSS measured with a python3 getrusage wrapper instead |"; fi
md ""

# ------------------------------------------------------------------ measurement
CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)
DAEMON_PIDS=()   # pids whose CPU and peak RSS count for the command being measured
daemon_cpu_ticks() {
  local p t=0 v
  for p in "${DAEMON_PIDS[@]}"; do
    v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }') || v=0
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
daemon_reset_hwm() { local p; for p in "${DAEMON_PIDS[@]}"; do echo 5 >"/proc/$p/clear_refs" 2>/dev/null; done; return 0; }
daemon_hwm_kib() {
  local p m=0 v
  for p in "${DAEMON_PIDS[@]}"; do
    v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
    [ "${v:-0}" -gt "$m" ] && m=$v
  done
  echo "$m"
}

# System-wide busy CPU ticks (user nice system irq softirq steal), to see other load.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# wait_quiet: before a measurement, wait (up to $QUIET_WAIT s) until the machine is
# idle: less than 0.3 CPU busy over one second.
QUIET_WAIT=${KILN_BENCH_QUIET_WAIT:-10}
QUIET_SKIP_UNTIL=0
wait_quiet() {
  local start=$SECONDS b0 b1 said=
  [ "$SECONDS" -lt "$QUIET_SKIP_UNTIL" ] && return 0
  while :; do
    b0=$(busy_ticks); sleep 1; b1=$(busy_ticks)
    awk -v d="$((b1 - b0))" -v hz="$CLK_TCK" 'BEGIN { exit !(d / hz < 0.3) }' && return 0
    if [ $((SECONDS - start)) -ge "$QUIET_WAIT" ]; then
      log "  the machine stays busy ($(awk -v d="$((b1 - b0))" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", d / hz }') CPUs used by others): measuring anyway, without waiting for the next 5 minutes"
      QUIET_SKIP_UNTIL=$((SECONDS + 300))
      return 0
    fi
    [ -n "$said" ] || { log "  waiting for other load to settle (up to ${QUIET_WAIT}s)"; said=1; }
  done
}

# measure CMD: runs the bash command CMD (stdin /dev/null, output in $W/.out/.err),
# under GNU time. Sets M_RC, M_WALL (s), M_CPU (user+sys s), M_RSS (KiB, the largest
# process of the command, or of a daemon in DAEMON_PIDS).
measure() {
  local cmd=$1 tf=$W/.time t0 t1 d0=0 d1=0 b0 b1
  sync
  wait_quiet
  if [ ${#DAEMON_PIDS[@]} -gt 0 ]; then daemon_reset_hwm; d0=$(daemon_cpu_ticks); fi
  rm -f "$tf"
  b0=$(busy_ticks)
  t0=$(date +%s%N)
  if [ -n "$GNU_TIME" ]; then
    $NICE_CMD "$GNU_TIME" -f '%U %S %M' -o "$tf" timeout -k 10 "$TIMEOUT" bash -c "$cmd" \
      >"$W/.out" 2>"$W/.err" </dev/null
  else
    $NICE_CMD python3 -c '
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
u = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write("%.2f %.2f %d\n" % (u.ru_utime, u.ru_stime, u.ru_maxrss))
sys.exit(rc if rc >= 0 else 128 - rc)' "$tf" timeout -k 10 "$TIMEOUT" bash -c "$cmd" \
      >"$W/.out" 2>"$W/.err" </dev/null
  fi
  M_RC=$?
  t1=$(date +%s%N)
  b1=$(busy_ticks)
  M_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  local u=0 s=0 r=0
  if [ -s "$tf" ]; then read -r u s r < <(tail -n 1 "$tf"); fi
  if [ ${#DAEMON_PIDS[@]} -gt 0 ]; then
    d1=$(daemon_cpu_ticks)
    local h; h=$(daemon_hwm_kib)
    [ "$h" -gt "${r:-0}" ] && r=$h
  fi
  M_CPU=$(awk -v u="$u" -v s="$s" -v d="$((d1 - d0))" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", u + s + d / hz }')
  M_RSS=${r:-0}
  # CPUs used on average by everything else while the command ran
  M_OTHER=$(awk -v b="$((b1 - b0))" -v hz="$CLK_TCK" -v c="$M_CPU" -v w="$M_WALL" \
    'BEGIN { o = (b / hz - c) / (w > 0 ? w : 1); printf "%.2f", o < 0 ? 0 : o }')
  if [ "$M_RC" -ne 0 ]; then
    log "  FAILED (rc=$M_RC): $(grep -v '^$' "$W/.err" | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
  fi
}
errnote() { # a short note from the last failed command
  printf 'rc=%s: %s' "$M_RC" "$(grep -v '^$' "$W/.err" | tail -n 1 | tr '\t' ' ' | cut -c1-120 | sed 's/|/\\|/g')"
}
# record CORPUS SECTION ID LABEL BASE RUN BYTES DIGEST UP DOWN REQS NOTE
record() {
  local note=${12}
  [ "$M_RC" -ne 0 ] && note="$(errnote)${note:+; $note}"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$M_RC" "$M_WALL" "$M_CPU" "$M_RSS" "${7:--}" "${8:--}" \
    "${9:--}" "${10:--}" "${11:--}" "$note" "${M_OTHER:-0}" >>"$RESULTS"
}

# oci_layer_bytes LAYOUT: total size of the layers of the image tagged latest (else the last).
oci_layer_bytes() {
  python3 - "$1" <<'EOF' 2>/dev/null || echo -
import json, os, sys
L = sys.argv[1]
idx = json.load(open(os.path.join(L, "index.json")))
ms = idx["manifests"]
m = next((d for d in ms if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == "latest"), ms[-1])
man = json.load(open(os.path.join(L, "blobs", *m["digest"].split(":"))))
print(sum(l["size"] for l in man.get("layers", [])))
EOF
}
# oci_layer_path LAYOUT: path of the (first) layer blob.
oci_layer_path() {
  python3 - "$1" <<'EOF'
import json, os, sys
L = sys.argv[1]
idx = json.load(open(os.path.join(L, "index.json")))
man = json.load(open(os.path.join(L, "blobs", *idx["manifests"][-1]["digest"].split(":"))))
print(os.path.join(L, "blobs", *man["layers"][0]["digest"].split(":")))
EOF
}
# docker_save_layer_bytes ARCHIVE: total size of the layer tars in a `docker save` archive.
docker_save_layer_bytes() {
  python3 - "$1" <<'EOF' 2>/dev/null || echo -
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    man = json.load(t.extractfile("manifest.json"))
    names = [l for m in man for l in m["Layers"]]
    print(sum(t.getmember(n).size for n in names))
EOF
}
filesize() { stat -c %s "$1" 2>/dev/null || echo -; }

# ------------------------------------------------------------------ docker daemon
stop_dockerd() {
  [ -n "$DOCKERD_PID" ] || return 0
  kill -TERM "$DOCKERD_PID" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$DOCKERD_PID" 2>/dev/null
  wait "$DOCKERD_PID" 2>/dev/null
  # the containerd (and shims) that dockerd started for itself: their command lines name
  # our exec-root. Stop them and wait, so that the directory can be removed.
  local p cmd pids _
  for _ in $(seq 50); do
    pids=
    for p in /proc/[0-9]*; do
      cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
      case $cmd in *"$DOCKERD_DIR/"*) pids="$pids ${p#/proc/}" ;; esac
    done
    [ -n "$pids" ] || break
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    sleep 0.1
  done
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
  umount_under "$DOCKERD_DIR"
  DOCKERD_PID=
}
CONTAINERD_PID=
start_dockerd() {
  [ -n "$DOCKERD_PID" ] && return 0
  [ -n "${HAVE[docker]:-}" ] || return 1
  local d
  d=$(mktemp -d /tmp/kbd.XXXXXX)   # short: unix socket paths must stay under ~100 chars
  EXTRA_DIRS+=("$d")
  DOCKERD_DIR=$d
  $NICE_CMD dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --data-root="$d/data" --exec-root="$d/exec" -H "unix://$d/sock" --pidfile "$d/pid" \
    >"$d/log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$d/sock"
  for _ in $(seq 120); do
    if "$DOCKER" info >/dev/null 2>&1; then
      CONTAINERD_PID=$(pgrep -P "$DOCKERD_PID" containerd | head -n 1)
      log "dockerd $("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null) up (pid $DOCKERD_PID)"
      return 0
    fi
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
  done
  log "dockerd did not start; docker rows skipped. Log tail:"
  tail -n 20 "$d/log" >&2
  DOCKERD_PID=
  HAVE[docker]=
  WHY[docker]="dockerd did not start"
  return 1
}
docker_daemon_pids() { DAEMON_PIDS=("$DOCKERD_PID"); [ -n "$CONTAINERD_PID" ] && DAEMON_PIDS+=("$CONTAINERD_PID"); return 0; }

# Keep every client away from the caller's credentials and state.
mkdir -p "$W/docker-config" "$W/xdg"
chmod 700 "$W/xdg"
export DOCKER_CONFIG=$W/docker-config
export XDG_RUNTIME_DIR=$W/xdg
export REGISTRY_AUTH_FILE=$W/auth.json
echo '{"auths": {}}' >"$REGISTRY_AUTH_FILE"
unset SOURCE_DATE_EPOCH

# ------------------------------------------------------------------ corpora
# corpus_prepare NAME: sets C_DIR (the tree), C_TAR (its tar), C_DESC. Cached in $CACHE/NAME-v1,
# created atomically (built in a temp dir, then renamed).
publish() { # TMPDIR FINAL
  mv -T "$1" "$2" 2>/dev/null || { umount_under "$1"; rm -rf "$1"; }
}
make_tar() { tar --numeric-owner --sort=name -C "$1" -cf "$2" . ; }
corpus_prepare() {
  local name=$1 final tmp
  final=$CACHE/$name-v1
  C_DIR=$final/root C_TAR=$final/root.tar
  if [ ! -f "$final/info" ]; then
    mkdir -p "$CACHE"
    tmp=$(mktemp -d "$CACHE/.$name.tmp.XXXXXX")
    chmod 755 "$tmp"
    mkdir -m 755 "$tmp/root"
    case $name in
      tiny)
        if [ -z "${HAVE[cc]:-}" ]; then rm -rf "$tmp"; log "no cc: corpus tiny skipped"; return 1; fi
        mkdir -p "$tmp/root/usr/bin"
        cc -static -O2 -o "$tmp/root/usr/bin/hello" "$SRC/examples/hello/hello.c" || { rm -rf "$tmp"; return 1; }
        strip "$tmp/root/usr/bin/hello" 2>/dev/null
        touch -h -d @$SDE "$tmp/root/usr/bin/hello" "$tmp/root/usr/bin" "$tmp/root/usr" "$tmp/root"
        echo "a static \`hello\` (examples/hello/hello.c, \`cc -static -O2\`, stripped) at /usr/bin/hello" >"$tmp/info.desc"
        ;;
      minbase)
        if [ -f "$TEST_CACHE/minbase-bookworm/etc/debian_version" ]; then
          log "minbase: copying the test suite's debootstrap tree $TEST_CACHE/minbase-bookworm"
          rmdir "$tmp/root"
          cp -a "$TEST_CACHE/minbase-bookworm" "$tmp/root" || { rm -rf "$tmp"; return 1; }
        elif [ -n "${HAVE[debootstrap]:-}" ]; then
          log "minbase: debootstrap --variant=minbase bookworm (a few minutes, once)"
          if ! timeout 1800 debootstrap --variant=minbase bookworm "$tmp/root" "$MIRROR" >"$W/debootstrap.log" 2>&1; then
            tail -n 20 "$W/debootstrap.log" >&2
            umount_under "$tmp"; rm -rf "$tmp"; log "debootstrap failed: corpus minbase skipped"; return 1
          fi
          umount_under "$tmp"
        else
          rm -rf "$tmp"; log "no debootstrap and no $TEST_CACHE/minbase-bookworm: minbase skipped"; return 1
        fi
        echo "Debian 12 \`debootstrap --variant=minbase bookworm\` ($(cat "$tmp/root/etc/debian_version"))" >"$tmp/info.desc"
        ;;
      big)
        corpus_prepare minbase || { rm -rf "$tmp"; return 1; }
        log "big: minbase + a synthetic tree (bench/gencorpus.py --seed 1; about a minute)"
        rmdir "$tmp/root"
        cp -a "$CACHE/minbase-v1/root" "$tmp/root" || { rm -rf "$tmp"; return 1; }
        python3 "$BENCH_DIR/gencorpus.py" "$tmp/root" --seed 1 >"$tmp/gen.txt" || { rm -rf "$tmp"; return 1; }
        echo "minbase plus /opt/synth from \`bench/gencorpus.py --seed 1\`: $(sed 's/^synthetic tree (seed 1): //' "$tmp/gen.txt")" >"$tmp/info.desc"
        C_DIR=$final/root C_TAR=$final/root.tar
        ;;
    esac
    log "$name: writing root.tar"
    make_tar "$tmp/root" "$tmp/root.tar" || { rm -rf "$tmp"; return 1; }
    local nfiles nbytes
    nfiles=$(find "$tmp/root" | wc -l)
    nbytes=$(du -sb "$tmp/root" | cut -f1)
    printf '%s\t%s\t%s\t%s\n' "$nfiles" "$nbytes" "$(stat -c %s "$tmp/root.tar")" "$(cat "$tmp/info.desc")" >"$tmp/info"
    rm -f "$tmp/info.desc" "$tmp/gen.txt"
    publish "$tmp" "$final"
  fi
  C_DIR=$final/root C_TAR=$final/root.tar
  IFS=$'\t' read -r C_FILES C_BYTES C_TARBYTES C_DESC <"$final/info"
  return 0
}
warm() { tar -C "$1" -cf - . 2>/dev/null | cat >/dev/null; cat "$2" >/dev/null; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# ------------------------------------------------------------------ build benchmark
BUILDAH=() PODMAN=()
fresh_buildah() {
  local d=$W/buildah
  umount_under "$d"; rm -rf "$d"; mkdir -p "$d/tmp"
  BUILDAH=(buildah --root "$d/root" --runroot "$d/run" --storage-driver vfs)
  TMPDIR=$d/tmp "${BUILDAH[@]}" images >/dev/null 2>&1
}
fresh_podman() {
  local d=$W/podman
  umount_under "$d"; rm -rf "$d"; mkdir -p "$d/tmp"
  PODMAN=(podman --root "$d/root" --runroot "$d/run" --tmpdir "$d/tmp" --storage-driver vfs
          --cgroup-manager cgroupfs --events-backend file)
  "${PODMAN[@]}" images >/dev/null 2>&1
}
q() { printf '%q' "$1"; }

# bench_one CORPUS SECTION ID LABEL BASE RUN: one measured run of one row.
bench_one() {
  local corpus=$1 section=$2 id=$3 label=$4 base=$5 run=$6
  local o=$W/out dir tarf cmd bytes=- digest=- note=
  rm -rf "$o"; mkdir -p "$o"
  dir=$(q "$C_DIR") tarf=$(q "$C_TAR")
  DAEMON_PIDS=()
  local K; K="SOURCE_DATE_EPOCH=$SDE $(q "$KILN") build"
  case $id in
    kiln)      cmd="$K --rootfs $dir -o oci:$o/l:latest" ;;
    kiln-6)    cmd="$K --rootfs $dir --compression-level 6 -o oci:$o/l:latest" ;;
    kiln-9)    cmd="$K --rootfs $dir --compression-level 9 -o oci:$o/l:latest" ;;
    kiln-12)   cmd="$K --rootfs $dir --compression-level 12 -o oci:$o/l:latest" ;;
    kiln-zstd) cmd="$K --rootfs $dir --compression zstd -o oci:$o/l:latest" ;;
    kiln-none) cmd="$K --rootfs $dir --compression none -o oci:$o/l:latest" ;;
    kiln-j1)   cmd="$K --rootfs $dir -j 1 -o oci:$o/l:latest" ;;
    kiln-tar)  cmd="$K --tar $tarf -o oci:$o/l:latest" ;;
    umoci)     cmd="umoci init --layout $o/l && umoci new --image $o/l:latest && umoci insert $UMOCI_RL--image $o/l:latest $dir /" ;;
    umoci-raw) cmd="umoci init --layout $o/l && umoci new --image $o/l:latest && umoci raw add-layer --image $o/l:latest $tarf" ;;
    buildah)
      fresh_buildah
      cmd="export TMPDIR=$W/buildah/tmp; c=\$(${BUILDAH[*]} from scratch) && ${BUILDAH[*]} copy \"\$c\" $dir / >/dev/null && ${BUILDAH[*]} commit -q --disable-compression=false \"\$c\" oci:$o/l:latest" ;;
    podman)
      fresh_podman
      cmd="tar --numeric-owner -C $dir -cf - . | ${PODMAN[*]} import -q - bench:latest && ${PODMAN[*]} push -q bench:latest oci:$o/l:latest" ;;
    podman-tar)
      fresh_podman
      cmd="${PODMAN[*]} import -q $tarf bench:latest && ${PODMAN[*]} push -q bench:latest oci:$o/l:latest" ;;
    docker)
      docker_daemon_pids
      cmd="tar --numeric-owner -C $dir -cf - . | $DOCKER import - bench-import:latest >/dev/null && $DOCKER save -o $o/save.tar bench-import:latest" ;;
    docker-tar)
      docker_daemon_pids
      cmd="$DOCKER import $tarf bench-import:latest >/dev/null && $DOCKER save -o $o/save.tar bench-import:latest" ;;
    tar-gzip)  cmd="tar --numeric-owner --sort=name -C $dir -cf - . | gzip -6 >$o/layer.gz" ;;
    tar-pigz)  cmd="tar --numeric-owner --sort=name -C $dir -cf - . | pigz -6 -p2 >$o/layer.gz" ;;
    pigz-tar)  cmd="pigz -6 -p2 <$tarf >$o/layer.gz" ;;
    limit-gzip) cmd="pigz -$GZ_LEVEL -p$NPROC <$(q "$LIMIT_SRC") >$o/layer.gz" ;;
    limit-zstd) cmd="zstd -q -$ZS_LEVEL -T$NPROC <$(q "$LIMIT_SRC") >$o/layer.zst" ;;
    limit-deflate)
      # kiln's own compressor (libdeflate, kiln's default level) on NPROC equal parts of the stream at once
      if ! ls "$W"/limit-part.* >/dev/null 2>&1; then split -n "$NPROC" -d "$LIMIT_SRC" "$W/limit-part."; fi
      cmd="for f in $W/limit-part.*; do libdeflate-gzip -$GZ_LEVEL -c \"\$f\" >\"$o/\${f##*/}.gz\" & done; wait" ;;
    yocto)     cmd="cd $o && umoci init --layout l && umoci new --image l:latest && umoci unpack --rootless --image l:latest b && cp -r -a --no-preserve=ownership $dir/* b/rootfs && umoci repack --image l:latest b && rm -rf b" ;;
  esac
  log "$corpus · run $run · $label"
  measure "$cmd"
  if [ "$M_RC" -eq 0 ]; then
    case $id in
      kiln*) bytes=$(oci_layer_bytes "$o/l"); digest=$(tail -n 1 "$W/.out") ;;
      umoci*|buildah|podman*|yocto) bytes=$(oci_layer_bytes "$o/l") ;;
      docker*) bytes=$(docker_save_layer_bytes "$o/save.tar") ;;
      tar-*|pigz-tar|limit-gzip) bytes=$(filesize "$o/layer.gz") ;;
      limit-zstd) bytes=$(filesize "$o/layer.zst") ;;
      limit-deflate) bytes=$(cat "$o"/limit-part.*.gz | wc -c) ;;
    esac
  fi
  case $id in
    docker*) note="CPU and RSS include dockerd; the saved layer is uncompressed (docker save does not compress)" ;;
    buildah) note="\`commit --disable-compression=false\` (buildah's default writes it uncompressed)" ;;
    podman*) note="import + \`podman push oci:\` (gzip)" ;;
    tar-*) note="compressed layer only: no digests, config or manifest" ;;
    pigz-tar) note="compressed layer only" ;;
    limit-deflate) note="kiln's compressor library, $NPROC processes on $NPROC equal parts of kiln's uncompressed layer" ;;
    limit-*) note="compressing kiln's own uncompressed layer (\`--compression none\` blob)" ;;
    kiln-none) note="uncompressed: walk + tar + sha256 only" ;;
  esac
  record "$corpus" "$section" "$id" "$label" "$base" "$run" "$bytes" "$digest" - - - "$note"
  # keep kiln's uncompressed layer for the limit rows
  if [ "$id" = kiln-none ] && [ "$M_RC" -eq 0 ] && [ -z "${LIMIT_SRC:-}" ]; then
    LIMIT_SRC=$W/limit-src.tar
    mv "$(oci_layer_path "$o/l")" "$LIMIT_SRC"
  fi
  case $id in
    docker*) "$DOCKER" rmi -f bench-import:latest >/dev/null 2>&1 ;;
    buildah) umount_under "$W/buildah"; rm -rf "$W/buildah" ;;
    podman*) umount_under "$W/podman"; rm -rf "$W/podman" ;;
  esac
  umount_under "$o"
  rm -rf "$o"
}

bench_build_corpus() {
  local corpus=$1 r rows=() row
  corpus_prepare "$corpus" || { md "### $corpus: skipped (the corpus could not be prepared)" ""; return; }
  md "### Build: $corpus" ""
  md "$C_DESC. $C_FILES entries, $(mib "$C_BYTES") on disk (\`du -sb\`), tar $(mib "$C_TARBYTES")." ""
  log "corpus $corpus: $C_FILES entries, $(mib "$C_BYTES"); warming the page cache"
  warm "$C_DIR" "$C_TAR"
  LIMIT_SRC=
  # id;label;base;section;needs (labels are Markdown: \| is a pipe in a table)
  rows=(
    "kiln;\`kiln build --rootfs\` (default: gzip -$GZ_LEVEL);kiln;dir;"
    "kiln-6;\`kiln … --compression-level 6\` (small output);kiln;dir;gz6"
    "kiln-9;\`kiln … --compression-level 9\`;kiln;dir;"
    "kiln-zstd;\`kiln … --compression zstd\` (-$ZS_LEVEL);kiln;dir;"
    "kiln-none;\`kiln … --compression none\`;kiln;dir;"
    "umoci;\`umoci init/new/insert\`;kiln;dir;umoci"
    "buildah;\`buildah from scratch/copy/commit\`;kiln;dir;buildah"
    "podman;\`tar \\| podman import -\` + push oci:;kiln;dir;podman"
    "docker;\`tar \\| docker import -\` + \`docker save\`;kiln;dir;docker"
    "tar-gzip;\`tar \\| gzip -6\` (sloci-style);kiln;dir;"
    "tar-pigz;\`tar \\| pigz -6 -p2\`;kiln;dir;pigz"
    "yocto;Yocto today: umoci unpack + \`cp -a\` + repack;kiln;yocto;umoci"
    "kiln-tar;\`kiln build --tar\` (default: gzip -$GZ_LEVEL);kiln-tar;tar;"
    "umoci-raw;\`umoci raw add-layer\`;kiln-tar;tar;umoci"
    "podman-tar;\`podman import FILE.tar\` + push oci:;kiln-tar;tar;podman"
    "docker-tar;\`docker import FILE.tar\` + \`docker save\`;kiln-tar;tar;docker"
    "pigz-tar;\`pigz -6 -p2 < FILE.tar\`;kiln-tar;tar;pigz"
    "limit-gzip;limit: \`pigz -$GZ_LEVEL -p$NPROC\` alone;kiln;limit;pigz"
    "limit-deflate;limit: \`libdeflate-gzip -$GZ_LEVEL\` × $NPROC in parallel;kiln;limit;libdeflate"
    "limit-zstd;limit: \`zstd -$ZS_LEVEL -T$NPROC\` alone;kiln-zstd;limit;zstd"
  )
  local skipped=() id label base section needs
  for r in $(seq "$RUNS"); do
    for row in "${rows[@]}"; do
      IFS=';' read -r id label base section needs <<<"$row"
      case ",${ROWS:-$id}," in *",$id,"*) ;; *) continue ;; esac
      if [ -n "$needs" ] && [ -z "${HAVE[$needs]:-}" ]; then
        [ "$r" = 1 ] && skipped+=("$label (${WHY[$needs]})")
        continue
      fi
      if [ "$needs" = docker ]; then start_dockerd || { [ "$r" = 1 ] && skipped+=("$label (${WHY[docker]})"); continue; }; fi
      case $id in limit-*) [ -n "$LIMIT_SRC" ] || continue ;; esac
      bench_one "$corpus" "$section" "$id" "$label" "$base" "$r"
    done
  done
  # reproducibility: with one run, build once more; and once with -j1
  if [ "$RUNS" -lt 2 ]; then
    bench_one "$corpus" repro kiln "\`kiln build --rootfs\` (default: gzip -$GZ_LEVEL)" kiln 2
    bench_one "$corpus" repro kiln-tar "\`kiln build --tar\` (default: gzip -$GZ_LEVEL)" kiln-tar 2
  fi
  bench_one "$corpus" repro kiln-j1 "kiln -j1" kiln 1
  rm -f "$W/limit-src.tar" "$W"/limit-part.*
  python3 "$BENCH_DIR/report.py" build "$RESULTS" "$corpus" >"$W/table.md"
  mdfile "$W/table.md"
  if [ ${#skipped[@]} -gt 0 ]; then
    md "Skipped: $(printf '%s; ' "${skipped[@]}" | sed 's/; $//')." ""
  fi
}

# ------------------------------------------------------------------ push benchmark
REG_PID='' PROXY_PID='' REG_PORT='' PROXY_PORT='' CTRL_PORT='' REG_DIR='' REG_N=0
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_registry() {
  local up=
  REG_N=$((REG_N + 1))
  REG_DIR=$W/registry-$REG_N
  mkdir -p "$REG_DIR/data"
  for _ in 1 2 3 4 5; do
    REG_PORT=$(free_port)
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
  maintenance:
    uploadpurging:
      enabled: false
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$REG_PORT
EOF
    # (REGISTRY_* variables would override its configuration: REGISTRY_AUTH_FILE is ours)
    $NICE_CMD env -u REGISTRY_AUTH_FILE docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/log" 2>&1 </dev/null &
    REG_PID=$!
    for _ in $(seq 100); do
      if python3 -c 'import sys, urllib.request; urllib.request.urlopen("http://127.0.0.1:%s/v2/" % sys.argv[1], timeout=2)' "$REG_PORT" 2>/dev/null; then up=1; break; fi
      kill -0 "$REG_PID" 2>/dev/null || break
      sleep 0.1
    done
    [ -n "$up" ] && break
    stop_pid "$REG_PID"; REG_PID=
  done
  [ -n "$up" ] || { log "the registry did not start"; tail -n 5 "$REG_DIR/log" >&2; return 1; }
  $NICE_CMD python3 "$BENCH_DIR/countproxy.py" --upstream "127.0.0.1:$REG_PORT" \
    --port-file "$REG_DIR/proxy.port" --control-port-file "$REG_DIR/ctl.port" \
    >"$REG_DIR/proxy.log" 2>&1 </dev/null &
  PROXY_PID=$!
  for _ in $(seq 100); do [ -s "$REG_DIR/proxy.port" ] && break; sleep 0.05; done
  PROXY_PORT=$(cat "$REG_DIR/proxy.port" 2>/dev/null) CTRL_PORT=$(cat "$REG_DIR/ctl.port" 2>/dev/null)
  [ -n "$PROXY_PORT" ] || { log "countproxy did not start"; return 1; }
  PIDS_TO_STOP+=("$REG_PID" "$PROXY_PID")
}
stop_registry() { stop_pid "$PROXY_PID"; stop_pid "$REG_PID"; PROXY_PID=''; REG_PID=''; rm -rf "$REG_DIR"; }
proxy_stats() { # prints "UP DOWN" after the traffic has settled
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$CTRL_PORT" || { echo "0 0"; return; }
  printf 'stats\n' >&3
  IFS= read -r line <&3
  exec 3<&- 3>&-
  python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["up"], d["down"])' "$line"
}
access_lines() { sleep 0.3; grep -cE '^[^ ]+ - [^ ]* \[[^]]*\] "[A-Z]+ ' "$REG_DIR/log" || true; }

# push_one ID LABEL RUN: a first push and a re-push to a fresh registry.
push_one() {
  local id=$1 label=$2 run=$3 cmd pass u0 d0 u1 d1 a0 a1 note=
  start_registry || { M_RC=1 M_WALL=0 M_CPU=0 M_RSS=0 M_OTHER=0; record minbase push-first "$id" "$label" - "$run" - - - - - "registry did not start"; return; }
  local host=127.0.0.1:$PROXY_PORT
  DAEMON_PIDS=()
  local K; K=$(q "$KILN")
  case $id in
    kiln-copy)  cmd="$K copy -q oci:$(q "$PUSH_OCI"):1 docker://$host/bench/kiln:1" ;;
    kiln-build) cmd="SOURCE_DATE_EPOCH=$SDE $K build -q --rootfs $(q "$C_DIR") --cmd '[\"/bin/bash\"]' -t bench/minbase:1 -o docker://$host/bench/kilnbuild:1" ;;
    skopeo)     cmd="skopeo --insecure-policy copy -q --dest-tls-verify=false oci:$(q "$PUSH_OCI"):1 docker://$host/bench/skopeo:1" ;;
    docker)
      docker_daemon_pids
      "$DOCKER" tag bench/minbase:1 "$host/bench/docker:1" >/dev/null 2>&1
      cmd="$DOCKER push $host/bench/docker:1 >/dev/null" ;;
  esac
  case $id in
    kiln-build) note="builds the layer too (compression included)" ;;
    docker) note="CPU includes dockerd; dockerd compresses the layer while pushing" ;;
  esac
  for pass in push-first push-re; do
    log "push · run $run · $label · ${pass#push-}"
    read -r u0 d0 < <(proxy_stats)
    a0=$(access_lines)
    measure "$cmd"
    read -r u1 d1 < <(proxy_stats)
    a1=$(access_lines)
    record minbase "$pass" "$id" "$label" - "$run" - - "$((u1 - u0))" "$((d1 - d0))" "$((a1 - a0))" "$note"
  done
  [ "$id" = docker ] && "$DOCKER" rmi "$host/bench/docker:1" >/dev/null 2>&1
  stop_registry
}

bench_push() {
  md "## Push: minbase to a loopback registry" ""
  if [ -z "${HAVE[registry]:-}" ]; then md "Skipped: ${WHY[registry]}." ""; return; fi
  corpus_prepare minbase || { md "Skipped: the minbase corpus could not be prepared." ""; return; }
  warm "$C_DIR" "$C_TAR"
  PUSH_OCI=$W/push-oci PUSH_ARCHIVE=$W/push-docker.tar
  log "push: building the minbase image once (oci layout + docker archive)"
  if ! SOURCE_DATE_EPOCH=$SDE "$KILN" build -q --rootfs "$C_DIR" --cmd '["/bin/bash"]' -t bench/minbase:1 \
      -o "oci:$PUSH_OCI:1" -o "docker-archive:$PUSH_ARCHIVE" >"$W/push-digest" 2>"$W/push-build.err"; then
    md "Skipped: kiln could not build the image ($(tail -n 1 "$W/push-build.err"))." ""; return
  fi
  local lbytes; lbytes=$(oci_layer_bytes "$PUSH_OCI")
  md "Image: $C_DESC, one gzip layer of $(mib "$lbytes") ($lbytes bytes), built once by kiln into an OCI layout and a docker archive (manifest \`$(cut -c1-19 "$W/push-digest")…\`). docker-registry (distribution $(docker-registry --version 2>&1 | awk '{print $3}')) on plain http at 127.0.0.1, storage in a temp dir, behind \`bench/countproxy.py\`." ""
  local have_docker=
  if [ -n "${HAVE[docker]:-}" ] && start_dockerd; then
    if "$DOCKER" load -i "$PUSH_ARCHIVE" >/dev/null 2>"$W/docker-load.err"; then have_docker=1
    else log "docker load failed: $(tail -n 1 "$W/docker-load.err")"; fi
  fi
  local rows=(
    "kiln-copy;\`kiln copy oci:… docker://…\`;"
    "kiln-build;\`kiln build --rootfs … -o docker://…\`;"
    "skopeo;\`skopeo copy oci:… docker://…\`;skopeo"
    "docker;\`docker push\` (image loaded from the docker archive);docker"
  )
  local skipped=() r row id label needs
  for r in $(seq "$RUNS"); do
    for row in "${rows[@]}"; do
      IFS=';' read -r id label needs <<<"$row"
      if [ -n "$needs" ] && [ -z "${HAVE[$needs]:-}" ]; then
        [ "$r" = 1 ] && skipped+=("$label (${WHY[$needs]})"); continue
      fi
      if [ "$id" = docker ] && [ -z "$have_docker" ]; then
        [ "$r" = 1 ] && skipped+=("$label (the image could not be loaded into dockerd)"); continue
      fi
      push_one "$id" "$label" "$r"
    done
  done
  python3 "$BENCH_DIR/report.py" push "$RESULTS" >"$W/table.md"
  mdfile "$W/table.md"
  if [ ${#skipped[@]} -gt 0 ]; then md "Skipped: $(printf '%s; ' "${skipped[@]}" | sed 's/; $//')." ""; fi
}

# ------------------------------------------------------------------ main
if [ -n "$PREPARE" ]; then
  for c in "${CORPUS_LIST[@]}"; do
    if corpus_prepare "$c"; then md "- $c: $C_DIR ($C_FILES entries, $(mib "$C_BYTES")), $C_TAR: $C_DESC"
    else md "- $c: could not be prepared"; fi
  done
  exit 0
fi
if [ -n "$DO_BUILD" ]; then
  md "## Build" ""
  md "Every row turns the same input into one image layer, from a warm page cache, written to the same disk. \`kiln\` rows use \`SOURCE_DATE_EPOCH=$SDE\` and the default \`-j\` (all $(nproc) CPUs). CPU = user + sys of the command (and of dockerd for docker rows); peak RSS = the largest single process." ""
  for c in "${CORPUS_LIST[@]}"; do bench_build_corpus "$c"; done
fi
if [ -n "$DO_PUSH" ]; then bench_push; fi

if [ -n "$OUT" ]; then
  mkdir -p "$(dirname "$OUT")"
  cp "$REPORT" "$OUT" && log "report written to $OUT"
fi
if [ -n "$OUT" ]; then cp "$RESULTS" "${OUT%.md}.tsv" && log "raw results in ${OUT%.md}.tsv"; fi
log "done"
