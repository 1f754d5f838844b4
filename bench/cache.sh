#!/usr/bin/env bash
# The build cache (docs/cache.md) on the Debian minbase tree, in one run, rows
# interleaved round by round:
#   cold        kiln build --no-cache                      (the reference)
#   miss        a cold build with an empty cache           (what a miss costs)
#   warm        the same tree again, cache warm            (unchanged rebuild)
#   changed     --layer-map (3 layers), one file changed, cache warm
#   changed-nc  the same changed tree, --no-cache          (its reference)
# Reported: medians, and the median of the per-round ratios (cold/warm,
# changed-nc/changed, miss/cold). Every build's digest is checked against its
# --no-cache reference: a row that wrote other bytes fails the run.
#
#   sudo bench/cache.sh [--kiln PATH] [--runs 5] [--out FILE]
#
# The tree: ${KILN_BENCH_CACHE:-/var/cache/kiln-bench}/minbase-v1/root (bench/run.sh
# --prepare makes it), else the test suite's /var/cache/kiln-tests/minbase-bookworm;
# copied (cp -a) into a work directory under /var/tmp, removed at the end.
set -euo pipefail
KILN=${KILN:-$(cd "$(dirname "$0")/.." && pwd)/build/src/cli/kiln}
RUNS=5 OUT=
while [ $# -gt 0 ]; do
  case $1 in
    --kiln) KILN=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "cache.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$KILN" ] || { echo "cache.sh: no kiln at $KILN (build it, or give --kiln)" >&2; exit 2; }
SRC=${KILN_BENCH_CACHE:-/var/cache/kiln-bench}/minbase-v1/root
[ -d "$SRC" ] || SRC=/var/cache/kiln-tests/minbase-bookworm
[ -f "$SRC/etc/debian_version" ] || { echo "cache.sh: no minbase tree (run bench/run.sh --prepare)" >&2; exit 2; }
W=$(mktemp -d /var/tmp/kiln-bench-cache.XXXXXX)
trap 'rm -rf "$W"' EXIT
export SOURCE_DATE_EPOCH=1700000000
unset KILN_CACHE_DIR
cp -a "$SRC" "$W/tree"
cp -a "$SRC" "$W/tree2" # the one changed, round after round
CHANGED=var/lib/dpkg/status # the file a package change rewrites
printf '%s\n' '[usr]' '/usr/**' '[var]' '/var/**' >"$W/map"

# one NAME ARGS...: one build of $W/tree ($W/tree2 for changed*) into $W/o;
# prints "seconds digest"
one() {
  local name=$1 t0 t1 d tree=$W/tree; shift
  case $name in changed*) tree=$W/tree2 ;; esac
  rm -rf "$W/o"; sync
  t0=$(date +%s.%N)
  d=$("$KILN" build --rootfs "$tree" "$@" -o "oci:$W/o:x")
  t1=$(date +%s.%N)
  rm -rf "$W/o"
  python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) - float(sys.argv[1])), sys.argv[3])' "$t0" "$t1" "$d"
}
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { python3 -c 'import sys; print("%.3f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
check() { # GOT WANT WHAT
  [ "$1" = "$2" ] || { echo "cache.sh: $3: digest $1, not the --no-cache $2" >&2; exit 1; }
}

echo "cache.sh: $RUNS rounds on $SRC ($(find "$W/tree" | wc -l) entries) with $KILN" >&2
C=$W/cache
one ref --no-cache >/dev/null # the page cache warm
read -r _ REF < <(one ref --no-cache)
one fill --cache-dir "$C" --layer-map "$W/map" >/dev/null
one fill --cache-dir "$C" >/dev/null
declare -a COLD MISS WARM CHG CHGNC R_WARM R_MISS R_CHG
for r in $(seq 1 "$RUNS"); do
  # odd rounds: cold first; even rounds: miss first
  if [ $((r % 2)) -eq 1 ]; then
    read -r tc dc < <(one cold --no-cache)
    rm -rf "$W/empty"; read -r tm dm < <(one miss --cache-dir "$W/empty")
  else
    rm -rf "$W/empty"; read -r tm dm < <(one miss --cache-dir "$W/empty")
    read -r tc dc < <(one cold --no-cache)
  fi
  rm -rf "$W/empty"
  check "$dc" "$REF" cold; check "$dm" "$REF" miss
  read -r tw dw < <(one warm --cache-dir "$C"); check "$dw" "$REF" warm
  # a new version of the file each round: its layer's blocks from it on are new
  printf 'Package: kiln-bench-%s\nStatus: install ok installed\n\n' "$r" >>"$W/tree2/$CHANGED"
  touch -d @1700000000 "$W/tree2/$CHANGED"
  read -r tn dn < <(one changed-nc --no-cache --layer-map "$W/map")
  read -r tx dx < <(one changed --cache-dir "$C" --layer-map "$W/map"); check "$dx" "$dn" changed
  COLD+=("$tc"); MISS+=("$tm"); WARM+=("$tw"); CHG+=("$tx"); CHGNC+=("$tn")
  R_WARM+=("$(ratio "$tc" "$tw")"); R_MISS+=("$(ratio "$tm" "$tc")"); R_CHG+=("$(ratio "$tn" "$tx")")
  echo "cache.sh: round $r: cold $tc miss $tm warm $tw changed $tx changed-nc $tn" >&2
done
{
  echo "# The build cache: cold, miss, warm, one file changed (Debian minbase)"
  echo
  echo "bench/cache.sh, $RUNS interleaved rounds; $(nproc) cores; $(date -u +%Y-%m-%d); $(find "$W/tree" | wc -l) entries,"
  echo "$(du -sm "$W/tree" | cut -f1) MiB; gzip level 4, all cores; seconds, median (per-round values in brackets)."
  echo "Every digest matched its --no-cache build's. 'one file changed': $CHANGED rewritten,"
  echo "tree split by --layer-map into [usr], [var] and the rest."
  echo
  echo "| row | median s | rounds | compared with | median of per-round ratios |"
  echo "|---|--:|---|---|--:|"
  echo "| cold, --no-cache | $(med "${COLD[@]}") | ${COLD[*]} | | |"
  echo "| miss: cold with an empty cache | $(med "${MISS[@]}") | ${MISS[*]} | miss / cold | **$(med "${R_MISS[@]}")** (${R_MISS[*]}) |"
  echo "| warm, unchanged | $(med "${WARM[@]}") | ${WARM[*]} | cold / warm | **$(med "${R_WARM[@]}")×** (${R_WARM[*]}) |"
  echo "| one file changed, 3 layers, --no-cache | $(med "${CHGNC[@]}") | ${CHGNC[*]} | | |"
  echo "| one file changed, 3 layers, cache warm | $(med "${CHG[@]}") | ${CHG[*]} | no-cache / cache | **$(med "${R_CHG[@]}")×** (${R_CHG[*]}) |"
} | if [ -n "$OUT" ]; then tee "$OUT"; else cat; fi
