#!/usr/bin/env bash
# Sigstore signatures against the real consumers: kiln keygen makes a key pair
# skopeo 1.9 signs with, kiln sign adds signatures that skopeo copy and podman
# pull accept under a sigstoreSigned policy (use-sigstore-attachments in
# registries.d), for an image and for an index and each of its images; a
# tampered image, a wrong key and a signature moved to another digest are
# refused by skopeo, podman and kiln verify alike; kiln verify accepts what
# skopeo signed. skopeo 1.9 reads sigstore signatures only from registries,
# so everything is checked after a push to a real docker-registry 2.8.
#
# Debian 12 builds containers/image 5.23 (golang-github-containers-image
# 5.23.1-4) with sigstore support stubbed out: skopeo 1.9 and podman 4.3 find
# the signatures at the attachment tag, then refuse each one with "Debian-local
# change: sigstore disabled", and skopeo cannot sign with a sigstore key. So
# where the consumer says that, the checks that need it to accept (or to sign)
# cannot pass; instead what it does show is checked: that it finds every one
# of kiln's signatures where kiln put them, and that it refuses them only for
# that reason. Nothing is skipped; a skopeo/podman with sigstore enabled runs
# the acceptance checks themselves.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need skopeo podman jq curl
setup_podman

start_registry plain
reg_rootfs "$T/rootfs" "signed by kiln"
reg_rootfs "$T/rootfs2" "something else"
R=$REG/sig/app

say "kiln keygen"
printf 'correct horse battery\n' >"$T/pass"
printf 'another one\n' >"$T/pass2"
run "$KILN" keygen --output-prefix "$T/k" --passphrase-file "$T/pass"
assert_eq 0 "$RC" "kiln keygen exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq "$T/k.private $T/k.pub" "$(echo $OUT)" "kiln keygen prints the two file names"
assert_eq 600 "$(stat -c %a "$T/k.private")" "the private key is mode 0600"
assert_eq "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----" "$(head -n1 "$T/k.private")" "private key PEM block"
assert_eq "-----BEGIN PUBLIC KEY-----" "$(head -n1 "$T/k.pub")" "public key PEM block"
assert_match 'id-ecPublicKey|ASN1 OID: prime256v1' "$(openssl pkey -pubin -in "$T/k.pub" -text -noout 2>&1)" "openssl reads an EC P-256 public key"
check_not "the passphrase does not appear in the key files" grep -q "correct horse" "$T/k.private" "$T/k.pub"
run "$KILN" keygen --output-prefix "$T/w" --passphrase-fd 3 3<"$T/pass2"
assert_eq 0 "$RC" "kiln keygen --passphrase-fd exits 0 (the wrong key of this test)"
run "$KILN" keygen --output-prefix "$T/k" --passphrase-file "$T/pass"
assert_eq 2 "$RC" "kiln keygen refuses to replace a key file"
say "$ERR"
run "$KILN" keygen --output-prefix "$T/x"
assert_eq 2 "$RC" "kiln keygen without a passphrase source is a usage error"

say "policies and registries.d"
mkdir -p "$T/regd" "$T/home/.config/containers/registries.d"
cat >"$T/regd/kiln.yaml" <<EOY
docker:
  $REG:
    use-sigstore-attachments: true
