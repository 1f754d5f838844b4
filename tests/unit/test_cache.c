/* Unit tests: cache/cache.c, cache/api.c — keys, entries and their checks,
 * the compressor's use of the cache, the trim, usage/prune/wipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "internal.h"

#define MIB (1024 * 1024)

static char *tmp_dir(void)
{
    const char *t = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/kiln-test-cache.XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static unsigned char *make_data(size_t n, uint32_t seed)
{
    unsigned char *p = malloc(n);
    assert_non_null(p);
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        /* compressible: a small alphabet, with runs */
        p[i] = (unsigned char)("kiln layer tar gzip "[(x >> 7) % 20]);
    }
    return p;
}

static void entry_file(const char *dir, const unsigned char key[32], char *out, size_t len)
{
    char hex[65];
    kiln_hex(key, 32, hex);
    snprintf(out, len, "%s/chunks-v1/%.2s/%s", dir, hex, hex);
}

static void test_key_covers_params(void **state)
{
    (void)state;
    unsigned char p1[32], p2[32], p3[32], p4[32], p1b[32];
    kiln_chunk_params(KILN_COMPRESSION_GZIP, 4, 4 * MIB, p1);
    kiln_chunk_params(KILN_COMPRESSION_GZIP, 4, 4 * MIB, p1b);
    kiln_chunk_params(KILN_COMPRESSION_GZIP, 5, 4 * MIB, p2);
    kiln_chunk_params(KILN_COMPRESSION_ZSTD, 4, 4 * MIB, p3);
    kiln_chunk_params(KILN_COMPRESSION_GZIP, 4, 2 * MIB, p4);
    assert_memory_equal(p1, p1b, 32);
    assert_memory_not_equal(p1, p2, 32);
    assert_memory_not_equal(p1, p3, 32);
    assert_memory_not_equal(p1, p4, 32);
    unsigned char k1[32], k2[32], k3[32];
    assert_int_equal(kiln_chunk_key(p1, "abc", 3, k1), 0);
    assert_int_equal(kiln_chunk_key(p2, "abc", 3, k2), 0);
    assert_int_equal(kiln_chunk_key(p1, "abd", 3, k3), 0);
    assert_memory_not_equal(k1, k2, 32);
    assert_memory_not_equal(k1, k3, 32);
}

static void test_put_get_and_damage(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char root[4200];
    snprintf(root, sizeof(root), "%s/a/b/cache", dir); /* created with its parents */
    struct kiln_chunk_cache *c = NULL;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_chunk_cache_open(root, 0, &c, &err), 0);
    char tag[4300];
    snprintf(tag, sizeof(tag), "%s/CACHEDIR.TAG", root);
    struct kiln_buf b = { 0 };
    assert_int_equal(kiln_read_file(tag, 4096, &b, &err), 0);
    assert_true(!strncmp(b.data, "Signature: 8a477f597d28d172789f06886806bc55", 43));
    kiln_buf_free(&b);

    unsigned char params[32], key[32], other[32];
    kiln_chunk_params(KILN_COMPRESSION_GZIP, 4, 4 * MIB, params);
    assert_int_equal(kiln_chunk_key(params, "block one", 9, key), 0);
    assert_int_equal(kiln_chunk_key(params, "block two", 9, other), 0);
    unsigned char out[256];
    assert_int_equal(kiln_chunk_cache_get(c, key, out, sizeof(out)), 0); /* a miss */
    kiln_chunk_cache_put(c, key, "payload one", 11);
    assert_int_equal(kiln_chunk_cache_get(c, key, out, sizeof(out)), 11);
    assert_memory_equal(out, "payload one", 11);
    assert_int_equal(kiln_chunk_cache_get(c, key, out, 10), 0); /* larger than the room */

    /* a byte of the payload changed: a miss, counted as damaged */
    char path[4400];
    entry_file(root, key, path, sizeof(path));
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "P", 1, 80), 1);
    close(fd);
    assert_int_equal(kiln_chunk_cache_get(c, key, out, sizeof(out)), 0);
    /* written again: whole again */
    kiln_chunk_cache_put(c, key, "payload one", 11);
    assert_int_equal(kiln_chunk_cache_get(c, key, out, sizeof(out)), 11);
    /* cut short (as by a full disk): a miss */
    assert_int_equal(truncate(path, 85), 0);
    assert_int_equal(kiln_chunk_cache_get(c, key, out, sizeof(out)), 0);
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(kiln_chunk_cache_get(c, key, out, sizeof(out)), 0);
    /* a whole entry of another key under this name: a miss */
    kiln_chunk_cache_put(c, other, "payload two", 11);
    char opath[4400];
    entry_file(root, other, opath, sizeof(opath));
    assert_int_equal(rename(opath, path), 0);
    assert_int_equal(kiln_chunk_cache_get(c, key, out, sizeof(out)), 0);
    /* no temporary file is left by the puts */
    struct kiln_cache_scan s;
    assert_int_equal(kiln_cache_scan(root, INT64_MIN, &s, &err), 0);
    assert_int_equal(s.temp_files, 0);
    assert_int_equal(s.n, 1);
    kiln_cache_scan_free(&s);

    struct kiln_chunk_cache_counts n;
    kiln_chunk_cache_counts(c, &n);
    assert_int_equal(n.hits, 2);
    assert_int_equal(n.stored, 3);
    assert_int_equal(n.damaged, 5); /* changed byte, room, short, empty, other key */
    assert_int_equal(n.failed, 0);
    kiln_chunk_cache_free(c);
    kiln_rm_rf(dir);
    free(dir);
}

