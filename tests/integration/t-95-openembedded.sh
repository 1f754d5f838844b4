#!/usr/bin/env bash
# shellcheck disable=SC2016  # single-quoted $ is meant literally throughout
# meta-kiln, the OpenEmbedded layer in contrib/openembedded/meta-kiln, under
# the real BitBake: oe-core, meta-openembedded and meta-virtualization (master
# and scarthgap), from ../shared/oe/*.tar.zst on CI, or the checkouts named by
# KILN_OE_DIR (master) and KILN_OE_SCARTHGAP_DIR.
#
# Three configurations are parsed: master with oe-core + meta-oe, master with
# meta-virtualization (and the meta-oe layers it needs), scarthgap with
# meta-virtualization; each with meta-kiln and the test layer oe/meta-kiln-test
# (its image recipes). Their build directories, and so BitBake's parse caches,
# stay under ${KILN_TEST_CACHE:-/var/cache/kiln-tests}/oe (as the Debian tree
# of other tests does): a first parse takes minutes, a warm one seconds.
# BitBake refuses root: it runs as the user oe (scripts/install-deps.sh).
#
# Checked: the layer parses without errors; bitbake -g resolves the image
# tasks and do_kiln_push; kiln-native's do_fetch and do_unpack run for real
# from the git checkout the layer sits in; a bbappend that sets
# OCI_IMAGE_BACKEND too late stops the parse. oe/bbtask.py asks BitBake
# (tinfoil) for variables and task flags and for the run scripts of the image
# and push tasks, which run here (as BitBake would run them, the image tasks
# under pseudo) on a rootfs whose owners, setuid bit, device node and file
# capability exist only in pseudo's database. The images are loaded into
# docker and checked from inside containers; a second build must give the same
# bytes; the push task pushes to local registries with an auth file and must
# print no credential.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln
need pseudo setcap getcap python3 jq dash tar skopeo base64 runuser zstd git flock sha256sum

LAYER=$KILN_SOURCE_DIR/contrib/openembedded/meta-kiln
OE=$LIB_DIR/oe
TESTLAYER=$OE/meta-kiln-test
KILN_OE=$LAYER/recipes-devtools/kiln/files/kiln-oe
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
EPOCH_ROOTFS=1520598896   # REPRODUCIBLE_TIMESTAMP_ROOTFS (checked below)
BB=$(payload_bin)
[ "$BB" = /bin/busybox ] || fail "a static /bin/busybox is needed for the containers (busybox-static)"

# ============================================================ BitBake and the layers
# A missing piece is a failure on CI (CI=true) and a skip elsewhere.
missing_oe() {
  if [ "${CI:-}" = true ]; then fail "$1"; fi
  skip_all "$1"
}
id -u oe >/dev/null 2>&1 || missing_oe "no user oe to run BitBake as (BitBake refuses root): run scripts/install-deps.sh"
locale -a 2>/dev/null | grep -qx 'en_US\.utf8' || missing_oe "no en_US.UTF-8 locale (oe-core's sanity check wants it): run scripts/install-deps.sh"
CACHE=${KILN_TEST_CACHE:-/var/cache/kiln-tests}/oe
mkdir -p "$CACHE"
chmod 755 "$CACHE" "$(dirname "$CACHE")"
if [ -n "${KILN_OE_DIR:-}" ]; then
  MASTER=$KILN_OE_DIR
  SCARTHGAP=${KILN_OE_SCARTHGAP_DIR:-}
  key=$(printf '%s\n' "$MASTER" "$SCARTHGAP" | sha256sum | cut -c1-12)
else
  # the workplace's shared/oe beside the checkout (../shared/oe), or further up
  # (a worktree or a clone one level deeper), or where this workplace keeps it
  TARBALLS=${KILN_OE_TARBALLS:-}
  if [ -z "$TARBALLS" ]; then
    for c in "$KILN_SOURCE_DIR/../shared/oe" "$KILN_SOURCE_DIR/../../shared/oe" /work/shared/oe; do
      if [ -f "$c/SHA256SUMS" ]; then TARBALLS=$c; break; fi
    done
    TARBALLS=${TARBALLS:-$KILN_SOURCE_DIR/../shared/oe}
  fi
  [ -f "$TARBALLS/SHA256SUMS" ] ||
    missing_oe "no BitBake trees: set KILN_OE_DIR to a directory with bitbake, openembedded-core, meta-openembedded and meta-virtualization checkouts (master; KILN_OE_SCARTHGAP_DIR for scarthgap), or KILN_OE_TARBALLS to the *.tar.zst of ../shared/oe (not found: $TARBALLS)"
  key=$(sha256sum <"$TARBALLS/SHA256SUMS" | cut -c1-12)
  MASTER=$CACHE/trees-$key/master
  SCARTHGAP=$CACHE/trees-$key/scarthgap
  (
    flock 9
    if [ ! -f "$CACHE/trees-$key/.complete" ]; then
      say "unpacking the BitBake trees into $CACHE/trees-$key (once)"
      (cd "$TARBALLS" && sha256sum --quiet -c SHA256SUMS) || fail "$TARBALLS/SHA256SUMS does not match the tarballs"
      rm -rf "$CACHE/trees-$key"
      mkdir -p "$MASTER" "$SCARTHGAP"
      for p in bitbake openembedded-core meta-openembedded meta-virtualization; do
        tar -C "$MASTER" -I zstd -xf "$TARBALLS/$p.tar.zst"
        tar -C "$SCARTHGAP" -I zstd -xf "$TARBALLS/$p-scarthgap.tar.zst"
      done
      touch "$CACHE/trees-$key/.complete"
    fi
  ) 9>"$CACHE/.lock" || fail "unpacking the BitBake trees failed"
fi
for p in bitbake openembedded-core meta-openembedded meta-virtualization; do
  [ -d "$MASTER/$p" ] || missing_oe "no $MASTER/$p"
done
if [ -z "$SCARTHGAP" ] || [ ! -d "$SCARTHGAP/bitbake" ]; then
  [ "${CI:-}" = true ] && fail "no scarthgap trees (KILN_OE_SCARTHGAP_DIR)"
  say "no scarthgap trees (KILN_OE_SCARTHGAP_DIR unset): the scarthgap configuration is left out"
  SCARTHGAP=
fi
BUILDS=$CACHE/builds-$key
mkdir -p "$BUILDS"
chown oe: "$BUILDS"
# One run at a time uses these build directories (BitBake locks a build
# directory; a second run waits here instead of failing on that lock).
exec 8>"$BUILDS/.t-95.lock"
if ! flock -n 8; then
  say "another t-95 uses $BUILDS: waiting for it"
  flock -w 3600 8 || fail "$BUILDS stayed locked by another t-95 for an hour"
fi
# BitBake reads the layers as oe.
for d in "$LAYER" "$TESTLAYER" "$OE/bbtask.py"; do
  runuser -u oe -- test -r "$d" || fail "the user oe cannot read $d (BitBake runs as oe)"
done
# Its own HOME for this run: git (kiln_git.bb at parse time, the fetcher) reads
# this checkout, which oe does not own.
OEHOME=$T/oe-home
mkdir -p "$OEHOME"
printf '[safe]\n\tdirectory = *\n' >"$OEHOME/.gitconfig"
chown -R oe: "$OEHOME"
BBT=$T/bb                  # job files, results and run scripts (oe writes them)
mkdir -p "$BBT/scripts"
chown -R oe: "$BBT"

