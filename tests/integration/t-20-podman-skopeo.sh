#!/usr/bin/env bash
# One kiln build, three outputs (oci layout, oci-archive, docker-archive):
# skopeo reads all three and sees the same image; podman loads and runs both
# archives; skopeo copies each into fresh oci: and dir: destinations.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need skopeo podman jq python3 busybox
[ -x /bin/busybox ] || _missing busybox
setup_podman

R=$T/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/app"
cp /bin/busybox "$R/bin/busybox"
for a in sh cat echo id ls; do ln -s busybox "$R/bin/$a"; done
echo "hello from kiln" >"$R/app/hello.txt"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"

say "kiln build with three outputs in one pass"
kiln_build --rootfs "$R" --tag kt:1.0 \
  --entrypoint '/bin/busybox env' \
  --cmd "echo 'a b' \"c  d\" e\\ f" \
  --env PATH=/bin --label stage=t20 --annotation org.example.note=t20 \
  -o "oci:$T/layout:1.0" -o "oci-archive:$T/img.oci.tar:1.0" -o "docker-archive:$T/img.docker.tar"
assert_match '^sha256:[0-9a-f]{64}$' "$DIGEST" "printed digest"

say "the OCI layout"
check "oci-layout is imageLayoutVersion 1.0.0" jq -e '.imageLayoutVersion == "1.0.0"' "$T/layout/oci-layout"
check "index.json is an OCI index" jq -e '.schemaVersion == 2 and (.manifests | length) == 1' "$T/layout/index.json"
assert_eq "$DIGEST" "$(jq -r '.manifests[0].digest' "$T/layout/index.json")" "printed digest = index.json descriptor digest"
assert_eq "1.0" "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$T/layout/index.json")" "index.json ref.name = 1.0"
assert_eq "application/vnd.oci.image.manifest.v1+json" "$(jq -r '.manifests[0].mediaType' "$T/layout/index.json")" "descriptor mediaType"
MF=$(blob "$T/layout" "$DIGEST")
assert_eq "$(jq -r '.manifests[0].size' "$T/layout/index.json")" "$(stat -c %s "$MF")" "descriptor size = manifest size"
check "every blob hashes to its name" verify_layout_blobs "$T/layout"
check "manifest: schemaVersion 2, OCI mediaType, one gzip layer" \
  jq -e '.schemaVersion == 2 and .mediaType == "application/vnd.oci.image.manifest.v1+json" and .config.mediaType == "application/vnd.oci.image.config.v1+json" and (.layers | length) == 1 and .layers[0].mediaType == "application/vnd.oci.image.layer.v1.tar+gzip"' "$MF"
assert_eq "t20" "$(jq -r '.annotations["org.example.note"]' "$MF")" "--annotation lands in the manifest annotations"
check_not "ref.name is not a manifest annotation" jq -e '.annotations["org.opencontainers.image.ref.name"]' "$MF"
CFGD=$(jq -r .config.digest "$MF")
CF=$(blob "$T/layout" "$CFGD")
assert_eq '["echo","a b","c  d","e f"]' "$(jq -c .config.Cmd "$CF")" "--cmd string is split like a shell (quotes, backslash)"
assert_eq '["/bin/busybox","env"]' "$(jq -c .config.Entrypoint "$CF")" "--entrypoint string is split like a shell"
assert_eq "t20" "$(jq -r .config.Labels.stage "$CF")" "--label in config Labels"
check "config has os, architecture, rootfs.type=layers" jq -e '.os == "linux" and (.architecture | length) > 0 and .rootfs.type == "layers"' "$CF"

say "the oci-archive holds the same layout"
mkdir "$T/ociarch"
tar -C "$T/ociarch" -xf "$T/img.oci.tar"
check "oci-archive contents = oci layout contents (byte for byte)" diff -r "$T/layout" "$T/ociarch"

