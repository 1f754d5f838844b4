#!/bin/bash
# kiln's main job on the built-in example, start to finish:
#   1. install the dependencies and build kiln;
#   2. compile examples/hello (a static C program) into a one-file rootfs;
#   3. kiln build: an OCI layout, a docker-archive and a push in one pass, reproducibly;
#   4. push it to a local registry on 127.0.0.1 (started here) from the same build;
#   5. start a private Docker engine, pull the image from the registry and run it.
# Everything it starts is stopped when it ends. Run as root on Debian 12.
#
# KILN=/usr/bin/kiln scripts/demo.sh runs it against an installed kiln (the
# Debian package, say) instead of building one: step 1 only installs the
# dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

./scripts/install-deps.sh
if [ -n "${KILN:-}" ]; then
  kiln=$KILN
  [ -x "$kiln" ] || { echo "demo: KILN=$kiln is not an executable file" >&2; exit 1; }
  printf 'using %s: %s\n' "$kiln" "$("$kiln" version | head -n 1)"
else
  cmake -B build -S . >/dev/null
  cmake --build build -j"$(nproc)" >/dev/null
  kiln=$src/build/src/cli/kiln
fi

work=$(mktemp -d /tmp/kiln-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "compile the example program"
mkdir -p "$work/rootfs/usr/bin"
cc -static -Os -o "$work/rootfs/usr/bin/hello" examples/hello/hello.c
ls -l "$work/rootfs/usr/bin/hello"

step "start a local registry on 127.0.0.1:5000"
mkdir -p "$work/registry"
cat > "$work/registry/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry/data
http:
  addr: 127.0.0.1:5000
YML
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fsS http://127.0.0.1:5000/v2/ >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS http://127.0.0.1:5000/v2/ >/dev/null

step "kiln build: OCI layout + docker archive + push, in one pass (SOURCE_DATE_EPOCH=1700000000)"
export SOURCE_DATE_EPOCH=1700000000
digest=$("$kiln" build --rootfs "$work/rootfs" \
  --entrypoint '["/usr/bin/hello"]' --cmd 'built by kiln' \
  --label org.opencontainers.image.title=hello --tag 127.0.0.1:5000/demo/hello:1.0 \
  -o "oci:$work/hello-oci:1.0" -o "docker-archive:$work/hello.docker.tar" \
  -o docker://127.0.0.1:5000/demo/hello:1.0 -v)
echo "manifest digest: $digest"
"$kiln" inspect docker://127.0.0.1:5000/demo/hello:1.0
echo "tags: $("$kiln" tags 127.0.0.1:5000/demo/hello | tr '\n' ' ')"

step "start a private Docker engine, pull and run the image"
d=$work/docker
mkdir -p "$d"
dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
  --data-root="$d/data" --exec-root="$d/exec" -H "unix://$d/sock" --pidfile "$d/pid" \
  >"$d/log" 2>&1 &
pids+=($!)
export DOCKER_HOST=unix://$d/sock
for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
docker pull 127.0.0.1:5000/demo/hello:1.0
docker run --rm --network none 127.0.0.1:5000/demo/hello:1.0
docker rmi -f 127.0.0.1:5000/demo/hello:1.0 >/dev/null
docker load -i "$work/hello.docker.tar"
docker run --rm --network none --user 1000 127.0.0.1:5000/demo/hello:1.0 from the docker-archive

step "done: digest $digest"
