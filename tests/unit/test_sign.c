/* Unit tests: sign/ — simple-signing payloads, encrypted sigstore keys,
 * signatures, and known answers made by cosign. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "internal.h"
#include "sign/sign.h"

#include <openssl/pem.h>

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DIG   "sha256:" HEX64

static void test_payload_build(void **state)
{
    (void)state;
    struct kiln_buf b = { 0 };
    struct kiln_error err = { 0 };
    assert_int_equal(
        kiln_sig_payload_build(DIG, "example.com/team/app:1.0", "kiln 0.1.0", 1700000000, &b, &err),
        0);
    /* keys sorted, as Go writes maps: what containers/image writes too */
    assert_string_equal(b.data, "{\"critical\":{\"identity\":{\"docker-reference\":"
                                "\"example.com/team/app:1.0\"},\"image\":{\"docker-manifest-"
                                "digest\":\"" DIG "\"},\"type\":\"cosign container image "
                                "signature\"},\"optional\":{\"creator\":\"kiln 0.1.0\","
                                "\"timestamp\":1700000000}}");
    struct kiln_sig_payload p;
    assert_int_equal(kiln_sig_payload_parse(b.data, b.len, &p, &err), 0);
    assert_string_equal(p.digest, DIG);
    assert_string_equal(p.identity, "example.com/team/app:1.0");
    assert_string_equal(p.creator, "kiln 0.1.0");
    assert_int_equal(p.timestamp, 1700000000);
    kiln_sig_payload_free(&p);
    kiln_buf_free(&b);
    /* no creator, no timestamp: an empty optional object */
    assert_int_equal(kiln_sig_payload_build(DIG, "a/b", NULL, -1, &b, &err), 0);
    assert_non_null(strstr(b.data, "\"optional\":{}"));
    kiln_buf_free(&b);
    assert_int_equal(kiln_sig_payload_build("sha256:abc", "a/b", NULL, -1, &b, &err), -1);
    assert_int_equal(kiln_sig_payload_build(DIG, "", NULL, -1, &b, &err), -1);
}

static void expect_payload_refused(const char *text, const char *why)
{
    struct kiln_sig_payload p;
    struct kiln_error err = { 0 };
    if (kiln_sig_payload_parse(text, strlen(text), &p, &err) == 0)
        fail_msg("accepted: %s", text);
    if (!strstr(err.message, why))
        fail_msg("'%s' refused with '%s', expected '%s'", text, err.message, why);
}

#define CRIT(type, digest, ref)                                                     \
    "{\"type\":\"" type "\",\"image\":{\"docker-manifest-digest\":\"" digest "\"}," \
    "\"identity\":{\"docker-reference\":\"" ref "\"}}"
#define GOOD CRIT("cosign container image signature", DIG, "h/r:t")

static void test_payload_parse_strict(void **state)
{
    (void)state;
    struct kiln_sig_payload p;
    struct kiln_error err = { 0 };
    /* cosign writes "optional": null */
    const char *cosign = "{\"critical\":" GOOD ",\"optional\":null}";
    assert_int_equal(kiln_sig_payload_parse(cosign, strlen(cosign), &p, &err), 0);
    assert_null(p.creator);
    assert_int_equal(p.timestamp, -1);
    kiln_sig_payload_free(&p);
    /* unknown optional fields are fine, as containers/image ignores them */
    const char *extra = "{\"critical\":" GOOD ",\"optional\":{\"x\":[1]}}";
    assert_int_equal(kiln_sig_payload_parse(extra, strlen(extra), &p, &err), 0);
    kiln_sig_payload_free(&p);

    expect_payload_refused("{\"critical\":" GOOD "}", "has no \"optional\"");
    expect_payload_refused("{\"critical\":" GOOD ",\"optional\":null,\"x\":1}", "unknown field");
    expect_payload_refused("{\"critical\":" GOOD ",\"optional\":null,\"optional\":null}",
                           "not JSON");
    expect_payload_refused("{\"critical\":" CRIT("other", DIG, "h/r") ",\"optional\":null}",
                           "unrecognised type");
    expect_payload_refused("{\"critical\":" CRIT("cosign container image signature", "sha256:12",
                                                 "h/r") ",\"optional\":null}",
                           "not a sha256 digest");
    expect_payload_refused("{\"critical\":{\"type\":\"cosign container image signature\","
                           "\"image\":{\"docker-manifest-digest\":\"" DIG "\",\"x\":1},"
                           "\"identity\":{\"docker-reference\":\"h/r\"}},\"optional\":null}",
                           "unknown field");
    expect_payload_refused("{\"critical\":{\"type\":\"cosign container image signature\","
                           "\"image\":{\"docker-manifest-digest\":\"" DIG "\"}},"
                           "\"optional\":null}",
                           "has no \"identity\"");
    expect_payload_refused("{\"critical\":" GOOD ",\"optional\":{\"timestamp\":1.5}}",
                           "not an integer");
    expect_payload_refused("{\"critical\":" GOOD ",\"optional\":7}", "not an object");
    expect_payload_refused("[]", "not an object");
    expect_payload_refused("{", "not JSON");
}

