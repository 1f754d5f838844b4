/* kiln_blob_check and kiln_check_sink: blobs read from local sources checked
 * against their descriptor as they stream past. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "internal.h"

static const char data[] = "the bytes of a layer, in three writes";
#define N (sizeof(data) - 1)

static void digest_of(const void *p, size_t n, char d[KILN_DIGEST_MAX])
{
    assert_int_equal(kiln_sha256_buf(p, n, d, NULL), 0);
}

/* Streams data through a check sink into a buffer in three writes; returns
 * the sink's result and what reached the buffer. */
static int stream(const char *digest, uint64_t size, const void *p, size_t n,
                  struct kiln_buf_sink *out, struct kiln_error *err)
{
    struct kiln_blob_check c;
    assert_int_equal(kiln_blob_check_init(&c, digest, size, "oci:/tmp/x:1", err), 0);
    struct kiln_check_sink s;
    kiln_check_sink_init(&s, &out->sink, &c);
    size_t a = n / 3, b = 2 * n / 3;
    int rc = kiln_sink_write(&s.sink, p, a, err);
    if (rc == 0)
        rc = kiln_sink_write(&s.sink, (const char *)p + a, b - a, err);
    if (rc == 0)
        rc = kiln_sink_write(&s.sink, (const char *)p + b, n - b, err);
    if (rc == 0)
        rc = kiln_sink_finish(&s.sink, err);
    kiln_blob_check_free(&c);
    return rc;
}

static void intact(void **state)
{
    (void)state;
    char d[KILN_DIGEST_MAX];
    digest_of(data, N, d);
    struct kiln_buf_sink out;
    kiln_buf_sink_init(&out);
    struct kiln_error err = {0};
    assert_int_equal(stream(d, N, data, N, &out, &err), 0);
    assert_int_equal(out.buf.len, N);
    assert_memory_equal(out.buf.data, data, N);
    kiln_buf_free(&out.buf);
}

static void flipped_byte(void **state)
{
    (void)state;
    char d[KILN_DIGEST_MAX], bad[N];
    digest_of(data, N, d);
    memcpy(bad, data, N);
    bad[N / 2] ^= 0x20;
    struct kiln_buf_sink out;
    kiln_buf_sink_init(&out);
    struct kiln_error err = {0};
    assert_int_equal(stream(d, N, bad, N, &out, &err), -1);
    assert_int_equal(err.code, KILN_ERR_INPUT);
    assert_non_null(strstr(err.message, d));
    assert_non_null(strstr(err.message, "in oci:/tmp/x:1 does not match its digest: the layout "
                                        "is damaged; re-create it"));
    /* the last write, where the mismatch shows, is never handed on */
    assert_true(out.buf.len < N);
    kiln_buf_free(&out.buf);
}

static void wrong_sizes(void **state)
{
    (void)state;
    char d[KILN_DIGEST_MAX];
    digest_of(data, N, d);
    struct kiln_buf_sink out;
    kiln_buf_sink_init(&out);
    struct kiln_error err = {0};
    /* cut short: fails at the end */
    assert_int_equal(stream(d, N, data, N - 1, &out, &err), -1);
    assert_non_null(strstr(err.message, "does not match its size"));
    kiln_buf_free(&out.buf);
    kiln_buf_sink_init(&out);
    /* longer than the descriptor: fails before the extra byte passes */
    char longer[N + 1];
    memcpy(longer, data, N);
    longer[N] = 'x';
    memset(&err, 0, sizeof(err));
    assert_int_equal(stream(d, N, longer, N + 1, &out, &err), -1);
    assert_non_null(strstr(err.message, "does not match its size"));
    assert_true(out.buf.len <= N);
    kiln_buf_free(&out.buf);
    /* size checked up front, and an archive named as such */
    struct kiln_blob_check c;
    assert_int_equal(kiln_blob_check_init(&c, d, N, "oci-archive:/tmp/a.tar", NULL), 0);
    assert_int_equal(kiln_blob_check_size(&c, N, NULL), 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(kiln_blob_check_size(&c, N + 5, &err), -1);
    assert_non_null(strstr(err.message, "the archive is damaged"));
    kiln_blob_check_free(&c);
}

static void rewinds(void **state)
{
    (void)state;
    char d[KILN_DIGEST_MAX];
    digest_of(data, N, d);
    struct kiln_blob_check c;
    struct kiln_error err = {0};
    assert_int_equal(kiln_blob_check_init(&c, d, N, "oci:/x", &err), 0);
    /* a request that is rewound resends what was checked: not hashed twice */
    assert_int_equal(kiln_blob_check_at(&c, 0, data, 10, &err), 0);
    assert_int_equal(kiln_blob_check_at(&c, 0, data, 20, &err), 0);
    assert_int_equal(kiln_blob_check_at(&c, 5, data + 5, N - 5, &err), 0);
    assert_int_equal(kiln_blob_check_end(&c, &err), 0);
    kiln_blob_check_free(&c);
    /* a gap is an internal error, not a silent pass */
    assert_int_equal(kiln_blob_check_init(&c, d, N, "oci:/x", &err), 0);
    assert_int_equal(kiln_blob_check_at(&c, 4, data + 4, 4, &err), -1);
    assert_int_equal(err.code, KILN_ERR_INTERNAL);
    kiln_blob_check_free(&c);
    /* an empty blob is checked at its end */
    char e[KILN_DIGEST_MAX];
    digest_of("", 0, e);
    assert_int_equal(kiln_blob_check_init(&c, e, 0, "oci:/x", &err), 0);
    assert_int_equal(kiln_blob_check_end(&c, &err), 0);
    kiln_blob_check_free(&c);
    assert_int_equal(kiln_blob_check_init(&c, d, 0, "oci:/x", &err), 0);
    assert_int_equal(kiln_blob_check_end(&c, &err), -1);
    kiln_blob_check_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intact),
        cmocka_unit_test(flipped_byte),
        cmocka_unit_test(wrong_sizes),
        cmocka_unit_test(rewinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
