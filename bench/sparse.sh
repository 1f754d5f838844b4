#!/usr/bin/env bash
# A sparse file, two kiln binaries side by side: a tree holding one file of
# SIZE GiB (default 9) that is a hole but for three 1 MiB data regions at odd
# offsets, built with each compression given (default gzip, kiln's default;
# none writes the whole size to disk), old and new alternating which goes
# first; medians and per-round ratios.
#
#   sudo bench/sparse.sh --old OLD_KILN --new NEW_KILN [--runs 3] [--size GIB]
#       [--compression gzip,zstd,none] [--out FILE]
#
# Wall time from date +%s.%N; user and system CPU from GNU time when installed.
set -euo pipefail
OLD= NEW= RUNS=3 OUT= SIZE=9 COMP=gzip
while [ $# -gt 0 ]; do
  case $1 in
    --old) OLD=$2; shift 2 ;;
    --new) NEW=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --compression) COMP=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "sparse.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$OLD" ] && [ -x "$NEW" ] || { echo "sparse.sh: give --old and --new kiln binaries" >&2; exit 2; }
W=$(mktemp -d /var/tmp/kiln-sparse.XXXXXX)
trap 'rm -rf "$W"' EXIT
export SOURCE_DATE_EPOCH=1700000000
mkdir -p "$W/tree"
python3 - "$W/tree/big.img" "$SIZE" <<'EOF'
import os, sys
size = int(float(sys.argv[2]) * (1 << 30))
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.ftruncate(fd, size)
for off in (4097, size // 2 + 3, size - (1 << 20) - 5):
    os.pwrite(fd, os.urandom(1 << 20), off)
os.close(fd)
EOF
touch -d @1700000000 "$W/tree/big.img"

GT=; [ -x /usr/bin/time ] && GT=/usr/bin/time
one() { # KILN COMPRESSION: "wall user sys"
  local t0 t1 cpu="- -"
  rm -rf "$W/o"; sync
  t0=$(date +%s.%N)
  if [ -n "$GT" ]; then $GT -f '%U %S' -o "$W/cpu" "$1" build --rootfs "$W/tree" --compression "$2" -o "oci:$W/o:x" >/dev/null
  else "$1" build --rootfs "$W/tree" --compression "$2" -o "oci:$W/o:x" >/dev/null; fi
  t1=$(date +%s.%N)
  [ -z "$GT" ] || cpu=$(tail -n 1 "$W/cpu")
  rm -rf "$W/o"
  python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])), sys.argv[3], sys.argv[4])' "$t0" "$t1" $cpu
}
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
{
  echo "# A ${SIZE} GiB sparse file (3 MiB of data): old $OLD, new $NEW"
  echo
  echo "$RUNS alternating rounds; $(nproc) cores; $(date -u +%Y-%m-%d); seconds (median; each round's new/old in brackets)."
  echo
  echo "| compression | old wall | new wall | new/old | old user+sys | new user+sys |"
  echo "|---|--:|--:|--:|--:|--:|"
} >"$W/report"
for c in ${COMP//,/ }; do
  ow=() nw=() r=() oc=() nc=()
  for i in $(seq "$RUNS"); do
    if [ $((i % 2)) -eq 1 ]; then read -r a au as <<<"$(one "$OLD" $c)"; read -r b bu bs <<<"$(one "$NEW" $c)"
    else read -r b bu bs <<<"$(one "$NEW" $c)"; read -r a au as <<<"$(one "$OLD" $c)"; fi
    ow+=("$a") nw+=("$b") r+=("$(python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) / float(sys.argv[1])))' "$a" "$b")")
    oc+=("$au+$as") nc+=("$bu+$bs")
    echo "sparse.sh: $c round $i: old $a s ($au+$as), new $b s ($bu+$bs), load $(cut -d' ' -f1 /proc/loadavg)" >&2
  done
  echo "| $c | $(med "${ow[@]}") | $(med "${nw[@]}") | $(med "${r[@]}") (${r[*]}) | ${oc[*]} | ${nc[*]} |" >>"$W/report"
done
cat "$W/report"
[ -z "$OUT" ] || cp "$W/report" "$OUT"
