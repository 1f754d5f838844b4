#!/usr/bin/env bash
# shellcheck disable=SC2016  # single-quoted $ is meant literally throughout
# meta-kiln, the OpenEmbedded layer in contrib/openembedded/meta-kiln.
#
# BitBake is not installed here, so the layer is tested the way BitBake would
# use it: tests/integration/oe/bbexpand.py parses the layer's conf, classes and
# recipe, expands ${VAR} (and the ${@...} expressions of the variable
# defaults) from a test datastore, and writes each task's run script as
# bb.build does. The run scripts call kiln-oe (the layer's helper script) and
# kiln from a stand-in native sysroot, under pseudo for the image tasks, on a
# rootfs whose owners, setuid bit, device node and file capability exist only
# in pseudo's database. The images are loaded into docker and checked from
# inside containers; a second build must give the same bytes; the push task
# pushes to a local registry with an auth file and must print no credential.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln
need pseudo setcap getcap python3 jq dash tar skopeo base64

LAYER=$KILN_SOURCE_DIR/contrib/openembedded/meta-kiln
OE=$LIB_DIR/oe
KILN_OE=$LAYER/recipes-devtools/kiln/files/kiln-oe
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
EPOCH_ROOTFS=1520598896   # REPRODUCIBLE_TIMESTAMP_ROOTFS
EPOCH_SDE=1302044400      # SOURCE_DATE_EPOCH_FALLBACK, exported by BitBake
BB=$(payload_bin)
[ "$BB" = /bin/busybox ] || fail "a static /bin/busybox is needed for the containers (busybox-static)"

# The native sysroot's bin: kiln and kiln-oe, as kiln-native installs them.
# The tasks find kiln in PATH, as in BitBake (KILN stays out of their environment).
KILN=$(readlink -f "$KILN")
export -n KILN
NATIVE=$T/recipe-sysroot-native/usr/bin
mkdir -p "$NATIVE"
ln -s "$KILN" "$NATIVE/kiln"
ln -s "$KILN_OE" "$NATIVE/kiln-oe"
export PATH="$NATIVE:$PATH"

bbx() { "$PY" "$OE/bbexpand.py" "$@"; }

# ============================================================ the layer's files
say "layer.conf, recipe and appends, as BitBake would read them"
conf_get() { bbx --conf "$LAYER/conf/layer.conf" "$@"; }
assert_eq "kiln-layer" "$(conf_get --get BBFILE_COLLECTIONS | xargs)" "layer.conf: collection kiln-layer"
assert_eq "core openembedded-layer" "$(conf_get --get LAYERDEPENDS_kiln-layer)" "layer.conf: LAYERDEPENDS on core and openembedded-layer (libdeflate)"
compat=$(conf_get --get LAYERSERIES_COMPAT_kiln-layer)
for series in wrynose blacksail scarthgap; do
  assert_contains " $series " " $compat " "layer.conf: LAYERSERIES_COMPAT names $series"
done
assert_eq "classes/image-oci-kiln.inc" "$(conf_get --set OCI_IMAGE_BACKEND=kiln --get OCI_IMAGE_BACKEND_INC)" \
  "layer.conf: OCI_IMAGE_BACKEND = kiln points OCI_IMAGE_BACKEND_INC at the layer's backend"
assert_file_exists "$LAYER/classes/image-oci-kiln.inc" "the backend file is where BBPATH finds classes/image-oci-kiln.inc"
assert_eq "image-oci-umoci.inc" "$(conf_get --set OCI_IMAGE_BACKEND=umoci --get OCI_IMAGE_BACKEND_INC)" \
  "layer.conf: other backends keep image-oci's own file name"

IMGOCI=(--classpath "$OE/classes" --classpath "$LAYER/classes" --class image-oci.bbclass)
run bbx --set OCI_IMAGE_BACKEND=kiln "${IMGOCI[@]}" --task do_image_oci --body IMAGE_CMD:oci
assert_contains "no function IMAGE_CMD:oci" "$ERR" \
  "without meta-kiln's layer.conf, image-oci's include finds no image-oci-kiln.inc and IMAGE_CMD:oci stays undefined (the BitBake fact)"
run bbx --conf "$LAYER/conf/layer.conf" --set OCI_IMAGE_BACKEND=kiln "${IMGOCI[@]}" --get 'do_image_oci[depends]'
assert_contains "kiln-native:do_populate_sysroot" "$OUT" "image-oci + kiln backend: do_image_oci depends on kiln-native"

recipe_get() {
  bbx --classpath "$T/none" --ignore-inherit cmake --ignore-inherit pkgconfig \
    --class "$LAYER/recipes-devtools/kiln/kiln_git.bb" "$@"
}
assert_eq "libarchive curl openssl jansson libdeflate zstd" "$(recipe_get --get DEPENDS)" "recipe: DEPENDS"
assert_eq "native nativesdk" "$(recipe_get --get BBCLASSEXTEND)" "recipe: BBCLASSEXTEND = native nativesdk"
assert_contains "-DKILN_BUILD_TESTS=OFF" "$(recipe_get --get EXTRA_OECMAKE)" "recipe: tests off (no cmocka)"
srcrev=$(recipe_get --get SRCREV)
assert_match '^[0-9a-f]{40}$' "$srcrev" "recipe: SRCREV is a commit"
if command -v git >/dev/null 2>&1 && [ "$(git -C "$KILN_SOURCE_DIR" rev-parse --is-shallow-repository 2>/dev/null)" = false ]; then
  check "recipe: SRCREV is a commit of this repository" git -C "$KILN_SOURCE_DIR" cat-file -e "$srcrev^{commit}"
fi
assert_contains "file://kiln-oe" "$(recipe_get --get SRC_URI)" "recipe: installs kiln-oe from files/"
assert_match '^git://' "$(recipe_get --get SRC_URI)" "recipe: SRC_URI fetches the project's git"
assert_eq "/w/kiln /w/sources-unpack/kiln" \
  "$(recipe_get --set WORKDIR=/w --get S | xargs) $(recipe_get --set WORKDIR=/w --set UNPACKDIR=/w/sources-unpack --get S)" \
  "recipe: S under UNPACKDIR (styhead and later), WORKDIR before"
