/* Unit tests: digest/sha256.c and the hash sink of base/sink.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "internal.h"

#define SHA_EMPTY     "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC       "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_448       "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_MILLION_A "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static void test_sha256_buf_vectors(void **state)
{
    (void)state;
    char d[KILN_DIGEST_MAX];
    struct kiln_error err = { 0 };

    memset(d, 'X', sizeof(d));
    assert_int_equal(kiln_sha256_buf("", 0, d, &err), 0);
    assert_string_equal(d, SHA_EMPTY);
    assert_int_equal(strlen(d), 71);

    assert_int_equal(kiln_sha256_buf("abc", 3, d, &err), 0);
    assert_string_equal(d, SHA_ABC);

    const char *s448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(kiln_sha256_buf(s448, strlen(s448), d, &err), 0);
    assert_string_equal(d, SHA_448);

    char *m = malloc(1000000);
    assert_non_null(m);
    memset(m, 'a', 1000000);
    assert_int_equal(kiln_sha256_buf(m, 1000000, d, &err), 0);
    assert_string_equal(d, SHA_MILLION_A);
    free(m);

    /* NUL bytes are data, not terminators */
    assert_int_equal(kiln_sha256_buf("abc\0", 4, d, &err), 0);
    assert_string_not_equal(d, SHA_ABC);
    assert_true(kiln_digest_valid(d));
}

static void test_sha256_streaming(void **state)
{
    (void)state;
    struct kiln_sha256 h;
    char d[KILN_DIGEST_MAX];
    assert_int_equal(kiln_sha256_init(&h, NULL), 0);
    kiln_sha256_update(&h, "a", 1);
    kiln_sha256_update(&h, "", 0);
    kiln_sha256_update(&h, "bc", 2);
    kiln_sha256_final(&h, d);
    assert_null(h.ctx); /* final releases the context */
    assert_string_equal(d, SHA_ABC);

    /* free after final and free of a never-finalised context are both fine */
    kiln_sha256_free(&h);
    assert_int_equal(kiln_sha256_init(&h, NULL), 0);
    kiln_sha256_update(&h, "zzz", 3);
    kiln_sha256_free(&h);
    assert_null(h.ctx);
    kiln_sha256_free(NULL);
}

/* A sink that records everything and counts finish() calls. */
struct rec_sink {
    struct kiln_sink sink;
    struct kiln_buf buf;
    int finishes;
};

static int rec_write(struct kiln_sink *s, const void *p, size_t n, struct kiln_error *err)
{
    return kiln_buf_append(&((struct rec_sink *)s)->buf, p, n, err);
}

static int rec_finish(struct kiln_sink *s, struct kiln_error *err)
{
    (void)err;
    ((struct rec_sink *)s)->finishes++;
    return 0;
}

static unsigned char *make_data(size_t n)
{
    unsigned char *p = malloc(n);
    assert_non_null(p);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

static void test_hash_sink_chunks(void **state)
{
    (void)state;
    const size_t n = 3 * 1024 * 1024 + 17;
    unsigned char *data = make_data(n);
    char want[KILN_DIGEST_MAX];
    assert_int_equal(kiln_sha256_buf(data, n, want, NULL), 0);

    static const size_t chunks[] = { 1, 7, 64, 511, 4096, 65537, 1024 * 1024, 5 * 1024 * 1024 };
    for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
        struct rec_sink rec = { .sink = { rec_write, rec_finish } };
        struct kiln_hash_sink h;
        struct kiln_error err = { 0 };
        assert_int_equal(kiln_hash_sink_init(&h, &rec.sink, &err), 0);
        size_t off = 0;
        while (off < n) {
            size_t k = n - off < chunks[c] ? n - off : chunks[c];
            assert_int_equal(kiln_sink_write(&h.sink, data + off, k, &err), 0);
            off += k;
        }
        assert_int_equal(kiln_sink_finish(&h.sink, &err), 0);
        assert_int_equal(rec.finishes, 1); /* finish is forwarded once */
        assert_int_equal(h.bytes, n);
        char got[KILN_DIGEST_MAX];
        kiln_sha256_final(&h.sha, got);
        assert_string_equal(got, want);
        /* and the bytes were forwarded unchanged */
        assert_int_equal(rec.buf.len, n);
        assert_memory_equal(rec.buf.data, data, n);
        kiln_buf_free(&rec.buf);
    }
    free(data);
}

static void test_hash_sink_no_next(void **state)
{
    (void)state;
    struct kiln_hash_sink h;
    assert_int_equal(kiln_hash_sink_init(&h, NULL, NULL), 0);
    assert_int_equal(kiln_sink_write(&h.sink, "ab", 2, NULL), 0);
    assert_int_equal(kiln_sink_write(&h.sink, "c", 1, NULL), 0);
    assert_int_equal(kiln_sink_write(&h.sink, NULL, 0, NULL), 0);
    assert_int_equal(kiln_sink_finish(&h.sink, NULL), 0);
    assert_int_equal(h.bytes, 3);
    char got[KILN_DIGEST_MAX];
    kiln_sha256_final(&h.sha, got);
    assert_string_equal(got, SHA_ABC);

    /* empty stream */
    assert_int_equal(kiln_hash_sink_init(&h, NULL, NULL), 0);
    assert_int_equal(h.bytes, 0);
    kiln_sha256_final(&h.sha, got);
    assert_string_equal(got, SHA_EMPTY);
}

static void test_digest_valid(void **state)
{
    (void)state;
    assert_true(kiln_digest_valid(SHA_EMPTY));
    assert_true(kiln_digest_valid(SHA_ABC));
    assert_true(kiln_digest_valid(
        "sha256:0000000000000000000000000000000000000000000000000000000000000000"));

    /* uppercase hex */
    assert_false(kiln_digest_valid(
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    assert_false(kiln_digest_valid(
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85A"));
    /* uppercase algorithm */
    assert_false(kiln_digest_valid(
        "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    /* short and long */
    assert_false(kiln_digest_valid(
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"));
    assert_false(kiln_digest_valid(
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555"));
    assert_false(kiln_digest_valid("sha256:"));
    assert_false(kiln_digest_valid("sha256"));
    assert_false(kiln_digest_valid(""));
    assert_false(kiln_digest_valid(NULL));
    /* wrong algorithm, even with a right-length hex part */
    assert_false(kiln_digest_valid(
        "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assert_false(
        kiln_digest_valid("md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assert_false(
        kiln_digest_valid("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    /* non-hex characters, separators, whitespace */
    assert_false(kiln_digest_valid(
        "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assert_false(kiln_digest_valid(
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 "));
    assert_false(kiln_digest_valid(
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"));
    assert_false(kiln_digest_valid(
        " sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assert_false(kiln_digest_valid(
        "sha256::3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

static void test_hex(void **state)
{
    (void)state;
    unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
    char out[2 * sizeof(in) + 1];
    memset(out, 'X', sizeof(out));
    kiln_hex(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_buf_vectors), cmocka_unit_test(test_sha256_streaming),
        cmocka_unit_test(test_hash_sink_chunks),   cmocka_unit_test(test_hash_sink_no_next),
        cmocka_unit_test(test_digest_valid),       cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
