#!/bin/sh
# The script step of the CI examples here (gitlab-ci.yml, github-actions.yml):
# build an image with kiln and push it to a registry, without Docker, a
# daemon, docker:dind or privileges. Run it as it is, or copy its steps.
#
# Environment (the CI files map their variables onto these):
#   REGISTRY           registry HOST[:PORT], e.g. registry.gitlab.com, ghcr.io
#   IMAGE              repository in it, e.g. group/project/app
#   TAG                tag to push (default: latest); the image is also pushed
#                      as :EXTRA_TAG when that is set
#   REGISTRY_USER,     credentials; when both are set, kiln login stores them
#   REGISTRY_PASSWORD  (in a throw-away auth file) before the push
#   KILN               the kiln program (default: kiln on PATH)
#   SOURCE_DATE_EPOCH  image time and mtime clamp (default: the time of the
#                      last git commit, else 1700000000): same sources, same digest
#   OUT                where local artifacts go (default: ./kiln-out)
#   KILN_FLAGS         extra registry options, e.g. "--ca-file ca.pem"
# Prints the pushed manifest digest on its last line; writes it, and an OCI
# archive of the image, to $OUT for the CI job to keep as artifacts.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
: "${REGISTRY:?set REGISTRY to the registry host, e.g. registry.gitlab.com}"
: "${IMAGE:?set IMAGE to the repository, e.g. group/project/app}"
TAG=${TAG:-latest}
KILN=${KILN:-kiln}
OUT=${OUT:-kiln-out}
KILN_FLAGS=${KILN_FLAGS:-}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 1700000000)
fi
export SOURCE_DATE_EPOCH
ref=$REGISTRY/$IMAGE
mkdir -p "$OUT"

echo "== kiln: $("$KILN" version | head -n 1)"

# 1. Log in, if credentials are given. The auth file is the job's own, not
#    ~/.docker/config.json, and is removed at the end.
if [ -n "${REGISTRY_USER:-}" ] && [ -n "${REGISTRY_PASSWORD:-}" ]; then
  auth=$(mktemp -d)
  trap 'rm -rf "$auth"' EXIT
  export REGISTRY_AUTH_FILE="$auth/auth.json"
  # shellcheck disable=SC2086
  printf '%s\n' "$REGISTRY_PASSWORD" |
    "$KILN" login $KILN_FLAGS -u "$REGISTRY_USER" --password-stdin "$REGISTRY"
fi

# 2. Build the application and the image, and push it, in one pass: here the
#    static program of examples/static-app (replace with your own build).
#    The OCI archive is a local copy of exactly what was pushed.
set -- "docker://$ref:$TAG" "oci-archive:$OUT/image.oci.tar:$TAG"
if [ -n "${EXTRA_TAG:-}" ]; then set -- "$@" "docker://$ref:$EXTRA_TAG"; fi
echo "== build and push $ref:$TAG"
digest=$(KILN="$KILN" OUT="$OUT" TAG="$ref:$TAG" \
  KILN_BUILD_FLAGS="$KILN_FLAGS" sh "$here/../static-app/build.sh" "$@")
printf '%s\n' "$digest" >"$OUT/digest"

# 3. Check what the registry now serves.
echo "== pushed"
# shellcheck disable=SC2086
"$KILN" inspect $KILN_FLAGS "docker://$ref:$TAG"
# shellcheck disable=SC2086
served=$("$KILN" digest $KILN_FLAGS "docker://$ref:$TAG")
if [ "$served" != "$digest" ]; then
  echo "build-and-push: the registry serves $served, not the $digest just built" >&2
  exit 1
fi
echo "$digest"
