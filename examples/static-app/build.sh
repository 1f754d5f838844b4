#!/bin/sh
# Builds examples/static-app: compiles app.c into a static binary and packages
# that one file as a container image with kiln, no Docker and no base image.
#
#   examples/static-app/build.sh [DEST...]
#
# DEST: kiln outputs (default: docker-archive:$OUT/static-app.tar and
# oci:$OUT/static-app-oci); the manifest digest is printed on stdout.
# Environment: CC (default cc), KILN (default kiln), OUT (default ./out),
# TAG (default static-app:1.0), SOURCE_DATE_EPOCH (default 1700000000:
# the same image, byte for byte, on every build of the same binary),
# KILN_BUILD_FLAGS (more kiln build options, e.g. registry options for a push).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-cc}
KILN=${KILN:-kiln}
OUT=${OUT:-out}
TAG=${TAG:-static-app:1.0}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export SOURCE_DATE_EPOCH

mkdir -p "$OUT"
# -static: the image holds nothing else, so the binary must need nothing else
"$CC" -static -Os -Wall -Wextra -o "$OUT/static-app" "$here/app.c"
strip "$OUT/static-app" 2>/dev/null || true

if [ $# -eq 0 ]; then
  set -- "docker-archive:$OUT/static-app.tar" "oci:$OUT/static-app-oci"
fi
# each DEST becomes "-o DEST"
for d; do set -- "$@" -o "$d"; shift; done

# One layer: the binary at /static-app, root-owned 0755. The config: what to
# run, default arguments, an environment variable, a non-root user.
# shellcheck disable=SC2086
exec "$KILN" build ${KILN_BUILD_FLAGS:-} \
  --add "$OUT/static-app:/static-app:0755:0:0" \
  --entrypoint '["/static-app"]' --cmd '["default", "arguments"]' \
  --env GREETING=hello --user 65534:65534 --workdir / \
  --label org.opencontainers.image.title=static-app \
  --label org.opencontainers.image.description="a static C program, alone in its image" \
  -t "$TAG" "$@"