lic_md5=$(recipe_get --get LIC_FILES_CHKSUM | sed -n 's/.*md5=\([0-9a-f]*\).*/\1/p')
assert_eq "$(md5sum <"$KILN_SOURCE_DIR/LICENSE" | cut -c1-32)" "$lic_md5" "recipe: LIC_FILES_CHKSUM matches LICENSE"
if grep -nE '(^|[ "=:])/(usr|home|opt|etc|tmp|root)/' "$LAYER/recipes-devtools/kiln/kiln_git.bb" >"$T/hostpaths"; then
  not_ok "recipe: no host paths" "$(cat "$T/hostpaths")"
else ok "recipe: no host paths"; fi
if grep -nE -- '-static|LDFLAGS.*static' "$LAYER/recipes-devtools/kiln/kiln_git.bb" >"$T/static"; then
  not_ok "recipe: kiln stays dynamically linked" "$(cat "$T/static")"
else ok "recipe: kiln stays dynamically linked"; fi
for app in libdeflate jansson; do
  v=$(bbx --class "$LAYER/recipes-extended/$app/${app}_%.bbappend" --set 'BBCLASSEXTEND=native' --get BBCLASSEXTEND)
  assert_contains "nativesdk" "$v" "$app bbappend: extends to native and nativesdk"
done

say "the recipe's build: cmake with the recipe's options, installed into a DESTDIR"
CMK=$T/cmake-build
run cmake -S "$KILN_SOURCE_DIR" -B "$CMK" -DKILN_BUILD_TESTS=OFF -DKILN_WERROR=OFF -DCMAKE_INSTALL_PREFIX=/usr
assert_eq 0 "$RC" "cmake configures with -DKILN_BUILD_TESTS=OFF" ; [ "$RC" -eq 0 ] || say "$ERR"
run cmake --build "$CMK" -j2
assert_eq 0 "$RC" "kiln builds" ; [ "$RC" -eq 0 ] || say "$(printf '%s' "$ERR" | tail -n 20)"
run env DESTDIR="$T/image" cmake --install "$CMK"
assert_eq 0 "$RC" "kiln installs into a DESTDIR (do_install)"
assert_file_exists "$T/image/usr/bin/kiln" "installed: /usr/bin/kiln"
assert_eq "" "$(find "$T/image" -name 'test_*' -o -name '*cmocka*' | head -n 3)" "installed: no unit tests"
if [ -x "$T/image/usr/bin/kiln" ]; then
  assert_match 'NEEDED.*libc\.so' "$(readelf -d "$T/image/usr/bin/kiln" 2>/dev/null | grep NEEDED | tr '\n' ' ')" \
    "installed kiln is dynamically linked against the C library (pseudo can see it)"
fi

say "kiln-oe and the task functions are plain POSIX sh"
check "kiln-oe parses with dash -n" dash -n "$KILN_OE"
if command -v shellcheck >/dev/null 2>&1; then
  check "kiln-oe is shellcheck-clean (sh)" shellcheck -s sh "$KILN_OE"
fi

# ============================================================ the rootfs
W=$T/work            # WORKDIR of the image recipe
R=$W/rootfs          # IMAGE_ROOTFS
STATE=$W/pseudo      # the recipe's pseudo database, shared by do_rootfs and do_image_*
DEPLOY=$T/deploy     # DEPLOY_DIR_IMAGE
mkdir -p "$W" "$DEPLOY"

say "do_rootfs, simulated: files made as root, their metadata set inside pseudo"
mkdir -p "$R"/{bin,capbin,etc/ssl/certs,srv/app,home/app,devnodes,opt/tool/sub,usr/share/doc/busybox,var/lib/opkg/info,empty}
cp "$BB" "$R/bin/busybox"
cp "$BB" "$R/capbin/busybox"
cp "$BB" "$R/bin/suidbox"
for l in sh cat stat id grep ls echo; do ln -s busybox "$R/bin/$l"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' >"$R/etc/group"
echo "app config" >"$R/etc/app.conf"
echo "app data" >"$R/srv/app/data"
echo "a" >"$R/opt/tool/a"
echo "b" >"$R/opt/tool/sub/b"
echo "busybox doc" >"$R/usr/share/doc/busybox/README"
# opkg's package database (path<TAB>mode lines, as opkg writes them)
printf '/etc\t40755\n/etc/passwd\t100644\n/etc/group\t100644\n/home/app\t40700\n' >"$R/var/lib/opkg/info/base-files.list"
printf '/bin\t40755\n/bin/busybox\t100755\n/bin/sh\t120777\tbusybox\n/bin/cat\n/bin/stat\n/bin/id\n/bin/grep\n/bin/ls\n/bin/echo\n/bin/suidbox\n/capbin/busybox\n/usr/share/doc/busybox/README\n' \
  >"$R/var/lib/opkg/info/busybox.list"
mkdir -p "$R/lib"
echo "not really a C library" >"$R/lib/libc.so.6"
printf '/lib/libc.so.6\t100755\n' >"$R/var/lib/opkg/info/libc6.list"
cat >"$R/var/lib/opkg/status" <<'EOF'
Package: base-files
Version: 3.0.14-r0
Status: install user installed
Architecture: qemux86_64

Package: busybox
Version: 1.36.1-r0
Depends: libc6 (>= 2.39), update-alternatives-opkg | busybox-virtual
Status: install user installed
Architecture: core2-64

Package: libc6
Version: 2.39+git0+abc-r0
Provides: libc6-virtual
Status: install ok installed
Architecture: core2-64

Package: stale
Version: 1.0-r0
Status: deinstall ok config-files
Architecture: core2-64
EOF
cat >"$W/do_rootfs.sh" <<'EOF'
set -e
cd "$1"
chown 1234:5678 srv/app srv/app/data
chmod 0750 srv/app
chmod 0640 srv/app/data
chown 1000:1000 home/app
chmod 0700 home/app
chmod 4755 bin/suidbox
setcap cap_net_raw+ep capbin/busybox
mknod devnodes/nullish c 1 3
chmod 0666 devnodes/nullish
# reproducible_final_image_task
find . -exec touch -h -d "@$2" {} +
EOF
run pseudo_ "$STATE" sh "$W/do_rootfs.sh" "$R" "$EPOCH_ROOTFS"
assert_eq 0 "$RC" "the rootfs metadata was set under pseudo" ; [ "$RC" -eq 0 ] || say "$ERR"
# pseudo applies chmod for real: take the setuid bit off the real file, so that
# it too exists only in pseudo's database.
chmod 0755 "$R/bin/suidbox"
touch -h -d "@$EPOCH_ROOTFS" "$R/bin/suidbox"

