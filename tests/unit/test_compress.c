/* Unit tests: compress/compress.c — gzip members, zstd, none, levels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <libdeflate.h>
#include <zstd.h>

#include "internal.h"

#define MIB (1024 * 1024)

/* ---- helpers ---------------------------------------------------------- */

/* Mixed data: stretches of text-like bytes, runs, and noise. */
static unsigned char *make_data(size_t n, uint32_t seed)
{
    unsigned char *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint32_t x = seed ? seed : 1;
    size_t i = 0;
    static const char words[] = "the quick brown fox jumps over the lazy dog kiln layer tar ";
    while (i < n) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t len = 1 + (x >> 8) % 20000;
        if (len > n - i)
            len = n - i;
        switch (x % 3) {
        case 0:
            for (size_t k = 0; k < len; k++)
                p[i + k] = (unsigned char)words[(k + (x >> 4)) % (sizeof(words) - 1)];
            break;
        case 1:
            memset(p + i, (int)(x >> 24), len);
            break;
        default:
            for (size_t k = 0; k < len; k++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                p[i + k] = (unsigned char)x;
            }
            break;
        }
        i += len;
    }
    return p;
}

struct rec_sink {
    struct kiln_sink sink;
    struct kiln_buf buf;
    int finishes;
    size_t fail_after; /* fail a write once this many bytes have been taken; 0 = never */
    int writes;
};

static int rec_write(struct kiln_sink *s, const void *p, size_t n, struct kiln_error *err)
{
    struct rec_sink *r = (struct rec_sink *)s;
    r->writes++;
    if (r->fail_after && r->buf.len + n > r->fail_after)
        return kiln_fail(err, KILN_ERR_OUTPUT, "test sink: disk full");
    return kiln_buf_append(&r->buf, p, n, err);
}

static int rec_finish(struct kiln_sink *s, struct kiln_error *err)
{
    (void)err;
    ((struct rec_sink *)s)->finishes++;
    return 0;
}

static void rec_init(struct rec_sink *r)
{
    memset(r, 0, sizeof(*r));
    r->sink.write = rec_write;
    r->sink.finish = rec_finish;
}

/* Compresses data (written in pieces of `chunk` bytes) and returns the output. */
static void compress_to(enum kiln_compression kind, int level, unsigned jobs,
                        const unsigned char *data, size_t n, size_t chunk, struct kiln_buf *out)
{
    struct rec_sink r;
    rec_init(&r);
    struct kiln_compressor *c = NULL;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_compressor_new(kind, level, jobs, &r.sink, &c, &err), 0);
    assert_non_null(c);
    struct kiln_sink *s = kiln_compressor_sink(c);
    size_t off = 0;
    while (off < n) {
        size_t k = n - off < chunk ? n - off : chunk;
        if (kiln_sink_write(s, data + off, k, &err) != 0)
            fail_msg("write: %s", err.message);
        off += k;
    }
    if (kiln_sink_finish(s, &err) != 0)
        fail_msg("finish: %s", err.message);
    assert_int_equal(r.finishes, 1);
    kiln_compressor_free(c);
    *out = r.buf;
}

/* Splits a gzip stream into its members, checks each member's header and
 * size, and checks the concatenated content against want. */