EOY
cp "$T/regd/kiln.yaml" "$T/home/.config/containers/registries.d/"
policy() { # FILE PUBKEY
  jq -n --arg reg "$REG" --arg key "$2" '{default: [{type: "reject"}], transports: {
    docker: {($reg): [{type: "sigstoreSigned", keyPath: $key, signedIdentity: {type: "matchRepoDigestOrExact"}}]},
    oci: {"": [{type: "insecureAcceptAnything"}]}}}' >"$1"
}
policy "$T/policy.json" "$T/k.pub"
policy "$T/policy-wrong.json" "$T/w.pub"
skopeo_pull() { # POLICY REF [skopeo copy flags] -> RC, OUT, ERR
  local pol=$1 ref=$2; shift 2
  rm -rf "$T/pulled"
  run skopeo copy --remove-signatures "$@" --policy "$pol" --registries.d "$T/regd" --src-tls-verify=false "docker://$ref" "oci:$T/pulled:x"
}
podman_pull() { # POLICY REF
  run env HOME="$T/home" "${PODMAN[@]}" pull --signature-policy "$1" --tls-verify=false "$2"
}
DISABLED="Debian-local change: sigstore disabled"
# accepts WHO MSG NSIGS: the consumer's last run accepted the image; or, when
# it is a build without sigstore, a skip that says so, after checking that it
# found NSIGS signatures (one refusal reason each).
accepts() {
  local who=$1 msg=$2 nsigs=${3:-1}
  if [ "$RC" -eq 0 ]; then ok "$who accepts: $msg"; return; fi
  case $ERR in
    *"$DISABLED"*)
      local n; n=$(grep -o "$DISABLED" <<<"$ERR" | wc -l)
      assert_eq "$nsigs" "$n" "$who finds the $nsigs signature(s) at the attachment tag (one refusal reason each)"
      # no skip: what this consumer does is checked, and the acceptance it
      # cannot give is said to be blocked (docs/signing.md)
      assert_contains "$DISABLED" "$ERR" "$who refuses only for its own build's reason (sigstore disabled), so '$msg' cannot be shown by it here"
      say "$who: $(tail -n1 <<<"$ERR")" ;;
    *) not_ok "$who accepts: $msg" "$ERR" ;;
  esac
}
# refuses WHO MSG: the consumer's last run refused the image (and why)
# (A consumer without sigstore refuses every signature: then the refusal is
# checked to be for that reason.)
refuses() {
  local who=$1 msg=$2
  say "$who: $(grep -v '^Trying to pull' <<<"$ERR" | tail -n1)"
  if [ "$RC" -eq 0 ]; then not_ok "$who refuses: $msg" "it accepted"
  else case $ERR in
    *"$DISABLED"*) assert_contains "$DISABLED" "$ERR" "$who refuses: $msg (as it refuses every sigstore signature: sigstore disabled in its build)" ;;
    *) ok "$who refuses: $msg" ;;
  esac; fi
}
# reg_copy_manifest REPO REF DSTREPO DSTREF: the manifest and its blobs (mounted)
reg_copy_manifest() {
  reg_curl "/v2/$1/manifests/$2" -H 'Accept: application/vnd.oci.image.manifest.v1+json' >"$T/cm"
  local d
  for d in $(jq -r '.config.digest, .layers[].digest' "$T/cm"); do
    reg_curl "/v2/$3/blobs/uploads/?mount=$d&from=$1" -X POST -o /dev/null
  done
  reg_curl "/v2/$3/manifests/$4" -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$T/cm" -o /dev/null -w '%{http_code}'
}

