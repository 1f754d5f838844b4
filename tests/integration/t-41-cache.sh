#!/usr/bin/env bash
# The chunk cache (docs/cache.md): a warm build writes the same bytes and
# digests as a cold one and as --no-cache (and t-40's golden digest); a
# damaged entry is caught and written again; 8 builds at once share one cache
# and lose nothing; a build killed (SIGKILL) while it writes the cache leaves
# a cache that works; prune, wipe and the size limit; where the cache is; a
# re-push of an unchanged build uploads no blob, and with one file changed in
# a 3-layer --layer-map build only that layer is compressed and uploaded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_kiln
need jq python3

export SOURCE_DATE_EPOCH=1700000000
C=$T/c1
# hits_of STDERR: "R of N" from kiln -v's cache line
hits_of() { sed -nE 's/.*cache .*: ([0-9]+ of [0-9]+) blocks reused.*/\1/p' <<<"$1" | tail -n 1; }
entries() { find "$1/chunks-v1" -type f -name '[0-9a-f]*' 2>/dev/null | wc -l; }
temps() { find "$1/chunks-v1" -type f -name '.tmp-*' 2>/dev/null | wc -l; }

say "the golden tree of t-40: the same digest cold, warm and with --no-cache"
G=$T/golden
mkdir -p "$G/etc" "$G/usr/bin" "$G/var/empty" "$G/opt/app"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/opt/app:/bin/sh\n' >"$G/etc/passwd"
printf '#!/bin/sh\necho golden\n' >"$G/usr/bin/hello"
seq 1 20000 >"$G/opt/app/data.txt"
ln -s ../usr/bin/hello "$G/opt/app/run"
ln "$G/opt/app/data.txt" "$G/opt/app/data-link.txt"
chmod 0755 "$G/usr/bin/hello"; chmod 0700 "$G/var/empty"; chmod 4755 "$G/opt/app"
chown -R 1000:1000 "$G/opt/app" 2>/dev/null || true
GOLDEN=sha256:9a757885edb3a87420cc0b25334f5d0ad84fc97c9484e03d52134a1fe4f352b7
golden() { # DEST [kiln args]
  local d=$1; shift
  kiln_build --rootfs "$G" --entrypoint '["/usr/bin/hello"]' --env A=1 --label k=v \
    --user 1000:1000 --platform linux/amd64 -t golden:1 -o "oci:$d" -v "$@"
}
if [ "$(id -u)" -eq 0 ]; then
  golden "$T/g-cold" --cache-dir "$C"
  assert_eq "$GOLDEN" "$DIGEST" "cold build with the cache: t-40's golden digest"
  assert_eq "0 of 1" "$(hits_of "$ERR")" "cold: the one block compressed"
  golden "$T/g-warm" --cache-dir "$C"
  assert_eq "$GOLDEN" "$DIGEST" "warm build: t-40's golden digest"
  assert_eq "1 of 1" "$(hits_of "$ERR")" "warm: the one block from the cache"
  golden "$T/g-none" --no-cache --cache-dir "$C"
  assert_eq "$GOLDEN" "$DIGEST" "--no-cache: t-40's golden digest"
  assert_eq "" "$(hits_of "$ERR")" "--no-cache: no cache line"
  check "cold, warm and --no-cache layouts identical" diff -r "$T/g-cold" "$T/g-warm"
  check "warm and --no-cache layouts identical" diff -r "$T/g-warm" "$T/g-none"
fi
assert_file_exists "$C/CACHEDIR.TAG" "CACHEDIR.TAG at the cache's root"
assert_match '^Signature: 8a477f597d28d172789f06886806bc55' "$(head -n 1 "$C/CACHEDIR.TAG")" "CACHEDIR.TAG has the signature"