declare -A CFG_TREE=()
# oe_config NAME TREE [EXTRA-CONF] LAYER...: the build directory $BUILDS/NAME,
# made by oe-init-build-env once; its layers (conf/bblayers.conf) and the
# test's settings (conf/auto.conf) are written on every run, the same each time.
oe_config() {
  local name=$1 tree=$2 extra=$3 l; shift 3
  CFG_TREE[$name]=$tree
  local b=$BUILDS/$name
  if [ ! -f "$b/conf/local.conf" ]; then
    runuser -u oe -- bash -c '. "$1/openembedded-core/oe-init-build-env" "$2" >/dev/null' oe "$tree" "$b" ||
      fail "oe-init-build-env $b"
  fi
  {
    echo '# written by t-95'
    echo 'LCONF_VERSION = "7"'
    echo 'BBPATH = "${TOPDIR}"'
    echo 'BBFILES ?= ""'
    # shellcheck disable=SC1003  # a literal backslash
    echo 'BBLAYERS = " \'
    for l in "$tree/openembedded-core/meta" "$@" "$LAYER" "$TESTLAYER"; do echo "  $l \\"; done
    echo '  "'
  } >"$b/conf/bblayers.conf"
  printf '# written by t-95\nMACHINE = "qemux86-64"\n# no network here (the connectivity check is then skipped)\nBB_NO_NETWORK = "1"\n%s\n' \
    "$extra" >"$b/conf/auto.conf"
  chown oe: "$b/conf/bblayers.conf" "$b/conf/auto.conf"
}
# oe_bb NAME CMD...: CMD in build directory NAME as oe, in oe-init-build-env's
# environment. PYTHONHASHSEED=0: BitBake's parse cache key must not depend on
# the order of Python's sets.
oe_bb() {
  local name=$1; shift
  runuser -u oe -- env -i HOME="$OEHOME" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 PYTHONHASHSEED=0 \
    bash -c 'tree=$1 b=$2; shift 2; . "$tree/openembedded-core/oe-init-build-env" "$b" >/dev/null && "$@"' \
    oe_bb "${CFG_TREE[$name]}" "$BUILDS/$name" "$@" </dev/null
}
_oe_stop_servers() {
  local n
  for n in "${!CFG_TREE[@]}"; do oe_bb "$n" bitbake -m >/dev/null 2>&1; done
}
_CLEANUP_HOOKS+=("_oe_stop_servers")

MO=$MASTER/meta-openembedded
oe_config core "$MASTER" "" "$MO/meta-oe"
VIRT_LAYERS=(meta-oe meta-python meta-networking meta-filesystems)
oe_config virt "$MASTER" "" "${VIRT_LAYERS[@]/#/$MO/}" "$MASTER/meta-virtualization"
CONFIGS=(core virt)
if [ -n "$SCARTHGAP" ]; then
  # the backend chosen in local.conf, for every image-oci recipe
  oe_config sg "$SCARTHGAP" 'OCI_IMAGE_BACKEND = "kiln"' "${VIRT_LAYERS[@]/#/$SCARTHGAP/meta-openembedded/}" "$SCARTHGAP/meta-virtualization"
  CONFIGS+=(sg)
fi
declare -A CFG_DESC=([core]="master: oe-core + meta-oe" [virt]="master: meta-virtualization" [sg]="scarthgap: meta-virtualization")

# parse_summary: BitBake's last word on the parse in OUT (the count of recipes
# parsed and cached, or only "Loaded N entries" when all came from the cache).
parse_summary() {
  printf '%s\n' "$OUT" | grep -E 'Parsing of .* complete|Loaded [0-9]+ entries from dependency cache' | tail -n 1 || true
}
say "parsing: ${CONFIGS[*]} (build directories in $BUILDS)"
for c in "${CONFIGS[@]}"; do
  b=$BUILDS/$c
  # BitBake's parse cache key depends on what its code-parser cache
  # (cache/bb_codeparser.dat) holds: a new build directory's first full parse
  # would be keyed differently from every later one. One parse of a single
  # recipe writes that cache first.
  if [ ! -s "$b/cache/bb_codeparser.dat" ]; then
    run oe_bb "$c" env BB_ENV_PASSTHROUGH_ADDITIONS=BBMASK BBMASK='/recipes-(?!core/base-files/)' bitbake -p
    [ "$RC" -eq 0 ] || say "$(printf '%s\n%s' "$OUT" "$ERR" | tail -n 20)"
  fi
  t0=$(date +%s)
  run oe_bb "$c" bitbake -p
  t1=$(date +%s)
  summary=$(parse_summary)
  assert_eq 0 "$RC" "${CFG_DESC[$c]}: bitbake -p succeeds"
  errs=$(printf '%s\n%s\n' "$OUT" "$ERR" | grep -E '^ERROR' | head -n 20 || true)
  assert_eq "" "$errs" "${CFG_DESC[$c]}: the parse reports no errors"
  say "${CFG_DESC[$c]}: parse: $((t1 - t0)) s: $summary"
  printf '%s\n%s\n' "$OUT" "$ERR" | grep '^WARNING' | sed 's/^/#   /' | head -n 10 || true
  t0=$(date +%s)
  run oe_bb "$c" bitbake -p
  t1=$(date +%s)
  summary=$(parse_summary)
  say "${CFG_DESC[$c]}: parse again: $((t1 - t0)) s: $summary"
  assert_match '^Loaded [0-9]+ entries from dependency cache\.$|\(([0-9]+) cached, 0 parsed\)' "$summary" \
    "${CFG_DESC[$c]}: a second parse comes from BitBake's cache"
done

# ============================================================ jobs for BitBake
# job ID RECIPE [--set VAR=VALUE | --config VAR=VALUE | --get NAME | --append FILE | --task do_TASK]...:
# one request to oe/bbtask.py, answered by the next bb_session.
JOBS=$BBT/jobs
job() {
  BBT_SCRIPTS=$BBT/scripts "$PY" - "$@" >>"$JOBS" <<'EOF'
import json, os, sys
a = sys.argv[1:]
j = {'id': a[0], 'recipe': a[1], 'set': {}, 'config': {}, 'get': []}
for k, v in zip(a[2::2], a[3::2]):
    if k in ('--set', '--config'):
        n, _, x = v.partition('=')
        j[k[2:]][n] = x
    elif k == '--get':
        j['get'].append(v)
    elif k == '--append':
        j.setdefault('appends', []).append(v)
    elif k == '--task':
        j['task'] = v
        j['script'] = os.path.join(os.environ['BBT_SCRIPTS'], a[0])
    else:
        sys.exit('job: unknown option ' + k)
print(json.dumps(j))
EOF
}
# bb_session CONFIG: answers the jobs so far in one BitBake (tinfoil) session.
RESULTS=$BBT/results
bb_session() {
  chown oe: "$JOBS"
  local t0 t1
  t0=$(date +%s)
  run oe_bb "$1" "$PY" "$OE/bbtask.py" "$JOBS" "$BBT/out"
  t1=$(date +%s)
  [ "$RC" -eq 0 ] || { say "$(printf '%s\n' "$ERR" | tail -n 30)"; fail "bbtask.py in ${CFG_DESC[$1]} exited $RC"; }
  say "${CFG_DESC[$1]}: $(wc -l <"$JOBS") jobs answered by BitBake in $((t1 - t0)) s"
  cat "$BBT/out" >>"$RESULTS"
  rm -f "$JOBS" "$BBT/out"
}
res() { jq -c --arg id "$1" 'select(.id == $id)' "$RESULTS" | tail -n 1; }
val() { res "$1" | jq -r --arg n "$2" '.values[$n] // ""'; }
job_ok() { # ID MSG
  local r; r=$(res "$1")
  if [ "$(jq -r .ok <<<"$r")" = true ]; then ok "$2"; else not_ok "$2" "$(jq -r '.error // "no answer"' <<<"${r:-{\}}")"; fi
}