assert_eq "0:0 750|0:0 640|0:0 700|0:0 755|regular empty file" \
  "$(stat -c '%u:%g %a' "$R/srv/app" "$R/srv/app/data" "$R/home/app" "$R/bin/suidbox" | tr '\n' '|')$(stat -c %F "$R/devnodes/nullish")" \
  "on disk: owners 0:0, no setuid bit, the device is a plain file"
assert_eq "" "$(getcap "$R/capbin/busybox")" "on disk: no file capability"
view=$(pseudo_ "$STATE" sh -c 'cd "$1" && stat -c "%u:%g %a" srv/app srv/app/data home/app bin/suidbox | tr "\n" "|"; stat -c "%F %t:%T" devnodes/nullish; getcap capbin/busybox' sh "$R")
assert_match '^1234:5678 750\|1234:5678 640\|1000:1000 700\|0:0 4755\|character special file 1:3' "$view" \
  "inside pseudo: the owners, the setuid bit and the device"
assert_match 'cap_net_raw[+=]ep' "$view" "inside pseudo: the file capability"

say "ROOTFS_POSTPROCESS_COMMAND kiln_oe_save_pkgdb, then OE deletes the package database"
KI=(--conf "$LAYER/conf/layer.conf" --classpath "$LAYER/classes" --class kiln-image.bbclass)
run bbx "${KI[@]}" --set IMAGE_ROOTFS="$R" --set WORKDIR="$W" --set OCI_LAYER_MODE=multi \
  --set 'OCI_LAYERS=base:packages:base-files' --get ROOTFS_POSTPROCESS_COMMAND --get 'do_rootfs[depends]'
assert_contains "kiln_oe_save_pkgdb" "$OUT" "kiln-oe.bbclass adds kiln_oe_save_pkgdb to ROOTFS_POSTPROCESS_COMMAND"
bbx "${KI[@]}" --set IMAGE_ROOTFS="$R" --set WORKDIR="$W" --set OCI_LAYER_MODE=multi \
  --set 'OCI_LAYERS=base:packages:base-files busybox:packages:busybox' \
  --task kiln_oe_save_pkgdb --cwd "$W" >"$W/run.kiln_oe_save_pkgdb"
run pseudo_ "$STATE" sh "$W/run.kiln_oe_save_pkgdb"
assert_eq 0 "$RC" "kiln_oe_save_pkgdb ran" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
assert_file_exists "$W/kiln-oe/pkgdb/var/lib/opkg/info/busybox.list" "the opkg lists are kept in KILN_OE_PKGDB"
rm -rf "$R/var/lib/opkg"   # remove_packaging_data (no "package-management")
pseudo_ "$STATE" "$PY" "$LIB_DIR/treeinfo.py" tree "$R" --mtime >"$T/rootfs-before.m"

# ============================================================ helpers
# The datastore of the image recipe (what bitbake.conf, image.bbclass and
# image-artifact-names.bbclass give it; since oe-core 4.3 IMAGE_NAME and
# IMAGE_LINK_NAME include IMAGE_NAME_SUFFIX). Each build writes into its own
# IMGDEPLOYDIR and KILN_OE_WORKDIR under $1, so that builds can be compared.
recipe_vars() {
  local wd=$1
  printf '%s\n' --set "IMAGE_ROOTFS=$R" --set "WORKDIR=$W" --set "IMGDEPLOYDIR=$wd/deploy-image" \
    --set "KILN_OE_WORKDIR=$wd/kiln-oe" \
    --set "DEPLOY_DIR_IMAGE=$DEPLOY" --set "TOPDIR=$T/topdir" --set "PN=app-image" \
    --set "IMAGE_BASENAME=app-image" --set "IMAGE_NAME=app-image-qemux86-64.rootfs-20260101000000" \
    --set "IMAGE_NAME_SUFFIX=.rootfs" --set "IMAGE_LINK_NAME=app-image-qemux86-64.rootfs" \
    --set "TARGET_ARCH=x86_64" --set "TUNE_FEATURES=m64 core2" \
    --set "REPRODUCIBLE_TIMESTAMP_ROOTFS=$EPOCH_ROOTFS" --set "SOURCE_DATE_EPOCH=$EPOCH_SDE" \
    --export SOURCE_DATE_EPOCH
}
# image_task WORKDIR TASK BODYVAR ARGS...: expands TASK (like BitBake) into
# WORKDIR/run.TASK and runs it under pseudo with the rootfs's database.
image_task() {
  local wd=$1 task=$2 body=$3; shift 3
  mkdir -p "$wd/deploy-image"
  local -a rv
  mapfile -t rv < <(recipe_vars "$wd")
  if ! bbx "${rv[@]}" "$@" --task "$task" --body "$body" --cwd "$wd/deploy-image" >"$wd/run.$task" 2>"$wd/bbx.err"; then
    RC=1 OUT='' ERR=$(cat "$wd/bbx.err"); return 0
  fi
  run pseudo_ "$STATE" sh "$wd/run.$task"
}
# docker_checks IMAGE NAME: the pseudo-only metadata, seen from inside containers.
docker_checks() {
  local img=$1 name=$2
  run docker_ run --rm --network none --user 0:0 --entrypoint /bin/busybox "$img" \
    stat -c '%u:%g %a' /srv/app /srv/app/data /home/app /bin/suidbox
  assert_eq $'1234:5678 750\n1234:5678 640\n1000:1000 700\n0:0 4755' "$OUT" "$name: owners, modes and the setuid bit, from inside the container"
  run docker_ run --rm --network none --user 0:0 --entrypoint /bin/busybox "$img" stat -c '%F %t:%T %a' /devnodes/nullish
  assert_eq "character special file 1:3 666" "$OUT" "$name: the device node"
  run docker_ run --rm --network none --user 1000:1000 --entrypoint /capbin/busybox "$img" grep -E '^Cap(Prm|Eff):' /proc/self/status
  assert_eq $'CapPrm:\t0000000000002000\nCapEff:\t0000000000002000' "$OUT" "$name: uid 1000 gets CAP_NET_RAW from the file capability"
  run docker_ run --rm --network none --user 1000:1000 --entrypoint /bin/busybox "$img" grep -E '^CapEff:' /proc/self/status
  assert_eq $'CapEff:\t0000000000000000' "$OUT" "$name: control: plain busybox as uid 1000 has none"
}
digest_of_layout() { jq -r '.manifests[0].digest' "$1/index.json"; }

