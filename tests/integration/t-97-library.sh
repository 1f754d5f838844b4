#!/usr/bin/env bash
# The C library as a user gets it: `cmake --install` into a prefix, the example
# program compiled against it with pkg-config, run: it builds an image that
# docker loads and runs, and pushes it to a registry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need cc pkg-config cmake
[ -x /bin/busybox ] || _missing busybox
[ -n "${KILN_BUILD_DIR:-}" ] || fail "KILN_BUILD_DIR is not set"

run cmake --install "$KILN_BUILD_DIR" --prefix "$T/prefix"
assert_eq 0 "$RC" "cmake --install into a prefix"; [ "$RC" -eq 0 ] || say "$ERR"
assert_file_exists "$T/prefix/include/kiln/kiln.h" "the public header is installed"
PC=$(find "$T/prefix" -name kiln.pc | head -n 1)
assert_file_exists "$PC" "kiln.pc is installed"
export PKG_CONFIG_PATH=$(dirname "$PC")
# installed with --prefix, not where it was configured: tell pkg-config
PCD=--define-variable=prefix=$T/prefix
run pkg-config --modversion kiln
assert_match '^[0-9]+\.[0-9]+\.[0-9]+$' "$OUT" "pkg-config knows kiln"
run sh -c "cc -Wall -Wextra -Werror '$KILN_SOURCE_DIR/examples/libkiln/build-and-push.c' \$(pkg-config $PCD --cflags --libs kiln) -Wl,-rpath,$(pkg-config $PCD --variable=libdir kiln) -o '$T/example'"
assert_eq 0 "$RC" "the example compiles against the installed library"; [ "$RC" -eq 0 ] || say "$ERR"
assert_match 'libkiln\.so' "$(ldd "$T/example" 2>/dev/null)" "it links libkiln dynamically"

reg_rootfs "$T/rootfs" "hello from libkiln"
start_registry plain
start_dockerd
run "$T/example" "$T/rootfs" "docker-archive:$T/img.tar" "docker://$REG/lib/example:1"
assert_eq 0 "$RC" "the example builds and pushes"; [ "$RC" -eq 0 ] || say "$ERR"
assert_match '^sha256:[0-9a-f]{64}$' "$OUT" "it prints the manifest digest"
DIGEST=$OUT
run docker_ load -i "$T/img.tar"
assert_eq 0 "$RC" "docker loads the archive"
run docker_ run --rm --network none example/libkiln:1
assert_eq "hello from libkiln" "$OUT" "docker runs the image"
run "$KILN" digest "docker://$REG/lib/example:1"
assert_eq "$DIGEST" "$OUT" "the pushed manifest is the one built"