# ============================================================ the task graph
# graph_has DOT FROM TO: the edge "FROM" -> "TO" in task-depends.dot.
graph_has() { grep -qF "\"$2\" -> \"$3\"" "$1"; }
say "bitbake -g: the task graphs of the test images and do_kiln_push"
run oe_bb core bitbake -g kiln-test-image -c kiln_push
assert_eq 0 "$RC" "${CFG_DESC[core]}: bitbake -g kiln-test-image -c kiln_push resolves" ; [ "$RC" -eq 0 ] || say "$(printf '%s\n' "$OUT" "$ERR" | grep ERROR | head)"
G=$BUILDS/core/task-depends.dot
check "kiln-image: do_image_oci depends on kiln-native:do_populate_sysroot" graph_has "$G" kiln-test-image.do_image_oci kiln-native.do_populate_sysroot
check "kiln-image: do_image_docker_archive depends on kiln-native:do_populate_sysroot" graph_has "$G" kiln-test-image.do_image_docker_archive kiln-native.do_populate_sysroot
check "do_kiln_push runs after do_image_complete" graph_has "$G" kiln-test-image.do_kiln_push kiln-test-image.do_image_complete
check "do_kiln_push depends on kiln-native:do_populate_sysroot" graph_has "$G" kiln-test-image.do_kiln_push kiln-native.do_populate_sysroot
check "kiln-native builds with libdeflate-native (the layer's bbappend)" graph_has "$G" kiln-native.do_prepare_recipe_sysroot libdeflate-native.do_populate_sysroot
check "... and jansson-native" graph_has "$G" kiln-native.do_prepare_recipe_sysroot jansson-native.do_populate_sysroot
run oe_bb virt bitbake -g kiln-test-oci -c kiln_push
assert_eq 0 "$RC" "${CFG_DESC[virt]}: bitbake -g kiln-test-oci -c kiln_push resolves" ; [ "$RC" -eq 0 ] || say "$(printf '%s\n' "$OUT" "$ERR" | grep ERROR | head)"
G=$BUILDS/virt/task-depends.dot
check "image-oci + kiln: do_image_oci depends on kiln-native:do_populate_sysroot" graph_has "$G" kiln-test-oci.do_image_oci kiln-native.do_populate_sysroot
if grep -q '"kiln-test-oci.do_image_oci" -> "umoci-native' "$G"; then not_ok "image-oci + kiln: no umoci-native"; else ok "image-oci + kiln: no umoci-native"; fi
check "image-oci + kiln: do_kiln_push after do_image_complete" graph_has "$G" kiln-test-oci.do_kiln_push kiln-test-oci.do_image_complete
if [ -n "$SCARTHGAP" ]; then
  run oe_bb sg bitbake -g container-base -c image_oci
  assert_eq 0 "$RC" "${CFG_DESC[sg]}: bitbake -g container-base -c image_oci resolves" ; [ "$RC" -eq 0 ] || say "$(printf '%s\n' "$OUT" "$ERR" | grep ERROR | head)"
  check "scarthgap: OCI_IMAGE_BACKEND = kiln in local.conf gives meta-virtualization's container-base kiln's do_image_oci" \
    graph_has "$BUILDS/sg/task-depends.dot" container-base.do_image_oci kiln-native.do_populate_sysroot
fi
rm -f "$BUILDS"/*/task-depends.dot "$BUILDS"/*/pn-buildlist

# ============================================================ kiln-native from the layer's checkout
say "kiln-native: do_fetch and do_unpack for real, from the git checkout the layer sits in"
HEAD=$(git -C "$KILN_SOURCE_DIR" rev-parse HEAD)
TOP=$(git -C "$KILN_SOURCE_DIR" rev-parse --show-toplevel)
job kn kiln-native --get SRC_URI --get SRCREV --get KILN_GIT_URI --get S --get T --get DEPENDS --get PV
# the recipe in a tree without git metadata (a release tarball)
NOGIT=$T/nogit/recipes-devtools/kiln
mkdir -p "$NOGIT"
cp -r "$LAYER/recipes-devtools/kiln/." "$NOGIT/"
chown -R oe: "$T/nogit"
printf '%s\n' "{\"id\": \"nogit\", \"file\": \"$NOGIT/kiln_git.bb\", \"appends\": [], \"get\": [\"KILN_GIT_URI\", \"KILN_SRCREV\"]}" >>"$JOBS"
job kt kiln --get PACKAGES --get EXTRA_OECMAKE --get LIC_FILES_CHKSUM --get BBCLASSEXTEND
bb_session core
assert_eq "$HEAD" "$(val kn SRCREV)" "SRCREV: the checked-out commit of the layer's repository"
assert_match "^git://$TOP;protocol=file;(branch=[^;]+|nobranch=1)$" "$(val kn KILN_GIT_URI)" "KILN_GIT_URI: that repository, through BitBake's git fetcher"
assert_contains "file://kiln-oe" "$(val kn SRC_URI)" "SRC_URI: kiln-oe from files/"
assert_contains "libdeflate-native" "$(val kn DEPENDS)" "kiln-native DEPENDS on libdeflate-native"
assert_eq "native nativesdk" "$(val kt BBCLASSEXTEND | xargs)" "BBCLASSEXTEND = native nativesdk"
assert_contains "-DKILN_BUILD_TESTS=OFF" "$(val kt EXTRA_OECMAKE)" "tests off (no cmocka)"
lic_md5=$(val kt LIC_FILES_CHKSUM | sed -n 's/.*md5=\([0-9a-f]*\).*/\1/p')
assert_eq "$(md5sum <"$KILN_SOURCE_DIR/LICENSE" | cut -c1-32)" "$lic_md5" "LIC_FILES_CHKSUM matches LICENSE"
skipped=$(res nogit | jq -r '.skipped // ""')
say "outside a git checkout: $skipped"
assert_contains "no kiln source: git finds no checkout of kiln at $NOGIT" "$skipped" "outside a git checkout the recipe is skipped, saying why"
assert_contains "Set KILN_GIT_URI" "$skipped" "... naming KILN_GIT_URI"
assert_contains "KILN_SRCREV to the commit to build" "$skipped" "... and KILN_SRCREV"
run oe_bb core bitbake -c cleanall kiln-native
assert_eq 0 "$RC" "bitbake -c cleanall kiln-native (no download, no stamp left from an earlier run)"
t0=$(date +%s)
run oe_bb core bitbake -c unpack kiln-native
t1=$(date +%s)
assert_eq 0 "$RC" "bitbake -c unpack kiln-native: do_fetch and do_unpack ran ($((t1 - t0)) s)"
[ "$RC" -eq 0 ] || say "$(printf '%s\n' "$OUT" "$ERR" | grep -E 'ERROR|WARNING|Error' | head -n 20)"
assert_match 'Tasks Summary: Attempted [0-9]+ tasks of which [0-9]+ didn.t need to be rerun and all succeeded' "$OUT" "BitBake's task summary: all succeeded"
KT=$(val kn T) KS=$(val kn S)
for t in fetch unpack; do
  lg=$(readlink -f "$KT/log.do_$t" 2>/dev/null || true)
  if [ -f "$lg" ]; then
    ok "log.do_$t written"
    grep -E "Running .*git.*(clone|fetch|branch --contains|checkout)|Fetching|Unpacking" "$lg" | cut -c1-400 | sed 's/^/#   log.do_'"$t"': /' | head -n 6 || true
  else not_ok "log.do_$t written" "no $KT/log.do_$t"; fi