say "a tree of several blocks (text, random data, a sparse-ish file)"
R=$T/rootfs
mkdir -p "$R/usr/bin" "$R/usr/lib" "$R/etc" "$R/var/data"
head -c 9000000 /dev/urandom >"$R/usr/lib/random.bin"
seq 1 2500000 >"$R/usr/lib/numbers.txt"
python3 -c 'import sys; sys.stdout.write("".join("line %d of a config file\n" % i for i in range(200000)))' >"$R/etc/big.conf"
for i in $(seq 1 200); do echo "file $i" >"$R/var/data/f$i"; done
BUILD=(--rootfs "$R" --cmd '["/bin/true"]' -t rep:1)
kiln_build "${BUILD[@]}" --no-cache -o "oci:$T/ref"
REF=$DIGEST
kiln_build "${BUILD[@]}" --cache-dir "$C" -v -o "oci:$T/cold"
assert_eq "$REF" "$DIGEST" "cold build: the --no-cache digest"
NBLK=$(hits_of "$ERR" | sed 's/.* of //')
[ "${NBLK:-0}" -ge 5 ] && ok "the layer is $NBLK blocks" || not_ok "the layer is several blocks" "$ERR"
kiln_build "${BUILD[@]}" --cache-dir "$C" -v -o "oci:$T/warm" -o "oci-archive:$T/warm.tar"
assert_eq "$REF" "$DIGEST" "warm build: the --no-cache digest"
assert_eq "$NBLK of $NBLK" "$(hits_of "$ERR")" "warm: every block from the cache"
check "warm layout identical to the --no-cache one" diff -r "$T/ref" "$T/warm"
kiln_build "${BUILD[@]}" --cache-dir "$C" -j 1 -o "oci:$T/warm-j1"
check "warm with -j 1: identical" diff -r "$T/ref" "$T/warm-j1"
check "kiln validate accepts the warm image" "$KILN" validate "oci:$T/warm:1"
# KILN_CACHE_DIR is the default --cache-dir
KILN_CACHE_DIR=$C kiln_build "${BUILD[@]}" -v -o "oci:$T/env"
assert_eq "$NBLK of $NBLK" "$(hits_of "$ERR")" "KILN_CACHE_DIR names the cache"
check "the KILN_CACHE_DIR build: identical" diff -r "$T/ref" "$T/env"

say "zstd and none are not cached (the output is the same either way)"
kiln_build "${BUILD[@]}" --compression zstd --no-cache -o "oci:$T/z-ref"
ZREF=$DIGEST
E0=$(entries "$C")
kiln_build "${BUILD[@]}" --compression zstd --cache-dir "$C" -o "oci:$T/z1"
assert_eq "$ZREF" "$DIGEST" "zstd with a cache: the --no-cache digest"
assert_eq "$E0" "$(entries "$C")" "zstd stores nothing in the cache"

say "damaged entries are caught and written again"
mapfile -t ENT < <(find "$C/chunks-v1" -type f -name '[0-9a-f]*' | sort)
# one byte of a payload changed; one entry cut short; one emptied; one
# replaced by another entry (a whole entry, for the wrong key)
printf 'Z' | dd of="${ENT[0]}" bs=1 seek=100 conv=notrunc status=none
truncate -s 90 "${ENT[1]}"
: >"${ENT[2]}"
cp "${ENT[4]}" "${ENT[3]}"
kiln_build "${BUILD[@]}" --cache-dir "$C" -v -o "oci:$T/damaged"
assert_eq "$REF" "$DIGEST" "with damaged entries: the --no-cache digest"
check "with damaged entries: layout identical" diff -r "$T/ref" "$T/damaged"
assert_contains "damaged entr" "$ERR" "kiln warns of the damaged entries"
kiln_build "${BUILD[@]}" --cache-dir "$C" -v -o "oci:$T/repaired"
assert_eq "$NBLK of $NBLK" "$(hits_of "$ERR")" "the damaged entries were written again: all reused"
assert_eq "" "$(grep -i damaged <<<"$ERR" || true)" "no damaged entry left"

