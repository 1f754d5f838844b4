#!/usr/bin/env bash
# The C library as a user gets it: `cmake --install` into a prefix, the example
# program compiled against it with pkg-config, run: it builds an image that
# docker loads and runs, and pushes it to a registry; a second puts an app on that
# image as a registry base and writes it to a layout and the registry in one run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need cc pkg-config cmake nm jq
[ -x /bin/busybox ] || _missing busybox
[ -n "${KILN_BUILD_DIR:-}" ] || fail "KILN_BUILD_DIR is not set"

run cmake --install "$KILN_BUILD_DIR" --prefix "$T/prefix"
assert_eq 0 "$RC" "cmake --install into a prefix"; [ "$RC" -eq 0 ] || say "$ERR"
assert_file_exists "$T/prefix/include/kiln/kiln.h" "the public header is installed"
PC=$(find "$T/prefix" -name kiln.pc | head -n 1)
assert_file_exists "$PC" "kiln.pc is installed"
export PKG_CONFIG_PATH=$(dirname "$PC")
run pkg-config --modversion kiln
assert_match '^[0-9]+\.[0-9]+\.[0-9]+$' "$OUT" "pkg-config knows kiln"
# installed with --prefix, not where it was configured: kiln.pc says where
run pkg-config --variable=prefix kiln
assert_eq "$T/prefix" "$OUT" "kiln.pc names the prefix given to cmake --install"
run pkg-config --cflags --libs kiln
assert_eq "-I$T/prefix/include -L$(dirname "$(dirname "$PC")") -lkiln" "${OUT% }" "its flags point into that prefix"
run cmake --install "$KILN_BUILD_DIR" --prefix "$T/prefix2"
assert_eq "$T/prefix2" "$(PKG_CONFIG_PATH=$(dirname "$(find "$T/prefix2" -name kiln.pc)") pkg-config --variable=prefix kiln)" \
  "installed again elsewhere, kiln.pc names the new prefix"
run env DESTDIR="$T/stage" cmake --install "$KILN_BUILD_DIR" --prefix /usr
assert_eq "prefix=/usr" "$(head -n 1 "$(find "$T/stage" -name kiln.pc)")" "DESTDIR (staging) is not part of the prefix"

say "symbol visibility: libkiln.so exports the API of kiln.h and nothing else"
SO=$(find "$T/prefix" -name 'libkiln.so.*.*' | head -n 1)
assert_file_exists "$SO" "libkiln.so is installed"
nm -D --defined-only "$SO" | awk '{ print $NF }' | sort -u >"$T/exported"
# the linker's own markers, if this binutils still defines them
grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$' "$T/exported" >"$T/exported.api" || true
assert_eq "" "$(grep -v '^kiln_' "$T/exported.api" | tr '\n' ' ')" "every exported symbol starts with kiln_"
H=$T/prefix/include/kiln/kiln.h
# every prototype at file scope is marked KILN_API (a forgotten mark would hide it)
assert_eq "" "$(grep -E '^[a-z].*[ *]kiln_[a-z0-9_]+\(' "$H" | grep -Ev '^(KILN_API|typedef) ')" \
  "every function declared in kiln.h is marked KILN_API"
sed -nE 's/^KILN_API .*[ *](kiln_[a-z0-9_]+)\(.*/\1/p' "$H" | sort -u >"$T/declared"
[ "$(wc -l <"$T/declared")" -ge 25 ] && ok "kiln.h declares $(wc -l <"$T/declared") functions" ||
  not_ok "kiln.h declares the API" "$(cat "$T/declared")"
assert_eq "" "$(comm -23 "$T/declared" "$T/exported.api" | tr '\n' ' ')" "every function of kiln.h is exported"
assert_eq "" "$(comm -13 "$T/declared" "$T/exported.api" | tr '\n' ' ')" "nothing but the functions of kiln.h is exported"
run sh -c "cc -Wall -Wextra -Werror '$KILN_SOURCE_DIR/examples/libkiln/build-and-push.c' \$(pkg-config --cflags --libs kiln) -Wl,-rpath,$(pkg-config --variable=libdir kiln) -o '$T/example'"
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

say "an application on a registry base, written to a layout and to the registry by one run"
run sh -c "cc -Wall -Wextra -Werror '$KILN_SOURCE_DIR/examples/libkiln/app-on-base.c' \$(pkg-config --cflags --libs kiln) -Wl,-rpath,$(pkg-config --variable=libdir kiln) -o '$T/app-on-base'"
assert_eq 0 "$RC" "app-on-base compiles against the installed library"; [ "$RC" -eq 0 ] || say "$ERR"
mkdir -p "$T/app/app"
printf '#!/bin/sh\necho "app ($APP_MODE) on: $(cat /hello.txt)"\n' >"$T/app/app/run"
chmod 755 "$T/app/app/run"
BASE_LAYER=$("$KILN" inspect --raw "docker://$REG/lib/example:1" | jq -r '.layers[0].digest')
M=$(registry_log_mark)
run "$T/app-on-base" "docker://$REG/lib/example:1" "$T/app" "oci:$T/app-oci:1" "docker://$REG/lib/app:1"
assert_eq 0 "$RC" "app-on-base builds"; [ "$RC" -eq 0 ] || say "$ERR"
APP_DIGEST=$OUT
assert_eq "$APP_DIGEST" "$(jq -r '.manifests[0].digest' "$T/app-oci/index.json")" "the layout holds the image built"
run "$KILN" digest "docker://$REG/lib/app:1"
assert_eq "$APP_DIGEST" "$OUT" "the registry holds the same image"
assert_eq "$BASE_LAYER" "$(layout_manifest "$T/app-oci" 1 | jq -r '.layers[0].digest')" "the base layer is kept as it was"
assert_eq 0 "$(registry_request_count "^PUT /v2/lib/app/blobs/uploads/.*digest=$BASE_LAYER" "$M")" "the base layer is not uploaded again"
assert_eq 1 "$(registry_request_count "^POST /v2/lib/app/blobs/uploads/\?.*mount=$BASE_LAYER" "$M")" "it is mounted from the base's repository"
run docker_reg pull "$REG/lib/app:1"
assert_eq 0 "$RC" "docker pulls the app"
run docker_reg run --rm --network none "$REG/lib/app:1"
assert_eq "app (production) on: hello from libkiln" "$OUT" "docker runs the app on its base"
