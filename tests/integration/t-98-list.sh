#!/usr/bin/env bash
# kiln list (ls): the images of OCI layouts written by kiln, umoci and skopeo
# (several tags in one layout, a multi-platform index), of OCI archives and of
# docker archives (RepoTags). Every line is checked against the layout's own
# index.json and the blobs, read with jq; corrupt documents are refused: the
# entry is listed as broken, the others as they are, and kiln list exits 1.
. "$(dirname "$0")/lib.sh"
need_kiln
need jq umoci skopeo
export SOURCE_DATE_EPOCH=1700000000
case $(uname -m) in x86_64) HOST=linux/amd64 ;; aarch64) HOST=linux/arm64 ;; *) HOST=linux/$(uname -m) ;; esac

# expected LAYOUT: what kiln list --format json must say, computed with jq from
# the layout itself: name, digest, platforms, size, created per index.json entry.
expected() {
  local L=$1 d name blob sz plats created cfg m mb c
  jq -c '.manifests[]' "$L/index.json" | while IFS= read -r desc; do
    d=$(jq -r .digest <<<"$desc")
    name=$(jq -r '.annotations["org.opencontainers.image.ref.name"] // ""' <<<"$desc")
    blob=$(blob "$L" "$d")
    if jq -e '.manifests' "$blob" >/dev/null 2>&1; then
      sz=0 plats="" created=""
      for m in $(jq -r '.manifests[].digest' "$blob"); do
        mb=$(blob "$L" "$m")
        sz=$((sz + $(jq '[.config.size] + [.layers[].size] | add' "$mb")))
        cfg=$(blob "$L" "$(jq -r .config.digest "$mb")")
        plats+=${plats:+,}$(jq -r '.os + "/" + .architecture + (if .variant then "/" + .variant else "" end)' "$cfg")
        c=$(jq -r '.created // ""' "$cfg"); [[ $c > $created ]] && created=$c
      done
    else
      sz=$(jq '[.config.size] + [.layers[].size] | add' "$blob")
      cfg=$(blob "$L" "$(jq -r .config.digest "$blob")")
      plats=$(jq -r '.os + "/" + .architecture + (if .variant then "/" + .variant else "" end)' "$cfg")
      created=$(jq -r '.created // ""' "$cfg")
    fi
    printf '%s|%s|%s|%s|%s\n' "$name" "$d" "$plats" "$sz" "$created"
  done
}
# listed REF: the same fields from kiln list --format json.
listed() {
  "$KILN" list --format json "$1" |
    jq -r '.[] | [(.name // ""), (.digest // .config), (.platforms | join(",")), (.size | tostring), (.created // "")] | join("|")'
}
# check_layout MSG LAYOUT: kiln list agrees with the layout, in JSON and as a table.
check_layout() {
  local msg=$1 L=$2
  expected "$L" >"$T/exp"
  listed "oci:$L" >"$T/got" 2>"$T/got.err" || not_ok "$msg: kiln list --format json oci:$L exits 0" "$(cat "$T/got.err")"
  assert_same_text "$T/exp" "$T/got" "$msg: kiln list = index.json (names, digests, platforms, sizes, created)"
  "$KILN" list --format '{{.Name}}|{{.Digest}}|{{join .Platforms ","}}|{{.Size}}|{{.Created}}' "oci:$L" >"$T/got.t" 2>&1 ||
    not_ok "$msg: kiln list --format TEMPLATE exits 0" "$(cat "$T/got.t")"
  assert_same_text "$T/exp" "$T/got.t" "$msg: kiln list --format TEMPLATE gives the same fields"
  [ -s "$T/exp" ] || not_ok "$msg: the layout lists something"
  "$KILN" list "oci:$L" >"$T/table" 2>&1 || true
  assert_eq "$(($(wc -l <"$T/exp") + 1))" "$(wc -l <"$T/table")" "$msg: the table has a header and one line per entry"
  local name d
  while IFS='|' read -r name d _; do
    grep -Eq "^${name:-<none>} +$d " "$T/table" && ok "$msg: table line for ${name:-<none>}" ||
      not_ok "$msg: table line for ${name:-<none>}" "$(cat "$T/table")"
  done <"$T/exp"
}

