/* Sigstore key pairs: generating, encrypting, loading; signing and checking. */
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <string.h>

#include "sign.h"

/* go-securesystemslib's "encrypted" package (which cosign and containers/image
 * use) writes N=32768, r=8, p=1 and accepts that and its legacy N=2^20. */
#define SCRYPT_N     32768
#define SCRYPT_R     8
#define SCRYPT_P     1
#define SCRYPT_N_MAX (1u << 20)
#define SALT_LEN     32

static int ssl_fail(struct kiln_error *err, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return kiln_fail(err, KILN_ERR_INTERNAL, "%s: %s", what, buf[0] ? buf : "OpenSSL failed");
}

static int sodium_ready(struct kiln_error *err)
{
    if (sodium_init() < 0)
        return kiln_fail(err, KILN_ERR_INTERNAL, "libsodium cannot initialise");
    return 0;
}

/* Standard base64 with padding, as Go's encoding/json writes []byte. */
static char *b64_encode(const unsigned char *p, size_t n, struct kiln_error *err)
{
    size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = kiln_xmalloc(len, err);
    if (s)
        sodium_bin2base64(s, len, p, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

static int b64_decode(const char *s, unsigned char **out, size_t *n, struct kiln_error *err,
                      const char *what)
{
    size_t len = strlen(s);
    unsigned char *b = kiln_xmalloc(len / 4 * 3 + 3, err);
    if (!b)
        return -1;
    const char *end = NULL;
    if (sodium_base642bin(b, len / 4 * 3 + 3, s, len, NULL, n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        (end && *end)) {
        free(b);
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: not base64", what);
    }
    *out = b;
    return 0;
}

static int b64_field(json_t *o, const char *key, unsigned char **out, size_t *n,
                     struct kiln_error *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s)
        return kiln_fail(err, KILN_ERR_FORMAT, "encrypted key: \"%s\" is missing", key);
    return b64_decode(s, out, n, err, key);
}

void kiln_key_encrypted_free(struct kiln_key_encrypted *k)
{
    if (!k)
        return;
    free(k->box);
    k->box = NULL;
}

/* The PEM block: its name and DER/JSON body. */
static int pem_block(const void *pem, size_t len, const char *what, char **name,
                     unsigned char **data, long *dlen, struct kiln_error *err)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)(len > 0x7fffffff ? 0x7fffffff : len));
    if (!bio)
        return kiln_oom(err);
    char *header = NULL;
    int ok = PEM_read_bio(bio, name, &header, data, dlen);
    BIO_free(bio);
    OPENSSL_free(header);
    if (!ok) {
        ERR_clear_error();
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: no PEM block", what);
    }
    return 0;
}