start_dockerd

# ============================================================ image-oci backend
say "meta-virtualization's image-oci with OCI_IMAGE_BACKEND = kiln: do_image_oci"
# image-oci's layout name, ${IMAGE_NAME}${IMAGE_NAME_SUFFIX}-oci: .rootfs twice, as meta-virtualization writes it
NAME="app-image-qemux86-64.rootfs-20260101000000.rootfs"
DA="app-image-qemux86-64.rootfs-20260101000000.docker-archive"   # ${IMAGE_NAME}.docker-archive
COMPAT=(--conf "$LAYER/conf/layer.conf" --set OCI_IMAGE_BACKEND=kiln
  --set OCI_IMAGE_TAG=1.0
  --set "OCI_IMAGE_CMD=/bin/sh -c 'echo \"home=\$HOME user=\$(id -u) mode=\$APP_MODE\"'"
  --set "OCI_IMAGE_ENV_VARS=APP_MODE=prod PATH=/bin"
  --set "OCI_IMAGE_LABELS=org.example.team=edge version=1.0"
  --set "OCI_IMAGE_PORTS=8080 53/udp"
  --set OCI_IMAGE_WORKINGDIR=/srv --set OCI_IMAGE_STOPSIGNAL=SIGINT
  --set OCI_IMAGE_RUNTIME_UID=1000 --set OCI_IMAGE_AUTHOR_EMAIL=dev@example.com
  --set OCI_IMAGE_REVISION=abc1234 --set OCI_IMAGE_BRANCH=main
  "${IMGOCI[@]}")
W1=$W/compat1
image_task "$W1" do_image_oci IMAGE_CMD:oci "${COMPAT[@]}"
assert_eq 0 "$RC" "do_image_oci (kiln backend) succeeded under pseudo"
[ "$RC" -eq 0 ] || { printf '%s\n%s\n' "$OUT" "$ERR" | sed 's/^/#   /'; fail "do_image_oci failed"; }
D1=$W1/deploy-image
assert_file_exists "$D1/$NAME-oci/index.json" "the layout ${NAME}-oci"
assert_eq "$NAME-oci" "$(readlink "$D1/app-image-1.0-oci")" "symlink app-image-1.0-oci"
assert_eq "$NAME-oci.tar" "$(readlink "$D1/app-image-1.0-oci.tar")" "symlink app-image-1.0-oci.tar"
assert_eq "$NAME-oci-dir.tar" "$(readlink "$D1/app-image-1.0-oci-dir.tar")" "symlink app-image-1.0-oci-dir.tar"
assert_eq "1.0" "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$D1/$NAME-oci/index.json")" \
  "index.json manifests[0] carries org.opencontainers.image.ref.name = OCI_IMAGE_TAG"
assert_eq "1" "$(jq '.manifests | length' "$D1/$NAME-oci/index.json")" "the layout holds one image"
check "the layout's blobs hash to their names" verify_layout_blobs "$D1/$NAME-oci"
assert_contains "$NAME-oci/index.json" "$(tar -tf "$D1/$NAME-oci-dir.tar")" "-oci-dir.tar holds the layout directory"
assert_match '(^|\n)(\./)?index.json' "$(tar -tf "$D1/$NAME-oci.tar")" "-oci.tar holds the layout at its root"
run skopeo inspect --raw "oci-archive:$D1/$NAME-oci.tar:1.0"
assert_eq "$(cat "$(blob "$D1/$NAME-oci" "$(digest_of_layout "$D1/$NAME-oci")")")" "$OUT" "skopeo reads the same image from -oci.tar"
DIG1=$(digest_of_layout "$D1/$NAME-oci")

cfg=$(layout_config "$D1/$NAME-oci")
assert_eq '["/bin/sh","-c","echo \"home=$HOME user=$(id -u) mode=$APP_MODE\""]' "$(jq -c .config.Cmd <<<"$cfg")" "Cmd: OCI_IMAGE_CMD split as a shell would, quotes and \$ intact"
assert_eq 'null' "$(jq -c .config.Entrypoint <<<"$cfg")" "no Entrypoint (OCI_IMAGE_ENTRYPOINT empty)"
assert_eq '["APP_MODE=prod","PATH=/bin"]' "$(jq -c .config.Env <<<"$cfg")" "Env from OCI_IMAGE_ENV_VARS"
assert_eq '["53/udp","8080/tcp"]' "$(jq -c '.config.ExposedPorts | keys' <<<"$cfg")" "ExposedPorts from OCI_IMAGE_PORTS"
assert_eq '1000|/srv|SIGINT|dev@example.com|amd64|linux' \
  "$(jq -r '[.config.User, .config.WorkingDir, .config.StopSignal, .author, .architecture, .os] | join("|")' <<<"$cfg")" \
  "User, WorkingDir, StopSignal, author, platform"
assert_eq '{"org.example.team":"edge","org.opencontainers.image.created":"2018-03-09T12:34:56Z","org.opencontainers.image.ref.name":"main","org.opencontainers.image.revision":"abc1234","version":"1.0"}' \
  "$(jq -cS .config.Labels <<<"$cfg")" "Labels: OCI_IMAGE_LABELS and the auto labels (created from REPRODUCIBLE_TIMESTAMP_ROOTFS)"
assert_eq "2018-03-09T12:34:56Z" "$(jq -r .created <<<"$cfg")" "created = REPRODUCIBLE_TIMESTAMP_ROOTFS, not the clock"
lay=$(blob "$D1/$NAME-oci" "$(layout_manifest "$D1/$NAME-oci" | jq -r '.layers[0].digest')")
assert_eq "mtime=$EPOCH_ROOTFS" "$(layer_manifest "$lay" --mtime | sed 's/.* | //' | sort -u | xargs)" \
  "file times in the layer are the rootfs's (not clamped to SOURCE_DATE_EPOCH)"