R=$T/rootfs
mkdir -p "$R/etc"; echo "list me" >"$R/etc/msg"; head -c 100000 /dev/urandom >"$R/blob"
mkdir -p "$T/r2"; echo other >"$T/r2/file"

say "a layout written by kiln: several tags, platforms and an index"
kiln_build --rootfs "$R" -t app:1.0 -o "oci:$T/k" -o "oci-archive:$T/k.tar" -o "docker-archive:$T/d.tar"
D10=$DIGEST
kiln_build --rootfs "$T/r2" --rootfs "$R" --platform linux/arm64 -o "oci:$T/k:arm"
DARM=$DIGEST
run "$KILN" index -o "oci:$T/k:multi" "oci:$T/k:1.0" "oci:$T/k:arm"
assert_eq 0 "$RC" "kiln index into the same layout"; DIDX=$OUT
check_layout "kiln" "$T/k"
assert_eq "$(printf '1.0|%s|%s\narm|%s|linux/arm64\nmulti|%s|%s,linux/arm64' "$D10" "$HOST" "$DARM" "$DIDX" "$HOST")" \
  "$(listed "oci:$T/k" | cut -d'|' -f1-3)" "kiln: names, digests and platforms in index.json order, the index with both platforms"
assert_eq "$("$KILN" digest "oci:$T/k:arm")" "$(listed "oci:$T/k:arm" | cut -d'|' -f2)" "oci:DIR:TAG lists only that tag, with kiln digest's digest"
assert_eq "2023-11-14T22:13:20Z" "$(listed "oci:$T/k:1.0" | cut -d'|' -f5)" "created = SOURCE_DATE_EPOCH"
J=$("$KILN" ls --format json "oci:$T/k")
check "kiln ls is list; --format json is an array of 3" jq -e 'length == 3' <<<"$J"
assert_eq "application/vnd.oci.image.manifest.v1+json null application/vnd.oci.image.index.v1+json" \
  "$(jq -r '[.[0].mediaType, .[2].config, .[2].mediaType] | map(tostring) | join(" ")' <<<"$J")" "JSON mediaType; an index has no config"
assert_eq "$(jq -r .config.digest "$(blob "$T/k" "$D10")")" "$(jq -r '.[0].config' <<<"$J")" "JSON config = the image ID"

say "oci-archive and docker-archive"
assert_eq "1.0|$D10|$HOST" "$(listed "oci-archive:$T/k.tar" | cut -d'|' -f1-3)" "oci-archive: name, digest, platform"
assert_eq "$(listed "oci:$T/k:1.0")" "$(listed "oci-archive:$T/k.tar")" "oci-archive: the same line as the layout"
CFG=$(jq -r .config.digest "$(blob "$T/k" "$D10")")
assert_eq "app:1.0|$CFG|$HOST" "$(listed "docker-archive:$T/d.tar" | cut -d'|' -f1-3)" "docker-archive: RepoTag, image ID, platform"
"$KILN" list "docker-archive:$T/d.tar" >"$T/dtable"
assert_match '^NAME +IMAGE ID +PLATFORM +SIZE +CREATED' "$(head -n 1 "$T/dtable")" "docker-archive: the table shows IMAGE ID"
kiln_build --rootfs "$R" -t one:1 -t registry.example.com/team/two:2 -o "docker-archive:$T/two.tar"
assert_eq "one:1 registry.example.com/team/two:2" "$("$KILN" list --format json "docker-archive:$T/two.tar" | jq -r '[.[].name] | join(" ")')" "docker-archive: one line per RepoTag"
kiln_build --rootfs "$R" -o "docker-archive:$T/untagged.tar"
assert_eq "null" "$("$KILN" list --format json "docker-archive:$T/untagged.tar" | jq -c '[.[].name] | .[0]')" "docker-archive without RepoTags: one unnamed entry"
assert_match '^<none> ' "$("$KILN" list "docker-archive:$T/untagged.tar" | tail -n 1)" "shown as <none>"

