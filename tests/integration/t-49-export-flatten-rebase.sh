#!/usr/bin/env bash
# kiln export and kiln flatten. An image of three layers (the rich tree; a
# changeset that removes the target of two hardlinks, a directory and a file
# and makes a directory opaque; a docker-style tar with .wh. whiteouts and
# .wh..wh..opq) is exported: the tar equals what kiln unpack makes of the image
# and what `docker export` gives of a container made from it (owners, modes,
# types, hardlinks, xattrs), and is the same bytes every time. kiln flatten
# squashes it into one layer whose diff_id is that tar's sha256, with the
# config kept and one history entry; docker runs the flat image, umoci and
# skopeo read it, and its export equals the original's, byte for byte.
# kiln rebase moves an image's own layers from its old base to a new one:
# checked against the old base by diff_id, the own layers not uploaded again
# (the registry log), the config's inherited settings the new base's and its
# own kept; docker and podman run the result with the new base's files. kiln copy
# --manifest-format converts between OCI and Docker v2 schema 2 (media types of
# the manifest, the config and the layers; the layers' bytes kept), refusing
# zstd layers for Docker.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need jq python3 skopeo umoci setfattr getfattr setcap
[ -x /bin/busybox ] || _missing busybox
export SOURCE_DATE_EPOCH=1700000000

R=$T/rootfs N=$T/new
make_rich_rootfs "$R"
cp -a "$R" "$N"
rm -f "$N/data/hl-a"                 # hl-b and sub/hl-c keep its data
rm -rf "$N/data/owneddir"            # a directory whited out
rm -f "$N/data/secret"
rm -rf "$N/data/sgid"; mkdir -m 2770 "$N/data/sgid"; echo fresh >"$N/data/sgid/new"  # opaque
echo changed >"$N/data/hello.txt"
python3 - "$T/l3.tar" <<'PY'
import io, sys, tarfile
def add(t, name, typ=tarfile.REGTYPE, data=b'', mode=0o644, uid=0, gid=0):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.uid = uid; ti.gid = gid
    ti.mtime = 1700000000
    if typ == tarfile.REGTYPE:
        ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    add(t, 'data/', tarfile.DIRTYPE, mode=0o755)
    add(t, 'data/.wh.empty')                       # a file whited out
    add(t, 'data/tmp/', tarfile.DIRTYPE, mode=0o1777)
    add(t, 'data/tmp/.wh..wh..opq')                # docker's opaque marker
    add(t, 'data/tmp/kept', data=b'same layer as the marker\n', uid=42, gid=43)
    add(t, 'data/.wh..wh.plnk')                    # aufs metadata: nothing to apply
    add(t, 'etc/', tarfile.DIRTYPE, mode=0o755)
    add(t, 'etc/added', data=b'layer 3\n', mode=0o600, uid=7, gid=8)
PY
kiln_build --rootfs "$R" --diff "$R" "$N" --tar "$T/l3.tar" --env PATH=/bin --env APP=1 \
  --entrypoint '["/bin/busybox","cat"]' --cmd /data/hl-b --label tier=test \
  -t kiln-t49/app:3 -o "oci:$T/lay:app" -o "docker-archive:$T/app.tar"
APP=$DIGEST

