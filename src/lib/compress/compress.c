/*
 * Layer compressors, as sinks.
 *
 * gzip: the stream is cut into fixed 4 MiB blocks; each block becomes one
 * complete gzip member (libdeflate; header with mtime 0, no name, OS 255) and
 * the members are concatenated, which RFC 1952 readers (Go, zlib's gunzip,
 * pigz, Python) read as one stream. Blocks are compressed on `jobs` threads
 * and written in order, so the bytes do not depend on the thread count or
 * the machine.
 *
 * zstd: libzstd's streaming API with nbWorkers >= 1, whose output is the same
 * for every worker count.
 *
 * none: a pass-through.
 */
#include <libdeflate.h>
#include <pthread.h>
#include <string.h>
#include <zstd.h>

#include "../cache/cache.h"
#include "compress.h"

#define GZIP_DEFAULT_LEVEL 4 /* measured: docs/layer-format.md, "Compression levels" */
#define ZSTD_DEFAULT_LEVEL 3

enum slot_state { SLOT_EMPTY, SLOT_FILLED, SLOT_BUSY, SLOT_DONE };

struct slot {
    unsigned char *in;
    size_t in_len;
    unsigned char *out;
    size_t out_len;
    enum slot_state state;
    uint64_t seq;
};

/* A whole block of zeros (the holes of a sparse file, zeroed images)
 * compresses to the same member every time: each compressing thread keeps
 * the first one it made and copies it for the next, which gives the same
 * bytes as compressing again, for a scan instead of a compression. */
struct zero_member {
    unsigned char *out; /* NULL until the first zero block; then out_len bytes */
    size_t out_len;
};

struct kiln_compressor {
    struct kiln_sink sink;
    enum kiln_compression kind;
    int level;
    struct kiln_sink *next;
    struct kiln_chunk_cache *cache; /* gzip blocks; NULL: none */
    unsigned char cache_params[KILN_CHUNK_KEY_LEN];
    /* gzip */
    struct slot *slots;
    size_t nslots;
    size_t out_cap;
    uint64_t fill_seq;  /* block being filled */
    uint64_t write_seq; /* next block to hand downstream */
    struct libdeflate_compressor *inline_c; /* jobs == 1 */
    struct zero_member inline_zero;         /* jobs == 1 */
    pthread_t *threads;
    size_t nthreads;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    bool stop, failed;
    /* zstd */
    ZSTD_CCtx *zc;
    unsigned char *zout;
    size_t zout_cap;
};

int kiln_compression_default_level(enum kiln_compression c)
{
    return c == KILN_COMPRESSION_GZIP ? GZIP_DEFAULT_LEVEL
           : c == KILN_COMPRESSION_ZSTD ? ZSTD_DEFAULT_LEVEL
                                        : 0;
}

const char *kiln_compression_name(enum kiln_compression c)
{
    return c == KILN_COMPRESSION_GZIP ? "gzip" : c == KILN_COMPRESSION_ZSTD ? "zstd" : "none";
}

int kiln_parse_compression(const char *name, enum kiln_compression *c, struct kiln_error *err)
{
    if (!strcmp(name, "gzip"))
        *c = KILN_COMPRESSION_GZIP;
    else if (!strcmp(name, "zstd"))
        *c = KILN_COMPRESSION_ZSTD;
    else if (!strcmp(name, "none"))
        *c = KILN_COMPRESSION_NONE;
    else
        return kiln_fail(err, KILN_ERR_USAGE,
                         "--compression '%s': unknown; use gzip, zstd or none", name);
    return 0;
}

int kiln_compression_check_level(enum kiln_compression c, int level, struct kiln_error *err)
{
    int lo = 0, hi = 0;
    if (c == KILN_COMPRESSION_GZIP) {
        lo = 1;
        hi = 12;
    } else if (c == KILN_COMPRESSION_ZSTD) {
        lo = 1;
        hi = ZSTD_maxCLevel();
    }
    if (c == KILN_COMPRESSION_NONE || level < lo || level > hi) {
        if (c == KILN_COMPRESSION_NONE)
            return kiln_fail(err, KILN_ERR_USAGE,
                             "--compression-level %d: no level applies to --compression none",
                             level);
        return kiln_fail(err, KILN_ERR_USAGE, "--compression-level %d: %s takes %d to %d", level,
                         kiln_compression_name(c), lo, hi);
    }
    return 0;
}