say "a layout written by umoci (init, new, tag)"
run umoci init --layout "$T/u"
assert_eq 0 "$RC" "umoci init"; [ "$RC" -eq 0 ] || say "$ERR"
run umoci new --image "$T/u:base"
assert_eq 0 "$RC" "umoci new"; [ "$RC" -eq 0 ] || say "$ERR"
run umoci tag --image "$T/u:base" v2
assert_eq 0 "$RC" "umoci tag"
run umoci config --image "$T/u:v2" --config.cmd /bin/true --tag v3
assert_eq 0 "$RC" "umoci config --tag"
check_layout "umoci" "$T/u"
assert_eq "base v2 v3" "$(listed "oci:$T/u" | cut -d'|' -f1 | tr '\n' ' ' | sed 's/ $//')" "umoci: every tag"
assert_eq 1 "$(listed "oci:$T/u" | head -n 2 | cut -d'|' -f2 | sort -u | wc -l)" "umoci: base and v2 are the same manifest"

say "a layout written by skopeo copy: several images and tags, and an index (--all)"
S=$T/s
for t in a b; do
  run skopeo copy "oci:$T/k:1.0" "oci:$S:$t"; assert_eq 0 "$RC" "skopeo copy to oci:s:$t"
done
run skopeo copy "oci:$T/k:arm" "oci:$S:arm"; assert_eq 0 "$RC" "skopeo copy arm"
run skopeo copy "docker-archive:$T/d.tar" "oci:$S:from-docker"; assert_eq 0 "$RC" "skopeo copy from a docker-archive"
run skopeo copy --all "oci:$T/k:multi" "oci:$S:multi"; assert_eq 0 "$RC" "skopeo copy --all of the index"; [ "$RC" -eq 0 ] || say "$ERR"
check_layout "skopeo" "$S"
assert_eq "a b arm from-docker multi" "$(listed "oci:$S" | cut -d'|' -f1 | tr '\n' ' ' | sed 's/ $//')" "skopeo: every tag, in order"
assert_eq "$HOST,linux/arm64" "$(listed "oci:$S:multi" | cut -d'|' -f3)" "skopeo: the copied index lists both platforms"
run skopeo copy "oci:$T/k:1.0" "oci-archive:$T/s.tar:x"
run skopeo copy "oci:$T/k:1.0" "docker-archive:$T/sd.tar:team/sk:7"
assert_eq "x" "$(listed "oci-archive:$T/s.tar" | cut -d'|' -f1)" "skopeo's oci-archive"
assert_eq "docker.io/team/sk:7|$HOST" "$(listed "docker-archive:$T/sd.tar" | cut -d'|' -f1,3)" "skopeo's docker-archive"

say "errors"
run "$KILN" list "oci:$T/k:nope"
assert_eq 1 "$RC" "an unknown tag is a failure"; assert_contains "no image with that tag" "$ERR" "and says so"
run "$KILN" list "oci:$T/none"
assert_eq 1 "$RC" "a missing layout is a failure"
run "$KILN" list "docker://example.com/a"
assert_eq 2 "$RC" "a registry is a usage error (kiln tags lists those)"
run "$KILN" list "oci:$T/k" extra
assert_eq 2 "$RC" "two REFs: usage error"
run "$KILN" list --format '{{.Name' "oci:$T/k"
assert_eq 2 "$RC" "--format with a broken template: usage error"
assert_contains "expected '}}'" "$ERR" "the error says what is wrong with the template"
cp -a "$T/k" "$T/bad"
mb=$(blob "$T/bad" "$DARM"); chmod u+w "$mb"; printf ' ' >>"$mb"
run "$KILN" list "oci:$T/bad"
assert_eq 1 "$RC" "a manifest that does not match its digest is refused"
assert_contains "$DARM" "$ERR" "naming the manifest"
assert_match "^1\.0 +$D10 +$HOST " "$(sed -n 2p <<<"$OUT")" "the other entries are still listed"