static void test_sig_tag(void **state)
{
    (void)state;
    char tag[80];
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_sig_tag(DIG, tag, &err), 0);
    assert_string_equal(tag, "sha256-" HEX64 ".sig");
    assert_int_equal(kiln_sig_tag("sha256:xyz", tag, &err), -1);
}

static void test_key_round_trip(void **state)
{
    (void)state;
    struct kiln_error err = { 0 };
    EVP_PKEY *k = NULL, *k2 = NULL, *pub = NULL;
    struct kiln_buf priv = { 0 }, pubpem = { 0 };
    assert_int_equal(kiln_key_generate(&k, &err), 0);
    assert_int_equal(kiln_key_private_pem(k, "pw\0x", 4, &priv, &err), 0);
    assert_non_null(strstr(priv.data, "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"));
    assert_int_equal(kiln_key_public_pem(k, &pubpem, &err), 0);
    assert_non_null(strstr(pubpem.data, "-----BEGIN PUBLIC KEY-----"));
    struct kiln_key_encrypted e;
    assert_int_equal(kiln_key_encrypted_parse(priv.data, priv.len, &e, &err), 0);
    assert_int_equal(e.n, 32768);
    assert_int_equal(e.r, 8);
    assert_int_equal(e.p, 1);
    assert_int_equal(e.salt_len, 32);
    kiln_key_encrypted_free(&e);
    /* the passphrase is bytes: the NUL counts */
    assert_int_equal(kiln_key_private_load(priv.data, priv.len, "pw", 2, "k", &k2, &err), -1);
    assert_non_null(strstr(err.message, "wrong passphrase"));
    assert_int_equal(kiln_key_private_load(priv.data, priv.len, "pw\0x", 4, "k", &k2, &err), 0);
    assert_int_equal(kiln_key_public_load(pubpem.data, pubpem.len, "p", &pub, &err), 0);
    const char msg[] = "payload";
    char *sig = NULL;
    assert_int_equal(kiln_sig_create(k2, msg, sizeof(msg) - 1, &sig, &err), 0);
    assert_int_equal(kiln_sig_check(pub, msg, sizeof(msg) - 1, sig, &err), 0);
    assert_int_equal(kiln_sig_check(pub, "payloaD", 7, sig, &err), -1);
    assert_non_null(strstr(err.message, "does not match"));
    assert_int_equal(kiln_sig_check(pub, msg, sizeof(msg) - 1, "!!notbase64", &err), -1);
    free(sig);
    /* a public key is not a private key, and the other way round */
    EVP_PKEY *x = NULL;
    assert_int_equal(
        kiln_key_private_load(pubpem.data, pubpem.len, "", 0, "p", &x, &err) < 0 ? 0 : 1, 0);
    EVP_PKEY_free(x);
    x = NULL;
    assert_int_equal(kiln_key_public_load(priv.data, priv.len, "k", &x, &err), -1);
    assert_non_null(strstr(err.message, "not \"PUBLIC KEY\""));
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(pub);
    kiln_buf_free(&priv);
    kiln_buf_free(&pubpem);
}

