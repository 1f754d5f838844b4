/*
 * Sigstore signatures and keys from outside: simple-signing payloads (blobs
 * of a registry's sha256-<hex>.sig tag), encrypted private key PEMs and
 * public key PEMs (files a user names).
 *
 * Input: parts separated by NUL bytes: 0 a payload, 1 a private key PEM, 2 a
 * public key PEM, 3 a base64 signature checked over part 0 with the key of
 * part 2. One part: it goes to every parser.
 *
 * Checked beyond memory safety: a payload that parses is rebuilt by
 * kiln_sig_payload_build to one that parses to the same digest and
 * reference; every refusal says why. A private key is decrypted (with the
 * passphrase "fuzz") only when its scrypt parameters are cheap, so that the
 * fuzzer spends its time in the parsers, not in scrypt.
 */
#include <string.h>

#include "fuzz_common.h"
#include "sign/sign.h"

static void said_why(const struct kiln_error *err)
{
    if (!err->code || !err->message[0])
        abort();
}

static void check_payload(const char *p, size_t n)
{
    struct kiln_sig_payload a, b;
    struct kiln_error err = { 0 };
    if (kiln_sig_payload_parse(p, n, &a, &err) < 0) {
        said_why(&err);
        return;
    }
    struct kiln_buf again = { 0 };
    if (kiln_sig_payload_build(a.digest, a.identity, a.creator, a.timestamp, &again, &err) == 0) {
        if (kiln_sig_payload_parse(again.data, again.len, &b, &err) < 0 ||
            strcmp(a.digest, b.digest) || strcmp(a.identity, b.identity)) {
            fprintf(stderr, "payload does not round-trip: %s\n", err.message);
            abort();
        }
        kiln_sig_payload_free(&b);
    } else if (a.identity[0]) {
        abort(); /* only an empty reference can be refused */
    }
    kiln_buf_free(&again);
    kiln_sig_payload_free(&a);
}

static void check_private(const char *p, size_t n)
{
    struct kiln_key_encrypted e;
    struct kiln_error err = { 0 };
    if (kiln_key_encrypted_parse(p, n, &e, &err) < 0) {
        said_why(&err);
        return;
    }
    bool cheap = e.n <= 1024 && e.r * e.p <= 8;
    kiln_key_encrypted_free(&e);
    if (cheap) {
        EVP_PKEY *k = NULL;
        if (kiln_key_private_load(p, n, "fuzz", 4, "fuzz", &k, &err) < 0)
            said_why(&err);
        EVP_PKEY_free(k);
    }
}

static EVP_PKEY *check_public(const char *p, size_t n)
{
    EVP_PKEY *k = NULL;
    struct kiln_error err = { 0 };
    if (kiln_key_public_load(p, n, "fuzz", &k, &err) < 0)
        said_why(&err);
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    size_t lens[4];
    char *parts[4];
    size_t n = fz_split(data, size, "", 1, parts, lens, 4);
    if (n == 1) {
        check_payload(parts[0], lens[0]);
        check_private(parts[0], lens[0]);
        EVP_PKEY_free(check_public(parts[0], lens[0]));
    } else {
        check_payload(parts[0], lens[0]);
        check_private(parts[1], lens[1]);
        EVP_PKEY *k = n > 2 ? check_public(parts[2], lens[2]) : NULL;
        if (k && n > 3) {
            struct kiln_error err = { 0 };
            if (kiln_sig_check(k, parts[0], lens[0], parts[3], &err) < 0)
                said_why(&err);
        }
        EVP_PKEY_free(k);
    }
    fz_parts_free(parts, n);
    return 0;
}