static void check_gzip(const struct kiln_buf *gz, const unsigned char *want, size_t n)
{
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    assert_non_null(d);
    unsigned char *out = malloc(KILN_GZIP_BLOCK_SIZE);
    assert_non_null(out);
    size_t in_off = 0, total = 0, members = 0;
    const unsigned char *g = (const unsigned char *)gz->data;
    while (in_off < gz->len) {
        const unsigned char *m = g + in_off;
        assert_true(gz->len - in_off >= 18);
        /* ID1 ID2 CM FLG MTIME(4) XFL OS */
        assert_int_equal(m[0], 0x1f);
        assert_int_equal(m[1], 0x8b);
        assert_int_equal(m[2], 8);
        assert_int_equal(m[3], 0); /* no FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT */
        assert_int_equal(m[4] | m[5] | m[6] | m[7], 0);
        assert_int_equal(m[9], 255); /* OS unknown: no host dependence */
        size_t in_used = 0, out_got = 0;
        enum libdeflate_result r = libdeflate_gzip_decompress_ex(
            d, m, gz->len - in_off, out, KILN_GZIP_BLOCK_SIZE, &in_used, &out_got);
        if (r != LIBDEFLATE_SUCCESS)
            fail_msg("member %zu at %zu does not decompress (%d)", members, in_off, (int)r);
        /* every member but the last holds exactly one block */
        size_t expect = n - total < KILN_GZIP_BLOCK_SIZE ? n - total : KILN_GZIP_BLOCK_SIZE;
        assert_int_equal(out_got, expect);
        /* ISIZE trailer */
        const unsigned char *t = m + in_used - 4;
        assert_int_equal((size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24,
                         out_got);
        if (out_got)
            assert_memory_equal(out, want + total, out_got);
        total += out_got;
        in_off += in_used;
        members++;
    }
    assert_int_equal(in_off, gz->len);
    assert_int_equal(total, n);
    size_t want_members = n ? (n + KILN_GZIP_BLOCK_SIZE - 1) / KILN_GZIP_BLOCK_SIZE : 1;
    assert_int_equal(members, want_members);
    free(out);
    libdeflate_free_decompressor(d);
}

static void zstd_decode(const struct kiln_buf *z, struct kiln_buf *out)
{
    ZSTD_DStream *ds = ZSTD_createDStream();
    assert_non_null(ds);
    ZSTD_initDStream(ds);
    size_t cap = ZSTD_DStreamOutSize();
    unsigned char *tmp = malloc(cap);
    assert_non_null(tmp);
    ZSTD_inBuffer in = { z->data, z->len, 0 };
    memset(out, 0, sizeof(*out));
    assert_int_equal(kiln_buf_append(out, "", 0, NULL), 0);
    bool done = false;
    for (;;) {
        ZSTD_outBuffer o = { tmp, cap, 0 };
        size_t r = ZSTD_decompressStream(ds, &o, &in);
        if (ZSTD_isError(r))
            fail_msg("zstd: %s", ZSTD_getErrorName(r));
        assert_int_equal(kiln_buf_append(out, tmp, o.pos, NULL), 0);
        if (r == 0 && in.pos == in.size) {
            done = true; /* frame complete, flushed, all input used */
            break;
        }
        if (in.pos == in.size && o.pos < cap)
            break; /* no progress possible: truncated */
    }
    assert_true(done);
    free(tmp);
    ZSTD_freeDStream(ds);
}

/* ---- gzip ------------------------------------------------------------- */

#define BLK KILN_GZIP_BLOCK_SIZE
static const size_t gzip_sizes[] = { 0, 1, BLK - 1, BLK, BLK + 1, 2 * BLK + BLK / 2 + 12345 };

static void test_gzip_roundtrip_and_determinism(void **state)
{
    (void)state;
    static const unsigned jobs[] = { 1, 2, 3, 8 };
    for (size_t s = 0; s < ARRAY_SIZE(gzip_sizes); s++) {
        size_t n = gzip_sizes[s];
        unsigned char *data = make_data(n, (uint32_t)(s + 7));
        struct kiln_buf ref = { 0 };
        for (size_t j = 0; j < ARRAY_SIZE(jobs); j++) {
            /* whole writes and odd-sized ones that straddle block boundaries */
            static const size_t chunks[] = { SIZE_MAX, 7919, 3 * MIB + 1, BLK + 7 };
            for (size_t k = 0; k < ARRAY_SIZE(chunks); k++) {
                struct kiln_buf gz;
                compress_to(KILN_COMPRESSION_GZIP, -1, jobs[j], data, n, chunks[k], &gz);
                if (!ref.data) {
                    check_gzip(&gz, data, n);
                    ref = gz;
                    continue;
                }
                if (gz.len != ref.len || memcmp(gz.data, ref.data, gz.len))
                    fail_msg("gzip of %zu bytes differs with jobs=%u, chunk=%zu (%zu vs %zu "
                             "bytes)",
                             n, jobs[j], chunks[k], gz.len, ref.len);
                kiln_buf_free(&gz);
            }
        }
        kiln_buf_free(&ref);
        free(data);
    }
}

/* Whole zero blocks (kept compressed once per thread and copied) give the
 * members libdeflate makes of them, for any number of threads: the stream is
 * compared with each block compressed on its own. */
static void test_gzip_zero_blocks(void **state)
{
    (void)state;
    /* zero, data, zero, zero, data then zeros (not a zero block), zero, a
     * short zero tail (not a whole block) */
    size_t n = 6 * BLK + 1000;
    unsigned char *data = calloc(1, n);
    assert_non_null(data);
    unsigned char *d1 = make_data(BLK, 3), *d2 = make_data(BLK / 2, 4);
    memcpy(data + BLK, d1, BLK);
    memcpy(data + 4 * BLK, d2, BLK / 2);
    int level = kiln_compression_default_level(KILN_COMPRESSION_GZIP);
    struct libdeflate_compressor *lc = libdeflate_alloc_compressor(level);
    assert_non_null(lc);
    size_t bound = libdeflate_gzip_compress_bound(lc, BLK);
    struct kiln_buf want = { 0 };
    unsigned char *m = malloc(bound);
    assert_non_null(m);
    struct kiln_error err = { 0 };
    for (size_t off = 0; off < n; off += BLK) {
        size_t k = n - off < BLK ? n - off : BLK;
        size_t got = libdeflate_gzip_compress(lc, data + off, k, m, bound);
        assert_true(got > 0);
        assert_int_equal(kiln_buf_append(&want, m, got, &err), 0);
    }
    static const unsigned jobs[] = { 1, 2, 4 };
    for (size_t j = 0; j < ARRAY_SIZE(jobs); j++) {
        struct kiln_buf gz;
        compress_to(KILN_COMPRESSION_GZIP, -1, jobs[j], data, n, 3 * MIB + 1, &gz);
        if (gz.len != want.len || memcmp(gz.data, want.data, gz.len))
            fail_msg("zero blocks with jobs=%u: %zu bytes, want %zu", jobs[j], gz.len, want.len);
        check_gzip(&gz, data, n);
        kiln_buf_free(&gz);
    }
    kiln_buf_free(&want);
    free(m);
    libdeflate_free_compressor(lc);
    free(d1);
    free(d2);
    free(data);
}

static void test_gzip_levels(void **state)
{
    (void)state;
    size_t n = 2 * MIB + 100;
    unsigned char *data = make_data(n, 99);
    struct kiln_buf l1, l6, ldef, l12, l12j;
    compress_to(KILN_COMPRESSION_GZIP, 1, 1, data, n, SIZE_MAX, &l1);
    compress_to(KILN_COMPRESSION_GZIP, 4, 1, data, n, SIZE_MAX, &l6);
    compress_to(KILN_COMPRESSION_GZIP, -1, 1, data, n, SIZE_MAX, &ldef);
    compress_to(KILN_COMPRESSION_GZIP, 12, 1, data, n, SIZE_MAX, &l12);
    compress_to(KILN_COMPRESSION_GZIP, 12, 4, data, n, 65536, &l12j);
    check_gzip(&l1, data, n);
    check_gzip(&l12, data, n);
    /* the default is level 4 (docs/layer-format.md, "Compression levels") */
    assert_int_equal(kiln_compression_default_level(KILN_COMPRESSION_GZIP), 4);
    assert_int_equal(l6.len, ldef.len);
    assert_memory_equal(l6.data, ldef.data, l6.len);
    /* the level is actually applied */
    assert_true(l1.len > l12.len);
    assert_int_equal(l12.len, l12j.len);
    assert_memory_equal(l12.data, l12j.data, l12.len);
    kiln_buf_free(&l1);
    kiln_buf_free(&l6);
    kiln_buf_free(&ldef);
    kiln_buf_free(&l12);
    kiln_buf_free(&l12j);
    free(data);
}

static void test_gzip_sink_error(void **state)
{
    (void)state;
    size_t n = 6 * MIB;
    unsigned char *data = make_data(n, 5);
    static const unsigned jobs[] = { 1, 3 };
    for (size_t j = 0; j < ARRAY_SIZE(jobs); j++) {
        struct rec_sink r;
        rec_init(&r);
        r.fail_after = 100000;
        struct kiln_compressor *c = NULL;
        struct kiln_error err = { 0 };
        assert_int_equal(kiln_compressor_new(KILN_COMPRESSION_GZIP, -1, jobs[j], &r.sink, &c, &err),
                         0);
        int rc = 0;
        for (size_t off = 0; rc == 0 && off < n; off += 65536)
            rc = kiln_sink_write(kiln_compressor_sink(c), data + off, 65536, &err);
        if (rc == 0)
            rc = kiln_sink_finish(kiln_compressor_sink(c), &err);
        assert_int_equal(rc, -1);
        assert_int_equal(err.code, KILN_ERR_OUTPUT);
        assert_string_equal(err.message, "test sink: disk full");
        assert_int_equal(r.finishes, 0);
        kiln_compressor_free(c); /* joins the workers; must not hang or leak */
        kiln_buf_free(&r.buf);
    }
    free(data);
}

/* ---- zstd ------------------------------------------------------------- */

static void test_zstd_roundtrip_and_determinism(void **state)
{
    (void)state;
    /* large enough for several zstd jobs at the default level */
    static const size_t sizes[] = { 0, 1, MIB + 1, 5 * MIB + MIB / 2, 40 * MIB + 3 };
    static const unsigned jobs[] = { 1, 2, 4 };
    for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
        size_t n = sizes[s];
        unsigned char *data = make_data(n, (uint32_t)(s + 1000));
        struct kiln_buf ref = { 0 };
        for (size_t j = 0; j < ARRAY_SIZE(jobs); j++) {
            struct kiln_buf z;
            compress_to(KILN_COMPRESSION_ZSTD, -1, jobs[j], data, n, j == 1 ? 100003 : SIZE_MAX,
                        &z);
            if (!ref.data) {
                const unsigned char *m = (const unsigned char *)z.data;
                assert_true(z.len >= 6);
                assert_int_equal(m[0] | m[1] << 8 | m[2] << 16 | (uint32_t)m[3] << 24, 0xFD2FB528u);
                /* Frame_Header_Descriptor: no content checksum */
                assert_int_equal(m[4] & 0x04, 0);
                /* one frame */
                assert_int_equal(ZSTD_findFrameCompressedSize(z.data, z.len), z.len);
                struct kiln_buf plain;
                zstd_decode(&z, &plain);
                assert_int_equal(plain.len, n);
                if (n)
                    assert_memory_equal(plain.data, data, n);
                kiln_buf_free(&plain);
                ref = z;
                continue;
            }
            if (z.len != ref.len || memcmp(z.data, ref.data, z.len))
                fail_msg("zstd of %zu bytes differs with jobs=%u (%zu vs %zu bytes)", n, jobs[j],
                         z.len, ref.len);
            kiln_buf_free(&z);
        }
        kiln_buf_free(&ref);
        free(data);
    }
}