/* Compresses data through a gzip compressor (with cache c, or none). */
static void compress(const unsigned char *data, size_t n, unsigned jobs, struct kiln_chunk_cache *c,
                     struct kiln_buf_sink *out)
{
    struct kiln_error err = { 0 };
    kiln_buf_sink_init(out);
    struct kiln_compressor *comp = NULL;
    assert_int_equal(kiln_compressor_new(KILN_COMPRESSION_GZIP, -1, jobs, &out->sink, &comp, &err),
                     0);
    kiln_compressor_set_cache(comp, c);
    struct kiln_sink *s = kiln_compressor_sink(comp);
    /* in uneven pieces, as the tar writer hands them on */
    for (size_t off = 0; off < n;) {
        size_t k = n - off < 777777 ? n - off : 777777;
        assert_int_equal(kiln_sink_write(s, data + off, k, &err), 0);
        off += k;
    }
    assert_int_equal(kiln_sink_finish(s, &err), 0);
    kiln_compressor_free(comp);
}

static void test_compressor_same_bytes(void **state)
{
    (void)state;
    size_t n = 9 * MIB + 12345; /* two whole blocks and a partial one */
    unsigned char *data = make_data(n, 7);
    memset(data + 4 * MIB, 0, 4 * MIB); /* the second block all zeros (not cached) */
    char *dir = tmp_dir();
    struct kiln_chunk_cache *c = NULL;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_chunk_cache_open(dir, 0, &c, &err), 0);
    struct kiln_buf_sink plain, cold, warm, warm1;
    compress(data, n, 3, NULL, &plain);
    compress(data, n, 3, c, &cold);
    compress(data, n, 3, c, &warm);
    compress(data, n, 1, c, &warm1);
    assert_int_equal(plain.buf.len, cold.buf.len);
    assert_memory_equal(plain.buf.data, cold.buf.data, plain.buf.len);
    assert_int_equal(plain.buf.len, warm.buf.len);
    assert_memory_equal(plain.buf.data, warm.buf.data, plain.buf.len);
    assert_int_equal(plain.buf.len, warm1.buf.len);
    assert_memory_equal(plain.buf.data, warm1.buf.data, plain.buf.len);
    struct kiln_chunk_cache_counts k;
    kiln_chunk_cache_counts(c, &k);
    assert_int_equal(k.stored, 2); /* the zero block is not stored */
    assert_int_equal(k.hits, 4);
    assert_int_equal(k.misses, 2);

    /* an entry that is whole but holds another block's member (a forged or
     * mixed-up cache): the gzip trailer does not match, it is compressed */
    unsigned char params[32], key0[32], key2[32];
    kiln_chunk_params(KILN_COMPRESSION_GZIP, 4, 4 * MIB, params);
    assert_int_equal(kiln_chunk_key(params, data, 4 * MIB, key0), 0);
    assert_int_equal(kiln_chunk_key(params, data + 8 * MIB, n - 8 * MIB, key2), 0);
    char p0[4200], p2[4200];
    entry_file(dir, key0, p0, sizeof(p0));
    entry_file(dir, key2, p2, sizeof(p2));
    struct kiln_buf e2 = { 0 };
    assert_int_equal(kiln_read_file(p2, 64 * MIB, &e2, &err), 0);
    /* the member of block 2, stored as an entry for block 0's key */
    kiln_chunk_cache_put(c, key0, e2.data + 80, e2.len - 80);
    kiln_buf_free(&e2);
    struct kiln_buf_sink forged;
    compress(data, n, 2, c, &forged);
    assert_int_equal(plain.buf.len, forged.buf.len);
    assert_memory_equal(plain.buf.data, forged.buf.data, plain.buf.len);
    kiln_chunk_cache_counts(c, &k);
    assert_int_equal(k.damaged, 1);
    (void)p0;

    kiln_buf_free(&plain.buf);
    kiln_buf_free(&cold.buf);
    kiln_buf_free(&warm.buf);
    kiln_buf_free(&warm1.buf);
    kiln_buf_free(&forged.buf);
    kiln_chunk_cache_free(c);
    kiln_rm_rf(dir);
    free(dir);
    free(data);
}