/* ---- gzip ---- */

static bool all_zero(const unsigned char *p, size_t n)
{
    return n && !p[0] && !memcmp(p, p + 1, n - 1);
}

/* The cached member for a block, checked against the block by the gzip
 * trailer (CRC-32 and size), beyond the entry's own checks: a member of
 * another block is never used. */
static bool cached_member(struct kiln_compressor *c, struct slot *s, size_t cap,
                          unsigned char key[KILN_CHUNK_KEY_LEN])
{
    size_t n = kiln_chunk_cache_get(c->cache, key, s->out, cap);
    if (!n)
        return false;
    if (n < 18) {
        kiln_chunk_cache_reject(c->cache);
        return false;
    }
    const unsigned char *t = s->out + n - 8;
    uint32_t crc = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
                   (uint32_t)t[3] << 24;
    uint32_t isize = (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 |
                     (uint32_t)t[7] << 24;
    if (s->out[0] != 0x1f || s->out[1] != 0x8b || isize != (uint32_t)s->in_len ||
        crc != libdeflate_crc32(0, s->in, s->in_len)) {
        kiln_chunk_cache_reject(c->cache);
        return false;
    }
    s->out_len = n;
    return true;
}

static void compress_slot(struct kiln_compressor *c, struct libdeflate_compressor *lc,
                          struct zero_member *z, struct slot *s)
{
    bool zero = s->in_len == KILN_GZIP_BLOCK_SIZE && all_zero(s->in, s->in_len);
    if (zero && z->out) {
        memcpy(s->out, z->out, z->out_len);
        s->out_len = z->out_len;
        return;
    }
    size_t cap = libdeflate_gzip_compress_bound(lc, KILN_GZIP_BLOCK_SIZE);
    unsigned char key[KILN_CHUNK_KEY_LEN];
    bool keyed = c->cache && !zero && kiln_chunk_key(c->cache_params, s->in, s->in_len, key) == 0;
    if (keyed && cached_member(c, s, cap, key))
        return;
    s->out_len = libdeflate_gzip_compress(lc, s->in, s->in_len, s->out, cap);
    if (keyed && s->out_len)
        kiln_chunk_cache_put(c->cache, key, s->out, s->out_len);
    if (zero && s->out_len && (z->out = malloc(s->out_len))) { /* without memory: no copy */
        memcpy(z->out, s->out, s->out_len);
        z->out_len = s->out_len;
    }
}

static void *worker(void *arg)
{
    struct kiln_compressor *c = arg;
    struct libdeflate_compressor *lc = libdeflate_alloc_compressor(c->level);
    struct zero_member z = {0};
    pthread_mutex_lock(&c->mu);
    if (!lc) {
        c->failed = true;
        pthread_cond_broadcast(&c->done_cv);
    }
    while (lc && !c->stop) {
        struct slot *job = NULL;
        for (size_t i = 0; i < c->nslots; i++) {
            struct slot *s = &c->slots[i];
            if (s->state == SLOT_FILLED && (!job || s->seq < job->seq))
                job = s;
        }
        if (!job) {
            pthread_cond_wait(&c->work_cv, &c->mu);
            continue;
        }
        job->state = SLOT_BUSY;
        pthread_mutex_unlock(&c->mu);
        compress_slot(c, lc, &z, job);
        pthread_mutex_lock(&c->mu);
        job->state = SLOT_DONE;
        pthread_cond_broadcast(&c->done_cv);
    }
    pthread_mutex_unlock(&c->mu);
    libdeflate_free_compressor(lc);
    free(z.out);
    return NULL;
}

static struct slot *slot_of(struct kiln_compressor *c, uint64_t seq)
{
    return &c->slots[seq % c->nslots];
}

/* Hands finished blocks downstream in order, waiting for block `until`
 * (exclusive) to be written. */
static int drain(struct kiln_compressor *c, uint64_t until, struct kiln_error *err)
{
    while (c->write_seq < until) {
        struct slot *s = slot_of(c, c->write_seq);
        if (c->threads) {
            pthread_mutex_lock(&c->mu);
            while (s->state != SLOT_DONE && !c->failed)
                pthread_cond_wait(&c->done_cv, &c->mu);
            bool failed = c->failed;
            pthread_mutex_unlock(&c->mu);
            if (failed)
                return kiln_oom(err);
        }
        if (s->out_len == 0)
            return kiln_fail(err, KILN_ERR_INTERNAL, "gzip: block compression failed");
        if (kiln_sink_write(c->next, s->out, s->out_len, err) < 0)
            return -1;
        if (c->threads)
            pthread_mutex_lock(&c->mu);
        s->state = SLOT_EMPTY;
        if (c->threads)
            pthread_mutex_unlock(&c->mu);
        s->in_len = 0;
        c->write_seq++;
    }
    return 0;
}

/* Submits the block being filled and moves to the next slot. */
static int submit(struct kiln_compressor *c, struct kiln_error *err)
{
    struct slot *s = slot_of(c, c->fill_seq);
    s->seq = c->fill_seq;
    if (c->threads) {
        pthread_mutex_lock(&c->mu);
        s->state = SLOT_FILLED;
        pthread_cond_signal(&c->work_cv);
        pthread_mutex_unlock(&c->mu);
    } else {
        compress_slot(c, c->inline_c, &c->inline_zero, s);
        s->state = SLOT_DONE;
    }
    c->fill_seq++;
    /* The next slot must be free before it is filled. */
    if (c->fill_seq >= c->nslots)
        return drain(c, c->fill_seq - c->nslots + 1, err);
    return 0;
}

static int gzip_write(struct kiln_sink *sk, const void *p, size_t n, struct kiln_error *err)
{
    struct kiln_compressor *c = (struct kiln_compressor *)sk;
    const unsigned char *in = p;
    while (n) {
        struct slot *s = slot_of(c, c->fill_seq);
        size_t room = KILN_GZIP_BLOCK_SIZE - s->in_len;
        size_t take = n < room ? n : room;
        memcpy(s->in + s->in_len, in, take);
        s->in_len += take;
        in += take;
        n -= take;
        if (s->in_len == KILN_GZIP_BLOCK_SIZE && submit(c, err) < 0)
            return -1;
    }
    return 0;
}

static int gzip_finish(struct kiln_sink *sk, struct kiln_error *err)
{
    struct kiln_compressor *c = (struct kiln_compressor *)sk;
    /* A partial last block, or one empty member for an empty stream. */
    if ((slot_of(c, c->fill_seq)->in_len || c->fill_seq == 0) && submit(c, err) < 0)
        return -1;
    if (drain(c, c->fill_seq, err) < 0)
        return -1;
    return kiln_sink_finish(c->next, err);
}

static int gzip_init(struct kiln_compressor *c, unsigned jobs, struct kiln_error *err)
{
    c->sink.write = gzip_write;
    c->sink.finish = gzip_finish;
    struct libdeflate_compressor *probe = libdeflate_alloc_compressor(c->level);
    if (!probe)
        return kiln_oom(err);
    c->out_cap = libdeflate_gzip_compress_bound(probe, KILN_GZIP_BLOCK_SIZE);
    if (jobs <= 1)
        c->inline_c = probe;
    else
        libdeflate_free_compressor(probe);
    /* one block being filled, one per thread, one finished waiting its turn:
     * about 9 MiB per thread at most (4 MiB in, the compress bound out) */
    c->nslots = jobs <= 1 ? 1 : (size_t)jobs + 2;
    c->slots = calloc(c->nslots, sizeof(*c->slots));
    if (!c->slots)
        return kiln_oom(err);
    for (size_t i = 0; i < c->nslots; i++) {
        c->slots[i].in = malloc(KILN_GZIP_BLOCK_SIZE);
        c->slots[i].out = malloc(c->out_cap);
        if (!c->slots[i].in || !c->slots[i].out)
            return kiln_oom(err);
    }
    if (jobs <= 1)
        return 0;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work_cv, NULL);
    pthread_cond_init(&c->done_cv, NULL);
    c->threads = calloc(jobs, sizeof(*c->threads));
    if (!c->threads)
        return kiln_oom(err);
    for (unsigned i = 0; i < jobs; i++) {
        if (pthread_create(&c->threads[i], NULL, worker, c) != 0)
            return kiln_fail(err, KILN_ERR_INTERNAL, "cannot start compression threads");
        c->nthreads++;
    }
    return 0;
}

