#!/usr/bin/env bash
# kiln under pseudo, as BitBake runs image tasks: two kiln binaries side by
# side, bare and under pseudo, and Yocto's umoci flow under pseudo, all in one
# run, in alternating rounds, reported as medians of per-round ratios.
#
#   sudo bench/pseudo.sh --old OLD_KILN --new NEW_KILN [--runs 5] [--tree DIR] [--out FILE]
#
# The tree (default: the test suite's Debian minbase cache) is first copied
# with `cp -a` under pseudo, so that pseudo's database holds every entry, as
# it does for a rootfs that BitBake made. Rows, for each kiln: the walk
# (`--compression none`: walk, tar, hash) and the default build, bare and
# under pseudo; once per round, Yocto's umoci backend under pseudo (umoci
# init, new, unpack --rootless, cp -a of the rootfs into the bundle, repack,
# rm). Each round runs every row once, old and new alternating which goes
# first. Wall time from date +%s.%N, a sync before every run. One more run
# per kiln under PSEUDO_DEBUG=o counts the messages to the pseudo server, and
# under strace -f -c (when installed) the system calls.
set -euo pipefail
OLD= NEW= RUNS=5 OUT= TREE=/var/cache/kiln-tests/minbase-bookworm
while [ $# -gt 0 ]; do
  case $1 in
    --old) OLD=$2; shift 2 ;;
    --new) NEW=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --tree) TREE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "pseudo.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$OLD" ] && [ -x "$NEW" ] || { echo "pseudo.sh: give --old and --new kiln binaries" >&2; exit 2; }
[ -d "$TREE" ] || { echo "pseudo.sh: no tree at $TREE (run t-60 or bench/run.sh --prepare first)" >&2; exit 2; }
command -v pseudo >/dev/null || { echo "pseudo.sh: pseudo is needed" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "pseudo.sh: GNU time (/usr/bin/time) is needed" >&2; exit 2; }
HAVE_UMOCI=1; command -v umoci >/dev/null || HAVE_UMOCI=0

