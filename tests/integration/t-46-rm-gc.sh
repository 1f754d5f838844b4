#!/usr/bin/env bash
# kiln rm and kiln gc: untag an image in an OCI layout, then remove the blobs
# nothing references, under the layout's lock. What kiln gc keeps is what umoci
# gc keeps; skopeo and umoci read every tag left; 8 builds and a gc loop at once
# lose nothing; a document that cannot be read stops gc before it removes
# anything. In a registry, kiln rm deletes the manifest (and so every tag of it),
# and says so when the registry refuses deletes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_kiln
need_kiln_registry
need jq skopeo umoci sha256sum
export SOURCE_DATE_EPOCH=1700000000
L=$T/lay

blobs() { (cd "$1/blobs/sha256" && ls | sort); }
hashes_ok() { # LAYOUT: every blob hashes to its name
  local b bad=0
  for b in "$1"/blobs/sha256/*; do
    [ "$(sha256sum <"$b" | cut -d' ' -f1)" = "${b##*/}" ] || bad=$((bad + 1))
  done
  echo "$bad"
}

mkdir -p "$T/base/etc" "$T/app/usr/bin" "$T/other"
echo base >"$T/base/etc/base-release"
echo app >"$T/app/usr/bin/app"
echo other >"$T/other/o"
kiln_build --rootfs "$T/base" -o "oci:$L:base"
BASE_LAYER=$(layout_manifest "$L" base | jq -r '.layers[0].digest')
kiln_build --from "oci:$L:base" --rootfs "$T/app" -o "oci:$L:app"
APP=$DIGEST
kiln_build --rootfs "$T/other" -o "oci:$L:other"
cp -a "$L" "$T/umoci-copy"

say "kiln rm oci:DIR:TAG untags; the other tags stay, and the blobs until gc"
B0=$(blobs "$L" | wc -l)
run "$KILN" rm "oci:$L:app"
assert_eq "0 " "$RC $OUT" "kiln rm exits 0 and prints nothing for a layout"
assert_eq "base other" "$(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | sort | join(" ")' "$L/index.json")" "index.json keeps the other tags"
assert_eq "$B0" "$(blobs "$L" | wc -l)" "no blob is removed by rm"
run umoci ls --layout "$L"
assert_eq "base other" "$(printf '%s\n' "$OUT" | sort | tr '\n' ' ' | sed 's/ $//')" "umoci ls sees the same tags"

say "kiln gc removes what nothing references: the same blobs as umoci gc"
run "$KILN" gc --dry-run "oci:$L"
assert_match '^would remove 3 blobs' "$OUT" "--dry-run: the app's manifest, config and layer"
assert_eq "$B0" "$(blobs "$L" | wc -l)" "--dry-run removes nothing"
run "$KILN" gc "oci:$L"
assert_match '^removed 3 blobs .*; kept 6 ' "$OUT" "kiln gc removes them"
run umoci rm --image "$T/umoci-copy:app"
assert_eq 0 "$RC" "umoci rm of the same tag in a copy"
run umoci gc --layout "$T/umoci-copy"
assert_eq 0 "$RC" "umoci gc of the copy"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq "$(blobs "$T/umoci-copy" | tr '\n' ' ')" "$(blobs "$L" | tr '\n' ' ')" "kiln gc keeps exactly the blobs umoci gc keeps"
blobs "$L" | grep -qx "${BASE_LAYER#sha256:}" && ok "the base layer the app shared is kept" || not_ok "the base layer is kept"
for t in base other; do
  run skopeo copy "oci:$L:$t" "oci:$T/check:$t"
  assert_eq 0 "$RC" "skopeo reads every blob of $t after gc"
done
assert_eq 0 "$(hashes_ok "$L")" "every blob left hashes to its name"
run "$KILN" gc "oci:$L"
assert_match '^removed 0 blobs' "$OUT" "a second gc finds nothing"

say "8 builds into the layout while kiln gc runs in a loop: nothing is lost"
( while [ ! -e "$T/stop" ]; do "$KILN" gc "oci:$L" >/dev/null 2>>"$T/gc.err" || echo fail >>"$T/gc.fail"; done ) &
GCPID=$!
pids=()
for i in 1 2 3 4 5 6 7 8; do
  mkdir -p "$T/p$i"; echo "par $i" >"$T/p$i/f"
  ( "$KILN" build --from "oci:$L:base" --rootfs "$T/p$i" -o "oci:$L:p$i" >"$T/p$i.out" 2>"$T/p$i.err" ) &
  pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