say "an entry whose manifest is missing is listed as broken, the others as before"
cp -a "$T/k" "$T/miss"
rm -f "$(blob "$T/miss" "$DARM")"
run "$KILN" list "oci:$T/miss"
assert_eq 1 "$RC" "kiln list exits 1: an entry cannot be read"
assert_eq 4 "$(grep -c '' <<<"$OUT")" "the table has a header and all three entries"
assert_eq "$("$KILN" list "oci:$T/k" | sed -n 2p | tr -s ' ')" "$(sed -n 2p <<<"$OUT" | tr -s ' ')" "the intact entry's line is as in the intact layout"
assert_match "^arm +$DARM +\(broken\) +- +-$" "$(sed -n 3p <<<"$OUT")" "the entry without its manifest is marked broken"
assert_match "^multi +$DIDX +\(broken\) +- +-$" "$(sed -n 4p <<<"$OUT")" "so is the index that names it"
assert_eq 1 "$(grep -c '' <<<"$ERR")" "one line on stderr"
assert_contains "kiln: oci:$T/miss: 2 of 3 entries cannot be read (listed as broken): 'arm' ($DARM): manifest: " "$ERR" \
  "it names the broken entries and says why"
assert_contains "'multi' ($DIDX): manifest: " "$ERR" "... each of them"
assert_contains "No such file or directory" "$ERR" "... the file that is missing"
J=$("$KILN" list --format json "oci:$T/miss" 2>/dev/null || true)
assert_eq "false true true" "$(jq -r '[.[].broken] | map(tostring) | join(" ")' <<<"$J")" "JSON: broken, per entry"
assert_eq "arm $DARM null null null null" "$(jq -r '.[1] | [.name, .digest, .config, .platforms, .size, .created] | map(tostring) | join(" ")' <<<"$J")" \
  "JSON: a broken entry has its name and digest, and nothing it cannot know"
assert_eq "$(listed "oci:$T/k:1.0")" "$(listed "oci:$T/miss:1.0")" "listing the intact tag alone: as before"
run "$KILN" list "oci:$T/miss:1.0"
assert_eq 0 "$RC" "... and exit 0"
tar -C "$T/miss" -cf "$T/miss.tar" .
run "$KILN" list "oci-archive:$T/miss.tar"
assert_eq "1 4" "$RC $(grep -c '' <<<"$OUT")" "the same from an oci-archive: exit 1, all entries listed"
mkdir -p "$T/dx"; tar -C "$T/dx" -xf "$T/d.tar"
rm -f "$T/dx/$(jq -r '.[0].Layers[0]' "$T/dx/manifest.json")"; tar -C "$T/dx" -cf "$T/dmiss.tar" .
run "$KILN" list "docker-archive:$T/dmiss.tar"
assert_eq 1 "$RC" "a docker-archive image without its layer: exit 1"
assert_match "^app:1\.0 +$CFG +\(broken\) " "$(sed -n 2p <<<"$OUT")" "its entry is listed as broken, with its image ID"
assert_contains "is missing" "$ERR" "the layer is named as missing"
mkdir -p "$T/notjson"; printf '{"manifests": [' >"$T/notjson/index.json"
KABS=$(realpath "$KILN")
run sh -c "cd '$T' && exec '$KABS' list oci:notjson"
assert_eq 1 "$RC" "an index.json that is not JSON is refused"
assert_contains "oci:notjson: $(realpath "$T")/notjson/index.json is not JSON: " "$ERR" "naming it once, by its full path"
run "$KILN" help ls
assert_contains "Usage: kiln list" "$OUT" "kiln help ls"
assert_contains "list the images of an OCI layout or archive" "$("$KILN" --help)" "kiln --help names list"