say "kiln export"
run "$KILN" export "oci:$T/lay:app" -o "$T/export.tar"
assert_eq 0 "$RC" "kiln export -o FILE exits 0"; [ "$RC" -eq 0 ] || fail "kiln export: $ERR"
assert_eq "" "$OUT" "nothing on stdout with -o"
"$KILN" export "oci:$T/lay:app" >"$T/export-stdout.tar"
assert_same_file "$T/export.tar" "$T/export-stdout.tar" "to stdout: the same bytes"
run "$KILN" export "docker-archive:$T/app.tar" -o "$T/export-da.tar"
assert_same_file "$T/export.tar" "$T/export-da.tar" "from the docker-archive: the same bytes"
layer_manifest "$T/export.tar" >"$T/export.m"
run "$KILN" unpack "oci:$T/lay:app" "$T/unpacked"
assert_eq 0 "$RC" "kiln unpack of the same image"
tree_manifest "$T/unpacked" >"$T/unpack.m"
assert_same_text "$T/unpack.m" "$T/export.m" "the export = kiln unpack's tree (owners, modes, xattrs, hardlinks)"
line() { grep "^$1 |" "$T/export.m"; }
assert_match '^data/hl-b \| f \| 0644 \| 0:0 \| 13:' "$(line data/hl-b)" "a hardlink whose target was removed keeps the data"
assert_match 'hl=data/hl-b$' "$(line data/sub/hl-c)" "and its other name stays a hardlink to it"
assert_eq "" "$(grep -E '^data/(hl-a|owneddir|secret|empty|sgid/inner) ' "$T/export.m")" "whited-out entries are gone"
assert_match '^data/sgid \| d \| 2770 ' "$(line data/sgid)" "the opaque directory has its new mode"
assert_match '^data/tmp/kept \| f \| 0644 \| 42:43 ' "$(line data/tmp/kept)" ".wh..wh..opq keeps its own layer's entries"
assert_eq 1 "$(grep -c '^data/tmp/' "$T/export.m")" "and removes the layers' below"
assert_match '^data/hello.txt \| f .*user.test=' "$(line data/hello.txt)" "a changed file keeps its xattr"
assert_match '^capbin/busybox .*security.capability=' "$(line capbin/busybox)" "file capabilities kept"
assert_match '^data/devices/nullish \| c \| 0666 \| 0:0 \| 1,3 ' "$(line data/devices/nullish)" "device nodes kept"
check_not "no whiteout in the export" grep -q '\.wh\.' "$T/export.m"
python3 - "$T/export.tar" >"$T/order" <<'PY'
import sys, tarfile
seen = set()
for m in tarfile.open(sys.argv[1]):
    p = m.name.rstrip('/')
    parent = p.rsplit('/', 1)[0] if '/' in p else ''
    if parent and parent not in seen:
        print('parent after child:', p)
    if m.islnk() and m.linkname not in seen:
        print('hardlink before its target:', p)
    seen.add(p)
PY
assert_eq "" "$(cat "$T/order")" "parents come before children, hardlink targets before links"
SOURCE_DATE_EPOCH= "$KILN" export "oci:$T/lay:app" -o "$T/export2.tar"
assert_same_file "$T/export.tar" "$T/export2.tar" "exported again: the same bytes"

say "kiln export vs docker export"
start_dockerd
run docker_ load -i "$T/app.tar"
assert_eq 0 "$RC" "docker loads the image"
CID=$(docker_ create kiln-t49/app:3)
docker_ export "$CID" >"$T/docker-export.tar"
docker_ rm "$CID" >/dev/null
# what docker adds to every container; and docker's archive code keeps only
# security.capability of the xattrs (kiln unpack and umoci compare the others)
dfilter() {
  grep -vE '^(\.dockerenv|dev|dev/[^ ]*|proc|sys|etc/(hostname|hosts|resolv.conf|mtab)) ' |
    sed -E 's/user\.[a-z]+=[0-9a-f]+,?//; s/\| ,?(security)/| \1/; s/\|  \|/| - |/g; s/\|  \|/| - |/g'
}
layer_manifest "$T/docker-export.tar" | dfilter >"$T/docker.m"
dfilter <"$T/export.m" >"$T/export-f.m"
assert_same_text "$T/docker.m" "$T/export-f.m" "kiln export = docker export (paths, owners, modes, types, xattrs, hardlinks)"