static int parse_encrypted_json(const unsigned char *p, size_t n, struct kiln_key_encrypted *k,
                                struct kiln_error *err)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return kiln_fail(err, KILN_ERR_FORMAT, "encrypted key: not a JSON object");
    }
    int rc = 0;
    json_t *kdf = json_object_get(j, "kdf"), *cipher = json_object_get(j, "cipher");
    json_t *params = json_object_get(kdf, "params");
    const char *kname = json_string_value(json_object_get(kdf, "name"));
    const char *cname = json_string_value(json_object_get(cipher, "name"));
    json_t *jn = json_object_get(params, "N"), *jr = json_object_get(params, "r"),
           *jp = json_object_get(params, "p");
    unsigned char *salt = NULL, *nonce = NULL;
    size_t salt_len = 0, nonce_len = 0;
    if (!kname || strcmp(kname, "scrypt"))
        rc = kiln_fail(err, KILN_ERR_FORMAT, "encrypted key: the KDF is not scrypt");
    else if (!cname || strcmp(cname, "nacl/secretbox"))
        rc = kiln_fail(err, KILN_ERR_FORMAT, "encrypted key: the cipher is not nacl/secretbox");
    else if (!json_is_integer(jn) || !json_is_integer(jr) || !json_is_integer(jp))
        rc = kiln_fail(err, KILN_ERR_FORMAT, "encrypted key: scrypt parameters are missing");
    else {
        json_int_t N = json_integer_value(jn), r = json_integer_value(jr),
                   pp = json_integer_value(jp);
        /* bounds: 128 * N * r bytes of memory, and time; both ends of
         * securesystemslib's parameters fit well inside */
        if (N < 2 || N > (json_int_t)SCRYPT_N_MAX || (N & (N - 1)) || r < 1 || r > 32 || pp < 1 ||
            pp > 16)
            rc = kiln_fail(err, KILN_ERR_FORMAT,
                           "encrypted key: scrypt parameters N=%lld r=%lld p=%lld are out of "
                           "the range kiln accepts (N a power of 2 up to 2^20, r up to 32, p "
                           "up to 16)",
                           (long long)N, (long long)r, (long long)pp);
        else {
            k->n = (uint64_t)N;
            k->r = (uint32_t)r;
            k->p = (uint32_t)pp;
        }
    }
    if (rc == 0)
        rc = b64_field(kdf, "salt", &salt, &salt_len, err);
    if (rc == 0 && (salt_len == 0 || salt_len > sizeof(k->salt)))
        rc = kiln_fail(err, KILN_ERR_FORMAT, "encrypted key: a salt of %zu bytes", salt_len);
    if (rc == 0)
        rc = b64_field(cipher, "nonce", &nonce, &nonce_len, err);
    if (rc == 0 && nonce_len != sizeof(k->nonce))
        rc = kiln_fail(err, KILN_ERR_FORMAT, "encrypted key: a nonce of %zu bytes, not 24",
                       nonce_len);
    if (rc == 0)
        rc = b64_field(j, "ciphertext", &k->box, &k->box_len, err);
    if (rc == 0 && k->box_len < crypto_secretbox_MACBYTES)
        rc = kiln_fail(err, KILN_ERR_FORMAT, "encrypted key: the ciphertext is too short");
    if (rc == 0) {
        memcpy(k->salt, salt, salt_len);
        k->salt_len = salt_len;
        memcpy(k->nonce, nonce, nonce_len);
    }
    free(salt);
    free(nonce);
    json_decref(j);
    return rc;
}

int kiln_key_encrypted_parse(const void *pem, size_t len, struct kiln_key_encrypted *out,
                             struct kiln_error *err)
{
    memset(out, 0, sizeof(*out));
    if (sodium_ready(err) < 0)
        return -1;
    char *name = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    if (pem_block(pem, len, "private key", &name, &data, &dlen, err) < 0)
        return -1;
    int rc = 0;
    if (strcmp(name, KILN_SIG_PEM_COSIGN) && strcmp(name, KILN_SIG_PEM_SIGSTORE))
        rc = kiln_fail(err, KILN_ERR_FORMAT,
                       "private key: a PEM block \"%s\", not an encrypted sigstore (cosign) "
                       "private key",
                       name);
    else
        rc = parse_encrypted_json(data, (size_t)dlen, out, err);
    if (rc < 0)
        kiln_key_encrypted_free(out);
    OPENSSL_free(name);
    OPENSSL_free(data);
    return rc;
}

int kiln_key_generate(EVP_PKEY **out, struct kiln_error *err)
{
    *out = EVP_EC_gen("P-256");
    return *out ? 0 : ssl_fail(err, "generate an ECDSA P-256 key");
}

static int derive(const char *pass, size_t pass_len, const struct kiln_key_encrypted *k,
                  unsigned char key[crypto_secretbox_KEYBYTES], struct kiln_error *err)
{
    uint64_t maxmem = 128 * k->n * k->r * (k->p + 1) + (1u << 20);
    if (EVP_PBE_scrypt(pass ? pass : "", pass_len, k->salt, k->salt_len, k->n, k->r, k->p, maxmem,
                       key, crypto_secretbox_KEYBYTES) != 1)
        return ssl_fail(err, "scrypt");
    return 0;
}

int kiln_key_private_pem(EVP_PKEY *k, const char *pass, size_t pass_len, struct kiln_buf *out,
                         struct kiln_error *err)
{
    return kiln_key_private_pem_scrypt(k, pass, pass_len, SCRYPT_N, SCRYPT_R, SCRYPT_P, out, err);
}