/* ---- zstd ---- */

static int zstd_push(struct kiln_compressor *c, const void *p, size_t n, ZSTD_EndDirective mode,
                     struct kiln_error *err)
{
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {c->zout, c->zout_cap, 0};
        size_t left = ZSTD_compressStream2(c->zc, &out, &in, mode);
        if (ZSTD_isError(left))
            return kiln_fail(err, KILN_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(left));
        if (out.pos && kiln_sink_write(c->next, c->zout, out.pos, err) < 0)
            return -1;
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

static int zstd_write(struct kiln_sink *sk, const void *p, size_t n, struct kiln_error *err)
{
    return zstd_push((struct kiln_compressor *)sk, p, n, ZSTD_e_continue, err);
}

static int zstd_finish(struct kiln_sink *sk, struct kiln_error *err)
{
    struct kiln_compressor *c = (struct kiln_compressor *)sk;
    if (zstd_push(c, NULL, 0, ZSTD_e_end, err) < 0)
        return -1;
    return kiln_sink_finish(c->next, err);
}

static int zstd_init(struct kiln_compressor *c, unsigned jobs, struct kiln_error *err)
{
    c->sink.write = zstd_write;
    c->sink.finish = zstd_finish;
    if (!(c->zc = ZSTD_createCCtx()))
        return kiln_oom(err);
    c->zout_cap = ZSTD_CStreamOutSize();
    if (!(c->zout = malloc(c->zout_cap)))
        return kiln_oom(err);
    size_t r = ZSTD_CCtx_setParameter(c->zc, ZSTD_c_compressionLevel, c->level);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(c->zc, ZSTD_c_checksumFlag, 0);
    /* Always >= 1 worker: multi-threaded output is the same for every count. */
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(c->zc, ZSTD_c_nbWorkers, (int)(jobs ? jobs : 1));
    /* Fixed 2 MiB jobs: memory stays bounded (the default grows with the
     * window), and the bytes are the same for every worker count. */
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(c->zc, ZSTD_c_jobSize, 2 << 20);
    if (ZSTD_isError(r))
        return kiln_fail(err, KILN_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(r));
    return 0;
}

/* ---- none ---- */

static int none_write(struct kiln_sink *sk, const void *p, size_t n, struct kiln_error *err)
{
    return kiln_sink_write(((struct kiln_compressor *)sk)->next, p, n, err);
}

static int none_finish(struct kiln_sink *sk, struct kiln_error *err)
{
    return kiln_sink_finish(((struct kiln_compressor *)sk)->next, err);
}

int kiln_compressor_new(enum kiln_compression kind, int level, unsigned jobs,
                        struct kiln_sink *next, struct kiln_compressor **out,
                        struct kiln_error *err)
{
    struct kiln_compressor *c = calloc(1, sizeof(*c));
    if (!c)
        return kiln_oom(err);
    c->kind = kind;
    c->level = level < 0 ? kiln_compression_default_level(kind) : level;
    c->next = next;
    int rc;
    if (kind == KILN_COMPRESSION_GZIP)
        rc = gzip_init(c, jobs, err);
    else if (kind == KILN_COMPRESSION_ZSTD)
        rc = zstd_init(c, jobs, err);
    else {
        c->sink.write = none_write;
        c->sink.finish = none_finish;
        rc = 0;
    }
    if (rc < 0) {
        kiln_compressor_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void kiln_compressor_set_cache(struct kiln_compressor *c, struct kiln_chunk_cache *cache)
{
    if (c->kind != KILN_COMPRESSION_GZIP)
        return; /* zstd's stream is not cut into independent blocks */
    c->cache = cache;
    if (cache)
        kiln_chunk_params(c->kind, c->level, KILN_GZIP_BLOCK_SIZE, c->cache_params);
}

struct kiln_sink *kiln_compressor_sink(struct kiln_compressor *c)
{
    return &c->sink;
}

void kiln_compressor_free(struct kiln_compressor *c)
{
    if (!c)
        return;
    if (c->nthreads) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_broadcast(&c->work_cv);
        pthread_mutex_unlock(&c->mu);
        for (size_t i = 0; i < c->nthreads; i++)
            pthread_join(c->threads[i], NULL);
    }
    if (c->threads) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->work_cv);
        pthread_cond_destroy(&c->done_cv);
    }
    free(c->threads);
    for (size_t i = 0; c->slots && i < c->nslots; i++) {
        free(c->slots[i].in);
        free(c->slots[i].out);
    }
    free(c->slots);
    libdeflate_free_compressor(c->inline_c);
    free(c->inline_zero.out);
    ZSTD_freeCCtx(c->zc);
    free(c->zout);
    free(c);
}