say "kiln flatten"
run "$KILN" flatten "oci:$T/lay:app" -o "oci:$T/lay:flat" -o "docker-archive:$T/flat.tar" -t kiln-t49/flat:1
assert_eq 0 "$RC" "kiln flatten exits 0"; [ "$RC" -eq 0 ] || fail "kiln flatten: $ERR"
FLAT=$OUT
assert_match '^sha256:[0-9a-f]{64}$' "$FLAT" "prints the digest"
assert_eq 1 "$(layout_manifest "$T/lay" flat | jq '.layers | length')" "one layer"
CFG=$(layout_config "$T/lay" flat)
assert_eq "[\"sha256:$(sha256sum <"$T/export.tar" | cut -c1-64)\"]" "$(jq -c .rootfs.diff_ids <<<"$CFG")" "its diff_id is the export's sha256"
assert_eq 1 "$(jq '.history | length' <<<"$CFG")" "one history entry"
assert_contains "3 layers of oci:$T/lay:app squashed" "$(jq -r '.history[0].created_by' <<<"$CFG")" "which says what was squashed"
OCFG=$(layout_config "$T/lay" app)
assert_eq "$(jq -c .config <<<"$OCFG")" "$(jq -c .config <<<"$CFG")" "the container config is kept"
assert_eq "$(jq -r .created <<<"$OCFG")" "$(jq -r .created <<<"$CFG")" "and the created time"
"$KILN" export "oci:$T/lay:flat" -o "$T/flat-export.tar"
assert_same_file "$T/export.tar" "$T/flat-export.tar" "the flat image's export = the original's"
run "$KILN" flatten "oci:$T/lay:app" -o "oci:$T/again:flat"
assert_eq "0 $FLAT" "$RC $OUT" "flattened again: the same digest"
run "$KILN" validate "oci:$T/lay:flat"
assert_eq 0 "$RC" "kiln validate accepts it"; [ "$RC" -eq 0 ] || say "$OUT $ERR"

say "consumers of the flat image"
run umoci unpack --image "$T/lay:flat" "$T/bundle"
assert_eq 0 "$RC" "umoci unpacks it"; [ "$RC" -eq 0 ] || say "$ERR"
tree_manifest "$T/bundle/rootfs" >"$T/umoci.m"
assert_same_text "$T/export.m" "$T/umoci.m" "umoci's tree = the export"
run skopeo inspect --format '{{len .Layers}} {{index .Labels "tier"}}' "oci:$T/lay:flat"
assert_eq "0 1 test" "$RC $OUT" "skopeo: one layer, the label kept"
run docker_ load -i "$T/flat.tar"
assert_eq 0 "$RC" "docker loads the flat image"
run docker_ run --rm --network none kiln-t49/flat:1
assert_eq "0 shared inode" "$RC $OUT" "docker runs it (entrypoint and cmd kept; the hardlink's data)"
run docker_ run --rm --network none kiln-t49/flat:1 /etc/added
assert_eq "0 layer 3" "$RC $OUT" "with the top layer's files"
CID=$(docker_ create kiln-t49/flat:1)
docker_ export "$CID" >"$T/docker-flat.tar"
docker_ rm "$CID" >/dev/null
layer_manifest "$T/docker-flat.tar" | dfilter >"$T/docker-flat.m"
assert_same_text "$T/docker.m" "$T/docker-flat.m" "docker export of the flat image = of the original"
docker_ rmi kiln-t49/app:3 kiln-t49/flat:1 >/dev/null

say "a registry: flatten docker:// in place"
start_registry plain
run "$KILN" copy "oci:$T/lay:app" "docker://$REG/t49/app:1"
assert_eq 0 "$RC" "the image is in the registry"
run "$KILN" export "docker://$REG/t49/app:1" -o "$T/export-reg.tar"
assert_eq 0 "$RC" "kiln export docker://"; [ "$RC" -eq 0 ] || say "$ERR"
assert_same_file "$T/export.tar" "$T/export-reg.tar" "from the registry: the same bytes"
run "$KILN" flatten "docker://$REG/t49/app:1" -o "docker://$REG/t49/app:flat"
assert_eq 0 "$RC" "kiln flatten docker:// -o docker://"; [ "$RC" -eq 0 ] || say "$ERR"
run skopeo inspect --tls-verify=false --format '{{len .Layers}}' "docker://$REG/t49/app:flat"
assert_eq "0 1" "$RC $OUT" "skopeo reads one layer"
assert_eq "$(layout_manifest "$T/lay" flat | jq -r '.layers[0].digest')" \
  "$(skopeo inspect --tls-verify=false --raw "docker://$REG/t49/app:flat" | jq -r '.layers[0].digest')" \
  "the same layer as flattened from the layout (only the history names another source)"