static void test_zstd_levels(void **state)
{
    (void)state;
    size_t n = 3 * MIB;
    unsigned char *data = make_data(n, 31);
    struct kiln_buf l1, l3, ldef, l19;
    compress_to(KILN_COMPRESSION_ZSTD, 1, 2, data, n, SIZE_MAX, &l1);
    compress_to(KILN_COMPRESSION_ZSTD, 3, 2, data, n, SIZE_MAX, &l3);
    compress_to(KILN_COMPRESSION_ZSTD, -1, 2, data, n, SIZE_MAX, &ldef);
    compress_to(KILN_COMPRESSION_ZSTD, 19, 2, data, n, SIZE_MAX, &l19);
    assert_int_equal(kiln_compression_default_level(KILN_COMPRESSION_ZSTD), 3);
    assert_int_equal(l3.len, ldef.len);
    assert_memory_equal(l3.data, ldef.data, l3.len);
    assert_true(l1.len > l19.len);
    struct kiln_buf plain;
    zstd_decode(&l19, &plain);
    assert_int_equal(plain.len, n);
    assert_memory_equal(plain.data, data, n);
    kiln_buf_free(&plain);
    kiln_buf_free(&l1);
    kiln_buf_free(&l3);
    kiln_buf_free(&ldef);
    kiln_buf_free(&l19);
    free(data);
}

