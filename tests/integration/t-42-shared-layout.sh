#!/usr/bin/env bash
# One OCI layout shared by many kiln processes at once, as BitBake and CI use
# it: 8 parallel writers, 3 rounds of each scenario. After every round every
# tag is in index.json, skopeo and umoci read every one, every blob hashes to
# its name, every blob an entry needs is there, and nothing of kiln's
# temporaries is left beside or inside the layout.
#
#   builds into an existing layout (different tags), into a fresh layout
#   (different tags), with one tag (one of the 8 images wins, whole); copies
#   from a registry into one layout; a build that fails after its layout was
#   prepared (its push cannot connect) while builds of the same content
#   commit; two -o to one layout in one build; SIGKILL mid-build, after which
#   the next writer reclaims what the killed processes left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_kiln
need skopeo umoci jq sha256sum docker-registry

N=8
ROUNDS=3
export SOURCE_DATE_EPOCH=1700000000

# Trees with a few MB of content each, so that the builds overlap.
mkdir -p "$T/trees"
for i in $(seq $N); do
  d=$T/trees/$i
  mkdir -p "$d/etc" "$d/data"
  echo "image $i" >"$d/etc/id"
  head -c 3000000 /dev/urandom >"$d/data/blob"
done
mkdir -p "$T/trees/same/etc"
echo "the same content" >"$T/trees/same/etc/id"
head -c 3000000 /dev/urandom >"$T/trees/same/data.bin"

# stray DIR...: kiln temporaries left in or beside a layout (the lock file is not one).
stray() {
  local d
  for d in "$@"; do
    [ -d "$d" ] || continue
    find "$d" -maxdepth 1 \( -name '.kiln-stage-*' -o -name '*.kiln-tmp-*' \) -print
    [ -d "$d/blobs/sha256" ] && find "$d/blobs/sha256" -name '*.kiln-tmp-*' -print
  done
  return 0
}

