#!/usr/bin/env bash
# Mutual TLS: a registry that requires a client certificate (distribution's
# http.tls.clientcas, as Harbor and enterprise registries set up). kiln takes the
# certificate from certs.d/HOST:PORT (NAME.cert + NAME.key), as docker and
# containers/image do: the same directory serves skopeo and podman, which pull
# what kiln pushed. Without a
# certificate, or with a broken one, kiln fails at once (no retries) with a
# message that says where the certificate goes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry/lib-registry.sh"
need_root
need_kiln_registry
need openssl skopeo podman
export SOURCE_DATE_EPOCH=1700000000

start_registry mtls
reg_rootfs "$T/rootfs" "hello over mutual TLS"
kiln_build --rootfs "$T/rootfs" --cmd '["/bin/cat","/hello.txt"]' -o "oci:$T/lay:1"
D=$DIGEST

say "no client certificate: refused, and the message says where one goes"
mkdir -p "$T/certs.d/$REG"
cp "$REG_CA" "$T/certs.d/$REG/ca.crt"
SECONDS=0
run "$KILN" copy --cert-dir "$T/certs.d" "oci:$T/lay:1" "docker://$REG/mtls/app:1"
assert_eq 1 "$RC" "the push fails"
assert_contains "client certificate" "$ERR" "the error says a client certificate is wanted"
assert_contains "certs.d/$REG" "$ERR" "and where it goes"
[ "$SECONDS" -lt 10 ] && ok "without retries (${SECONDS} s)" || not_ok "no retries" "took ${SECONDS} s"

say "a certificate without its key: the error names both files"
cp "$T/pki/client.cert" "$T/certs.d/$REG/client.cert"
run "$KILN" copy --cert-dir "$T/certs.d" "oci:$T/lay:1" "docker://$REG/mtls/app:1"
assert_eq 1 "$RC" "the push fails"
assert_contains "$T/certs.d/$REG/client.cert: no key beside it ($T/certs.d/$REG/client.key)" "$ERR" "the error names the certificate and the missing key"

say "a key that is not the certificate's"
openssl genrsa -out "$T/certs.d/$REG/client.key" 2048 2>/dev/null
run "$KILN" copy --cert-dir "$T/certs.d" "oci:$T/lay:1" "docker://$REG/mtls/app:1"
assert_eq 1 "$RC" "the push fails"
assert_contains "not the PEM private key of $T/certs.d/$REG/client.cert" "$ERR" "the error says the key does not match"

say "client.cert and client.key in certs.d: kiln pushes and pulls"
cp "$T/pki/client.key" "$T/certs.d/$REG/client.key"
run "$KILN" copy --cert-dir "$T/certs.d" "oci:$T/lay:1" "docker://$REG/mtls/app:1"
assert_eq "0 $D" "$RC $OUT" "kiln copy pushes over mutual TLS"; [ "$RC" -eq 0 ] || say "$ERR"
run "$KILN" inspect --format '{{.Digest}}' --cert-dir "$T/certs.d" "docker://$REG/mtls/app:1"
assert_eq "0 $D" "$RC $OUT" "kiln inspect reads it back"
run "$KILN" build --rootfs "$T/rootfs" --cert-dir "$T/certs.d" -o "docker://$REG/mtls/built:1"
assert_eq 0 "$RC" "kiln build pushes over mutual TLS"; [ "$RC" -eq 0 ] || say "$ERR"

say "the same certs.d serves skopeo and podman (containers/image reads NAME.cert and NAME.key there)"
# (docker takes client certificates from /etc/docker/certs.d only for registries it
# treats as secure, and it always treats 127.0.0.0/8 as insecure: no loopback test
# can show docker doing mutual TLS.)
run skopeo inspect --cert-dir "$T/certs.d/$REG" --format '{{.Digest}}' "docker://$REG/mtls/app:1"
assert_eq "0 $D" "$RC $OUT" "skopeo reads what kiln pushed, with the same client certificate"; [ "$RC" -eq 0 ] || say "$ERR"
run skopeo copy --src-cert-dir "$T/certs.d/$REG" "docker://$REG/mtls/built:1" "oci:$T/back:1"
assert_eq 0 "$RC" "skopeo pulls kiln's build"; [ "$RC" -eq 0 ] || say "$ERR"
mkdir -p "$T/nocert"; cp "$REG_CA" "$T/nocert/ca.crt"
run skopeo inspect --cert-dir "$T/nocert" "docker://$REG/mtls/app:1"
assert_eq 1 "$RC" "skopeo without the client certificate is refused too (the registry requires it)"
setup_podman
run podman_ pull --cert-dir "$T/certs.d/$REG" "docker://$REG/mtls/app:1"
assert_eq 0 "$RC" "podman pulls it with the same client certificate"; [ "$RC" -eq 0 ] || say "$ERR"