/* ---- none ------------------------------------------------------------- */

static void test_none_passthrough(void **state)
{
    (void)state;
    size_t n = MIB + 77;
    unsigned char *data = make_data(n, 3);
    struct kiln_buf out;
    compress_to(KILN_COMPRESSION_NONE, -1, 4, data, n, 4097, &out);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, data, n);
    kiln_buf_free(&out);
    compress_to(KILN_COMPRESSION_NONE, -1, 1, data, 0, 1, &out);
    assert_int_equal(out.len, 0);
    kiln_buf_free(&out);
    free(data);
    assert_int_equal(kiln_compression_default_level(KILN_COMPRESSION_NONE), 0);
}

/* ---- names and levels ------------------------------------------------- */

static void test_check_level(void **state)
{
    (void)state;
    struct kiln_error err = { 0 };
    for (int l = 1; l <= 12; l++)
        assert_int_equal(kiln_compression_check_level(KILN_COMPRESSION_GZIP, l, &err), 0);
    static const int bad_gzip[] = { 0, 13, -1, 100 };
    for (size_t i = 0; i < ARRAY_SIZE(bad_gzip); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(kiln_compression_check_level(KILN_COMPRESSION_GZIP, bad_gzip[i], &err),
                         -1);
        assert_int_equal(err.code, KILN_ERR_USAGE);
        assert_non_null(strstr(err.message, "gzip takes 1 to 12"));
    }
    int zmax = ZSTD_maxCLevel();
    assert_true(zmax >= 19);
    for (int l = 1; l <= zmax; l++)
        assert_int_equal(kiln_compression_check_level(KILN_COMPRESSION_ZSTD, l, &err), 0);
    static const int bad_zstd[] = { 0, -1, -5 };
    for (size_t i = 0; i < ARRAY_SIZE(bad_zstd); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(kiln_compression_check_level(KILN_COMPRESSION_ZSTD, bad_zstd[i], &err),
                         -1);
        assert_int_equal(err.code, KILN_ERR_USAGE);
        assert_non_null(strstr(err.message, "zstd takes 1 to"));
    }
    memset(&err, 0, sizeof(err));
    assert_int_equal(kiln_compression_check_level(KILN_COMPRESSION_ZSTD, zmax + 1, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    static const int bad_none[] = { 1, 6, 9 };
    for (size_t i = 0; i < ARRAY_SIZE(bad_none); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(kiln_compression_check_level(KILN_COMPRESSION_NONE, bad_none[i], &err),
                         -1);
        assert_int_equal(err.code, KILN_ERR_USAGE);
        assert_non_null(strstr(err.message, "none"));
    }
}

static void test_parse_compression(void **state)
{
    (void)state;
    enum kiln_compression c = KILN_COMPRESSION_NONE;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_parse_compression("gzip", &c, &err), 0);
    assert_int_equal(c, KILN_COMPRESSION_GZIP);
    assert_int_equal(kiln_parse_compression("zstd", &c, &err), 0);
    assert_int_equal(c, KILN_COMPRESSION_ZSTD);
    assert_int_equal(kiln_parse_compression("none", &c, &err), 0);
    assert_int_equal(c, KILN_COMPRESSION_NONE);
    static const char *const bad[] = { "", "GZIP", "gz", "zst", "xz", "gzip ", "none\n", "bzip2" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        memset(&err, 0, sizeof(err));
        c = KILN_COMPRESSION_ZSTD;
        assert_int_equal(kiln_parse_compression(bad[i], &c, &err), -1);
        assert_int_equal(err.code, KILN_ERR_USAGE);
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "'%s'", bad[i]);
        assert_non_null(strstr(err.message, quoted));
        assert_int_equal(c, KILN_COMPRESSION_ZSTD); /* untouched */
    }
    assert_string_equal(kiln_compression_name(KILN_COMPRESSION_GZIP), "gzip");
    assert_string_equal(kiln_compression_name(KILN_COMPRESSION_ZSTD), "zstd");
    assert_string_equal(kiln_compression_name(KILN_COMPRESSION_NONE), "none");
}

