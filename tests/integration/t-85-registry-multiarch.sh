#!/usr/bin/env bash
# A multi-platform OCI index (linux/amd64 + linux/arm64, assembled here from two
# kiln builds) goes to a registry whole with kiln copy; skopeo sees the index;
# kiln copy --platform picks one image out of it (from docker:// and oci:), and
# dockerd pulls and runs the host's platform.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need skopeo jq python3 curl
[ -x /bin/busybox ] || _missing busybox
start_dockerd

case $(uname -m) in
  x86_64) HOST=amd64 OTHER=arm64 ;;
  aarch64) HOST=arm64 OTHER=amd64 ;;
  *) skip_all "host architecture $(uname -m) is neither amd64 nor arm64" ;;
esac
export SOURCE_DATE_EPOCH=1700000000

say "two single-platform builds into one layout"
reg_rootfs "$T/rootfs-$HOST" "I am $HOST"
mkdir -p "$T/rootfs-$OTHER"
printf 'I am %s\n' "$OTHER" >"$T/rootfs-$OTHER/hello.txt"
head -c 200000 /dev/urandom >"$T/rootfs-$OTHER/only-$OTHER.bin"
kiln_build --rootfs "$T/rootfs-$HOST" --platform "linux/$HOST" --cmd '["/bin/cat","/hello.txt"]' -o "oci:$T/plat:$HOST"
declare -A DG
DG[$HOST]=$DIGEST
kiln_build --rootfs "$T/rootfs-$OTHER" --platform "linux/$OTHER" --cmd '["/bin/cat","/hello.txt"]' -o "oci:$T/plat:$OTHER"
DG[$OTHER]=$DIGEST
assert_ne "${DG[amd64]}" "${DG[arm64]}" "two different images"

say "assemble the index"
python3 - "$T/plat" "$T/idx" >/dev/null <<'EOF'
import hashlib, json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
def blob(d, digest):
    return os.path.join(d, "blobs", *digest.split(":", 1))
shutil.copytree(os.path.join(src, "blobs"), os.path.join(dst, "blobs"))
with open(os.path.join(src, "oci-layout")) as f:
    layout = f.read()
with open(os.path.join(dst, "oci-layout"), "w") as f:
    f.write(layout)
idx = json.load(open(os.path.join(src, "index.json")))
manifests = []
for d in sorted(idx["manifests"], key=lambda d: d["annotations"]["org.opencontainers.image.ref.name"]):
    m = json.load(open(blob(src, d["digest"])))
    cfg = json.load(open(blob(src, m["config"]["digest"])))
    plat = {"architecture": cfg["architecture"], "os": cfg["os"]}
    if cfg.get("variant"):
        plat["variant"] = cfg["variant"]
    manifests.append({"mediaType": d["mediaType"], "digest": d["digest"], "size": d["size"], "platform": plat})
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
data = json.dumps(index, indent=2).encode()
digest = "sha256:" + hashlib.sha256(data).hexdigest()
with open(blob(dst, digest), "wb") as f:
    f.write(data)
top = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
       "manifests": [{"mediaType": index["mediaType"], "digest": digest, "size": len(data),
                      "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}
with open(os.path.join(dst, "index.json"), "w") as f:
    json.dump(top, f)
print(digest)
EOF
DI=$(jq -r '.manifests[0].digest' "$T/idx/index.json")
IDXBLOB=$(blob "$T/idx" "$DI")
check "the assembled index lists both platforms" jq -e '[.manifests[].platform.architecture] | sort == ["amd64","arm64"]' "$IDXBLOB"
# the blobs of one platform's image: manifest, config, layers
image_blobs() { # LAYOUT DIGEST
  local m; m=$(blob "$1" "$2")
  { echo "$2"; jq -r '.config.digest, .layers[].digest' "$m"; } | sort
}
image_blobs "$T/idx" "${DG[$OTHER]}" >"$T/blobs.$OTHER"
image_blobs "$T/idx" "${DG[$HOST]}" >"$T/blobs.$HOST"

start_registry plain
say "the whole index to docker://"
run "$KILN" copy "oci:$T/idx:multi" "docker://$REG/multi/app:1"
assert_eq "0 $DI" "$RC $OUT" "kiln copy of the index prints the index digest"; [ "$RC" -eq 0 ] || say "$ERR"
run skopeo inspect --raw --tls-verify=false "docker://$REG/multi/app:1"
assert_eq 0 "$RC" "skopeo inspect --raw exits 0"
printf '%s' "$OUT" >"$T/skopeo-raw"
assert_eq "$(cat "$IDXBLOB")" "$OUT" "skopeo inspect --raw shows the index, byte for byte"
assert_eq application/vnd.oci.image.index.v1+json "$(jq -r .mediaType "$T/skopeo-raw" 2>/dev/null)" "the registry serves an OCI index"
for a in amd64 arm64; do
  # (skopeo's .Digest stays the index's; .Architecture and .Layers are the chosen image's)
  run skopeo inspect --tls-verify=false --override-arch "$a" --override-os linux "docker://$REG/multi/app:1"
  assert_eq "$a $(jq -c '[.layers[].digest]' "$(blob "$T/idx" "${DG[$a]}")")" \
    "$(printf '%s' "$OUT" | jq -c '"\(.Architecture) \(.Layers)"' -r 2>/dev/null)" "skopeo resolves linux/$a to its image"
  assert_eq 200 "$(reg_manifest_status multi/app "${DG[$a]}")" "the registry has the linux/$a manifest by digest"
done
run "$KILN" digest "docker://$REG/multi/app:1"
assert_eq "0 $DI" "$RC $OUT" "kiln digest of the index"
run "$KILN" inspect "docker://$REG/multi/app:1"
assert_eq 0 "$RC" "kiln inspect of the index exits 0"
assert_contains "$DI" "$OUT" "kiln inspect shows the index digest"
assert_contains "linux/arm64" "$OUT" "kiln inspect lists linux/arm64"
assert_contains "linux/amd64" "$OUT" "kiln inspect lists linux/amd64"

say "kiln copy --platform linux/$OTHER docker:// → oci:"
run "$KILN" copy --platform "linux/$OTHER" "docker://$REG/multi/app:1" "oci:$T/one:1"
assert_eq "0 ${DG[$OTHER]}" "$RC $OUT" "prints the linux/$OTHER image's digest"; [ "$RC" -eq 0 ] || say "$ERR"
if [ -f "$T/one/index.json" ]; then
  assert_eq "1 ${DG[$OTHER]}" "$(jq -r '"\(.manifests | length) \(.manifests[0].digest)"' "$T/one/index.json")" \
    "the layout holds only the linux/$OTHER manifest"
  (cd "$T/one/blobs/sha256" && ls | sed 's/^/sha256:/' | sort) >"$T/blobs.one"
  assert_same_text "$T/blobs.$OTHER" "$T/blobs.one" "exactly the linux/$OTHER image's blobs (no index, no $HOST layer)"
  check "every blob hashes to its name" verify_layout_blobs "$T/one"
fi

say "kiln copy --platform linux/$OTHER oci: → oci: and docker:// → docker://"
run "$KILN" copy --platform "linux/$OTHER" "oci:$T/idx:multi" "oci:$T/one-oci:1"
assert_eq "0 ${DG[$OTHER]}" "$RC $OUT" "from an oci: index too"
M=$(registry_log_mark)
run "$KILN" copy --platform "linux/$OTHER" "docker://$REG/multi/app:1" "docker://$REG/multi/only:1"
assert_eq "0 ${DG[$OTHER]}" "$RC $OUT" "registry → registry with --platform"
H=$(reg_curl /v2/multi/only/manifests/1 -D - -o "$T/only-manifest" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json')
assert_eq "${DG[$OTHER]}" "$(printf '%s' "$H" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')" \
  "multi/only:1 is the linux/$OTHER manifest, not an index"
HOSTLAYER=$(jq -r '.layers[0].digest' "$(blob "$T/idx" "${DG[$HOST]}")")
assert_eq 404 "$(reg_curl "/v2/multi/only/blobs/$HOSTLAYER" -o /dev/null -I -w '%{http_code}')" "the $HOST layer was not copied into multi/only"
assert_eq 0 "$(registry_request_count "^GET /v2/multi/app/blobs/$HOSTLAYER" "$M")" "the $HOST layer was not downloaded"

say "the whole index back, and an unknown platform"
run "$KILN" copy "docker://$REG/multi/app:1" "oci:$T/whole:1"
assert_eq "0 $DI" "$RC $OUT" "kiln copy of the index from docker:// prints the index digest"
if [ -f "$T/whole/index.json" ]; then
  assert_same_file "$IDXBLOB" "$(blob "$T/whole" "$DI")" "the pulled index is byte-identical"
  check "every blob of both platforms is there and hashes to its name" verify_layout_blobs "$T/whole"
  sort -u "$T/blobs.$HOST" "$T/blobs.$OTHER" >"$T/blobs.all"
  echo "$DI" >>"$T/blobs.all"; sort -o "$T/blobs.all" "$T/blobs.all"
  (cd "$T/whole/blobs/sha256" && ls | sed 's/^/sha256:/' | sort) >"$T/blobs.whole"
  assert_same_text "$T/blobs.all" "$T/blobs.whole" "the pulled layout has the index and both images"
fi
run "$KILN" copy --platform linux/s390x "docker://$REG/multi/app:1" "oci:$T/none:1"
assert_eq 1 "$RC" "--platform linux/s390x (not in the index) exits 1"
assert_contains "s390x" "$ERR" "the error names the missing platform"

say "docker pulls the index and runs linux/$HOST"
run docker_reg pull "$REG/multi/app:1"
assert_eq 0 "$RC" "docker pull of the index"; [ "$RC" -eq 0 ] || say "$ERR"
run docker_reg run --rm --network none "$REG/multi/app:1"
assert_eq "0 I am $HOST" "$RC $OUT" "docker runs the linux/$HOST image"
run docker_reg image inspect --format '{{join .RepoDigests " "}}' "$REG/multi/app:1"
assert_contains "$REG/multi/app@$DI" "$OUT" "docker's RepoDigests has the index digest"