W=$(mktemp -d /var/tmp/kiln-pseudo.XXXXXX)
export PSEUDO_PREFIX=/usr PSEUDO_LOCALSTATEDIR=$W/state SOURCE_DATE_EPOCH=1700000000
HOLD=
cleanup() {
  if [ -n "$HOLD" ]; then
    kill "$(cat "$W/hold.pid" 2>/dev/null)" 2>/dev/null || true
    wait "$HOLD" 2>/dev/null || true
  fi
  pseudo -S >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT

echo "pseudo.sh: copying $TREE under pseudo" >&2
pseudo cp -a "$TREE" "$W/rootfs"
R=$W/rootfs
ENTRIES=$(find "$R" -mindepth 1 | wc -l)

# CPU seconds (user + system) the pseudo server has used so far (0 when none runs).
server_cpu() {
  local pid
  pid=$(cat "$W/state/pseudo.pid" 2>/dev/null) || { echo 0; return; }
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$pid/stat" 2>/dev/null || echo 0
}
timed() { # CMD...: prints "WALL CPU": wall seconds, and CPU seconds of the command,
  # its children and the pseudo server meanwhile (CPU time suffers less than
  # wall time from other work on the machine)
  local t0 t1 s0 s1
  sync
  s0=$(server_cpu)
  t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$W/cpu" "$@" >/dev/null 2>"$W/err" || { echo "pseudo.sh: failed: $* ($(head -c 300 "$W/err"))" >&2; exit 1; }
  t1=$(date +%s.%N)
  s1=$(server_cpu)
  python3 -c 'import sys; u, s = open(sys.argv[5]).read().split()[-2:]; print("%.3f %.3f" % (float(sys.argv[2]) - float(sys.argv[1]), float(u) + float(s) + max(0.0, float(sys.argv[4]) - float(sys.argv[3]))))' "$t0" "$t1" "$s0" "$s1" "$W/cpu"
}

# run ROW KILN: one run, prints the time. Outputs made under pseudo are
# removed under pseudo, so that its database never holds a stale inode.
run() {
  local row=$1 k=$2 t
  case $row in
    walk-bare)    t=$(timed "$k" build --rootfs "$R" --compression none -o "oci:$W/b:a"); rm -rf "$W/b" ;;
    build-bare)   t=$(timed "$k" build --rootfs "$R" -o "oci:$W/b:a"); rm -rf "$W/b" ;;
    walk-pseudo)  t=$(timed pseudo "$k" build --rootfs "$R" --compression none -o "oci:$W/p:a"); pseudo rm -rf "$W/p" ;;
    build-pseudo) t=$(timed pseudo "$k" build --rootfs "$R" -o "oci:$W/p:a"); pseudo rm -rf "$W/p" ;;
    yocto-pseudo)
      mkdir -p "$W/y"
      t=$(timed pseudo sh -c 'cd "$1" && umoci init --layout l && umoci new --image l:latest &&
        umoci unpack --rootless --image l:latest b && cp -r -a --no-preserve=ownership "$2"/* b/rootfs &&
        umoci repack --image l:latest b && rm -rf b' sh "$W/y" "$R")
      pseudo rm -rf "$W/y" ;;
  esac
  echo "$t"
}

KROWS=(walk-bare walk-pseudo build-bare build-pseudo)
declare -A T C
# One client stays connected for the whole run, so that the server neither
# exits between runs nor starts inside a measured one (BitBake, too, keeps
# one server for all of a build's tasks).
pseudo sh -c 'echo $$ >"$1"; exec sleep 100000' sh "$W/hold.pid" </dev/null >/dev/null 2>&1 &
HOLD=$!
for _ in $(seq 50); do [ -s "$W/hold.pid" ] && break; sleep 0.1; done
for k in "$OLD" "$NEW"; do for r in "${KROWS[@]}"; do run "$r" "$k" >/dev/null; done; done # warm-up
LOADS=()
for i in $(seq "$RUNS"); do
  if [ $((i % 2)) -eq 1 ]; then order=(old new); else order=(new old); fi
  for r in "${KROWS[@]}"; do
    for who in "${order[@]}"; do
      if [ "$who" = old ]; then k=$OLD; else k=$NEW; fi
      read -r "T[$who,$r,$i]" "C[$who,$r,$i]" <<<"$(run "$r" "$k")"
    done
  done
  if [ "$HAVE_UMOCI" = 1 ]; then read -r "T[yocto,$i]" "C[yocto,$i]" <<<"$(run yocto-pseudo "")"; fi
  LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")
  echo "pseudo.sh: round $i: $(for r in "${KROWS[@]}"; do printf '%s %s/%s ' "$r" "${T[old,$r,$i]}" "${T[new,$r,$i]}"; done)yocto ${T[yocto,$i]:-n/a} load ${LOADS[-1]}" >&2
done

med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
div() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
# ratio_med NUM_KEY DEN_KEY: median over rounds of X[NUM,i] / X[DEN,i], X
# being the array named by $X (T: wall, C: CPU)
ratio_med() {
  local -n a=$X
  local v=() i
  for i in $(seq "$RUNS"); do v+=("$(div "${a[$1,$i]}" "${a[$2,$i]}")"); done
  echo "$(med "${v[@]}") ($(printf '%s ' "${v[@]}" | sed 's/ $//'))"
}
times_med() { local -n a=$X; local v=() i; for i in $(seq "$RUNS"); do v+=("${a[$1,$i]}"); done; med "${v[@]}"; }
for i in $(seq "$RUNS"); do
  for r in "${KROWS[@]}"; do
    T[o$r,$i]=${T[old,$r,$i]}; T[n$r,$i]=${T[new,$r,$i]}
    C[o$r,$i]=${C[old,$r,$i]}; C[n$r,$i]=${C[new,$r,$i]}
  done
done
tables() { # X WHAT: the two tables for array X
  X=$1
  echo "## $2: medians of the rounds (seconds)"
  echo
  echo "| row | old | new | new/old (median of rounds) |"
  echo "|---|--:|--:|--:|"
  for r in "${KROWS[@]}"; do
    echo "| $r | $(times_med "o$r") | $(times_med "n$r") | $(ratio_med "n$r" "o$r") |"
  done
  [ "$HAVE_UMOCI" = 0 ] || echo "| Yocto's umoci flow under pseudo | $(times_med yocto) | | |"
  echo
  echo "## $2: ratios (median of the per-round ratios; each round's values in brackets)"
  echo
  echo "| ratio | goal | old | new |"
  echo "|---|---|--:|--:|"
  echo "| walk (\`--compression none\`): pseudo / bare | ≤ 2.5 | $(ratio_med owalk-pseudo owalk-bare) | $(ratio_med nwalk-pseudo nwalk-bare) |"
  echo "| default build: pseudo / bare | ≤ 1.4 | $(ratio_med obuild-pseudo obuild-bare) | $(ratio_med nbuild-pseudo nbuild-bare) |"
  [ "$HAVE_UMOCI" = 0 ] || echo "| Yocto's umoci flow / kiln default build, both under pseudo | ≥ 10 | $(ratio_med yocto obuild-pseudo) | $(ratio_med yocto nbuild-pseudo) |"
  echo
}

# Messages to the pseudo server and system calls of one walk.
count() { # KILN: "messages real-lstat"
  local k=$1 m l=n/a
  pseudo env PSEUDO_DEBUG=o PSEUDO_DEBUG_FILE="$W/dbg.%s.log" "$k" build --rootfs "$R" --compression none -o "oci:$W/c:a" >/dev/null 2>&1
  pseudo rm -rf "$W/c"
  # lines of operations that went to the server: all but "(no request)"
  m=$(grep -E '^[a-z-]+:? ' "$W"/dbg.kiln.log | grep -vc '(no request)$' || true)
  rm -f "$W"/dbg.*.log
  if command -v strace >/dev/null; then
    pseudo strace -f -c -o "$W/strace" "$k" build --rootfs "$R" --compression none -o "oci:$W/c:a" >/dev/null 2>&1
    pseudo rm -rf "$W/c"
    l=$(awk '$NF == "lstat" {print $4}' "$W/strace")
  fi
  echo "$m ${l:-0}"
}
read -r OM OL <<<"$(count "$OLD")"
read -r NM NL <<<"$(count "$NEW")"
per() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2" 2>/dev/null || echo n/a; }

{
  echo "# kiln under pseudo: old $OLD ($("$OLD" version | head -n 1)), new $NEW ($("$NEW" version | head -n 1))"
  echo
  echo "Tree: $TREE copied under pseudo ($ENTRIES entries, $(du -sm "$R" | cut -f1) MiB); pseudo $(dpkg-query -W -f '${Version}' pseudo 2>/dev/null || echo '?');"
  echo "$RUNS rounds (every row once per round, old and new alternating which goes first); $(nproc) cores; $(date -u +%Y-%m-%d)."
  echo "1-minute load average after each round: ${LOADS[*]} (other work on the machine: the spread of the per-round ratios shows the noise)."
  echo
  tables T "Wall time"
  tables C "CPU time (user + system of the command and its children, plus the pseudo server's)"
  echo "## Calls of one walk under pseudo"
  echo
  echo "| | old | new |"
  echo "|---|--:|--:|"
  echo "| messages to the pseudo server (PSEUDO_DEBUG=o) | $OM ($(per "$OM" "$ENTRIES")/entry) | $NM ($(per "$NM" "$ENTRIES")/entry) |"
  echo "| real \`lstat\` calls (strace -f -c; pseudo resolves paths with them) | $OL ($(per "$OL" "$ENTRIES")/entry) | $NL ($(per "$NL" "$ENTRIES")/entry) |"
} >"$W/report"
cat "$W/report"
[ -z "$OUT" ] || cp "$W/report" "$OUT"