say "a second do_image_oci gives the same bytes"
W2=$W/compat2
image_task "$W2" do_image_oci IMAGE_CMD:oci "${COMPAT[@]}"
assert_eq 0 "$RC" "second do_image_oci succeeded"
D2=$W2/deploy-image
assert_eq "$DIG1" "$(digest_of_layout "$D2/$NAME-oci" 2>/dev/null)" "same manifest digest"
assert_same_file "$D1/$NAME-oci/index.json" "$D2/$NAME-oci/index.json" "same index.json"
assert_same_file "$D1/$NAME-oci.tar" "$D2/$NAME-oci.tar" "same -oci.tar"
assert_same_file "$D1/$NAME-oci-dir.tar" "$D2/$NAME-oci-dir.tar" "same -oci-dir.tar"

say "the image in docker (skopeo converts the layout to a docker-archive)"
run skopeo copy "oci:$D1/$NAME-oci:1.0" "docker-archive:$T/compat.tar:app-image:1.0"
assert_eq 0 "$RC" "skopeo reads the layout" ; [ "$RC" -eq 0 ] || say "$ERR"
run docker_ load -i "$T/compat.tar"
assert_eq 0 "$RC" "docker load" ; [ "$RC" -eq 0 ] || say "$ERR"
docker_checks app-image:1.0 "image-oci backend"
run docker_ run --rm --network none app-image:1.0
assert_eq "home=/home/app user=1000 mode=prod" "$OUT" "the default command runs as OCI_IMAGE_RUNTIME_UID with OCI_IMAGE_ENV_VARS"

# ============================================================ kiln-image.bbclass
say "kiln-image.bbclass: image types oci and docker-archive"
KIMG=("${KI[@]}" --set "OCI_IMAGE_ENTRYPOINT=/bin/echo" --set "OCI_IMAGE_CMD=\"two  words\" '\$NOT_EXPANDED' \\\"q\\\"")
W3=$W/kimage1
image_task "$W3" do_image_oci IMAGE_CMD:oci "${KIMG[@]}"
assert_eq 0 "$RC" "do_image_oci (kiln-image) succeeded" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
image_task "$W3" do_image_docker_archive IMAGE_CMD:docker-archive "${KIMG[@]}"
assert_eq 0 "$RC" "do_image_docker_archive (kiln-image) succeeded" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
D3=$W3/deploy-image
assert_file_exists "$D3/$NAME-oci/index.json" "oci: the layout"
assert_eq "$NAME-oci $NAME-oci" "$(readlink "$D3/app-image-latest-oci") $(readlink "$D3/app-image-qemux86-64.rootfs-oci")" \
  "oci: symlinks <basename>-<tag>-oci and IMAGE_LINK_NAME-oci"
assert_not_exists "$D3/$NAME-oci.tar" "oci: no tars unless OCI_IMAGE_TAR_OUTPUT"
assert_file_exists "$D3/$DA" "docker-archive: \${IMAGE_NAME}.docker-archive, the name image.bbclass's create_symlinks links IMAGE_LINK_NAME.docker-archive to"
cfg_digest=$(layout_manifest "$D3/$NAME-oci" | jq -r .config.digest)
assert_eq "$cfg_digest" "sha256:$(tar -xOf "$D3/$DA" manifest.json | jq -r '.[0].Config' | sed 's/\.json$//; s,.*/,,')" \
  "the docker-archive holds the same image (same config digest)"
run docker_ load -i "$D3/$DA"
assert_contains "app-image:latest" "$OUT" "docker load: RepoTags app-image:latest (KILN_DOCKER_TAGS)"
docker_checks app-image:latest "kiln-image docker-archive"
run docker_ run --rm --network none app-image:latest
assert_eq 'two  words $NOT_EXPANDED "q"' "$OUT" "OCI_IMAGE_ENTRYPOINT + OCI_IMAGE_CMD reach the container verbatim"
arch_of() { bbx "${KI[@]}" --set "TARGET_ARCH=$1" --set "TUNE_FEATURES=$2" --get OCI_IMAGE_ARCH --get OCI_IMAGE_SUBARCH | xargs | tr ' ' /; }
assert_eq "amd64 arm64 386 arm/v7 arm/v5 riscv64" \
  "$(arch_of x86_64 'm64 core2') $(arch_of aarch64 'aarch64 armv8a') $(arch_of i686 'm32 core2') $(arch_of arm 'arm armv7ve neon') $(arch_of arm 'arm armv5te') $(arch_of riscv64 'rv 64 i m a f d')" \
  "kiln-image: OCI_IMAGE_ARCH/SUBARCH from TARGET_ARCH and TUNE_FEATURES (GOARCH names)"
if command -v git >/dev/null 2>&1; then
  git init -q -b feature-x "$T/gittop"
  git -C "$T/gittop" -c user.name=t -c user.email=t@example.com commit -q --allow-empty -m build
  git_rev=$(git -C "$T/gittop" rev-parse --short HEAD)
  W8=$W/kimage-sde
  image_task "$W8" do_image_oci IMAGE_CMD:oci "${KI[@]}" --set REPRODUCIBLE_TIMESTAMP_ROOTFS= --set "TOPDIR=$T/gittop"
  assert_eq 0 "$RC" "kiln-image with REPRODUCIBLE_TIMESTAMP_ROOTFS empty" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
  cfg=$(layout_config "$W8/deploy-image/$NAME-oci" 2>/dev/null)
  assert_eq "2011-04-05T23:00:00Z" "$(jq -r .created <<<"$cfg")" "... created comes from the exported SOURCE_DATE_EPOCH"
  assert_eq "$git_rev|feature-x" "$(jq -r '.config.Labels | "\(.["org.opencontainers.image.revision"])|\(.["org.opencontainers.image.ref.name"])"' <<<"$cfg")" \
    "OCI_IMAGE_AUTO_LABELS: revision and branch of the git checkout at TOPDIR"
fi
W4=$W/kimage2
image_task "$W4" do_image_docker_archive IMAGE_CMD:docker-archive "${KIMG[@]}"
assert_same_file "$D3/$DA" "$W4/deploy-image/$DA" "a second docker-archive build is byte-identical"