int kiln_key_private_pem_scrypt(EVP_PKEY *k, const char *pass, size_t pass_len, uint64_t n,
                                uint32_t r, uint32_t p, struct kiln_buf *out,
                                struct kiln_error *err)
{
    if (sodium_ready(err) < 0)
        return -1;
    int rc = -1;
    unsigned char *der = NULL, *box = NULL;
    char *salt_b64 = NULL, *nonce_b64 = NULL, *box_b64 = NULL, *json = NULL;
    unsigned char key[crypto_secretbox_KEYBYTES];
    struct kiln_key_encrypted e = { .n = n, .r = r, .p = p, .salt_len = SALT_LEN };
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
    int der_len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (der_len <= 0) {
        ssl_fail(err, "encode the private key (PKCS#8)");
        goto out;
    }
    randombytes_buf(e.salt, e.salt_len);
    randombytes_buf(e.nonce, sizeof(e.nonce));
    if (derive(pass, pass_len, &e, key, err) < 0)
        goto out;
    size_t box_len = (size_t)der_len + crypto_secretbox_MACBYTES;
    if (!(box = kiln_xmalloc(box_len, err)))
        goto out;
    crypto_secretbox_easy(box, der, (size_t)der_len, e.nonce, key);
    salt_b64 = b64_encode(e.salt, e.salt_len, err);
    nonce_b64 = salt_b64 ? b64_encode(e.nonce, sizeof(e.nonce), err) : NULL;
    box_b64 = nonce_b64 ? b64_encode(box, box_len, err) : NULL;
    if (!box_b64)
        goto out;
    json_t *j =
        json_pack("{s:{s:s,s:{s:I,s:i,s:i},s:s},s:{s:s,s:s},s:s}", "kdf", "name", "scrypt",
                  "params", "N", (json_int_t)e.n, "r", (int)e.r, "p", (int)e.p, "salt", salt_b64,
                  "cipher", "name", "nacl/secretbox", "nonce", nonce_b64, "ciphertext", box_b64);
    json = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!json) {
        kiln_oom(err);
        goto out;
    }
    BIO *bio = BIO_new(BIO_s_mem());
    char *mem = NULL;
    long pem_len = 0;
    if (bio &&
        PEM_write_bio(bio, KILN_SIG_PEM_COSIGN, "", (unsigned char *)json, (long)strlen(json)) > 0)
        pem_len = BIO_get_mem_data(bio, &mem);
    if (pem_len > 0)
        rc = kiln_buf_append(out, mem, (size_t)pem_len, err);
    else
        ssl_fail(err, "write the private key PEM");
    BIO_free(bio);
out:
    sodium_memzero(key, sizeof(key));
    if (der)
        OPENSSL_clear_free(der, (size_t)der_len);
    if (box)
        sodium_memzero(box, (size_t)der_len + crypto_secretbox_MACBYTES);
    free(box);
    free(salt_b64);
    free(nonce_b64);
    free(box_b64);
    free(json);
    return rc;
}

int kiln_key_private_load(const void *pem, size_t len, const char *pass, size_t pass_len,
                          const char *what, EVP_PKEY **out, struct kiln_error *err)
{
    struct kiln_key_encrypted e;
    *out = NULL;
    if (kiln_key_encrypted_parse(pem, len, &e, err) < 0)
        return kiln_error_prefix(err, "%s", what);
    unsigned char key[crypto_secretbox_KEYBYTES];
    int rc = derive(pass, pass_len, &e, key, err);
    size_t der_len = e.box_len - crypto_secretbox_MACBYTES;
    unsigned char *der = rc == 0 ? kiln_xmalloc(der_len ? der_len : 1, err) : NULL;
    if (rc == 0 && !der)
        rc = -1;
    if (rc == 0 && crypto_secretbox_open_easy(der, e.box, e.box_len, e.nonce, key) != 0)
        rc = kiln_fail(err, KILN_ERR_INPUT,
                       "%s: cannot decrypt the private key: wrong passphrase (or a damaged key)",
                       what);
    if (rc == 0) {
        const unsigned char *p = der;
        PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der_len);
        *out = p8 ? EVP_PKCS82PKEY(p8) : NULL;
        PKCS8_PRIV_KEY_INFO_free(p8);
        if (!*out) {
            ERR_clear_error();
            rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: the decrypted key is not PKCS#8", what);
        }
    }
    sodium_memzero(key, sizeof(key));
    if (der) {
        sodium_memzero(der, der_len);
        free(der);
    }
    kiln_key_encrypted_free(&e);
    return rc;
}

