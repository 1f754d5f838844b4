#!/usr/bin/env bash
# Two builds of kiln side by side: the same build and push rows, run
# alternately (old, new, old, new, ...) so that drift in the machine's load
# falls on both, and reported as the median of the per-pair ratios new/old.
#
#   sudo bench/compare.sh --old OLD_KILN --new NEW_KILN [--runs 5] [--tree DIR] [--out FILE]
#
# Rows: build --rootfs TREE into a new oci: layout; into an existing layout
# (a second tag); and build -o docker:// to a loopback docker-registry with an
# empty store. TREE defaults to the test suite's Debian minbase cache
# (/var/cache/kiln-tests/minbase-bookworm, made by t-60 or bench/run.sh
# --prepare). Wall time from date +%s.%N; a sync before every run.
set -euo pipefail
OLD= NEW= RUNS=5 OUT= TREE=/var/cache/kiln-tests/minbase-bookworm
while [ $# -gt 0 ]; do
  case $1 in
    --old) OLD=$2; shift 2 ;;
    --new) NEW=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --tree) TREE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$OLD" ] && [ -x "$NEW" ] || { echo "compare.sh: give --old and --new kiln binaries" >&2; exit 2; }
[ -d "$TREE" ] || { echo "compare.sh: no tree at $TREE (run t-60 or bench/run.sh --prepare first)" >&2; exit 2; }
command -v docker-registry >/dev/null || { echo "compare.sh: docker-registry is needed" >&2; exit 2; }

W=$(mktemp -d /var/tmp/kiln-compare.XXXXXX)
REG_PID=
cleanup() { [ -z "$REG_PID" ] || kill "$REG_PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
export SOURCE_DATE_EPOCH=1700000000

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_registry() { # a new registry with an empty store: REG
  [ -z "$REG_PID" ] || { kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; REG_PID=; }
  rm -rf "$W/reg"; mkdir -p "$W/reg/data"
  local port; port=$(free_port)
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$W/reg/data" "$port" >"$W/reg/config.yml"
  env -u REGISTRY_AUTH_FILE docker-registry serve "$W/reg/config.yml" >"$W/reg/log" 2>&1 </dev/null &
  REG_PID=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
  REG=127.0.0.1:$port
}

timed() { # CMD...: prints the wall time in seconds
  local t0 t1
  sync
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$W/err" || { echo "compare.sh: failed: $* ($(head -c 300 "$W/err"))" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$t0" "$t1"
}

row() { # NAME KILN: one run of the row, prints the time
  local name=$1 k=$2
  case $name in
    build-new-layout) rm -rf "$W/L"; timed "$k" build --rootfs "$TREE" -o "oci:$W/L:a" ;;
    build-existing-layout)
      rm -rf "$W/E"; "$k" build --rootfs "$TREE" -o "oci:$W/E:a" >/dev/null
      timed "$k" build --rootfs "$TREE" -o "oci:$W/E:b" ;;
    build-push) # (row runs in $(...): the registry is stopped in the same shell)
      start_registry
      timed "$k" build --rootfs "$TREE" -o "docker://$REG/bench/img:1"
      kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; REG_PID= ;;
  esac
}

ROWS=(build-new-layout build-existing-layout build-push)
{
  echo "# kiln vs kiln: old $OLD ($("$OLD" version | head -n 1)), new $NEW ($("$NEW" version | head -n 1))"
  echo
  echo "Tree: $TREE ($(find "$TREE" | wc -l) entries, $(du -sm "$TREE" | cut -f1) MiB); $RUNS alternating runs per row; $(nproc) cores; $(date -u +%Y-%m-%d)."
  echo
  echo "| row | old median (s) | new median (s) | median of new/old per pair | runs old | runs new |"
  echo "|---|--:|--:|--:|---|---|"
} >"$W/report"
for r in "${ROWS[@]}"; do
  olds=() news=() ratios=()
  row "$r" "$OLD" >/dev/null; row "$r" "$NEW" >/dev/null   # warm-up, not counted
  for i in $(seq "$RUNS"); do
    if [ $((i % 2)) -eq 1 ]; then o=$(row "$r" "$OLD"); n=$(row "$r" "$NEW")
    else n=$(row "$r" "$NEW"); o=$(row "$r" "$OLD"); fi
    olds+=("$o") news+=("$n")
    ratios+=("$(python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) / float(sys.argv[1])))' "$o" "$n")")
    echo "compare.sh: $r run $i: old $o s, new $n s" >&2
  done
  med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
  echo "| $r | $(med "${olds[@]}") | $(med "${news[@]}") | $(med "${ratios[@]}") | ${olds[*]} | ${news[*]} |" >>"$W/report"
done
cat "$W/report"
[ -z "$OUT" ] || cp "$W/report" "$OUT"