# ============================================================ base image
say "OCI_BASE_IMAGE: a base image recipe deployed before, then an image on top"
mkdir -p "$T/base-rootfs/etc"
echo "from the base" >"$T/base-rootfs/etc/base-release"
mkdir -p "$DEPLOY/base"
"$KILN" build --rootfs "$T/base-rootfs" --env BASE=1 --source-date-epoch 1 -o "oci:$DEPLOY/base-image-qemux86-64.rootfs-oci:latest" >/dev/null
ln -sfn base-image-qemux86-64.rootfs-oci "$DEPLOY/base-image-latest-oci"
W5=$W/onbase
image_task "$W5" do_image_oci IMAGE_CMD:oci "${COMPAT[@]}" --set OCI_BASE_IMAGE=base-image --set _OCI_BASE_RECIPE=base-image
assert_eq 0 "$RC" "do_image_oci with _OCI_BASE_RECIPE (as image-oci resolves it)" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
base_layer=$(layout_manifest "$DEPLOY/base-image-latest-oci" | jq -r '.layers[0].digest')
assert_eq "2 $base_layer" "$(layout_manifest "$W5/deploy-image/$NAME-oci" 2>/dev/null | jq -r '"\(.layers | length) \(.layers[0].digest)"')" \
  "the base image's layer comes first, unchanged"
assert_eq '["BASE=1","APP_MODE=prod","PATH=/bin"]' "$(layout_config "$W5/deploy-image/$NAME-oci" 2>/dev/null | jq -c .config.Env)" "Env: the base's, then the recipe's"
W6=$W/onbase2
image_task "$W6" do_image_docker_archive IMAGE_CMD:docker-archive "${KI[@]}" --set OCI_BASE_IMAGE=base-image
assert_eq 0 "$RC" "kiln-image resolves OCI_BASE_IMAGE = recipe name itself" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
assert_eq 2 "$(tar -xOf "$W6/deploy-image/$DA" manifest.json 2>/dev/null | jq '.[0].Layers | length')" "... its docker-archive has the base layer and the rootfs"
image_task "$W6" do_image_oci IMAGE_CMD:oci "${KI[@]}" --set OCI_BASE_IMAGE=registry.example.com/base:1
assert_ne 0 "$RC" "a registry reference as OCI_BASE_IMAGE is refused (image tasks have no network)"
assert_contains "no network" "$OUT$ERR" "... with a message saying why"

# ============================================================ multi-layer
say "OCI_LAYER_MODE = multi: the layer map kiln-oe writes for OCI_LAYERS"
mkdir -p "$T/hostfiles"
echo "-----BEGIN CERTIFICATE-----" >"$T/hostfiles/my-ca.crt"
echo "host config" >"$T/hostfiles/app.conf"
LAYERS="base:packages:base-files busybox:packages:busybox tools:directories:/opt/tool+/usr/share/doc config:files:/etc/app.conf certs:host:$T/hostfiles/my-ca.crt:/etc/ssl/certs/+$T/hostfiles/app.conf:/etc/app/host.conf"
mapvars() {
  printf '%s\n' "IMAGE_ROOTFS=$R" "OCI_LAYERS=$LAYERS" "KILN_OE_PKGDB=$W/kiln-oe/pkgdb"
}
run pseudo_ "$STATE" sh -c 'mapvars=$1; shift; printf "%s\n" "$mapvars" | "$@"' sh "$(mapvars)" "$KILN_OE" layer-map "$W/map-test"
assert_eq 0 "$RC" "kiln-oe layer-map" ; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq "[base]
@$W/map-test/base.paths
[busybox]
@$W/map-test/busybox.paths
[tools]
/opt/tool
/usr/share/doc
[config]
/etc/app.conf" "$OUT" "the map: one section per rootfs layer, in OCI_LAYERS order"
assert_eq "/etc/group
/etc/passwd
/home/app" "$(cat "$W/map-test/base.paths" 2>/dev/null)" "packages layer: the package's files from the saved opkg lists (tab fields cut, /etc left out: it has other files)"
assert_contains "/bin/sh" "$(cat "$W/map-test/busybox.paths" 2>/dev/null)" "packages layer: symlinks are kept"
assert_contains "/lib/libc.so.6" "$(cat "$W/map-test/busybox.paths" 2>/dev/null)" "packages layer: with the dependencies (libc6) that no earlier layer has"
map_of() { # DIR VAR=VALUE...: kiln-oe layer-map into DIR
  local dir=$1; shift
  run sh -c 'd=$1; shift; printf "%s\n" "$@" | "$0" layer-map "$d"' "$KILN_OE" "$dir" \
    "IMAGE_ROOTFS=$R" "KILN_OE_PKGDB=$W/kiln-oe/pkgdb" "$@"
}
map_of "$T/map-dep" "OCI_LAYERS=c:packages:libc6 b:packages:busybox"
assert_eq "/lib/libc.so.6 | no" "$(cat "$T/map-dep/c.paths" 2>/dev/null) | $(grep -q libc "$T/map-dep/b.paths" 2>/dev/null && echo yes || echo no)" \
  "a dependency an earlier layer has stays in that layer"
map_of "$T/map-nodep" "OCI_LAYERS=b:packages:busybox" "KILN_LAYER_PACKAGE_DEPENDS=0"
assert_eq "no" "$(grep -q libc "$T/map-nodep/b.paths" 2>/dev/null && echo yes || echo no)" \
  "KILN_LAYER_PACKAGE_DEPENDS = 0: only the packages named"
assert_eq "$W/map-test/host-5-certs" "$(cat "$W/map-test/host-roots" 2>/dev/null)" "host layer: its own staging tree, in WORKDIR"
assert_eq "0:0 host config" "$(pseudo_ "$STATE" sh -c 'stat -c "%u:%g" "$1/etc/app/host.conf" | tr "\n" " "; cat "$1/etc/app/host.conf"' sh "$W/map-test/host-5-certs")" \
  "host layer: SOURCE:DEST copied, owned by root"
