#!/usr/bin/env bash
# The Debian packages (debian/): dpkg-buildpackage -us -uc -b in a copy of the
# source tree, as an unprivileged user (Rules-Requires-Root: no), gives kiln,
# libkiln0 and libkiln-dev, split as the control file says, lintian-clean (the
# source package too) and built with the hardening flags (blhc). Installed,
# they give a working
# /usr/bin/kiln, kiln.pc and a program linked against /usr/lib's libkiln, and
# scripts/demo.sh passes against the installed kiln. Then they are purged: the
# machine's package set is as it was before.
#
# It installs into /usr: ctest runs it alone (RUN_SERIAL, tests/CMakeLists.txt),
# and the other tests use $KILN (the build tree's kiln, whose RUNPATH points
# into the build tree), never a kiln found in PATH.
. "$(dirname "$0")/lib.sh"
need_root
need dpkg-buildpackage dpkg-parsechangelog dpkg-deb dpkg-query dh lintian blhc \
  pkg-config cc nm objdump readelf setpriv tar docker-registry dockerd docker curl

PKGS=(kiln libkiln0 libkiln-dev)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$'; }
for p in "${PKGS[@]}"; do
  ! installed "$p" || fail "the package $p is installed already; this test installs and purges its own (dpkg --purge ${PKGS[*]})"
done
# dpkg would silently take over (and, on purge, delete) a kiln installed by hand
for f in /usr/bin/kiln /usr/include/kiln/kiln.h; do
  [ ! -e "$f" ] || fail "$f exists and no package owns it: move it away first"
done
dpkg-query -W -f='${Package}:${Architecture} ${Version} ${Status}\n' | sort >"$T/packages.before"
purge_kiln() {
  local p want=()
  for p in "${PKGS[@]}"; do installed "$p" && want+=("$p"); done
  [ "${#want[@]}" -eq 0 ] || dpkg --purge "${want[@]}" >"$T/purge.log" 2>&1
}
_CLEANUP_HOOKS+=(purge_kiln)

VERSION=$(sed -nE 's/^project\(kiln VERSION ([0-9.]+) .*/\1/p' "$KILN_SOURCE_DIR/CMakeLists.txt")
assert_match '^[0-9]+\.[0-9]+\.[0-9]+$' "$VERSION" "CMakeLists.txt gives the version ($VERSION)"
assert_eq "$VERSION" "$(dpkg-parsechangelog -l "$KILN_SOURCE_DIR/debian/changelog" -S Version)" \
  "debian/changelog's version is CMakeLists.txt's (native package: no Debian revision)"
HDR_VERSION=$(sed -nE 's/^#define KILN_VERSION_STRING "(.*)"/\1/p' "$KILN_SOURCE_DIR/include/kiln/kiln.h")
assert_eq "$VERSION" "$HDR_VERSION" "kiln.h's KILN_VERSION_STRING is the same version"

# ------------------------------------------------------------ the build
# A copy of the tree as it is (tracked and untracked files, not the ignored
# build trees): dpkg-buildpackage writes into the parent directory.
say "copying the source tree"
SRC=$T/build/kiln-$VERSION
mkdir -p "$SRC"
if git -C "$KILN_SOURCE_DIR" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$KILN_SOURCE_DIR" status --porcelain --ignored >"$T/source-status.before"
  (cd "$KILN_SOURCE_DIR" && git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf -) |
    tar -xf - -C "$SRC"
else
  tar -C "$KILN_SOURCE_DIR" --exclude-vcs --exclude='./build*' --exclude='./obj-*' -cf - . | tar -xf - -C "$SRC"
fi
assert_file_exists "$SRC/debian/control" "the copy has debian/"