say "8 builds at once share one cache and lose nothing"
P=$T/par-cache
pids=()
for i in 1 2 3 4 5 6 7 8; do
  "$KILN" build "${BUILD[@]}" --cache-dir "$P" -j 1 -v -o "oci:$T/par$i" >"$T/par$i.out" 2>"$T/par$i.err" &
  pids+=($!)
done
nfail=0
for i in "${!pids[@]}"; do wait "${pids[$i]}" || nfail=$((nfail + 1)); done
assert_eq 0 "$nfail" "the 8 builds succeeded"
same=0
for i in 1 2 3 4 5 6 7 8; do
  [ "$(cat "$T/par$i.out")" = "$REF" ] && diff -r -q "$T/ref" "$T/par$i" >/dev/null && same=$((same + 1))
done
assert_eq 8 "$same" "each of the 8 wrote the --no-cache bytes and digest"
assert_eq "$NBLK" "$(entries "$P")" "the shared cache holds one entry per block"
assert_eq 0 "$(temps "$P")" "no temporary file left"
kiln_build "${BUILD[@]}" --cache-dir "$P" -v -o "oci:$T/par-after"
assert_eq "$NBLK of $NBLK" "$(hits_of "$ERR")" "after them: every block from the shared cache"

say "SIGKILL while the cache is written leaves a cache that works"
K=$T/kill-cache
# strace holds kiln at the cache's writev (an empty temporary entry exists) or
# at its rename (a whole one exists, not yet in place) for 5 s; kiln is
# killed there, mid-write, for certain, not by a lucky timer
kill_at() { # SYSCALL
  rm -rf "$T/killed"
  strace -f -o /dev/null -e trace="$1" -e inject="$1":delay_enter=5000000 \
    "$KILN" build "${BUILD[@]}" --cache-dir "$K" -j 2 -o "oci:$T/killed" >/dev/null 2>&1 &
  local pid=$! n=0
  while [ "$(temps "$K")" -eq 0 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
  [ "$1" = rename ] && sleep 0.5 # the writev done
  local kpid
  kpid=$(pgrep -P "$pid" -x kiln || true)
  assert_ne "" "$kpid" "kiln runs under strace ($1)"
  [ "$(temps "$K")" -gt 0 ] && ok "a temporary entry exists when kiln is killed at its $1" \
    || not_ok "a temporary entry exists when kiln is killed at its $1"
  [ -z "$kpid" ] || kill -9 "$kpid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  rm -rf "$T/killed"
}
if command -v strace >/dev/null && strace -f -o /dev/null -e inject=rename:delay_enter=1 true 2>/dev/null; then
  kill_at writev
  kill_at rename
else
  not_ok "strace with fault injection is needed to kill kiln mid cache-write"
fi
# whatever the kills left, and the worst a writer can leave: a stray
# temporary file and (were the write not atomic) a cut entry
mkdir -p "$K/chunks-v1/ab"
head -c 5000 /dev/urandom >"$K/chunks-v1/ab/.tmp-kill01"
touch -d '1 hour ago' "$K/chunks-v1/ab/.tmp-kill01"
head -c 5000 /dev/urandom >"$K/chunks-v1/ab/ab$(printf '%062d' 0)"
find "$K/chunks-v1" -name '.tmp-*' -exec touch -d '1 hour ago' {} +
run "$KILN" cache show --cache-dir "$K"
assert_eq 0 "$RC" "kiln cache show after the kills"; [ "$RC" -eq 0 ] || say "$ERR"
kiln_build "${BUILD[@]}" --cache-dir "$K" -o "oci:$T/after-kill"
check "the build after the kills: identical" diff -r "$T/ref" "$T/after-kill"
kiln_build "${BUILD[@]}" --cache-dir "$K" -v -o "oci:$T/after-kill2"
assert_eq "$NBLK of $NBLK" "$(hits_of "$ERR")" "and the next one reuses every block"
run "$KILN" cache prune --cache-dir "$K"
assert_eq 0 "$RC" "kiln cache prune"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq 0 "$(temps "$K")" "prune removed the old temporary files"

say "the size limit, prune and wipe"
L=$T/limit-cache
kiln_build "${BUILD[@]}" --cache-dir "$L" --cache-max-size 4M -o "oci:$T/lim"
assert_eq "$REF" "$DIGEST" "a build with a small limit: the same digest"
BYTES=$(find "$L/chunks-v1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
[ "$BYTES" -le $((4 * 1024 * 1024 * 9 / 10)) ] && ok "the cache was trimmed to 90 % of --cache-max-size ($BYTES bytes)" \
  || not_ok "the cache was trimmed to 90 % of --cache-max-size" "$BYTES bytes"
run "$KILN" cache show --cache-dir "$C"
assert_eq 0 "$RC" "kiln cache show"; [ "$RC" -eq 0 ] || say "$ERR"
assert_contains "directory: $C" "$OUT" "show names the directory"
assert_contains "entries: $(entries "$C")" "$OUT" "show counts the entries"
run "$KILN" cache prune --cache-dir "$C" --cache-max-size 3M
assert_eq 0 "$RC" "kiln cache prune --cache-max-size 3M"; [ "$RC" -eq 0 ] || say "$ERR"
BYTES=$(find "$C/chunks-v1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
[ "$BYTES" -le $((3 * 1024 * 1024)) ] && ok "prune: at most 3 MiB left ($BYTES)" || not_ok "prune: at most 3 MiB left" "$BYTES"
run "$KILN" cache wipe --cache-dir "$C"
assert_eq 0 "$RC" "kiln cache wipe"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq 0 "$(entries "$C")" "wipe: no entry left"
assert_file_exists "$C/CACHEDIR.TAG" "wipe keeps CACHEDIR.TAG"
kiln_build "${BUILD[@]}" --cache-dir "$C" -v -o "oci:$T/after-wipe"
assert_eq "0 of $NBLK" "$(hits_of "$ERR")" "after wipe: everything compressed again"
assert_eq "$REF" "$DIGEST" "after wipe: the same digest"
run "$KILN" cache prune --cache-dir "$C" --cache-max-size 10X
assert_eq 2 "$RC" "--cache-max-size 10X is a usage error"
assert_contains "--cache-max-size '10X'" "$ERR" "the error names the option and value"
run "$KILN" cache frobnicate --cache-dir "$C"
assert_eq 2 "$RC" "kiln cache frobnicate is a usage error"
run "$KILN" cache show --cache-dir "$T/no-such-cache"
assert_eq "0" "$RC" "show of a missing cache: empty"
assert_not_exists "$T/no-such-cache" "show does not create it"

say "where the cache is: --cache-dir, KILN_CACHE_DIR, XDG_CACHE_HOME, HOME"
mkdir -p "$T/home"
( unset KILN_CACHE_DIR; HOME=$T/home kiln_build --rootfs "$G" -o "oci:$T/d1" ) || not_ok "build with HOME"
assert_file_exists "$T/home/.cache/kiln/CACHEDIR.TAG" "default: \$HOME/.cache/kiln"
( unset KILN_CACHE_DIR; HOME=$T/home XDG_CACHE_HOME=$T/xdg kiln_build --rootfs "$G" -o "oci:$T/d2" ) || not_ok "build with XDG_CACHE_HOME"
assert_file_exists "$T/xdg/kiln/CACHEDIR.TAG" "with XDG_CACHE_HOME: \$XDG_CACHE_HOME/kiln"
( KILN_CACHE_DIR=$T/env-cache kiln_build --rootfs "$G" --cache-dir "$T/opt-cache" -o "oci:$T/d3" ) || not_ok "build with both"
assert_file_exists "$T/opt-cache/CACHEDIR.TAG" "--cache-dir wins over KILN_CACHE_DIR"
assert_not_exists "$T/env-cache" "KILN_CACHE_DIR then unused"
( unset KILN_CACHE_DIR; HOME=/nonexistent kiln_build --rootfs "$G" -o "oci:$T/d4" ) || not_ok "build with HOME=/nonexistent"
assert_eq "" "$ERR" "an unusable default cache: the build goes on, silently"
: >"$T/a-file"
run "$KILN" build --rootfs "$G" --cache-dir "$T/a-file/sub" -o "oci:$T/d5"
assert_eq 1 "$RC" "an unusable --cache-dir is an error"
assert_contains "$T/a-file/sub" "$ERR" "the error names the directory"
assert_not_exists "$T/d5" "and nothing is written"

say "re-push: no compression and no blob upload; one file changed: one layer"
if kiln_has_registry && command -v docker-registry >/dev/null 2>&1; then
  start_registry plain
  UPLOADS='^(POST|PATCH|PUT) /v2/[^ ]*/blobs/uploads'
  cat >"$T/map" <<'MAP'
[libs]
/usr/lib/**
[etc]
/etc/**
MAP
  RC3=$T/cache-push
  M0=$(registry_log_mark)
  kiln_build "${BUILD[@]}" --layer-map "$T/map" --cache-dir "$RC3" -o "docker://$REG/c/app:1" -o "oci:$T/p1"
  D1=$DIGEST
  assert_eq 3 "$(layout_manifest "$T/p1" | jq '.layers | length')" "--layer-map: three layers"
  [ "$(registry_request_count "$UPLOADS" "$M0")" -ge 4 ] && ok "first push uploads the blobs" || not_ok "first push uploads the blobs"
  M1=$(registry_log_mark)
  kiln_build "${BUILD[@]}" --layer-map "$T/map" --cache-dir "$RC3" -v -o "docker://$REG/c/app:1"
  assert_eq "$D1" "$DIGEST" "re-push: the same digest"
  H=$(hits_of "$ERR")
  assert_eq "${H##* of }" "${H%% of *}" "re-push: every block from the cache ($H)"
  assert_eq 0 "$(registry_request_count "$UPLOADS" "$M1")" "re-push: no POST/PATCH/PUT to /blobs/uploads (registry log)"
  # one file changed, in [etc]
  echo "changed" >>"$R/etc/big.conf"
  M2=$(registry_log_mark)
  kiln_build "${BUILD[@]}" --layer-map "$T/map" --cache-dir "$RC3" -v -o "docker://$REG/c/app:2" -o "oci:$T/p2"
  H=$(hits_of "$ERR")
  NEW=$(( ${H##* of } - ${H%% of *} ))
  ETC_BLOCKS=$(( ($(stat -c %s "$R/etc/big.conf") + 4194303) / 4194304 ))
  [ "$NEW" -ge 1 ] && [ "$NEW" -le $((ETC_BLOCKS + 1)) ] && ok "one file changed: only $NEW block(s) compressed again ($H reused)" \
    || not_ok "one file changed: only the changed layer's blocks compressed" "$H, etc blocks $ETC_BLOCKS"
  mapfile -t OLD < <(layout_manifest "$T/p1" | jq -r '.layers[].digest')
  mapfile -t NEWL < <(layout_manifest "$T/p2" | jq -r '.layers[].digest')
  assert_eq "${OLD[0]} ${OLD[2]}" "${NEWL[0]} ${NEWL[2]}" "layers [libs] and the rest unchanged"
  assert_ne "${OLD[1]}" "${NEWL[1]}" "layer [etc] changed"
  # uploads completed: the [etc] layer and the config, nothing else
  assert_eq 2 "$(registry_request_count '^PUT /v2/c/app/blobs/uploads/' "$M2")" "one file changed: two blobs uploaded (the [etc] layer and the config)"
  check "the pushed image validates" "$KILN" validate "docker://$REG/c/app:2"
else
  not_ok "re-push checks need docker-registry (and a kiln with a registry client)"
fi