say "kiln rebase"
OB=$T/oldbase NB=$T/newbase AP=$T/applayer
mkdir -p "$OB/bin" "$NB/bin" "$AP/app"
cp /bin/busybox "$OB/bin/"; cp /bin/busybox "$NB/bin/"
echo old >"$OB/os"; echo old-only >"$OB/oldfile"; echo new >"$NB/os"; echo new-only >"$NB/newfile"
echo "the app" >"$AP/app/hello"
kiln_build --rootfs "$OB" --env PATH=/bin --env OLDVAR=1 --label base=old \
  --entrypoint '["/bin/busybox"]' --cmd '["cat","/os"]' -o "oci:$T/rb:old"
kiln_build --rootfs "$NB" --env PATH=/usr/bin:/bin --env NEWVAR=2 --label base=new --workdir /srv \
  --entrypoint '["/bin/busybox"]' --cmd '["cat","/os"]' -o "oci:$T/rb:new"
run "$KILN" append "oci:$T/rb:old" --rootfs "$AP" --env APP=3 --label app=yes --cmd '["cat","/app/hello"]' -o "oci:$T/rb:app"
assert_eq 0 "$RC" "the app: its own layer and settings on the old base"
run "$KILN" rebase "oci:$T/rb:app" --old-base "oci:$T/rb:old" --new-base "oci:$T/rb:new" \
  -o "oci:$T/rb:rebased" -o "docker-archive:$T/rebased.tar" -t kiln-t49/rebased:1
assert_eq 0 "$RC" "kiln rebase exits 0"; [ "$RC" -eq 0 ] || fail "kiln rebase: $ERR"
REB=$OUT
RM=$(layout_manifest "$T/rb" rebased) RC_=$(layout_config "$T/rb" rebased)
assert_eq "$(layout_manifest "$T/rb" new | jq -c '[.layers[].digest]')" "$(jq -c '[.layers[0].digest]' <<<"$RM")" "the new base's layer first"
assert_eq "$(layout_manifest "$T/rb" app | jq -r '.layers[1].digest')" "$(jq -r '.layers[1].digest' <<<"$RM")" "then the app's own layer, byte for byte"
assert_eq "$(layout_config "$T/rb" new | jq -r '.rootfs.diff_ids[0]') $(layout_config "$T/rb" app | jq -r '.rootfs.diff_ids[1]')" \
  "$(jq -r '.rootfs.diff_ids | join(" ")' <<<"$RC_")" "diff_ids rewritten"
assert_eq '["PATH=/usr/bin:/bin","NEWVAR=2","APP=3"]' "$(jq -c .config.Env <<<"$RC_")" "Env: the new base's, and the app's own"
assert_eq '{"app":"yes","base":"new"}' "$(jq -c .config.Labels <<<"$RC_")" "Labels: likewise"
assert_eq '/srv ["cat","/app/hello"]' "$(jq -r '.config.WorkingDir + " " + (.config.Cmd | tojson)' <<<"$RC_")" "the new base's WorkingDir, the app's own Cmd"
assert_eq "$(layout_config "$T/rb" new | jq -c '[.history[].created_by]' | jq -c '. + ["kiln build --rootfs"]')" \
  "$(jq -c '[.history[].created_by]' <<<"$RC_")" "history: the new base's, then the app's own"
