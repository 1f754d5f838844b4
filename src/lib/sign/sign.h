/*
 * Sigstore signatures of images, in the format containers/image (skopeo,
 * podman) and cosign read and write (docs/signing.md):
 *   - keys: an ECDSA P-256 key pair; the private key as PKCS#8 DER encrypted
 *     with scrypt + NaCl secretbox inside a JSON document, in a PEM block
 *     "ENCRYPTED COSIGN PRIVATE KEY" (or "ENCRYPTED SIGSTORE PRIVATE KEY");
 *     the public key as a PEM SubjectPublicKeyInfo ("PUBLIC KEY");
 *   - payloads: cosign's "simple signing" JSON naming the manifest digest
 *     and the docker reference signed for;
 *   - storage: the tag sha256-<hex>.sig of the image's repository, an OCI
 *     manifest with one layer per signature, the base64 signature in the
 *     layer's annotation dev.cosignproject.cosign/signature.
 */
#ifndef KILN_SIGN_SIGN_H
#define KILN_SIGN_SIGN_H

#include <openssl/evp.h>

#include "../base/base.h"

#define KILN_SIG_PAYLOAD_TYPE "cosign container image signature"
#define KILN_SIG_MEDIA_TYPE   "application/vnd.dev.cosign.simplesigning.v1+json"
#define KILN_SIG_ANNOTATION   "dev.cosignproject.cosign/signature"
#define KILN_SIG_PEM_COSIGN   "ENCRYPTED COSIGN PRIVATE KEY"
#define KILN_SIG_PEM_SIGSTORE "ENCRYPTED SIGSTORE PRIVATE KEY"
/* Payloads, keys and signature manifests kiln reads are at most this big. */
#define KILN_SIG_DOC_MAX (1u << 20)
/* Signatures of one manifest kiln reads (a hostile tag could list many). */
#define KILN_SIG_MAX 256

/* ---- sign/key.c ------------------------------------------------------- */
/* What the PEM body of an encrypted private key says, before any scrypt is
 * run (kiln_key_encrypted_parse only parses: the fuzz target's entry). */
struct kiln_key_encrypted {
    uint64_t n;
    uint32_t r, p;
    unsigned char salt[64];
    size_t salt_len;
    unsigned char nonce[24];
    unsigned char *box; /* secretbox: 16-byte tag, then the ciphertext */
    size_t box_len;
};
int kiln_key_encrypted_parse(const void *pem, size_t len, struct kiln_key_encrypted *out,
                             struct kiln_error *err);
void kiln_key_encrypted_free(struct kiln_key_encrypted *k);
/* A new ECDSA P-256 key. */
int kiln_key_generate(EVP_PKEY **out, struct kiln_error *err);
/* The private key as an "ENCRYPTED COSIGN PRIVATE KEY" PEM. */
int kiln_key_private_pem(EVP_PKEY *k, const char *pass, size_t pass_len, struct kiln_buf *out,
                         struct kiln_error *err);
/* The same with other scrypt parameters: for tests that decrypt many times
 * (kiln itself always writes the defaults). */
int kiln_key_private_pem_scrypt(EVP_PKEY *k, const char *pass, size_t pass_len, uint64_t n,
                                uint32_t r, uint32_t p, struct kiln_buf *out,
                                struct kiln_error *err);
/* Decrypts such a PEM (either block name); a wrong passphrase is an error
 * that says so. `what` names the file in messages. */
int kiln_key_private_load(const void *pem, size_t len, const char *pass, size_t pass_len,
                          const char *what, EVP_PKEY **out, struct kiln_error *err);
int kiln_key_public_pem(EVP_PKEY *k, struct kiln_buf *out, struct kiln_error *err);
int kiln_key_public_load(const void *pem, size_t len, const char *what, EVP_PKEY **out,
                         struct kiln_error *err);
/* Signs SHA-256 of data (ECDSA: ASN.1 DER; RSA: PKCS#1 v1.5; Ed25519: pure);
 * *b64 is the standard base64 text, malloc'ed. */
int kiln_sig_create(EVP_PKEY *k, const void *data, size_t n, char **b64, struct kiln_error *err);
/* 0 when b64 is a valid signature of data by k, -1 (with a reason) if not. */
int kiln_sig_check(EVP_PKEY *k, const void *data, size_t n, const char *b64,
                   struct kiln_error *err);

/* ---- sign/payload.c --------------------------------------------------- */
/* {"critical":{"identity":{"docker-reference":…},"image":{"docker-manifest-digest":…},
 *  "type":"cosign container image signature"},"optional":{"creator":…,"timestamp":…}}
 * creator may be NULL; timestamp < 0 leaves it out. */
int kiln_sig_payload_build(const char *digest, const char *identity, const char *creator,
                           int64_t timestamp, struct kiln_buf *out, struct kiln_error *err);
struct kiln_sig_payload {
    char digest[KILN_DIGEST_MAX];
    char *identity;
    char *creator;     /* NULL if absent */
    int64_t timestamp; /* -1 if absent */
};
/* Parses as strictly as containers/image: exactly these fields in
 * "critical", no duplicate keys, the type above, a valid digest. */
int kiln_sig_payload_parse(const void *p, size_t n, struct kiln_sig_payload *out,
                           struct kiln_error *err);
void kiln_sig_payload_free(struct kiln_sig_payload *p);
/* "sha256-<hex>.sig" */
int kiln_sig_tag(const char *digest, char out[80], struct kiln_error *err);

#endif