# as nobody, as a build daemon builds; lintian checks the source package too
# (debian/rules, control, copyright), which a binary-only .changes leaves out
as_builder() {
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent LC_ALL=C TZ=UTC TMPDIR="$TMPDIR" "$@"
}
mkdir "$T/source"
: >"$T/build.log"
chown -R 65534:65534 "$T/build" "$T/source" "$T/build.log"
run as_builder sh -c 'cd "$1" && exec dpkg-source --build "$2"' sh "$T/source" "$SRC"
assert_eq 0 "$RC" "dpkg-source --build: the source package"; [ "$RC" -eq 0 ] || say "$ERR"
DSC=$T/source/kiln_$VERSION.dsc

say "dpkg-buildpackage -us -uc -b, as nobody"
start=$(date +%s)
run as_builder DEB_BUILD_OPTIONS="parallel=$(nproc)" \
  sh -c 'cd "$1" && exec dpkg-buildpackage -us -uc -b >"$2" 2>&1' sh "$SRC" "$T/build.log"
assert_eq 0 "$RC" "dpkg-buildpackage -us -uc -b builds as an unprivileged user ($(($(date +%s) - start)) s)"
[ "$RC" -eq 0 ] || { tail -n 60 "$T/build.log" | sed 's/^/#   /'; fail "no packages"; }
DEBS=()
for p in "${PKGS[@]}"; do
  f=$T/build/${p}_${VERSION}_$(dpkg --print-architecture).deb
  assert_file_exists "$f" "$(basename "$f") is built"
  DEBS+=("$f")
done
CHANGES=$T/build/kiln_${VERSION}_$(dpkg --print-architecture).changes
assert_file_exists "$CHANGES" "so is the .changes"

UNIT=$(find "$KILN_SOURCE_DIR/tests/unit" -name 'test_*.c' | wc -l)
assert_match "100% tests passed, 0 tests failed out of $UNIT\$" "$(grep 'tests passed' "$T/build.log" || true)" \
  "dh_auto_test ran the $UNIT unit tests, and they pass"
assert_eq "" "$(grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: (integration|alloc)/' "$T/build.log" || true)" \
  "and no integration or allocation-failure test (they need root, services, the network)"

# ------------------------------------------------------------ lintian, blhc
# (lintian 2.116 leaves its mldbm-elf-* caches in TMPDIR: a directory of its
# own, removed after it, so that the check of our TMPDIR stays meaningful)
mkdir -m 1777 "$T/lintian-tmp"
run env TMPDIR="$T/lintian-tmp" lintian --pedantic --display-info --info "$CHANGES" "$DSC"
rm -rf "$T/lintian-tmp"
assert_eq 0 "$RC" "lintian runs"
say "lintian tags: $(grep -cE '^[EWIPX]: ' "$T/.run.out" || true)"
grep -E '^[IPX]: ' "$T/.run.out" | sed 's/^/#   /' || true
assert_eq "" "$(grep -E '^[EW]: ' "$T/.run.out" || true)" "lintian --pedantic, binary and source packages: no error or warning"
run blhc "$T/build.log"
assert_eq 0 "$RC" "blhc: every compile and link line has the hardening flags"; [ "$RC" -eq 0 ] || say "$OUT"

# ------------------------------------------------------------ the split
contents() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's#^\./#/#' | grep -v '/$' | sort; }
ARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
LIB=/usr/lib/$ARCH
contents "${DEBS[0]}" >"$T/kiln.files"
contents "${DEBS[1]}" >"$T/libkiln0.files"
contents "${DEBS[2]}" >"$T/libkiln-dev.files"
MANS=$(find "$KILN_SOURCE_DIR/docs" -name 'kiln*.1' | wc -l)
assert_eq "/usr/bin/kiln" "$(grep '^/usr/bin/' "$T/kiln.files" | tr '\n' ' ' | sed 's/ $//')" "kiln: /usr/bin/kiln"
assert_eq "$MANS" "$(grep -c '^/usr/share/man/man1/kiln.*\.1\.gz$' "$T/kiln.files")" "kiln: the $MANS man pages"
assert_contains "/usr/share/bash-completion/completions/kiln" "$(cat "$T/kiln.files")" "kiln: the bash completion"
assert_contains "/usr/share/zsh/vendor-completions/_kiln" "$(cat "$T/kiln.files")" "kiln: the zsh completion"
assert_eq "" "$(grep -E '^/usr/(lib|include)/' "$T/kiln.files" || true)" "kiln: no library or header"
assert_eq "$LIB/libkiln.so.0 $LIB/libkiln.so.$VERSION" "$(grep -v '^/usr/share/doc/' "$T/libkiln0.files" | tr '\n' ' ' | sed 's/ $//')" \
  "libkiln0: the shared library and its SONAME link, nothing else"