assert_eq "$(layout_config "$T/rb" app | jq -r .created)" "$(jq -r .created <<<"$RC_")" "the app's created time"
"$KILN" export "oci:$T/rb:rebased" | tar -t | sort >"$T/rebased.files"
assert_eq "$(printf '%s\n' app/ app/hello bin/ bin/busybox newfile os)" "$(cat "$T/rebased.files")" "its files: the new base's and the app's, none of the old base's"
run "$KILN" validate "oci:$T/rb:rebased"
assert_eq 0 "$RC" "kiln validate accepts the rebased image"; [ "$RC" -eq 0 ] || say "$OUT $ERR"
run "$KILN" rebase "oci:$T/rb:app" --old-base "oci:$T/rb:old" --new-base "oci:$T/rb:new" -o "oci:$T/rb2:rebased"
assert_eq "0 $REB" "$RC $OUT" "rebased again: the same digest"
run docker_ load -i "$T/rebased.tar"
assert_eq 0 "$RC" "docker loads the rebased image"
run docker_ run --rm --network none kiln-t49/rebased:1
assert_eq "0 the app" "$RC $OUT" "docker runs it"
run docker_ run --rm --network none kiln-t49/rebased:1 cat /os /newfile
assert_eq "0 new new-only" "$RC $(echo $OUT)" "with the new base's files"
run docker_ run --rm --network none kiln-t49/rebased:1 cat /oldfile
assert_ne 0 "$RC" "and not the old base's"
docker_ rmi kiln-t49/rebased:1 >/dev/null

say "kiln rebase in a registry: the app's own layer is not uploaded again"
for n in old new app; do "$KILN" copy -q "oci:$T/rb:$n" "docker://$REG/t49/$n:1" >/dev/null || fail "copy $n"; done
M=$(registry_log_mark)
run "$KILN" rebase "docker://$REG/t49/app:1" --old-base "docker://$REG/t49/old:1" \
  --new-base "docker://$REG/t49/new:1" -o "docker://$REG/t49/rebased:1"
assert_eq "0 $REB" "$RC $OUT" "the same digest as from the layout"
assert_eq 1 "$(registry_request_count '^PUT /v2/t49/rebased/blobs/uploads/' "$M")" "one blob uploaded: the config"
run skopeo inspect --tls-verify=false --format '{{len .Layers}} {{index .Labels "base"}}' "docker://$REG/t49/rebased:1"
assert_eq "0 2 new" "$RC $OUT" "skopeo reads it"
M=$(registry_log_mark)
run "$KILN" rebase "docker://$REG/t49/app:1" --old-base "docker://$REG/t49/old:1" --new-base "docker://$REG/t49/new:1"
assert_eq "0 $REB" "$RC $OUT" "rebased in place"
assert_eq 1 "$(registry_request_count '^PUT /v2/t49/app/blobs/uploads/' "$M")" "in place too: only the config"
setup_podman
for img in app:flat rebased:1; do
  run podman_ pull --tls-verify=false "docker://$REG/t49/$img"
  assert_eq 0 "$RC" "podman pulls $img"; [ "$RC" -eq 0 ] || say "$ERR"
done
run podman_ "${PODMAN_RUN[@]}" "$REG/t49/app:flat" /etc/added
assert_eq "0 layer 3" "$RC $OUT" "podman runs the flat image"; [ "$RC" -eq 0 ] || say "$ERR"
run podman_ "${PODMAN_RUN[@]}" "$REG/t49/rebased:1" cat /os /app/hello
assert_eq "0 new the app" "$RC $(echo $OUT)" "podman runs the rebased image: the new base's files and the app's"; [ "$RC" -eq 0 ] || say "$ERR"

