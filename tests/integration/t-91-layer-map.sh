#!/usr/bin/env bash
# --layer-map: one rootfs split into named layers. The layers together are the
# tree (umoci unpack of the split image = the source tree), every file is in
# exactly one layer, directories appear where needed, a hardlink group is never
# split, and the same tree and map always give the same layers.
. "$(dirname "$0")/lib.sh"
need_root
need umoci jq
export SOURCE_DATE_EPOCH=1700000000

R=$T/rootfs
make_rich_rootfs "$R"
mkdir -p "$R/app/bin" "$R/usr/lib/big" "$R/usr/share/doc/pkg" "$R/other"
echo app >"$R/app/bin/app"; echo lib >"$R/usr/lib/big/libx.so.1"; echo doc >"$R/usr/share/doc/pkg/README"
# a hardlink group across a claimed and an unclaimed directory
echo shared >"$R/app/bin/shared"; ln "$R/app/bin/shared" "$R/other/shared-link"
cat >"$T/map" <<'MAP'
# the application first, then libraries, then documentation by list
[app]
/app
[libs]
/usr/lib/**
/usr/lib*/*.so*
[docs]
@LIST
MAP
printf '/usr/share/doc\n' >"$T/list"
sed -i "s|@LIST|@$T/list|" "$T/map"

kiln_build --rootfs "$R" --layer-map "$T/map" -o "oci:$T/split:1"
SPLIT=$DIGEST
kiln_build --rootfs "$R" --layer-map "$T/map" -o "oci:$T/split2:1"
assert_eq "$SPLIT" "$DIGEST" "the same tree and map give the same digest"
M=$(layout_manifest "$T/split" 1)
assert_eq 4 "$(jq '.layers|length' <<<"$M")" "three named layers and the rest"
assert_eq '["kiln build --rootfs --layer-map [app]","kiln build --rootfs --layer-map [libs]","kiln build --rootfs --layer-map [docs]","kiln build --rootfs --layer-map [rest]"]' \
  "$(jq -c '[.history[].created_by]' <<<"$(layout_config "$T/split" 1)")" "history names each layer"

# files_of LAYOUT DIGEST: the non-directory paths of a layer
files_of() { layer_manifest "$(blob "$1" "$2")" | awk -F' [|] ' '$2 != "d" {print $1}'; }
mapfile -t L < <(jq -r '.layers[].digest' <<<"$M")
assert_eq "app/bin/app app/bin/shared other/shared-link" \
  "$(files_of "$T/split" "${L[0]}" | sort | tr '\n' ' ' | sed 's/ $//')" \
  "[app] holds the app files, and the whole hardlink group of app/bin/shared"
assert_eq "usr/lib/big/libx.so.1" "$(files_of "$T/split" "${L[1]}" | sort | tr '\n' ' ' | sed 's/ $//')" "[libs] holds usr/lib"
assert_eq "usr/share/doc/pkg/README" "$(files_of "$T/split" "${L[2]}" | sort | tr '\n' ' ' | sed 's/ $//')" "[docs] holds the listed tree"
for d in "${L[@]}"; do files_of "$T/split" "$d"; done | sort >"$T/split.files"
kiln_build --rootfs "$R" -o "oci:$T/one:1"
files_of "$T/one" "$(layout_manifest "$T/one" 1 | jq -r '.layers[0].digest')" | sort >"$T/one.files"
assert_same_text "$T/one.files" "$T/split.files" "every non-directory is in exactly one layer"

say "umoci unpack of the split image = the source tree"
run umoci unpack --image "$T/split:1" "$T/bundle"
assert_eq 0 "$RC" "umoci unpack"
tree_manifest "$R" >"$T/src.tree"; tree_manifest "$T/bundle/rootfs" >"$T/unpacked.tree"
assert_same_text "$T/src.tree" "$T/unpacked.tree" "unpacked split image = source tree"

say "errors"
run "$KILN" build --layer-map "$T/map" --rootfs "$R" -o "oci:$T/e1"
assert_eq 2 "$RC" "--layer-map before any --rootfs is a usage error"
printf '/x\n' >"$T/bad"
run "$KILN" build --rootfs "$R" --layer-map "$T/bad" -o "oci:$T/e2"
assert_eq 2 "$RC" "a pattern before the first [NAME] is a usage error"
assert_contains "$T/bad:1" "$ERR" "the error names the file and line"
assert_not_exists "$T/e2" "nothing written"