assert_eq "/usr/include/kiln/kiln.h $LIB/libkiln.so $LIB/pkgconfig/kiln.pc" \
  "$(grep -v '^/usr/share/doc/' "$T/libkiln-dev.files" | sort | tr '\n' ' ' | sed 's/ $//')" \
  "libkiln-dev: the header, the .so link and kiln.pc"
mkdir -p "$T/x"
dpkg-deb -x "${DEBS[1]}" "$T/x"
SONAME=$(objdump -p "$T/x$LIB/libkiln.so.$VERSION" | awk '$1 == "SONAME" { print $2 }')
assert_eq "libkiln.so.0" "$SONAME" "the SONAME is libkiln.so.0, as the package name libkiln0 says"
assert_match "libkiln0 \(= $VERSION\)" "$(dpkg-deb -f "${DEBS[0]}" Depends)" "kiln depends on the libkiln0 of its own build"
assert_match "libkiln0 \(= $VERSION\)" "$(dpkg-deb -f "${DEBS[2]}" Depends)" "libkiln-dev depends on the libkiln0 of its own build"
dpkg-deb -e "${DEBS[1]}" "$T/x/DEBIAN"
assert_file_exists "$T/x/DEBIAN/symbols" "libkiln0 has a symbols file"
nm -D --defined-only "$T/x$LIB/libkiln.so.$VERSION" | awk '{ print $NF }' | sort -u >"$T/exported"
sed -nE 's/^ ([^@ ]+)@Base .*/\1/p' "$T/x/DEBIAN/symbols" | sort -u >"$T/symbols"
assert_eq "" "$(comm -3 "$T/exported" "$T/symbols" | tr -d '\t' | tr '\n' ' ')" \
  "debian/libkiln0.symbols names exactly the functions libkiln.so exports (a new kiln_ function needs its line, with the version that adds it)"
assert_eq "" "$(grep -v '^kiln_' "$T/exported" || true)" "and they all start with kiln_"