done
assert_eq "$HEAD" "$(git -c safe.directory='*' -C "$KS" rev-parse HEAD 2>&1)" "the unpacked source (S) is the layer's checkout at its commit"
assert_file_exists "$KS/CMakeLists.txt" "S holds kiln's sources"
assert_file_exists "$(dirname "$KS")/kiln-oe" "kiln-oe unpacked beside them"

# ============================================================ the recipe's build and packages
say "the recipe's build: cmake with the recipe's options, installed into a DESTDIR; every file in a package"
CMK=$T/cmake-build
run cmake -S "$KILN_SOURCE_DIR" -B "$CMK" -DKILN_BUILD_TESTS=OFF -DKILN_WERROR=OFF -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib
assert_eq 0 "$RC" "cmake configures with -DKILN_BUILD_TESTS=OFF" ; [ "$RC" -eq 0 ] || say "$ERR"
run cmake --build "$CMK" -j2
assert_eq 0 "$RC" "kiln builds" ; [ "$RC" -eq 0 ] || say "$(printf '%s' "$ERR" | tail -n 20)"
run env DESTDIR="$T/image" cmake --install "$CMK"
assert_eq 0 "$RC" "kiln installs into a DESTDIR (do_install)"
assert_eq "" "$(find "$T/image" -name 'test_*' -o -name '*cmocka*' | head -n 3)" "installed: no unit tests"
if [ -x "$T/image/usr/bin/kiln" ]; then
  assert_match 'NEEDED.*libc\.so' "$(readelf -d "$T/image/usr/bin/kiln" 2>/dev/null | grep NEEDED | tr '\n' ' ')" \
    "installed kiln is dynamically linked against the C library (pseudo can see it)"