touch "$T/stop"; wait "$GCPID"
assert_eq 0 "$fails" "all 8 builds exit 0 while gc runs"
assert_eq "" "$(cat "$T/gc.fail" 2>/dev/null; cat "$T/gc.err" 2>/dev/null)" "every gc in the loop succeeded"
for i in 1 2 3 4 5 6 7 8; do
  assert_eq "$(cat "$T/p$i.out")" "$(jq -r --arg t "p$i" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$L/index.json")" "p$i is in index.json"
  run skopeo copy "oci:$L:p$i" "oci:$T/check:p$i"
  assert_eq 0 "$RC" "skopeo reads every blob of p$i"
done
assert_eq 0 "$(hashes_ok "$L")" "every blob hashes to its name"
assert_eq "" "$(ls -A "$L" | grep -E '^\.kiln-stage|kiln-tmp' || true)" "no staging directory is left"

say "a document the index references that cannot be read stops gc before it removes anything"
cp -a "$L" "$T/damaged"
"$KILN" rm "oci:$T/damaged:p1" >/dev/null
M=$(layout_manifest "$T/damaged" p2 >/dev/null; jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "p2") | .digest' "$T/damaged/index.json")
rm -f "$T/damaged/blobs/sha256/${M#sha256:}"
N0=$(blobs "$T/damaged" | wc -l)
run "$KILN" gc "oci:$T/damaged"
assert_eq 1 "$RC" "gc exits 1"
assert_contains "$M" "$ERR" "the error names the document"
assert_contains "nothing was removed" "$ERR" "and says nothing was removed"
assert_eq "$N0" "$(blobs "$T/damaged" | wc -l)" "every blob is still there"

say "usage errors"
run "$KILN" rm "oci:$L"
assert_eq 2 "$RC" "rm oci:DIR without a tag is a usage error"
assert_contains "name the tag" "$ERR" "that says to name the tag"
run "$KILN" rm "oci:$L:nosuch"
assert_eq 1 "$RC" "rm of a tag the layout does not hold exits 1"
assert_contains "tags in the layout: " "$ERR" "and lists the tags there are"
run "$KILN" rm "oci-archive:$T/x.tar:1"
assert_eq 2 "$RC" "rm of an archive is a usage error"
run "$KILN" gc "oci:$L:base"
assert_eq 2 "$RC" "gc of oci:DIR:TAG is a usage error"
run "$KILN" gc "oci:$T/none"
assert_eq 1 "$RC" "gc of a layout that is not there exits 1"

say "kiln rm docker://: the manifest is deleted, and every tag of it"
start_registry plain
run "$KILN" copy "oci:$L:other" "docker://$REG/rm/other:1"
OTHER=$OUT
run "$KILN" copy "oci:$L:other" "docker://$REG/rm/other:2"
run "$KILN" rm "docker://$REG/rm/other:1"
assert_eq "0 $OTHER" "$RC $OUT" "kiln rm prints the digest it deleted"
run skopeo inspect --tls-verify=false "docker://$REG/rm/other:1"
assert_eq 1 "$RC" "skopeo no longer finds :1"
run skopeo inspect --tls-verify=false "docker://$REG/rm/other:2"
assert_eq 1 "$RC" "nor :2, a tag of the same manifest"
run "$KILN" rm "docker://$REG/rm/other:1"
assert_eq 1 "$RC" "removing it again fails"
assert_contains "rm/other" "$ERR" "naming the repository"
stop_registry
REG_DELETE=false start_registry plain
run "$KILN" copy "oci:$L:other" "docker://$REG/rm/kept:1"
run "$KILN" rm "docker://$REG/rm/kept:1"
assert_eq 1 "$RC" "a registry that refuses deletes: exit 1"
assert_contains "does not allow deletes" "$ERR" "the error says so"
run skopeo inspect --tls-verify=false "docker://$REG/rm/kept:1"
assert_eq 0 "$RC" "the image is still there"