# check_layout LAYOUT WHAT TAG=DIGEST...: the state every round must end in.
check_layout() {
  local L=$1 what=$2; shift 2
  local pair tag dig have missing="" wrong="" unread=""
  for pair in "$@"; do
    tag=${pair%%=*} dig=${pair#*=}
    have=$(jq -r --arg t "$tag" '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)] | map(.digest) | join(" ")' "$L/index.json" 2>/dev/null)
    if [ -z "$have" ]; then missing="$missing $tag"
    elif [ "$have" != "$dig" ]; then wrong="$wrong $tag=$have(expected $dig)"; fi
    skopeo inspect --raw "oci:$L:$tag" >/dev/null 2>&1 || unread="$unread skopeo:$tag"
    umoci stat --image "$L:$tag" >/dev/null 2>&1 || unread="$unread umoci:$tag"
  done
  if [ -z "$missing$wrong" ]; then ok "$what: all $# tags in index.json, each with its image"
  else not_ok "$what: tags lost or wrong" "missing:$missing" "wrong:$wrong" "$(cat "$L/index.json")"; fi
  if [ -z "$unread" ]; then ok "$what: skopeo and umoci read every tag"
  else not_ok "$what: unreadable tags" "$unread"; fi
  check "$what: every blob hashes to its name" verify_layout_blobs "$L"
  check "$what: every blob an entry needs is there (kiln list reads the layout)" "$KILN" list "oci:$L"
  local s
  s=$(stray "$L" "$(dirname "$L")")
  assert_eq "" "$s" "$what: no kiln temporaries left in or beside the layout"
}

build_tree() { # TREE LAYOUT TAG [more kiln args]: prints the digest to $T/out/TAG
  local tree=$1 L=$2 tag=$3; shift 3
  "$KILN" build --rootfs "$tree" -o "oci:$L:$tag" "$@" >"$T/out/$tag" 2>"$T/out/$tag.err"
}

# wait_all WHAT: waits for the jobs; ok if every one exited 0.
wait_all() {
  local what=$1 p bad=0
  for p in "${PIDS[@]}"; do wait "$p" || bad=$((bad + 1)); done
  PIDS=()
  if [ "$bad" -eq 0 ]; then ok "$what: every writer exited 0"
  else not_ok "$what: $bad writers failed" "$(cat "$T"/out/*.err 2>/dev/null | sort | uniq -c | head -20)"; fi
}
PIDS=()

# ================================================== 8 builds, one existing layout
for r in $(seq $ROUNDS); do
  L=$T/existing-$r
  rm -rf "$T/out"; mkdir -p "$T/out"
  "$KILN" build --rootfs "$T/trees/same" -o "oci:$L:seed" >/dev/null
  for i in $(seq $N); do build_tree "$T/trees/$i" "$L" "tag$i" & PIDS+=($!); done
  wait_all "existing layout, round $r"
  pairs=("seed=$(layout_manifest_digest "$L" seed)")
  for i in $(seq $N); do pairs+=("tag$i=$(cat "$T/out/tag$i")"); done
  check_layout "$L" "existing layout, round $r" "${pairs[@]}"
done

# ================================================== 8 builds, one fresh layout
for r in $(seq $ROUNDS); do
  L=$T/fresh-$r
  rm -rf "$T/out"; mkdir -p "$T/out"
  for i in $(seq $N); do build_tree "$T/trees/$i" "$L" "tag$i" & PIDS+=($!); done
  wait_all "fresh layout, round $r"
  pairs=()
  for i in $(seq $N); do pairs+=("tag$i=$(cat "$T/out/tag$i")"); done
  check_layout "$L" "fresh layout, round $r" "${pairs[@]}"
done

# ================================================== 8 builds, one tag
for r in $(seq $ROUNDS); do
  L=$T/onetag-$r
  rm -rf "$T/out"; mkdir -p "$T/out"
  for i in $(seq $N); do
    "$KILN" build --rootfs "$T/trees/$i" -o "oci:$L:same" >"$T/out/w$i" 2>"$T/out/w$i.err" & PIDS+=($!)
  done
  wait_all "one tag, round $r"
  n=$(jq '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "same")] | length' "$L/index.json")
  assert_eq 1 "$n" "one tag, round $r: index.json holds the tag once"
  won=$(layout_manifest_digest "$L" same)
  assert_contains "$won" "$(cat "$T"/out/w?)" "one tag, round $r: the tag names one of the images built"
  check_layout "$L" "one tag, round $r" "same=$won"
done

# ================================================== 8 copies from a registry
start_registry plain
for i in $(seq $N); do
  "$KILN" build --rootfs "$T/trees/$i" -o "docker://$REG/src:v$i" "${REG_KILN_FLAGS[@]}" >"$T/src-v$i"
done
for r in $(seq $ROUNDS); do
  L=$T/copies-$r
  rm -rf "$T/out"; mkdir -p "$T/out"
  [ "$r" -eq 2 ] && "$KILN" build --rootfs "$T/trees/same" -o "oci:$L:seed" >/dev/null
  for i in $(seq $N); do
    "$KILN" copy "${REG_KILN_FLAGS[@]}" "docker://$REG/src:v$i" "oci:$L:tag$i" >"$T/out/tag$i" 2>"$T/out/tag$i.err" & PIDS+=($!)
  done
  wait_all "copies, round $r"
  pairs=()
  for i in $(seq $N); do pairs+=("tag$i=$(cat "$T/src-v$i")"); done
  check_layout "$L" "copies, round $r" "${pairs[@]}"
done

# ================================================== a failing build's rollback
# 4 builds that fail (their push cannot connect) and 4 that commit the same
# content: the failed builds must take nothing the others reference.
export KILN_RETRY_BASE_MS=20
for r in $(seq $ROUNDS); do
  L=$T/rollback-$r
  rm -rf "$T/out"; mkdir -p "$T/out"
  [ "$r" -ne 1 ] && "$KILN" build --rootfs "$T/trees/1" -o "oci:$L:seed" >/dev/null
  fails=()
  for i in 1 2 3 4; do
    "$KILN" build --rootfs "$T/trees/same" -o "oci:$L:b$i" -o "docker://127.0.0.1:9/x/y:z" \
      >/dev/null 2>"$T/out/b$i.err" & fails+=($!)
    build_tree "$T/trees/same" "$L" "a$i" & PIDS+=($!)
  done
  wait_all "rollback race, round $r: the builds without a push"
  nfail=0
  for p in "${fails[@]}"; do wait "$p" || nfail=$((nfail + 1)); done
  assert_eq 4 "$nfail" "rollback race, round $r: the 4 builds with an unreachable push fail"
  pairs=()
  for i in 1 2 3 4; do pairs+=("a$i=$(cat "$T/out/a$i")"); done
  check_layout "$L" "rollback race, round $r" "${pairs[@]}"
  b=$(jq '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] | startswith("b"))] | length' "$L/index.json")
  assert_eq 0 "$b" "rollback race, round $r: no tag of a failed build"
done

# ================================================== two -o to one layout
for r in $(seq $ROUNDS); do
  L=$T/two-$r
  [ "$r" -eq 2 ] && "$KILN" build --rootfs "$T/trees/1" -o "oci:$L:seed" >/dev/null
  d=$("$KILN" build --rootfs "$T/trees/same" -o "oci:$L:a" -o "oci:$L:b")
  pairs=("a=$d" "b=$d")
  [ "$r" -eq 2 ] && pairs+=("seed=$(layout_manifest_digest "$L" seed)")
  check_layout "$L" "two -o to one layout, round $r" "${pairs[@]}"
  # ... and 8 such builds at once
  rm -rf "$T/out"; mkdir -p "$T/out"
  for i in $(seq $N); do
    "$KILN" build --rootfs "$T/trees/$i" -o "oci:$L:x$i" -o "oci:$L:y$i" >"$T/out/x$i" 2>"$T/out/x$i.err" & PIDS+=($!)
  done
  wait_all "8 builds with two -o each, round $r"
  for i in $(seq $N); do pairs+=("x$i=$(cat "$T/out/x$i")" "y$i=$(cat "$T/out/x$i")"); done
  check_layout "$L" "8 builds with two -o each, round $r" "${pairs[@]}"
done

# ================================================== SIGKILL, then the next writer
for r in $(seq $ROUNDS); do
  L=$T/killed-$r
  "$KILN" build --rootfs "$T/trees/same" -o "oci:$L:seed" >/dev/null
  for i in $(seq $N); do
    # half into the layout, half into a fresh layout and an archive beside it
    if [ $((i % 2)) -eq 0 ]; then
      "$KILN" build --rootfs "$T/trees/$i" -o "oci:$L:k$i" >/dev/null 2>&1 & PIDS+=($!)
    else
      "$KILN" build --rootfs "$T/trees/$i" -o "oci:$T/killed-new-$r-$i" -o "oci-archive:$T/killed-$r-$i.tar" >/dev/null 2>&1 & PIDS+=($!)
    fi
  done
  sleep 0.$((2 + r))
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  say "round $r, left by the killed builds: $(stray "$L" "$T" | wc -l) temporaries"
  sleep 2.1   # a temporary is reclaimed once it is unlocked and 2 s old
  d=$("$KILN" build --rootfs "$T/trees/1" -o "oci:$L:after")
  # the next write beside the fresh layouts and archives reclaims theirs too
  "$KILN" build --rootfs "$T/trees/1" -o "oci-archive:$T/killed-after-$r.tar" >/dev/null
  assert_eq "" "$(stray "$L" "$T")" "SIGKILL, round $r: the next writers reclaimed every temporary"
  check_layout "$L" "SIGKILL, round $r" "seed=$(layout_manifest_digest "$L" seed)" "after=$d"
  rm -rf "$T"/killed-new-"$r"-* "$T"/killed-"$r"-*.tar
done

# ================================================== a live writer's temporaries are not reclaimed
L=$T/live
"$KILN" build --rootfs "$T/trees/same" -o "oci:$L:seed" >/dev/null
mkfifo "$T/slow.fifo"
# a build whose input is a FIFO-fed tarball: it stays inside its layer until fed
"$KILN" build --tar "$T/slow.fifo" -o "oci:$L:slow" >"$T/slow.out" 2>"$T/slow.err" & slow=$!
sleep 2.5
n_before=$(stray "$L" | wc -l)
assert_ne 0 "$n_before" "a live build has its staging directory in the layout"
"$KILN" build --rootfs "$T/trees/2" -o "oci:$L:meanwhile" >/dev/null
assert_eq "$n_before" "$(stray "$L" | wc -l)" "another writer leaves a live build's staging directory alone"
tar -C "$T/trees/3" --sort=name -cf "$T/slow.fifo" .   # sorted: read in one pass
wait "$slow"; rc=$?
assert_eq 0 "$rc" "the slow build then finishes"
check_layout "$L" "live writer" "seed=$(layout_manifest_digest "$L" seed)" \
  "meanwhile=$(layout_manifest_digest "$L" meanwhile)" "slow=$(cat "$T/slow.out")"

