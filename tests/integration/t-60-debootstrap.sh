#!/usr/bin/env bash
# A real Debian rootfs (debootstrap minbase bookworm, cached between runs),
# built with --rootfs and with --tar from a Yocto-style rootfs.tar.bz2:
# both load into docker and run; podman runs one; both layers hold the same files.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need debootstrap tar bzip2 jq python3

DEB=$(debian_minbase)
VER=$(cat "$DEB/etc/debian_version")
say "debian_version of the cached tree: $VER"

start_dockerd
setup_podman

say "--rootfs DIR"
kiln_build --rootfs "$DEB" --tag deb-rootfs:1 --cmd '["/bin/bash"]' \
  -o docker-archive:"$T/rootfs.docker.tar" -o "oci:$T/l-rootfs:1"
assert_match "^sha256:[0-9a-f]{64}$" "$DIGEST" "--rootfs build printed a digest"

say "--tar rootfs.tar.bz2 (tar --numeric-owner --xattrs -cjf)"
tar --numeric-owner --xattrs -cjf "$T/rootfs.tar.bz2" -C "$DEB" .
kiln_build --tar "$T/rootfs.tar.bz2" --tag deb-tar:1 --cmd '["/bin/bash"]' \
  -o docker-archive:"$T/tar.docker.tar" -o "oci:$T/l-tar:1"
assert_match "^sha256:[0-9a-f]{64}$" "$DIGEST" "--tar build printed a digest"

say "both layers hold the same files (owners, modes, types, contents)"
layer_manifest "$(blob "$T/l-rootfs" "$(layout_manifest "$T/l-rootfs" | jq -r '.layers[0].digest')")" >"$T/rootfs.m"
layer_manifest "$(blob "$T/l-tar" "$(layout_manifest "$T/l-tar" | jq -r '.layers[0].digest')")" >"$T/tar.m"
tree_manifest "$DEB" >"$T/deb.m"
assert_same_text "$T/deb.m" "$T/rootfs.m" "--rootfs layer = the debootstrap tree"
assert_same_text "$T/deb.m" "$T/tar.m" "--tar layer = the debootstrap tree"

say "docker load + run"
for a in rootfs tar; do
  run docker_ load -i "$T/$a.docker.tar"
  assert_eq 0 "$RC" "docker load $a.docker.tar" ; [ "$RC" -eq 0 ] || say "$ERR"
  run docker_ run --rm --network none "deb-$a:1" cat /etc/debian_version
  assert_eq "$VER" "$OUT" "docker run deb-$a:1 cat /etc/debian_version" ; [ "$RC" -eq 0 ] || say "$ERR"
  run docker_ run --rm --network none "deb-$a:1" /bin/bash -c 'dpkg-query -W -f="\${Package}\n" | wc -l; id -un; ls -ld /tmp | cut -c1-10'
  assert_eq "$(dpkg-query --admindir="$DEB/var/lib/dpkg" -W -f='${Package}\n' | wc -l)"$'\nroot\ndrwxrwxrwt' "$OUT" "docker run deb-$a:1: dpkg database, users and /tmp mode intact"
done

say "podman load + run"
run podman_ load -i "$T/tar.docker.tar"
assert_eq 0 "$RC" "podman load tar.docker.tar" ; [ "$RC" -eq 0 ] || say "$ERR"
name=$(printf '%s\n%s\n' "$OUT" "$ERR" | sed -n 's/^Loaded image[^:]*: *//p' | tail -n 1)
run podman_ "${PODMAN_RUN[@]}" "${name:-deb-tar:1}" cat /etc/debian_version
assert_eq "$VER" "$OUT" "podman run ${name:-deb-tar:1} cat /etc/debian_version" ; [ "$RC" -eq 0 ] || say "$ERR"