static void test_key_other_scrypt_params(void **state)
{
    (void)state;
    struct kiln_error err = { 0 };
    EVP_PKEY *k = NULL, *k2 = NULL;
    struct kiln_buf pem = { 0 };
    struct kiln_key_encrypted e;
    assert_int_equal(kiln_key_generate(&k, &err), 0);
    /* what a key file says is what decryption uses (cosign's older keys: N=65536) */
    assert_int_equal(kiln_key_private_pem_scrypt(k, "x", 1, 16, 1, 1, &pem, &err), 0);
    assert_int_equal(kiln_key_encrypted_parse(pem.data, pem.len, &e, &err), 0);
    assert_int_equal(e.n, 16);
    assert_int_equal(e.r, 1);
    kiln_key_encrypted_free(&e);
    assert_int_equal(kiln_key_private_load(pem.data, pem.len, "x", 1, "k", &k2, &err), 0);
    assert_int_equal(EVP_PKEY_eq(k, k2), 1);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
    kiln_buf_free(&pem);
}

static void expect_key_refused(const char *json, const char *why)
{
    struct kiln_buf pem = { 0 };
    struct kiln_error err = { 0 };
    /* a PEM of the JSON, as the key files hold it */
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio(bio, KILN_SIG_PEM_SIGSTORE, "", (const unsigned char *)json, (long)strlen(json));
    char *mem;
    long n = BIO_get_mem_data(bio, &mem);
    kiln_buf_append(&pem, mem, (size_t)n, &err);
    BIO_free(bio);
    struct kiln_key_encrypted e;
    if (kiln_key_encrypted_parse(pem.data, pem.len, &e, &err) == 0)
        fail_msg("accepted: %s", json);
    if (!strstr(err.message, why))
        fail_msg("'%s' refused with '%s', expected '%s'", json, err.message, why);
    kiln_buf_free(&pem);
}

#define SALT  "\"salt\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\""
#define NONCE "\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\""
#define CT    "\"ciphertext\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\""
static void test_key_parse_refuses(void **state)
{
    (void)state;
    expect_key_refused("{\"kdf\":{\"name\":\"pbkdf2\"}}", "not scrypt");
    expect_key_refused(
        "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":32768,\"r\":8,\"p\":1}," SALT
        "},\"cipher\":{\"name\":\"aes\"}," CT "}",
        "not nacl/secretbox");
    expect_key_refused(
        "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":4194304,\"r\":8,\"p\":1}," SALT
        "},\"cipher\":{\"name\":\"nacl/secretbox\"," NONCE "}," CT "}",
        "out of the range");
    expect_key_refused("{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":1000,\"r\":8,\"p\":1}," SALT
                       "},\"cipher\":{\"name\":\"nacl/secretbox\"," NONCE "}," CT "}",
                       "out of the range");
    expect_key_refused(
        "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":32768,\"r\":8,\"p\":1}," SALT
        "},\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"AAAA\"}," CT "}",
        "nonce of 3 bytes");
    expect_key_refused(
        "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":32768,\"r\":8,\"p\":1}," SALT
        "},\"cipher\":{\"name\":\"nacl/secretbox\"," NONCE "},"
        "\"ciphertext\":\"AAAA\"}",
        "too short");
    expect_key_refused("{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":32768,\"r\":8,\"p\":1},"
                       "\"salt\":\"*\"},\"cipher\":{\"name\":\"nacl/secretbox\"," NONCE "}," CT "}",
                       "not base64");
    struct kiln_key_encrypted e;
    struct kiln_error err = { 0 };
    const char *rsa = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert_int_equal(kiln_key_encrypted_parse(rsa, strlen(rsa), &e, &err), -1);
    assert_non_null(strstr(err.message, "not an encrypted sigstore"));
    assert_int_equal(kiln_key_encrypted_parse("junk", 4, &e, &err), -1);
    assert_non_null(strstr(err.message, "no PEM block"));
}

/* Known answers made by cosign: the key pair and the signature of
 * containers/image's test fixtures (signature/fixtures/cosign.pub and
 * dir-img-cosign-valid/signature-1, Apache-2.0), and the encrypted test key of
 * cosign's pkg/cosign/keys_test.go (passphrase "hello", Apache-2.0): data, to
 * show that kiln reads what cosign writes. */
static const char cosign_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFNLqFhf4fiN6o/glAuYnq2jYUeL0\n"
    "vRuLu/z39pmbVwS9ff5AYnlwaP9sxREajdLY9ynM6G1sy6AAmb7Z63TsLg==\n"
    "-----END PUBLIC KEY-----\n";