assert_file_exists "$W/map-test/host-5-certs/etc/ssl/certs/my-ca.crt" "host layer: a DEST ending in / takes the source's name"
DR=$T/dpkg-rootfs
mkdir -p "$DR/usr/bin" "$DR/usr/lib" "$DR/var/lib/dpkg/info" "$DR/etc/foo.d"
echo foo >"$DR/usr/bin/foo"; echo lib >"$DR/usr/lib/libbar.so.1"
printf '/.\n/usr\n/usr/bin\n/usr/bin/foo\n/etc\n/etc/foo.d\n' >"$DR/var/lib/dpkg/info/foo:amd64.list"
printf '/.\n/usr\n/usr/lib\n/usr/lib/libbar.so.1\n' >"$DR/var/lib/dpkg/info/libbar1.list"
printf 'Package: foo\nStatus: install ok installed\nArchitecture: amd64\nDepends: libbar1 (>= 1.0) | libbaz, libc6:any\n\nPackage: libbar1\nStatus: install ok installed\nArchitecture: amd64\n' \
  >"$DR/var/lib/dpkg/status"
run sh -c 'printf "%s\n" "IMAGE_ROOTFS=$1" "OCI_LAYERS=f:packages:foo" | "$0" layer-map "$2"' "$KILN_OE" "$DR" "$T/dpkg-map"
assert_eq "/etc/foo.d|/usr/bin/foo|/usr/lib/libbar.so.1|" "$(tr '\n' '|' <"$T/dpkg-map/f.paths" 2>/dev/null)" \
  "dpkg: <pkg>:<arch>.list and the dependency's list; shared directories left out, empty ones kept"
layer_map_err() { # EXPECTED-TEXT MSG VARS...
  local want=$1 msg=$2; shift 2
  run sh -c 'd=$1; shift; printf "%s\n" "$@" | "$0" layer-map "$d"' "$KILN_OE" "$T/errmap" "IMAGE_ROOTFS=$R" "KILN_OE_PKGDB=$W/kiln-oe/pkgdb" "$@"
  if [ "$RC" -ne 0 ]; then assert_contains "$want" "$ERR" "$msg"; else not_ok "$msg" "kiln-oe layer-map succeeded: $OUT"; fi
}
layer_map_err "needs OCI_LAYERS" "multi without OCI_LAYERS: a clear error" "OCI_LAYERS="
layer_map_err "the package 'nosuch' is not installed" "a package that is not installed: a clear error" "OCI_LAYERS=x:packages:nosuch"
layer_map_err "unknown layer type 'blobs'" "an unknown layer type: a clear error" "OCI_LAYERS=x:blobs:/a"
layer_map_err "used twice" "a layer name used twice: a clear error" "OCI_LAYERS=a:files:/etc/app.conf a:files:/etc/group"
mkdir -p "$T/rpmroot/var/lib/rpm"
run sh -c 'printf "%s\n" "IMAGE_ROOTFS=$1" "OCI_LAYERS=x:packages:foo" | PATH=/nonexistent:/usr/bin:/bin "$0" layer-map "$2"' \
  "$KILN_OE" "$T/rpmroot" "$T/rpmmap"
if command -v rpm >/dev/null 2>&1; then
  assert_ne 0 "$RC" "rpm database that rpm cannot read, or without the package: an error"
else
  assert_contains "no rpm command" "$ERR" "an rpm database without an rpm command: a clear error"
fi
run sh -c 'printf "%s\n" "IMAGE_ROOTFS=$1" "OCI_LAYERS=x:packages:foo" | "$0" layer-map "$2"' "$KILN_OE" "$T/base-rootfs" "$T/nodbmap"
assert_contains "package-management" "$ERR" "no package database at all: the error says how OE loses it"

if "$KILN" build --help 2>&1 | grep -q -- '--layer-map'; then
  say "kiln has --layer-map: a multi-layer build"
  W7=$W/multi
  image_task "$W7" do_image_docker_archive IMAGE_CMD:docker-archive "${KI[@]}" --set OCI_LAYER_MODE=multi --set "OCI_LAYERS=$LAYERS"
  assert_eq 0 "$RC" "do_image_docker_archive with OCI_LAYER_MODE = multi" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
  image_task "$W7" do_image_oci IMAGE_CMD:oci "${KI[@]}" --set OCI_LAYER_MODE=multi --set "OCI_LAYERS=$LAYERS"
  assert_eq 0 "$RC" "do_image_oci with OCI_LAYER_MODE = multi" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
  ML=$W7/deploy-image/$NAME-oci
  if [ -f "$ML/index.json" ]; then
    nl=$(layout_manifest "$ML" | jq '.layers | length')
    assert_eq 6 "$nl" "six layers: base, busybox, tools, config, the rest, certs (host, on top)"
    i=0
    for want in "etc/passwd" "bin/busybox" "opt/tool/sub/b" "etc/app.conf" "srv/app/data" "etc/ssl/certs/my-ca.crt"; do
      lb=$(blob "$ML" "$(layout_manifest "$ML" | jq -r ".layers[$i].digest")")
      assert_match "(^|[[:space:]])$want([[:space:]]|$)" "$(decompress "$lb" | tar -tf - | tr '\n' ' ')" "layer $i holds $want"
      i=$((i + 1))
    done
    lb=$(blob "$ML" "$(layout_manifest "$ML" | jq -r '.layers[0].digest')")
    assert_eq "" "$(decompress "$lb" | tar -tf - | grep -E '^(bin/busybox|srv/)' || true)" "the base layer has no busybox and no /srv"
  fi
  run docker_ load -i "$W7/deploy-image/$DA"
  docker_checks app-image:latest "multi-layer docker-archive"
  image_task "$W/multi2" do_image_oci IMAGE_CMD:oci "${KI[@]}" --set OCI_LAYER_MODE=multi --set "OCI_LAYERS=$LAYERS"
  assert_eq "$(digest_of_layout "$ML" 2>/dev/null)" "$(digest_of_layout "$W/multi2/deploy-image/$NAME-oci" 2>/dev/null)" "multi-layer: a second build has the same digest"
else
  say "kiln build has no --layer-map yet: the multi-layer build itself is not run"
  image_task "$W/multi" do_image_oci IMAGE_CMD:oci "${KI[@]}" --set OCI_LAYER_MODE=multi --set "OCI_LAYERS=$LAYERS"
  assert_contains "needs kiln build --layer-map" "$OUT$ERR" "multi mode with a kiln without --layer-map: a clear error"
fi

say "kiln never wrote under IMAGE_ROOTFS"
pseudo_ "$STATE" "$PY" "$LIB_DIR/treeinfo.py" tree "$R" --mtime >"$T/rootfs-after.m"
assert_same_text "$T/rootfs-before.m" "$T/rootfs-after.m" "the rootfs (as pseudo sees it) is unchanged by every image task"

