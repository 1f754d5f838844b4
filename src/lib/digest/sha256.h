/* SHA-256 and digest strings ("sha256:<hex>"). */
#ifndef KILN_DIGEST_SHA256_H
#define KILN_DIGEST_SHA256_H

#include "../base/base.h"

/* ---- digest/sha256.c -------------------------------------------------- */
struct kiln_sha256 {
    void *ctx; /* EVP_MD_CTX */
};
int kiln_sha256_init(struct kiln_sha256 *h, struct kiln_error *err);
void kiln_sha256_update(struct kiln_sha256 *h, const void *p, size_t n);
/* Writes "sha256:<hex>" into out and releases the context. */
void kiln_sha256_final(struct kiln_sha256 *h, char out[KILN_DIGEST_MAX]);
void kiln_sha256_free(struct kiln_sha256 *h);
int kiln_sha256_buf(const void *p, size_t n, char out[KILN_DIGEST_MAX], struct kiln_error *err);
/* Checks "sha256:<64 lowercase hex>". */
bool kiln_digest_valid(const char *d);

#endif