int kiln_key_public_pem(EVP_PKEY *k, struct kiln_buf *out, struct kiln_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *mem = NULL;
    long n = 0;
    if (bio && PEM_write_bio_PUBKEY(bio, k) > 0)
        n = BIO_get_mem_data(bio, &mem);
    int rc = n > 0 ? kiln_buf_append(out, mem, (size_t)n, err)
                   : ssl_fail(err, "write the public key PEM");
    BIO_free(bio);
    return rc;
}

static bool key_type_ok(EVP_PKEY *k)
{
    int id = EVP_PKEY_get_base_id(k);
    return id == EVP_PKEY_EC || id == EVP_PKEY_RSA || id == EVP_PKEY_ED25519;
}

int kiln_key_public_load(const void *pem, size_t len, const char *what, EVP_PKEY **out,
                         struct kiln_error *err)
{
    char *name = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    *out = NULL;
    if (pem_block(pem, len, what, &name, &data, &dlen, err) < 0)
        return -1;
    int rc = 0;
    if (strcmp(name, "PUBLIC KEY"))
        rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: a PEM block \"%s\", not \"PUBLIC KEY\"", what,
                       name);
    else {
        const unsigned char *p = data;
        *out = d2i_PUBKEY(NULL, &p, dlen);
        if (!*out || p != data + dlen) {
            ERR_clear_error();
            EVP_PKEY_free(*out);
            *out = NULL;
            rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: not a public key (SubjectPublicKeyInfo)",
                           what);
        } else if (!key_type_ok(*out)) {
            EVP_PKEY_free(*out);
            *out = NULL;
            rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: not an ECDSA, RSA or Ed25519 key", what);
        }
    }
    OPENSSL_free(name);
    OPENSSL_free(data);
    return rc;
}

static const EVP_MD *md_for(EVP_PKEY *k)
{
    return EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
}

int kiln_sig_create(EVP_PKEY *k, const void *data, size_t n, char **b64, struct kiln_error *err)
{
    *b64 = NULL;
    if (!key_type_ok(k))
        return kiln_fail(err, KILN_ERR_INPUT, "the private key is not ECDSA, RSA or Ed25519");
    if (sodium_ready(err) < 0)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t len = 0;
    int rc = -1;
    if (ctx && EVP_DigestSignInit(ctx, NULL, md_for(k), NULL, k) == 1 &&
        EVP_DigestSign(ctx, NULL, &len, data, n) == 1 && (sig = OPENSSL_malloc(len)) &&
        EVP_DigestSign(ctx, sig, &len, data, n) == 1)
        rc = (*b64 = b64_encode(sig, len, err)) ? 0 : -1;
    else
        ssl_fail(err, "sign");
    OPENSSL_free(sig);
    EVP_MD_CTX_free(ctx);
    return rc;
}

int kiln_sig_check(EVP_PKEY *k, const void *data, size_t n, const char *b64, struct kiln_error *err)
{
    if (sodium_ready(err) < 0)
        return -1;
    unsigned char *sig = NULL;
    size_t len = 0;
    if (b64_decode(b64, &sig, &len, err, "signature") < 0)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = 0;
    if (!ctx || EVP_DigestVerifyInit(ctx, NULL, md_for(k), NULL, k) != 1)
        rc = ssl_fail(err, "verify");
    else if (EVP_DigestVerify(ctx, sig, len, data, n) != 1) {
        ERR_clear_error();
        rc = kiln_fail(err, KILN_ERR_INPUT,
                       "the signature does not match the payload and the public key");
    }
    EVP_MD_CTX_free(ctx);
    free(sig);
    return rc;
}