static const char cosign_payload[] =
    "{\"critical\":{\"identity\":{\"docker-reference\":\"192.168.64.2:5000/cosign-signed-single-"
    "sample\"},\"image\":{\"docker-manifest-digest\":\"sha256:634a8f35b5f16dcf4aaa0822adc0b1964"
    "bb786fca12f6831de8ddc45e5986a00\"},\"type\":\"cosign container image signature\"},"
    "\"optional\":null}";
static const char cosign_sig[] = "MEYCIQDmtamqYPjMg81nqeBhptrPls44aA/r7PwLmspINJY4MwIhANKRpqe2"
                                 "E9UCBtGFdPoz/8jAbaQm4uP4h+IpwKTE6ClR";
static const char cosign_key[] =
    "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    "eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjozMjc2OCwiciI6\n"
    "OCwicCI6MX0sInNhbHQiOiI3T3VGd2VsbWZZNXVId2NoaURSc210anNwZ2ZlZjFG\n"
    "Mk5lOGFDTjVLYVpZPSJ9LCJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94\n"
    "Iiwibm9uY2UiOiJQNHk4OGhCb3ZTa09MbXN0bFVBaGJwdDJ0K2xTNUxQSCJ9LCJj\n"
    "aXBoZXJ0ZXh0IjoiMnB1QzdyZldJOWh3bnJlQ2s4aUZDRlVwQlRrSzRJNlIvbFBF\n"
    "cnBDekpXUGpJWXl4eGVIL1A2VW52cFJHdVhla1NNb3JMdGhLamdoQ1JlNy82NDVH\n"
    "QWtoVm1LRC92eEF0S2EvbE1abENSQ3FlekJGUFd1dzNpeFRtZ2xhb2J1ZFVSbUVs\n"
    "bmNGOGlZbzBTMVl6Y1ZOMVFwY2J2c0dNcUlYRzVlbmdteGp5dCtBcXlyZTF0Q0Y0\n"
    "V01tU1BlaEljNlBqd2h1Q2xHaVpJUWRvTGc9PSJ9\n"
    "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";

static void test_cosign_known_answers(void **state)
{
    (void)state;
    struct kiln_error err = { 0 };
    EVP_PKEY *pub = NULL, *priv = NULL;
    assert_int_equal(kiln_key_public_load(cosign_pub, strlen(cosign_pub), "cosign.pub", &pub, &err),
                     0);
    size_t n = strlen(cosign_payload);
    assert_int_equal(kiln_sig_check(pub, cosign_payload, n, cosign_sig, &err), 0);
    struct kiln_sig_payload p;
    assert_int_equal(kiln_sig_payload_parse(cosign_payload, n, &p, &err), 0);
    assert_string_equal(p.identity, "192.168.64.2:5000/cosign-signed-single-sample");
    kiln_sig_payload_free(&p);
    char tampered[sizeof(cosign_payload)];
    memcpy(tampered, cosign_payload, sizeof(tampered));
    tampered[n - 20] ^= 1;
    assert_int_equal(kiln_sig_check(pub, tampered, n, cosign_sig, &err), -1);

    assert_int_equal(
        kiln_key_private_load(cosign_key, strlen(cosign_key), "wrong", 5, "k", &priv, &err), -1);
    assert_int_equal(
        kiln_key_private_load(cosign_key, strlen(cosign_key), "hello", 5, "k", &priv, &err), 0);
    /* and what kiln signs with cosign's key, kiln checks with its public half */
    struct kiln_buf pp = { 0 };
    EVP_PKEY *pub2 = NULL;
    assert_int_equal(kiln_key_public_pem(priv, &pp, &err), 0);
    assert_int_equal(kiln_key_public_load(pp.data, pp.len, "p", &pub2, &err), 0);
    char *sig = NULL;
    assert_int_equal(kiln_sig_create(priv, "x", 1, &sig, &err), 0);
    assert_int_equal(kiln_sig_check(pub2, "x", 1, sig, &err), 0);
    assert_int_equal(kiln_sig_check(pub, "x", 1, sig, &err), -1);
    free(sig);
    kiln_buf_free(&pp);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(pub2);
    EVP_PKEY_free(priv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payload_build),
        cmocka_unit_test(test_payload_parse_strict),
        cmocka_unit_test(test_sig_tag),
        cmocka_unit_test(test_key_round_trip),
        cmocka_unit_test(test_key_other_scrypt_params),
        cmocka_unit_test(test_key_parse_refuses),
        cmocka_unit_test(test_cosign_known_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