static void test_build_set_compression(void **state)
{
    (void)state;
    kiln_build *b = kiln_build_new();
    assert_non_null(b);
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_build_set_compression(b, KILN_COMPRESSION_GZIP, -1, &err), 0);
    assert_int_equal(kiln_build_set_compression(b, KILN_COMPRESSION_GZIP, 12, &err), 0);
    assert_int_equal(kiln_build_set_compression(b, KILN_COMPRESSION_GZIP, 13, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    assert_int_equal(kiln_build_set_compression(b, KILN_COMPRESSION_ZSTD, 22, &err), 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(kiln_build_set_compression(b, KILN_COMPRESSION_NONE, 5, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    assert_int_equal(kiln_build_set_compression(b, KILN_COMPRESSION_NONE, -1, &err), 0);
    kiln_build_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_roundtrip_and_determinism),
        cmocka_unit_test(test_gzip_zero_blocks),
        cmocka_unit_test(test_gzip_levels),
        cmocka_unit_test(test_gzip_sink_error),
        cmocka_unit_test(test_zstd_roundtrip_and_determinism),
        cmocka_unit_test(test_zstd_levels),
        cmocka_unit_test(test_none_passthrough),
        cmocka_unit_test(test_check_level),
        cmocka_unit_test(test_parse_compression),
        cmocka_unit_test(test_build_set_compression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