fi
for p in $(val kt PACKAGES); do job "kf-$p" kiln --get "FILES:$p"; done
bb_session core
# installed-vs-shipped: every installed file matches a FILES pattern of one of
# PACKAGES (a pattern names the file or a directory above it), as do_package
# splits them.
for p in $(val kt PACKAGES); do val "kf-$p" "FILES:$p"; echo; done >"$T/files-patterns"
(cd "$T/image" && find . ! -type d | sed 's/^\.//' | sort) >"$T/installed"
unshipped=$("$PY" -c '
import fnmatch, sys
pats = open(sys.argv[1]).read().split()
for f in open(sys.argv[2]).read().split():
    if not any(fnmatch.fnmatch(f, p) or f.startswith(p.rstrip("/") + "/") for p in pats):
        print(f)' "$T/files-patterns" "$T/installed")
assert_eq "" "$unshipped" "target kiln: every installed file is in a package (the completions too: installed-vs-shipped)"

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


# ============================================================ the run scripts
# The native sysroot's bin: kiln and kiln-oe, as kiln-native installs them.
# The tasks find kiln in PATH, as in BitBake (KILN stays out of their environment).
KILN=$(readlink -f "$KILN")
export -n KILN
NATIVE=$T/recipe-sysroot-native/usr/bin
mkdir -p "$NATIVE"
ln -s "$KILN" "$NATIVE/kiln"
ln -s "$KILN_OE" "$NATIVE/kiln-oe"
TASKPATH=$NATIVE:/usr/bin:/bin:/usr/sbin:/sbin
# image.bbclass writes "cd ${IMGDEPLOYDIR}" into the image task bodies when it
# parses the recipe: the image jobs move IMGDEPLOYDIR (and IMAGE_ROOTFS) in
# the configuration, and each task's outputs are moved on to its own directory.
IMGD=$T/imgdeploy
IMGCONF=(--config "IMAGE_ROOTFS:forcevariable=$R" --config "IMGDEPLOYDIR:forcevariable=$IMGD")
# image_job ID RECIPE WD TASK ARGS...: the run script of TASK, for outputs in
# WD. B, where BitBake runs a task without [dirs] (it creates it first), is WD.
# Their chunk cache is $T/oe-kiln-cache, not the default ${TOPDIR}/kiln-cache
# (TOPDIR is the build directory kept between runs), except for kimage-sde,
# whose TOPDIR is under $T: it checks the default.
OE_KILN_CACHE=$T/oe-kiln-cache
image_job() {
  local id=$1 recipe=$2 wd=$3 task=$4 cache=(); shift 4
  [ "$id" = kimage-sde ] || cache=(--set "KILN_CACHE_DIR=$OE_KILN_CACHE")
  job "$id" "$recipe" "${IMGCONF[@]}" --task "$task" --set "B=$wd" --set "KILN_OE_WORKDIR=$wd/kiln-oe" \
    --set "KILN_OE_PKGDB=$W/kiln-oe/pkgdb" --set "DEPLOY_DIR_IMAGE=$DEPLOY" --set "PATH=$TASKPATH" \
    "${cache[@]}" "$@"
}
# run_task ID WD [pseudo]: runs the job's run script as BitBake would (its
# PSEUDO_* exports taken out: the test's pseudo, with the rootfs's database,
# runs it), then moves IMGDEPLOYDIR's outputs to WD/deploy-image.
run_task() {
  local id=$1 wd=$2 how=${3:-pseudo} r
  r=$(res "$id")
  if [ "$(jq -r .ok <<<"${r:-{\}}")" != true ]; then
    RC=1 OUT='' ERR="BitBake: $(jq -r '.error // "no answer"' <<<"${r:-{\}}")"; return 0
  fi
  mkdir -p "$wd/deploy-image" "$wd/kiln-oe" "$IMGD"
  find "$IMGD" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  grep -v '^export PSEUDO_' "$BBT/scripts/$id" >"$wd/run.$id"
  if [ "$how" = pseudo ]; then run pseudo_ "$STATE" sh "$wd/run.$id"; else run sh "$wd/run.$id"; fi
  find "$IMGD" -mindepth 1 -maxdepth 1 -exec mv -t "$wd/deploy-image" {} +
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
start_registry plain

# ============================================================ the jobs
say "asking BitBake for the variables, flags and run scripts of the test images"
LAYERS="base:packages:base-files busybox:packages:busybox tools:directories:/opt/tool+/usr/share/doc config:files:/etc/app.conf certs:host:$T/hostfiles/my-ca.crt:/etc/ssl/certs/+$T/hostfiles/app.conf:/etc/app/host.conf"
NAMES=(--get IMAGE_NAME --get IMAGE_NAME_SUFFIX --get IMAGE_BASENAME --get IMAGE_LINK_NAME)
# kiln-image (master, oe-core + meta-oe)
KIMG=(--set "OCI_IMAGE_ENTRYPOINT=/bin/echo" --set "OCI_IMAGE_CMD=\"two  words\" '\$NOT_EXPANDED' \\\"q\\\"")
job ki kiln-test-image "${IMGCONF[@]}" "${NAMES[@]}" --get ROOTFS_POSTPROCESS_COMMAND --get OCI_IMAGE_BACKEND_INC \
  --get 'do_image_oci[fakeroot]' --get 'do_image_docker_archive[fakeroot]' --get 'do_kiln_push[network]' --get 'do_kiln_push[nostamp]' \
  --get 'do_kiln_push[depends]' --get REPRODUCIBLE_TIMESTAMP_ROOTFS --get OCI_IMAGE_CMD --get 'do_rootfs[depends]'
job ki-multi kiln-test-image --config OCI_LAYER_MODE=multi --get 'do_rootfs[depends]'
image_job pkgdb kiln-test-image "$W" kiln_oe_save_pkgdb --set OCI_LAYER_MODE=multi --set 'OCI_LAYERS=base:packages:base-files busybox:packages:busybox'
image_job kimage1-oci kiln-test-image "$W/kimage1" do_image_oci "${KIMG[@]}"
image_job kimage1-da kiln-test-image "$W/kimage1" do_image_docker_archive "${KIMG[@]}"
image_job kimage2-da kiln-test-image "$W/kimage2" do_image_docker_archive "${KIMG[@]}"
image_job kimage-sde kiln-test-image "$W/kimage-sde" do_image_oci --set REPRODUCIBLE_TIMESTAMP_ROOTFS= --set "TOPDIR=$T/gittop"
image_job onbase2-da kiln-test-image "$W/onbase2" do_image_docker_archive --set OCI_BASE_IMAGE=base-image
image_job onbase2-reg kiln-test-image "$W/onbase2" do_image_oci --set OCI_BASE_IMAGE=registry.example.com/base:1
image_job multi-da kiln-test-image "$W/multi" do_image_docker_archive --set OCI_LAYER_MODE=multi --set "OCI_LAYERS=$LAYERS"
image_job multi-oci kiln-test-image "$W/multi" do_image_oci --set OCI_LAYER_MODE=multi --set "OCI_LAYERS=$LAYERS"
image_job multi2-oci kiln-test-image "$W/multi2" do_image_oci --set OCI_LAYER_MODE=multi --set "OCI_LAYERS=$LAYERS"
for a in "x86_64/m64 core2" "aarch64/aarch64 armv8a" "i686/m32 core2" "arm/arm armv7ve neon" "arm/arm armv5te" "riscv64/rv 64 i m a f d"; do
  job "arch-${a%%/*}-${#a}" kiln-test-image --set "TARGET_ARCH=${a%%/*}" --set "TUNE_FEATURES=${a#*/}" --get OCI_IMAGE_ARCH --get OCI_IMAGE_SUBARCH
done
job base-files base-files --get OCI_IMAGE_BACKEND_INC --get OCI_IMAGE_BACKEND
job kiln-target kiln --get OCI_IMAGE_BACKEND_INC
mkdir -p "$T/deploy-da"
image_job push-da kiln-test-image "$T/push-da" do_kiln_push --set "DEPLOY_DIR_IMAGE=$T/deploy-da" --set "KILN_PUSH_REFS=$REG/oe/from-archive:1"
bb_session core

# image-oci with kiln (master, meta-virtualization)
COMPAT=(--set OCI_IMAGE_TAG=1.0
  --set "OCI_IMAGE_CMD=/bin/sh -c 'echo \"home=\$HOME user=\$(id -u) mode=\$APP_MODE\"'"
  --set "OCI_IMAGE_ENV_VARS=APP_MODE=prod PATH=/bin"
  --set "OCI_IMAGE_LABELS=org.example.team=edge version=1.0"
  --set "OCI_IMAGE_PORTS=8080 53/udp"
  --set OCI_IMAGE_WORKINGDIR=/srv --set OCI_IMAGE_STOPSIGNAL=SIGINT
  --set OCI_IMAGE_RUNTIME_UID=1000 --set OCI_IMAGE_AUTHOR_EMAIL=dev@example.com
  --set OCI_IMAGE_REVISION=abc1234 --set OCI_IMAGE_BRANCH=main)
job vo kiln-test-oci "${IMGCONF[@]}" "${NAMES[@]}" --get OCI_IMAGE_BACKEND_INC --get 'do_image_oci[fakeroot]' \
  --get 'do_image_oci[prefuncs]' --get 'do_image_oci[depends]' --get 'do_kiln_push[network]' --get 'do_kiln_push[nostamp]'
image_job compat1 kiln-test-oci "$W/compat1" do_image_oci "${COMPAT[@]}"
image_job compat2 kiln-test-oci "$W/compat2" do_image_oci "${COMPAT[@]}"
image_job onbase kiln-test-oci "$W/onbase" do_image_oci "${COMPAT[@]}" --set OCI_BASE_IMAGE=base-image --set _OCI_BASE_RECIPE=base-image
job cb container-base --get OCI_IMAGE_BACKEND --get OCI_IMAGE_BACKEND_INC --get IMAGE_CMD:oci --get 'do_image_oci[depends]'
job cb-pn container-base --config "OCI_IMAGE_BACKEND:pn-container-base=kiln" --get OCI_IMAGE_BACKEND_INC --get 'do_image_oci[depends]'
job cb-late container-base --append "$TESTLAYER/late-backend/container-base.bbappend" --get OCI_IMAGE_BACKEND
SECRET_USER=kiltest-user
SECRET_PASS="s3cret-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
image_job push1 kiln-test-oci "$T/push1" do_kiln_push "${COMPAT[@]}" --set "KILN_PUSH_REFS=$REG/oe/app-image:1.0 docker://$REG/oe/app-image:latest" \
  --set "KILN_PUSH_AUTHFILE=$T/auth-plain.json" --set "KILN_PUSH_EXTRA_ARGS=--debug"
bb_session virt
if [ -n "$SCARTHGAP" ]; then
  job so kiln-test-oci "${NAMES[@]}" --get OCI_IMAGE_BACKEND_INC
  image_job sg-compat kiln-test-oci "$W/sg-compat" do_image_oci "${COMPAT[@]}"
  job sg-cb container-base --get OCI_IMAGE_BACKEND_INC --get 'do_image_oci[depends]'
  bb_session sg
fi

# ============================================================ what BitBake says
say "the layer in the real BitBake: values and task flags"
assert_eq "1 1 1 1" "$(val ki 'do_image_oci[fakeroot]') $(val ki 'do_image_docker_archive[fakeroot]') $(val vo 'do_image_oci[fakeroot]') $(val ki 'do_kiln_push[network]')" \
  "the image tasks run under pseudo ([fakeroot] 1); do_kiln_push[network] = 1"
assert_eq "1" "$(val ki 'do_kiln_push[nostamp]')" "do_kiln_push[nostamp] = 1"
assert_contains "kiln-native:do_populate_sysroot" "$(val ki 'do_kiln_push[depends]')" "do_kiln_push depends on kiln-native"
assert_contains "kiln_oe_save_pkgdb" "$(val ki ROOTFS_POSTPROCESS_COMMAND)" "kiln-oe.bbclass adds kiln_oe_save_pkgdb to ROOTFS_POSTPROCESS_COMMAND"
assert_contains "kiln-native:do_populate_sysroot" "$(val ki-multi 'do_rootfs[depends]')" "OCI_LAYER_MODE = multi: do_rootfs depends on kiln-native (save-pkgdb)"
assert_eq "$EPOCH_ROOTFS" "$(val ki REPRODUCIBLE_TIMESTAMP_ROOTFS)" "REPRODUCIBLE_TIMESTAMP_ROOTFS, the rootfs's file times"
assert_eq "classes/image-oci-kiln.inc" "$(val vo OCI_IMAGE_BACKEND_INC)" "image-oci with OCI_IMAGE_BACKEND = kiln: meta-kiln's backend file"
assert_eq "" "$(val vo 'do_image_oci[prefuncs]' | grep -o oci_multilayer_install_packages || true)" "... without umoci's prefunc"
assert_eq "||" "$(val ki OCI_IMAGE_BACKEND_INC)|$(val base-files OCI_IMAGE_BACKEND_INC)|$(val kiln-target OCI_IMAGE_BACKEND_INC)" \
  "OCI_IMAGE_BACKEND_INC is empty where image-oci is not used (no image-oci-None.inc)"
assert_eq "umoci classes/image-oci-other-backend.inc" "$(val cb OCI_IMAGE_BACKEND) $(val cb OCI_IMAGE_BACKEND_INC)" \
  "meta-virtualization's container-base keeps umoci (through image-oci-other-backend.inc)"
assert_contains "umoci" "$(val cb IMAGE_CMD:oci)" "... with umoci's IMAGE_CMD:oci"
assert_contains "umoci-native:do_populate_sysroot" "$(val cb 'do_image_oci[depends]')" "... and its umoci-native dependency"
arch=""
for a in "x86_64/m64 core2" "aarch64/aarch64 armv8a" "i686/m32 core2" "arm/arm armv7ve neon" "arm/arm armv5te" "riscv64/rv 64 i m a f d"; do
  id="arch-${a%%/*}-${#a}"
  sub=$(val "$id" OCI_IMAGE_SUBARCH)
  arch="$arch $(val "$id" OCI_IMAGE_ARCH)${sub:+/$sub}"
done
assert_eq " amd64 arm64 386 arm/v7 arm/v5 riscv64" "$arch" "kiln-image: OCI_IMAGE_ARCH/SUBARCH from TARGET_ARCH and TUNE_FEATURES (GOARCH names)"

say "a bbappend that sets OCI_IMAGE_BACKEND = kiln after inherit image-oci"
r=$(res cb-late)
assert_eq false "$(jq -r .ok <<<"$r")" "parsing container-base with that bbappend fails"
e=$(jq -r '.error // ""' <<<"$r")
say "BitBake: $(printf '%s' "$e" | tr '\n' ' ' | cut -c1-600)"
assert_contains 'OCI_IMAGE_BACKEND = "kiln" is set after "inherit image-oci"' "$e" "... naming the variable"
assert_contains 'in local.conf or your distro configuration' "$e" "... and saying where to set it"
assert_eq "classes/image-oci-kiln.inc" "$(val cb-pn OCI_IMAGE_BACKEND_INC)" \
  "OCI_IMAGE_BACKEND:pn-container-base = kiln in local.conf: that recipe alone gets the kiln backend"
assert_contains "kiln-native:do_populate_sysroot" "$(val cb-pn 'do_image_oci[depends]')" "... and depends on kiln-native"
if [ -n "$SCARTHGAP" ]; then
  assert_eq "classes/image-oci-kiln.inc" "$(val sg-cb OCI_IMAGE_BACKEND_INC)" "scarthgap: OCI_IMAGE_BACKEND = kiln in local.conf: container-base gets the kiln backend"
  assert_contains "kiln-native:do_populate_sysroot" "$(val sg-cb 'do_image_oci[depends]')" "... and depends on kiln-native"
fi

say "ROOTFS_POSTPROCESS_COMMAND kiln_oe_save_pkgdb (BitBake's run script), then OE deletes the package database"
run_task pkgdb "$W"
assert_eq 0 "$RC" "kiln_oe_save_pkgdb ran" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
assert_file_exists "$W/kiln-oe/pkgdb/var/lib/opkg/info/busybox.list" "the opkg lists are kept in KILN_OE_PKGDB"
rm -rf "$R/var/lib/opkg"   # remove_packaging_data (no "package-management")
pseudo_ "$STATE" "$PY" "$LIB_DIR/treeinfo.py" tree "$R" --mtime >"$T/rootfs-before.m"
# ============================================================ image-oci backend
say "meta-virtualization's image-oci with OCI_IMAGE_BACKEND = kiln: do_image_oci"
# image-oci's layout name, ${IMAGE_NAME}${IMAGE_NAME_SUFFIX}-oci: .rootfs twice, as meta-virtualization writes it
NAME="$(val vo IMAGE_NAME)$(val vo IMAGE_NAME_SUFFIX)"
W1=$W/compat1
run_task compat1 "$W1"
assert_eq 0 "$RC" "do_image_oci (kiln backend) succeeded under pseudo"
[ "$RC" -eq 0 ] || { printf '%s\n%s\n' "$OUT" "$ERR" | sed 's/^/#   /'; fail "do_image_oci failed"; }
D1=$W1/deploy-image
assert_file_exists "$D1/$NAME-oci/index.json" "the layout ${NAME}-oci"
assert_eq "$NAME-oci" "$(readlink "$D1/kiln-test-oci-1.0-oci")" "symlink kiln-test-oci-1.0-oci"
assert_eq "$NAME-oci.tar" "$(readlink "$D1/kiln-test-oci-1.0-oci.tar")" "symlink kiln-test-oci-1.0-oci.tar"
assert_eq "$NAME-oci-dir.tar" "$(readlink "$D1/kiln-test-oci-1.0-oci-dir.tar")" "symlink kiln-test-oci-1.0-oci-dir.tar"
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
run_task compat2 "$W2"
assert_eq 0 "$RC" "second do_image_oci succeeded"
D2=$W2/deploy-image
assert_eq "$DIG1" "$(digest_of_layout "$D2/$NAME-oci" 2>/dev/null)" "same manifest digest"
assert_same_file "$D1/$NAME-oci/index.json" "$D2/$NAME-oci/index.json" "same index.json"
assert_same_file "$D1/$NAME-oci.tar" "$D2/$NAME-oci.tar" "same -oci.tar"
assert_same_file "$D1/$NAME-oci-dir.tar" "$D2/$NAME-oci-dir.tar" "same -oci-dir.tar"

say "the image in docker (skopeo converts the layout to a docker-archive)"
run skopeo copy "oci:$D1/$NAME-oci:1.0" "docker-archive:$T/compat.tar:kiln-test-oci:1.0"
assert_eq 0 "$RC" "skopeo reads the layout" ; [ "$RC" -eq 0 ] || say "$ERR"
run docker_ load -i "$T/compat.tar"
assert_eq 0 "$RC" "docker load" ; [ "$RC" -eq 0 ] || say "$ERR"
docker_checks kiln-test-oci:1.0 "image-oci backend"
run docker_ run --rm --network none kiln-test-oci:1.0
assert_eq "home=/home/app user=1000 mode=prod" "$OUT" "the default command runs as OCI_IMAGE_RUNTIME_UID with OCI_IMAGE_ENV_VARS"

# ============================================================ kiln-image.bbclass
say "kiln-image.bbclass: image types oci and docker-archive"
NAME="$(val ki IMAGE_NAME)$(val ki IMAGE_NAME_SUFFIX)"
DA="$(val ki IMAGE_NAME).docker-archive"   # ${IMAGE_NAME}.docker-archive
W3=$W/kimage1
run_task kimage1-oci "$W3"
assert_eq 0 "$RC" "do_image_oci (kiln-image) succeeded" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
run_task kimage1-da "$W3"
assert_eq 0 "$RC" "do_image_docker_archive (kiln-image) succeeded" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
D3=$W3/deploy-image
assert_file_exists "$D3/$NAME-oci/index.json" "oci: the layout"
assert_eq "$NAME-oci $NAME-oci" "$(readlink "$D3/kiln-test-image-latest-oci") $(readlink "$D3/$(val ki IMAGE_LINK_NAME)-oci")" \
  "oci: symlinks <basename>-<tag>-oci and IMAGE_LINK_NAME-oci"
assert_not_exists "$D3/$NAME-oci.tar" "oci: no tars unless OCI_IMAGE_TAR_OUTPUT"
assert_file_exists "$D3/$DA" "docker-archive: \${IMAGE_NAME}.docker-archive, the name image.bbclass's create_symlinks links IMAGE_LINK_NAME.docker-archive to"
cfg_digest=$(layout_manifest "$D3/$NAME-oci" | jq -r .config.digest)
assert_eq "$cfg_digest" "sha256:$(tar -xOf "$D3/$DA" manifest.json | jq -r '.[0].Config' | sed 's/\.json$//; s,.*/,,')" \
  "the docker-archive holds the same image (same config digest)"
run docker_ load -i "$D3/$DA"
assert_contains "kiln-test-image:latest" "$OUT" "docker load: RepoTags kiln-test-image:latest (KILN_DOCKER_TAGS)"
docker_checks kiln-test-image:latest "kiln-image docker-archive"
run docker_ run --rm --network none kiln-test-image:latest
assert_eq 'two  words $NOT_EXPANDED "q"' "$OUT" "OCI_IMAGE_ENTRYPOINT + OCI_IMAGE_CMD reach the container verbatim"
if command -v git >/dev/null 2>&1; then
  git init -q -b feature-x "$T/gittop"
  git -C "$T/gittop" -c user.name=t -c user.email=t@example.com commit -q --allow-empty -m build
  git_rev=$(git -C "$T/gittop" rev-parse --short HEAD)
  W8=$W/kimage-sde
  run_task kimage-sde "$W8"
  assert_eq 0 "$RC" "kiln-image with REPRODUCIBLE_TIMESTAMP_ROOTFS empty" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
  cfg=$(layout_config "$W8/deploy-image/$NAME-oci" 2>/dev/null)
  assert_eq "2011-04-05T23:00:00Z" "$(jq -r .created <<<"$cfg")" "... created comes from the exported SOURCE_DATE_EPOCH"
  assert_eq "$git_rev|feature-x" "$(jq -r '.config.Labels | "\(.["org.opencontainers.image.revision"])|\(.["org.opencontainers.image.ref.name"])"' <<<"$cfg")" \
    "OCI_IMAGE_AUTO_LABELS: revision and branch of the git checkout at TOPDIR"
  assert_file_exists "$T/gittop/kiln-cache/CACHEDIR.TAG" "KILN_CACHE_DIR: by default \${TOPDIR}/kiln-cache"
fi
W4=$W/kimage2
run_task kimage2-da "$W4"
assert_same_file "$D3/$DA" "$W4/deploy-image/$DA" "a second docker-archive build is byte-identical"
assert_file_exists "$OE_KILN_CACHE/CACHEDIR.TAG" "the image tasks share the cache KILN_CACHE_DIR names"
[ "$(find "$OE_KILN_CACHE/chunks-v1" -type f -name '[0-9a-f]*' | wc -l)" -ge 1 ] && ok "... and it holds their blocks" \
  || not_ok "the cache holds the image tasks' blocks" "$(find "$OE_KILN_CACHE" | head)"


if [ -n "$SCARTHGAP" ]; then
  say "scarthgap: BitBake 2.8's run script of do_image_oci (image-oci with kiln)"
  run_task sg-compat "$W/sg-compat"
  assert_eq 0 "$RC" "scarthgap: do_image_oci (kiln backend) succeeded under pseudo" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
  SNAME="$(val so IMAGE_NAME)$(val so IMAGE_NAME_SUFFIX)"
  assert_eq "$SNAME-oci" "$(readlink "$W/sg-compat/deploy-image/kiln-test-oci-1.0-oci")" "scarthgap: symlink kiln-test-oci-1.0-oci"
  CL=$D1/$(val vo IMAGE_NAME)$(val vo IMAGE_NAME_SUFFIX)-oci   # master's do_image_oci (compat1)
  SL=$W/sg-compat/deploy-image/$SNAME-oci
  assert_eq "$(layout_manifest "$CL" | jq -c .layers)" "$(layout_manifest "$SL" 2>/dev/null | jq -c .layers)" \
    "scarthgap writes the same rootfs layer as master, byte for byte (same digest)"
  if [ "$DIG1" != "$(digest_of_layout "$SL" 2>/dev/null)" ]; then
    say "the image configs differ between master and scarthgap (their BitBake variables do):"
    diff <(layout_config "$CL" | jq -S .) <(layout_config "$SL" | jq -S .) | sed 's/^/#   /' | head -n 20 || true
  fi
fi
# ============================================================ base image
say "OCI_BASE_IMAGE: a base image recipe deployed before, then an image on top"
mkdir -p "$T/base-rootfs/etc"
echo "from the base" >"$T/base-rootfs/etc/base-release"
mkdir -p "$DEPLOY/base"
"$KILN" build --rootfs "$T/base-rootfs" --env BASE=1 --source-date-epoch 1 -o "oci:$DEPLOY/base-image-qemux86-64.rootfs-oci:latest" >/dev/null
ln -sfn base-image-qemux86-64.rootfs-oci "$DEPLOY/base-image-latest-oci"
W5=$W/onbase
VNAME="$(val vo IMAGE_NAME)$(val vo IMAGE_NAME_SUFFIX)"
run_task onbase "$W5"
assert_eq 0 "$RC" "do_image_oci with _OCI_BASE_RECIPE (as image-oci resolves it)" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
base_layer=$(layout_manifest "$DEPLOY/base-image-latest-oci" | jq -r '.layers[0].digest')
assert_eq "2 $base_layer" "$(layout_manifest "$W5/deploy-image/$VNAME-oci" 2>/dev/null | jq -r '"\(.layers | length) \(.layers[0].digest)"')" \
  "the base image's layer comes first, unchanged"
assert_eq '["BASE=1","APP_MODE=prod","PATH=/bin"]' "$(layout_config "$W5/deploy-image/$VNAME-oci" 2>/dev/null | jq -c .config.Env)" "Env: the base's, then the recipe's"
W6=$W/onbase2
run_task onbase2-da "$W6"
assert_eq 0 "$RC" "kiln-image resolves OCI_BASE_IMAGE = recipe name itself" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
assert_eq 2 "$(tar -xOf "$W6/deploy-image/$DA" manifest.json 2>/dev/null | jq '.[0].Layers | length')" "... its docker-archive has the base layer and the rootfs"
run_task onbase2-reg "$W6"
assert_ne 0 "$RC" "a registry reference as OCI_BASE_IMAGE is refused (image tasks have no network)"
assert_contains "no network" "$OUT$ERR" "... with a message saying why"

# ============================================================ multi-layer
say "OCI_LAYER_MODE = multi: the layer map kiln-oe writes for OCI_LAYERS"
mkdir -p "$T/hostfiles"
echo "-----BEGIN CERTIFICATE-----" >"$T/hostfiles/my-ca.crt"
echo "host config" >"$T/hostfiles/app.conf"
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
  run_task multi-da "$W7"
  assert_eq 0 "$RC" "do_image_docker_archive with OCI_LAYER_MODE = multi" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
  run_task multi-oci "$W7"
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
  docker_checks kiln-test-image:latest "multi-layer docker-archive"
  run_task multi2-oci "$W/multi2"
  assert_eq "$(digest_of_layout "$ML" 2>/dev/null)" "$(digest_of_layout "$W/multi2/deploy-image/$NAME-oci" 2>/dev/null)" "multi-layer: a second build has the same digest"
else
  say "kiln build has no --layer-map yet: the multi-layer build itself is not run"
  run_task multi-oci "$W/multi"
  assert_contains "needs kiln build --layer-map" "$OUT$ERR" "multi mode with a kiln without --layer-map: a clear error"
fi


say "kiln never wrote under IMAGE_ROOTFS"
pseudo_ "$STATE" "$PY" "$LIB_DIR/treeinfo.py" tree "$R" --mtime >"$T/rootfs-after.m"
assert_same_text "$T/rootfs-before.m" "$T/rootfs-after.m" "the rootfs (as pseudo sees it) is unchanged by every image task"

# ============================================================ push
say "do_kiln_push: BitBake's run scripts, to local registries"
# DEPLOY_DIR_IMAGE as do_image_complete leaves it
cp -a "$D1/." "$DEPLOY/"
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

authfile "$T/auth-plain.json" "$REG" "$SECRET_USER" "$SECRET_PASS"
run_task push1 "$T/push1" nopseudo
assert_eq 0 "$RC" "do_kiln_push to a plain registry" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
assert_eq "200 200" "$(reg_manifest_status oe/app-image 1.0) $(reg_manifest_status oe/app-image latest)" "both references are in the registry"
assert_contains "($DIG1)" "$ERR" "the task prints the pushed digest (the layout's)"
run skopeo inspect --raw --tls-verify=false "docker://$REG/oe/app-image:1.0"
assert_eq "$DIG1" "$(printf '%s' "$OUT" | sha256sum | sed 's/ .*//; s/^/sha256:/')" "skopeo pulls the same manifest"
no_secret "$(cat "$T/push1/run.push1") $OUT $ERR" "no credential in the task's output or run file (--debug on)"
cp "$D3/$DA" "$T/deploy-da/"
ln -s "$DA" "$T/deploy-da/$(val ki IMAGE_LINK_NAME).docker-archive"   # create_symlinks
run_task push-da "$T/push-da" nopseudo
assert_eq "0 200" "$RC $(reg_manifest_status oe/from-archive 1)" "kiln-image with only docker-archive: do_kiln_push pushes IMAGE_LINK_NAME.docker-archive"

start_registry basic-http
SECRET_USER=$REG_USER SECRET_PASS=$REG_PASS
authfile "$T/auth-basic.json" "$REG" "$REG_USER" "$REG_PASS"
image_job push2 kiln-test-oci "$T/push2" do_kiln_push "${COMPAT[@]}" --set "KILN_PUSH_REFS=$REG/oe/app-image:1.0" \
  --set "KILN_PUSH_AUTHFILE=$T/auth-basic.json" --set "KILN_PUSH_EXTRA_ARGS=--debug"
image_job push3 kiln-test-oci "$T/push3" do_kiln_push "${COMPAT[@]}" --set "KILN_PUSH_REFS=$REG/oe/other:1.0"
image_job push4 kiln-test-oci "$T/push4" do_kiln_push "${COMPAT[@]}" --set "KILN_PUSH_REFS=$REG_USER:$REG_PASS@$REG/oe/app-image:1.0"
image_job push5 kiln-test-oci "$T/push5" do_kiln_push "${COMPAT[@]}" --set "KILN_PUSH_REFS="
bb_session virt
run_task push2 "$T/push2" nopseudo
assert_eq 0 "$RC" "do_kiln_push to a registry with Basic auth, credentials from KILN_PUSH_AUTHFILE" ; [ "$RC" -eq 0 ] || say "$OUT $ERR"
assert_eq 200 "$(reg_manifest_status oe/app-image 1.0)" "the image is in the authenticated registry"
no_secret "$(cat "$T/push2/run.push2") $OUT $ERR" "no credential in the output (authenticated push, --debug on)"
run_task push3 "$T/push3" nopseudo
assert_ne 0 "$RC" "without the auth file the push is refused"
no_secret "$OUT $ERR" "no credential in the output of a refused push"
run_task push4 "$T/push4" nopseudo
assert_ne 0 "$RC" "a reference with user:password@ is refused"
assert_contains "KILN_PUSH_AUTHFILE" "$ERR" "... pointing at KILN_PUSH_AUTHFILE"
no_secret "$OUT $ERR" "... without printing the password"
run_task push5 "$T/push5" nopseudo
assert_contains "KILN_PUSH_REFS is empty" "$ERR" "empty KILN_PUSH_REFS: a clear error"

start_registry tls
image_job push6 kiln-test-oci "$T/push6" do_kiln_push "${COMPAT[@]}" --set "KILN_PUSH_REFS=$REG/oe/app-image:1.0"
image_job push7 kiln-test-oci "$T/push7" do_kiln_push "${COMPAT[@]}" --set "KILN_PUSH_REFS=$REG/oe/app-image:1.0" --set "KILN_PUSH_CA_FILE=$REG_CA"
image_job push8 kiln-test-oci "$T/push8" do_kiln_push "${COMPAT[@]}" --set "KILN_PUSH_REFS=$REG/oe/app-image:2.0" --set "KILN_PUSH_TLS_VERIFY=0"
bb_session virt
run_task push6 "$T/push6" nopseudo
assert_ne 0 "$RC" "TLS registry with a private CA: refused without it"
run_task push7 "$T/push7" nopseudo
assert_eq 0 "$RC" "... pushed with KILN_PUSH_CA_FILE" ; [ "$RC" -eq 0 ] || say "$ERR"
run_task push8 "$T/push8" nopseudo
assert_eq 0 "$RC" "... pushed with KILN_PUSH_TLS_VERIFY = 0" ; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq "200 200" "$(reg_manifest_status oe/app-image 1.0) $(reg_manifest_status oe/app-image 2.0)" "both tags are in the TLS registry"