say "kiln copy --manifest-format"
run "$KILN" copy --manifest-format docker "oci:$T/rb:app" "docker://$REG/t49/appd:1"
assert_eq 0 "$RC" "OCI to Docker v2 schema 2, pushed"; [ "$RC" -eq 0 ] || say "$ERR"
assert_contains "another digest" "$ERR" "with a warning that the digest changes"
DOCKD=$OUT
RAW=$(skopeo inspect --tls-verify=false --raw "docker://$REG/t49/appd:1")
assert_eq 'application/vnd.docker.distribution.manifest.v2+json application/vnd.docker.container.image.v1+json application/vnd.docker.image.rootfs.diff.tar.gzip application/vnd.docker.image.rootfs.diff.tar.gzip' \
  "$(jq -r '[.mediaType, .config.mediaType, .layers[].mediaType] | join(" ")' <<<"$RAW")" "Docker media types: manifest, config, layers"
assert_eq "$(layout_manifest "$T/rb" app | jq -c '[.layers[].digest]')" "$(jq -c '[.layers[].digest]' <<<"$RAW")" "the layers' bytes are kept"
run docker_ pull "$REG/t49/appd:1"
assert_eq 0 "$RC" "docker pulls it"
run docker_ run --rm --network none "$REG/t49/appd:1"
assert_eq "0 the app" "$RC $OUT" "and runs it"
docker_ rmi "$REG/t49/appd:1" >/dev/null
run "$KILN" copy --manifest-format oci "docker://$REG/t49/appd:1" "oci:$T/rb:back"
assert_eq 0 "$RC" "and back to OCI"
assert_eq "$(layout_manifest_digest "$T/rb" app)" "$OUT" "the original's digest again"
run "$KILN" copy --manifest-format oci "oci:$T/rb:app" "oci:$T/rb:same"
assert_eq "0 $(layout_manifest_digest "$T/rb" app)" "$RC $OUT" "already OCI: copied as it is"
assert_eq "" "$ERR" "without a warning"
kiln_build --rootfs "$AP" --compression zstd -o "oci:$T/rb:zstd"
run "$KILN" copy --manifest-format docker "oci:$T/rb:zstd" "oci:$T/rb:zd"
assert_eq 2 "$RC" "a zstd layer to Docker: refused"
assert_contains "zstd-compressed, and Docker's v2 schema 2 has no zstd layer type" "$ERR" "saying why"
check_not "nothing written" grep -q '"zd"' "$T/rb/index.json"
say "zstd under a Docker manifest: refused by build, rebase and append too"
kiln_build --rootfs "$AP" --manifest-format docker -o "oci:$T/rb:dock"
kiln_build --rootfs "$AP" --compression zstd --source-date-epoch 1700000001 -o "oci:$T/rb:zbase"
run "$KILN" rebase --old-base "oci:$T/rb:zstd" --new-base "oci:$T/rb:zbase" --manifest-format docker "oci:$T/rb:zstd" -o "oci:$T/rb:never1"
assert_eq 2 "$RC" "rebase to Docker's format onto a zstd base: a usage error"
assert_contains "the base's layer sha256:" "$ERR" "naming the layer"
assert_contains "(--manifest-format oci)" "$ERR" "and what to do"
run "$KILN" build --from "oci:$T/rb:zbase" --rootfs "$AP" --manifest-format docker -o "oci:$T/rb:never2"
assert_eq 2 "$RC" "build --from a zstd base, Docker's format: a usage error"
run "$KILN" append "oci:$T/rb:dock" --rootfs "$AP" --compression zstd -o "oci:$T/rb:never3"
assert_eq 2 "$RC" "append of a zstd layer to a Docker image: a usage error"
assert_contains "--compression zstd: Docker's v2 schema 2 has no zstd layer type" "$ERR" "saying why"
for t in never1 never2 never3; do
  check_not "$t: nothing written" grep -q "\"$t\"" "$T/rb/index.json"