say "an image signed by kiln"
run "$KILN" build --rootfs "$T/rootfs" --source-date-epoch 1700000000 -o "docker://$R:1.0"
assert_eq 0 "$RC" "kiln build -o docker:// exits 0"
D1=$OUT
skopeo_pull "$T/policy.json" "$R:1.0"
refuses skopeo "the image before it is signed"
assert_contains "no signature exists" "$ERR" "skopeo finds no signature before kiln signs"
run "$KILN" sign --key "$T/k.private" --passphrase-file "$T/pass" "docker://$R:1.0"
assert_eq 0 "$RC" "kiln sign exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq "$D1" "$OUT" "kiln sign prints the digest signed"
SIGTAG=sha256-${D1#sha256:}.sig
M=$(reg_curl "/v2/sig/app/manifests/$SIGTAG" -H 'Accept: application/vnd.oci.image.manifest.v1+json')
assert_eq application/vnd.oci.image.manifest.v1+json "$(jq -r .mediaType <<<"$M")" "the signature tag holds an OCI manifest"
assert_eq application/vnd.dev.cosign.simplesigning.v1+json "$(jq -r '.layers[0].mediaType' <<<"$M")" "its layer is a simple-signing payload"
assert_match '^[A-Za-z0-9+/]+=*$' "$(jq -r '.layers[0].annotations["dev.cosignproject.cosign/signature"]' <<<"$M")" "the signature annotation is base64"
P=$(reg_curl "/v2/sig/app/blobs/$(jq -r '.layers[0].digest' <<<"$M")")
assert_eq "$D1 $R:1.0 cosign container image signature" \
  "$(jq -r '[.critical.image["docker-manifest-digest"], .critical.identity["docker-reference"], .critical.type] | join(" ")' <<<"$P")" \
  "the payload names the digest, the reference and cosign's type"

skopeo_pull "$T/policy.json" "$R:1.0"
accepts skopeo "kiln's signature, under a sigstoreSigned policy"
skopeo_pull "$T/policy.json" "$R@$D1"
accepts skopeo "kiln's signature, the image pulled by digest"
podman_pull "$T/policy.json" "$R:1.0"
accepts podman "kiln's signature, podman pull --signature-policy"
run "$KILN" verify --key "$T/k.pub" "docker://$R:1.0"
assert_eq 0 "$RC" "kiln verify accepts its own signature"
assert_eq "$D1 $R:1.0" "$OUT" "kiln verify prints the digest and the reference signed"

say "wrong key"
skopeo_pull "$T/policy-wrong.json" "$R:1.0"
refuses skopeo "a policy with another public key"
podman_pull "$T/policy-wrong.json" "$R:1.0"
refuses podman "a policy with another public key"
run "$KILN" verify --key "$T/w.pub" "docker://$R:1.0"
assert_eq 1 "$RC" "kiln verify refuses with another public key"; say "$ERR"
run "$KILN" sign --key "$T/k.private" --passphrase-file "$T/pass2" "docker://$R:1.0"
assert_eq 1 "$RC" "kiln sign refuses a wrong passphrase"
assert_contains "wrong passphrase" "$ERR" "and says so"
check_not "the error shows no passphrase" grep -q "another one" <<<"$ERR"

run "$KILN" sign --debug --key "$T/k.private" --passphrase-file "$T/pass" --no-recursive "docker://$R:1.0"
assert_eq 0 "$RC" "kiln sign --debug exits 0"
assert_match 'PUT .*/v2/sig/app/manifests/sha256-' "$ERR" "--debug logs the requests"
check_not "--debug shows no passphrase" grep -q "correct horse" <<<"$ERR"
check_not "--debug shows no line of the private key" grep -qF -f <(sed -n '2,4p' "$T/k.private") <<<"$ERR"
# (that third signature by the same key is one more layer; the count below allows for it)
say "two signatures accumulate on one tag"
run "$KILN" sign --key "$T/w.private" --passphrase-fd 4 "docker://$R:1.0" 4<"$T/pass2"
assert_eq 0 "$RC" "kiln sign with a second key"
assert_eq 3 "$(reg_curl "/v2/sig/app/manifests/$SIGTAG" -H 'Accept: application/vnd.oci.image.manifest.v1+json' | jq '.layers | length')" "the tag now holds three signatures (two by the first key, one by the second)"
skopeo_pull "$T/policy.json" "$R:1.0"
accepts skopeo "several signatures on one tag, the first key" 3
skopeo_pull "$T/policy-wrong.json" "$R:1.0"
accepts skopeo "several signatures on one tag, the second key" 3

say "another identity"
assert_eq 201 "$(reg_copy_manifest sig/app 1.0 sig/copy 1.0)" "the image is copied to another repository"
assert_eq 201 "$(reg_copy_manifest sig/app "$SIGTAG" sig/copy "$SIGTAG")" "and its signatures with it"
skopeo_pull "$T/policy.json" "$REG/sig/copy:1.0"
refuses skopeo "a signature made for another repository"
run "$KILN" verify --key "$T/k.pub" "docker://$REG/sig/copy:1.0"
assert_eq 1 "$RC" "kiln verify refuses it too"; say "$ERR"

say "a tampered image, and a signature moved to another digest"
run "$KILN" build --rootfs "$T/rootfs2" --source-date-epoch 1700000000 -o "docker://$R:1.0"
assert_eq 0 "$RC" "the tag 1.0 is pushed over with other content"
D2=$OUT
assert_ne "$D1" "$D2" "it has another digest"
skopeo_pull "$T/policy.json" "$R:1.0"
refuses skopeo "the unsigned replacement"
# the old signatures, moved to the new digest's tag
reg_curl "/v2/sig/app/manifests/$SIGTAG" -H 'Accept: application/vnd.oci.image.manifest.v1+json' >"$T/sigm"
S=$(reg_curl "/v2/sig/app/manifests/sha256-${D2#sha256:}.sig" -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$T/sigm" -o /dev/null -w '%{http_code}')
assert_eq 201 "$S" "the signature manifest of $D1 is put at the tag of $D2"
skopeo_pull "$T/policy.json" "$R:1.0"
refuses skopeo "a signature for another digest"
podman_pull "$T/policy.json" "$R:1.0"
refuses podman "a signature for another digest"
run "$KILN" verify --key "$T/k.pub" "docker://$R:1.0"
assert_eq 1 "$RC" "kiln verify refuses a signature for another digest"; say "$ERR"
assert_contains "another manifest" "$ERR" "kiln says the signature is for another manifest"
# a payload rewritten to name the new digest, under the old signature
jq -c --arg d "$D2" '.critical.image["docker-manifest-digest"] = $d' <<<"$P" | tr -d '\n' >"$T/forged"
FD=sha256:$(sha256sum "$T/forged" | cut -d' ' -f1)
LOC=$(reg_curl "/v2/sig/app/blobs/uploads/" -X POST -D - -o /dev/null | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case $LOC in http*) ;; *) LOC=http://$REG$LOC ;; esac
curl -s -X PUT --data-binary @"$T/forged" -H 'Content-Type: application/octet-stream' "$LOC&digest=$FD" -o /dev/null
jq -c --arg d "$FD" --argjson n "$(stat -c %s "$T/forged")" '.layers[0].digest = $d | .layers[0].size = $n | .layers = [.layers[0]]' "$T/sigm" >"$T/sigm2"
S=$(reg_curl "/v2/sig/app/manifests/sha256-${D2#sha256:}.sig" -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$T/sigm2" -o /dev/null -w '%{http_code}')
assert_eq 201 "$S" "a forged payload naming $D2 with the old signature is put in place"
skopeo_pull "$T/policy.json" "$R:1.0"
refuses skopeo "a tampered payload"
podman_pull "$T/policy.json" "$R:1.0"
refuses podman "a tampered payload"
run "$KILN" verify --key "$T/k.pub" "docker://$R:1.0"
assert_eq 1 "$RC" "kiln verify refuses the tampered signature"; say "$ERR"
assert_contains "does not match" "$ERR" "kiln says the signature does not match"

say "skopeo signs, kiln verifies"
jq -n '{default: [{type: "insecureAcceptAnything"}]}' >"$T/policy-any.json"
run "$KILN" build --rootfs "$T/rootfs2" --source-date-epoch 1700000001 -o "oci:$T/src:1"
assert_eq 0 "$RC" "kiln build -o oci:"
run skopeo copy --policy "$T/policy-any.json" --registries.d "$T/regd" --dest-tls-verify=false \
  --sign-by-sigstore-private-key "$T/k.private" --sign-passphrase-file "$T/pass" \
  "oci:$T/src:1" "docker://$REG/sig/bysk:1"
case $RC:$ERR in
  1:*"$DISABLED"*)
    say "skopeo: $(tail -n1 <<<"$ERR")"
    # kiln's verification of a signature another tool made is then shown by
    # tests/unit/test_sign.c, with a signature cosign made
    assert_contains "$DISABLED" "$ERR" "skopeo cannot sign with a sigstore key here (sigstore disabled in its build)" ;;
  *)
    assert_eq 0 "$RC" "skopeo copy --sign-by-sigstore-private-key with kiln's key exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
    run "$KILN" verify --key "$T/k.pub" "docker://$REG/sig/bysk:1"
    assert_eq 0 "$RC" "kiln verify accepts skopeo's signature"; [ "$RC" -eq 0 ] || say "$ERR"
    assert_match "^sha256:[0-9a-f]{64} $REG/sig/bysk:1\$" "$OUT" "it names skopeo's identity"
    run "$KILN" verify --key "$T/w.pub" "docker://$REG/sig/bysk:1"
    assert_eq 1 "$RC" "kiln verify refuses skopeo's signature with a wrong key"; say "$ERR"
    skopeo_pull "$T/policy.json" "$REG/sig/bysk:1"
    accepts skopeo "its own signature with kiln's public key" ;;