static void set_mtime(const char *path, time_t t)
{
    struct timespec ts[2] = { { t, 0 }, { t, 0 } };
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_trim_prune_wipe(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    struct kiln_chunk_cache *c = NULL;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_chunk_cache_open(dir, 0, &c, &err), 0);
    unsigned char params[32], keys[5][32];
    kiln_chunk_params(KILN_COMPRESSION_GZIP, 4, 4 * MIB, params);
    char payload[1000];
    memset(payload, 'x', sizeof(payload));
    time_t now = time(NULL);
    for (int i = 0; i < 5; i++) {
        char blk[8];
        snprintf(blk, sizeof(blk), "b%d", i);
        assert_int_equal(kiln_chunk_key(params, blk, strlen(blk), keys[i]), 0);
        kiln_chunk_cache_put(c, keys[i], payload, sizeof(payload));
        char p[4200];
        entry_file(dir, keys[i], p, sizeof(p));
        set_mtime(p, now - 10000 + i * 100); /* keys[0] the least recently used */
    }
    /* a temporary file of a killed writer, and one of a running one */
    char stale[4200], fresh[4200];
    snprintf(stale, sizeof(stale), "%s/chunks-v1/00", dir);
    mkdir(stale, 0755);
    snprintf(stale, sizeof(stale), "%s/chunks-v1/00/.tmp-AAAAAA", dir);
    snprintf(fresh, sizeof(fresh), "%s/chunks-v1/00/.tmp-BBBBBB", dir);
    assert_int_equal(kiln_write_file_atomic(stale, "x", 1, &err), 0);
    assert_int_equal(kiln_write_file_atomic(fresh, "y", 1, &err), 0);
    set_mtime(stale, now - 3600);

    struct kiln_cache_stats st;
    assert_int_equal(kiln_cache_usage(dir, &st, &err), 0);
    assert_int_equal(st.entries, 5);
    assert_int_equal(st.bytes, 5 * 1080);
    assert_int_equal(st.temp_files, 2);

    /* prune to three entries' worth: the two least recently used go */
    struct kiln_cache_opts o;
    kiln_cache_opts_init(&o);
    o.dir = dir;
    o.max_size = 3 * 1080;
    assert_int_equal(kiln_cache_prune(&o, &st, &err), 0);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.bytes, 3 * 1080);
    assert_int_equal(st.removed, 3); /* two entries, the stale temporary file */
    assert_int_equal(st.temp_files, 1);
    unsigned char out[2000];
    assert_int_equal(kiln_chunk_cache_get(c, keys[0], out, sizeof(out)), 0);
    assert_int_equal(kiln_chunk_cache_get(c, keys[1], out, sizeof(out)), 0);
    assert_int_equal(kiln_chunk_cache_get(c, keys[2], out, sizeof(out)), 1000);
    assert_int_equal(access(fresh, F_OK), 0);

    /* a hit refreshes the entry's last use: keys[2] is kept, keys[3] goes */
    char p2[4200];
    entry_file(dir, keys[2], p2, sizeof(p2));
    struct stat sb;
    assert_int_equal(stat(p2, &sb), 0);
    assert_true(sb.st_mtime >= now);
    o.max_size = 2 * 1080;
    assert_int_equal(kiln_cache_prune(&o, &st, &err), 0);
    assert_int_equal(st.entries, 2);
    assert_int_equal(kiln_chunk_cache_get(c, keys[3], out, sizeof(out)), 0);
    assert_int_equal(kiln_chunk_cache_get(c, keys[2], out, sizeof(out)), 1000);

    /* the end of a build that stored entries trims to 90 % of the limit */
    struct kiln_chunk_cache *small = NULL;
    assert_int_equal(kiln_chunk_cache_open(dir, 2 * 1080, &small, &err), 0);
    kiln_chunk_cache_put(small, keys[0], payload, sizeof(payload));
    kiln_chunk_cache_end(small, NULL, NULL);
    assert_int_equal(kiln_cache_usage(dir, &st, &err), 0);
    assert_int_equal(st.entries, 1);
    kiln_chunk_cache_free(small);

    assert_int_equal(kiln_cache_wipe(dir, &st, &err), 0);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    /* a wiped cache still works */
    kiln_chunk_cache_put(c, keys[4], payload, sizeof(payload));
    assert_int_equal(kiln_chunk_cache_get(c, keys[4], out, sizeof(out)), 1000);

    /* an empty cache (every entry gone): usage and wipe again */
    assert_int_equal(kiln_cache_wipe(dir, &st, &err), 0);
    assert_int_equal(kiln_cache_usage(dir, &st, &err), 0);
    assert_int_equal(st.entries, 0);
    assert_int_equal(kiln_cache_wipe(dir, &st, &err), 0);
    kiln_chunk_cache_put(c, keys[4], payload, sizeof(payload));

    /* prune and usage of a missing cache: empty, and not created */
    char missing[4200];
    snprintf(missing, sizeof(missing), "%s/none", dir);
    o.dir = missing;
    assert_int_equal(kiln_cache_prune(&o, &st, &err), 0);
    assert_int_equal(kiln_cache_usage(missing, &st, &err), 0);
    assert_int_equal(st.entries, 0);
    assert_int_not_equal(access(missing, F_OK), 0);
    /* an unusable directory: a clear error */
    char file[4200];
    snprintf(file, sizeof(file), "%s/plainfile", dir);
    assert_int_equal(kiln_write_file_atomic(file, "x", 1, &err), 0);
    struct kiln_chunk_cache *bad = NULL;
    assert_int_equal(kiln_chunk_cache_open(file, 0, &bad, &err), -1);
    assert_int_equal(err.code, KILN_ERR_OUTPUT);
    assert_non_null(strstr(err.message, "plainfile"));
    assert_null(bad);

    kiln_chunk_cache_free(c);
    kiln_rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_covers_params),
        cmocka_unit_test(test_put_get_and_damage),
        cmocka_unit_test(test_compressor_same_bytes),
        cmocka_unit_test(test_trim_prune_wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