done
run "$KILN" append "oci:$T/rb:dock" --rootfs "$AP" --compression zstd --manifest-format oci -o "oci:$T/rb:zapp"
assert_eq 0 "$RC" "with --manifest-format oci it is written (stderr: $ERR)"
kiln_build --rootfs "$AP" --platform linux/arm64 -o "oci:$T/rb:arm"
run "$KILN" index -o "oci:$T/rb:idx" "oci:$T/rb:app" "oci:$T/rb:arm"
run "$KILN" copy --manifest-format docker "oci:$T/rb:idx" "oci:$T/rb:idxd"
assert_eq 2 "$RC" "an index without --platform: usage error"
assert_contains "give --platform" "$ERR" "saying what to do"
run "$KILN" copy --manifest-format docker --platform linux/arm64 "oci:$T/rb:idx" "oci:$T/rb:armd"
assert_eq 0 "$RC" "one platform of it is converted"
assert_eq "application/vnd.docker.distribution.manifest.v2+json arm64" \
  "$(layout_manifest "$T/rb" armd | jq -r .mediaType) $(layout_config "$T/rb" armd | jq -r .architecture)" "the arm64 image, as Docker's"
run "$KILN" copy --manifest-format xml "oci:$T/rb:app" "oci:$T/rb:x"
assert_eq 2 "$RC" "an unknown format: usage error"
run "$KILN" copy --manifest-format docker --copy-signatures "docker://$REG/t49/app:1" "docker://$REG/t49/x:1"
assert_eq 2 "$RC" "--copy-signatures with a conversion: usage error"

say "bad input"
run "$KILN" rebase "oci:$T/rb:app" --old-base "oci:$T/rb:new" --new-base "oci:$T/rb:old" -o "oci:$T/rb:bad"
assert_eq 2 "$RC" "an old base that is not the image's: usage error"
assert_contains "--old-base oci:$T/rb:new is not the base of oci:$T/rb:app: its layer 1" "$ERR" "saying which layer differs"
check_not "nothing written" grep -q '"bad"' "$T/rb/index.json"
run "$KILN" rebase "oci:$T/rb:app" --new-base "oci:$T/rb:new"
assert_eq 2 "$RC" "no --old-base: usage error"
run "$KILN" rebase "oci:$T/rb:app" --old-base "oci:$T/rb:old"
assert_eq 2 "$RC" "no --new-base: usage error"
run "$KILN" rebase "oci:$T/rb:app" --old-base "oci:$T/rb:old" --new-base "oci:$T/nowhere:x" -o "oci:$T/rb:bad"
assert_eq 1 "$RC" "a missing new base fails"
assert_contains "--new-base oci:$T/nowhere:x" "$ERR" "naming it"
run "$KILN" rebase "oci:$T/rb:app" --old-base "oci:$T/rb:old" --new-base "oci:$T/rb:arm" -o "oci:$T/rb:bad"
assert_eq 1 "$RC" "a new base of another platform is refused"
assert_contains "is a single linux/arm64 image" "$ERR" "naming its platform"
run "$KILN" build --old-base "oci:$T/rb:old" --rootfs "$AP" -o "oci:$T/rb:bad"
assert_eq 2 "$RC" "kiln build has no --old-base"
run "$KILN" export
assert_eq 2 "$RC" "export without REF: usage error"
run "$KILN" export "oci:$T/lay:app" "oci:$T/lay:app"
assert_eq 2 "$RC" "two REFs: usage error"
run "$KILN" export "oci:$T/nowhere:x" -o "$T/x.tar"
assert_eq 1 "$RC" "a missing layout fails"
assert_contains "$T/nowhere" "$ERR" "naming it"
assert_not_exists "$T/x.tar" "and writes nothing"
run "$KILN" export "oci:$T/lay:app" -o "$T/no/such/dir/x.tar"
assert_eq 1 "$RC" "an output in a missing directory fails"
assert_contains "$T/no/such/dir" "$ERR" "naming the directory"
run "$KILN" export "oci:$T/lay:app" -o "$T"
assert_eq 2 "$RC" "an output that is a directory: usage error"
run "$KILN" flatten --rootfs "$R" "oci:$T/lay:app"
assert_eq 2 "$RC" "flatten adds no layer: usage error"
assert_contains "kiln append" "$ERR" "pointing at kiln append"
run "$KILN" flatten
assert_eq 2 "$RC" "flatten without REF: usage error"