# ============================================================ push
say "do_kiln_push: task flags"
assert_eq "1 1" "$(bbx "${KI[@]}" --get 'do_kiln_push[network]' --get 'do_kiln_push[nostamp]' | xargs)" "do_kiln_push[network] = 1, [nostamp] = 1"
assert_contains "kiln-native:do_populate_sysroot" "$(bbx "${KI[@]}" --get 'do_kiln_push[depends]')" "do_kiln_push depends on kiln-native"

# DEPLOY_DIR_IMAGE as do_image_complete leaves it
cp -a "$D1/." "$DEPLOY/"
# push_task WORKDIR ARGS...: expands do_kiln_push into WORKDIR/run.do_kiln_push and runs it (no pseudo).
push_task() {
  local wd=$1; shift
  mkdir -p "$wd"
  local -a rv
  mapfile -t rv < <(recipe_vars "$wd")
  bbx "${rv[@]}" "${COMPAT[@]}" "$@" --task do_kiln_push --cwd "$wd" >"$wd/run.do_kiln_push" || fail "expanding do_kiln_push"
  run sh "$wd/run.do_kiln_push"
}
SECRET_USER=kiltest-user
SECRET_PASS="s3cret-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
authfile() { # FILE HOST USER PASS
  printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$2" "$(printf '%s:%s' "$3" "$4" | base64 -w0)" >"$1"
  chmod 600 "$1"
}
no_secret() { # TEXT MSG
  local b64
  b64=$(printf '%s:%s' "$SECRET_USER" "$SECRET_PASS" | base64 -w0)
  case $1 in
    *"$SECRET_PASS"* | *"$b64"*) not_ok "$2" "a credential appears in the output" ;;
    *) ok "$2" ;;
  esac
}

start_registry plain
authfile "$T/auth-plain.json" "$REG" "$SECRET_USER" "$SECRET_PASS"
push_task "$T/push1" --set "KILN_PUSH_REFS=$REG/oe/app-image:1.0 docker://$REG/oe/app-image:latest" \
  --set "KILN_PUSH_AUTHFILE=$T/auth-plain.json" --set "KILN_PUSH_EXTRA_ARGS=--debug"
assert_eq 0 "$RC" "do_kiln_push to a plain registry" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
assert_eq "200 200" "$(reg_manifest_status oe/app-image 1.0) $(reg_manifest_status oe/app-image latest)" "both references are in the registry"
assert_contains "($DIG1)" "$ERR" "the task prints the pushed digest (the layout's)"
run skopeo inspect --raw --tls-verify=false "docker://$REG/oe/app-image:1.0"
assert_eq "$DIG1" "$(printf '%s' "$OUT" | sha256sum | sed 's/ .*//; s/^/sha256:/')" "skopeo pulls the same manifest"
no_secret "$(cat "$T/push1/run.do_kiln_push") $OUT $ERR" "no credential in the task's output or run file (--debug on)"
mkdir -p "$T/deploy-da"
cp "$D3/$DA" "$T/deploy-da/"
ln -s "$DA" "$T/deploy-da/app-image-qemux86-64.rootfs.docker-archive"   # create_symlinks
push_task "$T/push-da" --set "DEPLOY_DIR_IMAGE=$T/deploy-da" --set "KILN_PUSH_REFS=$REG/oe/from-archive:1"
assert_eq "0 200" "$RC $(reg_manifest_status oe/from-archive 1)" "kiln-image with only docker-archive: do_kiln_push pushes IMAGE_LINK_NAME.docker-archive"

start_registry basic-http
SECRET_USER=$REG_USER SECRET_PASS=$REG_PASS
authfile "$T/auth-basic.json" "$REG" "$REG_USER" "$REG_PASS"
push_task "$T/push2" --set "KILN_PUSH_REFS=$REG/oe/app-image:1.0" --set "KILN_PUSH_AUTHFILE=$T/auth-basic.json" \
  --set "KILN_PUSH_EXTRA_ARGS=--debug"
assert_eq 0 "$RC" "do_kiln_push to a registry with Basic auth, credentials from KILN_PUSH_AUTHFILE" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
assert_eq 200 "$(reg_manifest_status oe/app-image 1.0)" "the image is in the authenticated registry"
no_secret "$(cat "$T/push2/run.do_kiln_push") $OUT $ERR" "no credential in the output (authenticated push, --debug on)"
push_task "$T/push3" --set "KILN_PUSH_REFS=$REG/oe/other:1.0"
assert_ne 0 "$RC" "without the auth file the push is refused"
no_secret "$OUT $ERR" "no credential in the output of a refused push"
push_task "$T/push4" --set "KILN_PUSH_REFS=$REG_USER:$REG_PASS@$REG/oe/app-image:1.0"
assert_ne 0 "$RC" "a reference with user:password@ is refused"
assert_contains "KILN_PUSH_AUTHFILE" "$ERR" "... pointing at KILN_PUSH_AUTHFILE"
no_secret "$OUT $ERR" "... without printing the password"
push_task "$T/push5" --set "KILN_PUSH_REFS="
assert_contains "KILN_PUSH_REFS is empty" "$ERR" "empty KILN_PUSH_REFS: a clear error"

start_registry tls
push_task "$T/push6" --set "KILN_PUSH_REFS=$REG/oe/app-image:1.0"
assert_ne 0 "$RC" "TLS registry with a private CA: refused without it"
push_task "$T/push7" --set "KILN_PUSH_REFS=$REG/oe/app-image:1.0" --set "KILN_PUSH_CA_FILE=$REG_CA"
assert_eq 0 "$RC" "... pushed with KILN_PUSH_CA_FILE" ; [ "$RC" -eq 0 ] || say "$ERR"
push_task "$T/push8" --set "KILN_PUSH_REFS=$REG/oe/app-image:2.0" --set "KILN_PUSH_TLS_VERIFY=0"
assert_eq 0 "$RC" "... pushed with KILN_PUSH_TLS_VERIFY = 0" ; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq "200 200" "$(reg_manifest_status oe/app-image 1.0) $(reg_manifest_status oe/app-image 2.0)" "both tags are in the TLS registry"