say "skopeo inspect: the three outputs describe one image"
DIFFIDS=$(jq -c .rootfs.diff_ids "$CF")
for ref in "oci:$T/layout:1.0" "oci-archive:$T/img.oci.tar:1.0" "docker-archive:$T/img.docker.tar"; do
  run skopeo inspect --raw "$ref"
  if [ "$RC" -ne 0 ]; then not_ok "skopeo inspect --raw $ref" "$ERR"; continue; fi
  assert_eq "$CFGD" "$(printf '%s' "$OUT" | jq -r .config.digest)" "config digest via $ref"
  run skopeo inspect --config "$ref"
  assert_eq 0 "$RC" "skopeo inspect --config $ref"
  assert_eq "$DIFFIDS" "$(printf '%s' "$OUT" | jq -c .rootfs.diff_ids)" "diff_ids via $ref"
  run skopeo inspect "$ref"
  assert_eq 0 "$RC" "skopeo inspect $ref"
  case $ref in
    oci*) assert_eq "$(jq -c '[.layers[].digest]' "$MF")" "$(printf '%s' "$OUT" | jq -c .Layers)" "layer digests via $ref" ;;
  esac
done
run skopeo inspect "oci:$T/layout:1.0"
assert_eq "$DIGEST" "$(printf '%s' "$OUT" | jq -r .Digest)" "skopeo's manifest digest of the layout = printed digest"

say "skopeo copy from each output into fresh oci: and dir: destinations"
n=0
for ref in "oci:$T/layout:1.0" "oci-archive:$T/img.oci.tar:1.0" "docker-archive:$T/img.docker.tar"; do
  n=$((n + 1))
  run skopeo copy "$ref" "oci:$T/copy$n:c"
  assert_eq 0 "$RC" "skopeo copy $ref → oci:" ; [ "$RC" -eq 0 ] || say "$ERR"
  run skopeo copy "$ref" "dir:$T/dir$n"
  assert_eq 0 "$RC" "skopeo copy $ref → dir:" ; [ "$RC" -eq 0 ] || say "$ERR"
  if [ -f "$T/copy$n/index.json" ]; then
    C2=$(layout_config "$T/copy$n")
    assert_eq "$DIFFIDS" "$(printf '%s' "$C2" | jq -c .rootfs.diff_ids)" "copy $n keeps the diff_ids"
  fi
done
# oci → oci needs no conversion: skopeo keeps the manifest, so its digest is kiln's
assert_eq "$DIGEST" "$(jq -r '.manifests[0].digest' "$T/copy1/index.json" 2>/dev/null)" "oci → oci copy keeps kiln's manifest digest"

say "podman load + run"
for a in "$T/img.docker.tar" "$T/img.oci.tar"; do
  run podman_ load -i "$a"
  assert_eq 0 "$RC" "podman load -i $(basename "$a")"
  [ "$RC" -eq 0 ] || { say "$ERR"; continue; }
  name=$(printf '%s\n%s\n' "$OUT" "$ERR" | sed -n 's/^Loaded image[^:]*: *//p' | tail -n 1)
  [ -n "$name" ] || { not_ok "podman load names the image" "$OUT"; continue; }
  say "podman loaded $name"
  assert_eq "${CFGD#sha256:}" "$(podman_ image inspect --format '{{.Id}}' "$name")" "podman image ID = kiln's config digest ($(basename "$a"))"
  run podman_ "${PODMAN_RUN[@]}" "$name"
  assert_eq 0 "$RC" "podman run $name" ; [ "$RC" -eq 0 ] || say "$ERR"
  assert_eq "a b c  d e f" "$OUT" "podman run: entrypoint + cmd output ($(basename "$a"))"
  run podman_ "${PODMAN_RUN[@]}" --entrypoint /bin/cat "$name" /app/hello.txt
  assert_eq "hello from kiln" "$OUT" "podman run cat /app/hello.txt ($(basename "$a"))"
done
run podman_ images --format '{{.Repository}}:{{.Tag}}'
assert_match '(^|/)kt:1\.0$' "$OUT" "podman lists the image as kt:1.0 (from the docker-archive RepoTags)"