# ------------------------------------------------------------ installed
say "dpkg -i ${PKGS[*]}"
run dpkg -i "${DEBS[@]}"
assert_eq 0 "$RC" "the three packages install"; [ "$RC" -eq 0 ] || { say "$OUT"; say "$ERR"; }
assert_eq "kiln $VERSION" "$(/usr/bin/kiln --version 2>&1 | head -n 1)" "kiln --version: kiln $VERSION"
assert_eq "kiln $VERSION" "$(/usr/bin/kiln version 2>&1 | head -n 1)" "kiln version: kiln $VERSION"
# (/lib is /usr/lib on Debian 12: ldd may name either)
LDD_LIBKILN="libkiln\.so\.0 => (/usr)?/lib/$ARCH/libkiln\.so\.0 "
assert_match "$LDD_LIBKILN" "$(ldd /usr/bin/kiln)" "/usr/bin/kiln uses the installed libkiln"
assert_eq "" "$(readelf -d /usr/bin/kiln "$LIB/libkiln.so.0" | grep -E 'R(UN)?PATH' || true)" "no RPATH or RUNPATH into a build tree"
assert_eq "$VERSION" "$(pkg-config --modversion kiln 2>&1)" "pkg-config --modversion kiln: $VERSION"
assert_eq "-lkiln" "$(pkg-config --cflags --libs kiln 2>&1 | sed 's/ *$//')" "pkg-config --cflags --libs kiln: -lkiln (the system paths)"
run sh -c "cc -Wall -Wextra -Werror '$SRC/examples/libkiln/build-and-push.c' \$(pkg-config --cflags --libs kiln) -o '$T/example'"
assert_eq 0 "$RC" "the libkiln example compiles against libkiln-dev"; [ "$RC" -eq 0 ] || say "$ERR"
assert_match "$LDD_LIBKILN" "$(ldd "$T/example" 2>&1)" "and runs with libkiln0's library"
mkdir -p "$T/rootfs"
echo hello >"$T/rootfs/hello.txt"
run "$T/example" "$T/rootfs" "oci:$T/example-oci:1"
assert_match '^sha256:[0-9a-f]{64}$' "$OUT" "it builds an image"
EX_DIGEST=$OUT
run /usr/bin/kiln list "oci:$T/example-oci"
assert_match "^1 +$EX_DIGEST " "$(tail -n 1 <<<"$OUT")" "which the installed kiln lists"
assert_file_exists /usr/share/man/man1/kiln-build.1.gz "man kiln-build is installed"
run bash -c '. /usr/share/bash-completion/completions/kiln && complete -p kiln'
assert_match '^complete .*kiln$' "$OUT" "the bash completion defines kiln's completion"

say "scripts/demo.sh against /usr/bin/kiln"
find /tmp -maxdepth 1 -name 'kiln-demo.*' | sort >"$T/demo-dirs.before"
start=$(date +%s)
run env KILN=/usr/bin/kiln "$SRC/scripts/demo.sh"
assert_eq 0 "$RC" "KILN=/usr/bin/kiln scripts/demo.sh passes ($(($(date +%s) - start)) s)"
[ "$RC" -eq 0 ] || { printf '%s\n%s\n' "$OUT" "$ERR" | tail -n 40 | sed 's/^/#   /'; }
assert_contains "using /usr/bin/kiln: kiln $VERSION" "$OUT" "the demo used the installed kiln"
assert_contains "hello from a kiln-built image (uid 1000, args: from the docker-archive)" "$OUT" "docker ran the demo's image"
assert_eq "" "$(_pids_mentioning /tmp/kiln-demo. | tr '\n' ' ')" "the demo left no process behind"
find /tmp -maxdepth 1 -name 'kiln-demo.*' | sort >"$T/demo-dirs.after"
assert_same_text "$T/demo-dirs.before" "$T/demo-dirs.after" "the demo left no directory behind"

# ------------------------------------------------------------ purged
run dpkg --purge "${PKGS[@]}"
assert_eq 0 "$RC" "the packages purge"; [ "$RC" -eq 0 ] || say "$ERR"
assert_not_exists /usr/bin/kiln "/usr/bin/kiln is gone"
assert_eq "" "$(dpkg-query -W -f='${Package} ${Status}\n' "${PKGS[@]}" 2>/dev/null || true)" \
  "dpkg knows none of them any more (purged, no config-files left)"
# dpkg -i installs nothing else, and install-deps.sh (which the demo runs) has
# run before the suite: a change to another package comes from someone else's
# apt-get on a shared machine. Shown, not failed.
dpkg-query -W -f='${Package}:${Architecture} ${Version} ${Status}\n' | sort >"$T/packages.after"
if cmp -s "$T/packages.before" "$T/packages.after"; then
  ok "the machine's packages are as they were"
else
  say "other packages changed meanwhile (not by dpkg -i or --purge):"
  diff "$T/packages.before" "$T/packages.after" | grep '^[<>]' | sed 's/^/#   /' || true
fi
if [ -f "$T/source-status.before" ]; then
  git -C "$KILN_SOURCE_DIR" status --porcelain --ignored >"$T/source-status.after"
  assert_same_text "$T/source-status.before" "$T/source-status.after" "the source tree is as it was"
fi