esac
rm -rf "$T/src"

say "an index and each of its images"
run "$KILN" build --rootfs "$T/rootfs" --platform linux/amd64 --source-date-epoch 1700000000 -o "oci:$T/ma:amd64"
run "$KILN" build --rootfs "$T/rootfs2" --platform linux/arm64 --source-date-epoch 1700000000 -o "oci:$T/ma:arm64"
run "$KILN" index "oci:$T/ma:amd64" "oci:$T/ma:arm64" -o "docker://$REG/sig/multi:1"
assert_eq 0 "$RC" "kiln index -o docker:// exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
DI=$OUT
run "$KILN" sign --key "$T/k.private" --passphrase-file "$T/pass" "docker://$REG/sig/multi:1"
assert_eq 0 "$RC" "kiln sign of an index exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" verify --key "$T/k.pub" "docker://$REG/sig/multi:1"
assert_eq 0 "$RC" "kiln verify accepts the index"
assert_eq 3 "$(wc -l <<<"$OUT")" "kiln verify names the index and its two images"
for n in $(reg_curl /v2/sig/multi/manifests/1 -H 'Accept: application/vnd.oci.image.index.v1+json' | jq -r '.manifests[].digest'); do
  assert_eq 200 "$(reg_manifest_status sig/multi "sha256-${n#sha256:}.sig")" "the image $n has its signature tag"
done
rm -rf "$T/pulled"
skopeo_pull "$T/policy.json" "$REG/sig/multi:1" --all
accepts skopeo "the signed index and each of its images (copy --all)"
podman_pull "$T/policy.json" "$REG/sig/multi:1"
accepts podman "the signed index and its image"

run "$KILN" verify --key "$T/w.pub" "docker://$REG/sig/multi:1"
assert_eq 1 "$RC" "kiln verify refuses the index with the wrong key"

say "signing while pushing: --sign-by on build, copy and index"
run "$KILN" build --rootfs "$T/rootfs" --source-date-epoch 1700000002 -o "docker://$REG/sig/b:1" \
  -o "docker://$REG/sig/b2:1" --sign-by "$T/k.private" --sign-passphrase-file "$T/pass"
assert_eq 0 "$RC" "kiln build -o docker:// -o docker:// --sign-by exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
DB=$OUT
for repo in b b2; do
  run "$KILN" verify --key "$T/k.pub" "docker://$REG/sig/$repo:1"
  assert_eq "0 $DB $REG/sig/$repo:1" "$RC $OUT" "kiln verify: build --sign-by signed sig/$repo:1 for its own name"
  skopeo_pull "$T/policy.json" "$REG/sig/$repo:1"
  accepts skopeo "the image build --sign-by signed (sig/$repo:1)"
done
run "$KILN" copy "docker://$REG/sig/b:1" "docker://$REG/sig/c:2" --sign-by "$T/k.private" --sign-passphrase-fd 5 5<"$T/pass"
assert_eq 0 "$RC" "kiln copy --sign-by --sign-passphrase-fd exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" verify --key "$T/k.pub" "docker://$REG/sig/c:2"
assert_eq "0 $DB $REG/sig/c:2" "$RC $OUT" "kiln verify: copy --sign-by signed the copy for its new name"
run "$KILN" index "oci:$T/ma:amd64" "oci:$T/ma:arm64" -o "docker://$REG/sig/mi:1" --sign-by "$T/k.private" --sign-passphrase-file "$T/pass"
assert_eq 0 "$RC" "kiln index --sign-by exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" verify --key "$T/k.pub" "docker://$REG/sig/mi:1"
assert_eq "0 3" "$RC $(wc -l <<<"$OUT")" "kiln verify: index --sign-by signed the index and its two images"
say "kiln copy --copy-signatures"
run "$KILN" copy -v --copy-signatures "docker://$REG/sig/mi:1" "docker://$REG/sig/mcopy:1"
assert_eq 0 "$RC" "kiln copy --copy-signatures exits 0"; [ "$RC" -eq 0 ] || say "$ERR"
assert_contains "3 signatures copied" "$ERR" "it copies the signatures of the index and of its two images"
run "$KILN" verify --key "$T/k.pub" --identity "$REG/sig/mi:1" "docker://$REG/sig/mcopy:1"
assert_eq "0 3" "$RC $(wc -l <<<"$OUT")" "kiln verify --identity (the name signed) accepts the copy, index and images"
run "$KILN" verify --key "$T/k.pub" "docker://$REG/sig/mcopy:1"
assert_eq 1 "$RC" "kiln verify by the new name refuses: the signatures name the source"
assert_contains "it is for $REG/sig/mi:1, not $REG/sig/mcopy:1" "$ERR" "and says which name they are for"
run "$KILN" copy -v --copy-signatures "docker://$REG/sig/mi:1" "docker://$REG/sig/mcopy:1"
assert_contains "0 signatures copied" "$ERR" "copied again, no signature is added twice"
run "$KILN" copy --copy-signatures "docker://$REG/sig/mi:1" "oci:$T/nope:1"
assert_eq 2 "$RC" "--copy-signatures to a layout is a usage error"
run "$KILN" copy "docker://$REG/sig/b:1" "oci:$T/nope:1" --sign-by "$T/k.private" --sign-passphrase-file "$T/pass"
assert_eq 2 "$RC" "kiln copy --sign-by to an oci: layout is a usage error"
assert_not_exists "$T/nope" "and nothing is copied"
run "$KILN" build --rootfs "$T/rootfs" -o "docker://$REG/sig/d:1" --sign-by "$T/k.private"
assert_eq 2 "$RC" "kiln build --sign-by without a passphrase source is a usage error"
assert_eq 404 "$(reg_manifest_status sig/d 1)" "and nothing is pushed"

stop_registry

