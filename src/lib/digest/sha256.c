/* SHA-256 through OpenSSL's EVP interface (uses the CPU's SHA extensions). */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

#include "sha256.h"

int kiln_sha256_init(struct kiln_sha256 *h, struct kiln_error *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return kiln_oom(err);
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        ERR_clear_error(); /* the queued error records are allocations too */
        return kiln_fail(err, KILN_ERR_INTERNAL, "cannot initialise SHA-256");
    }
    h->ctx = ctx;
    return 0;
}

void kiln_sha256_update(struct kiln_sha256 *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->ctx, p, n);
}

void kiln_sha256_final(struct kiln_sha256 *h, char out[KILN_DIGEST_MAX])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(h->ctx, md, &len);
    memcpy(out, "sha256:", 7);
    kiln_hex(md, 32, out + 7);
    kiln_sha256_free(h);
}

void kiln_sha256_free(struct kiln_sha256 *h)
{
    if (h && h->ctx) {
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL;
    }
}

int kiln_sha256_buf(const void *p, size_t n, char out[KILN_DIGEST_MAX], struct kiln_error *err)
{
    struct kiln_sha256 h = { 0 };
    if (kiln_sha256_init(&h, err) < 0)
        return -1;
    kiln_sha256_update(&h, p, n);
    kiln_sha256_final(&h, out);
    return 0;
}

bool kiln_digest_valid(const char *d)
{
    if (!d || strncmp(d, "sha256:", 7) != 0)
        return false;
    d += 7;
    size_t i = 0;
    for (; d[i]; i++)
        if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
            return false;
    return i == 64;
}
