/* The chunk cache: compressed blocks of layers, keyed by what they compress
 * (docs/cache.md). */
#ifndef KILN_CACHE_CACHE_H
#define KILN_CACHE_CACHE_H

#include "../base/base.h"

/* Bumped whenever a rule of docs/layer-format.md that decides a compressed
 * block's bytes changes: every entry written before then stops matching. */
#define KILN_LAYER_FORMAT_VERSION   1
#define KILN_CHUNK_KEY_LEN          32
#define KILN_CACHE_DEFAULT_MAX_SIZE (10ULL << 30)

/* ---- cache/api.c ---- */
void kiln_cache_opts_copy(struct kiln_cache_opts *dst, const struct kiln_cache_opts *o);

/* ---- cache/cache.c ---------------------------------------------------- */
struct kiln_chunk_cache;
/* Opens (creating when needed) the cache rooted at dir: DIR/CACHEDIR.TAG,
 * DIR/chunks-v1/. max_size 0 = the default. */
int kiln_chunk_cache_open(const char *dir, uint64_t max_size, struct kiln_chunk_cache **out,
                          struct kiln_error *err);
void kiln_chunk_cache_free(struct kiln_chunk_cache *c);

/* The hash of everything besides the block's bytes that decides its
 * compressed bytes: the algorithm, the level, the block size, the layer
 * format version and the compressor library's version. */
void kiln_chunk_params(enum kiln_compression kind, int level, size_t block_size,
                       unsigned char out[KILN_CHUNK_KEY_LEN]);
/* key = sha256(params || block). Returns -1 only when out of memory. */
int kiln_chunk_key(const unsigned char params[KILN_CHUNK_KEY_LEN], const void *block, size_t n,
                   unsigned char key[KILN_CHUNK_KEY_LEN]);

/* Looks key up. A hit whose entry is whole (magic, key, length and payload
 * hash all check) copies the payload to out and returns its length; a miss,
 * a damaged entry or one larger than cap returns 0. Thread-safe. */
size_t kiln_chunk_cache_get(struct kiln_chunk_cache *c, const unsigned char key[KILN_CHUNK_KEY_LEN],
                            void *out, size_t cap);
/* The caller found the payload get returned wrong for the block (a check
 * the cache cannot make, such as gzip's CRC): counted as damaged. */
void kiln_chunk_cache_reject(struct kiln_chunk_cache *c);
/* Stores payload under key: a temporary file renamed into place. Failures
 * (a full disk, a read-only cache) are counted, never fatal. Thread-safe. */
void kiln_chunk_cache_put(struct kiln_chunk_cache *c, const unsigned char key[KILN_CHUNK_KEY_LEN],
                          const void *payload, size_t n);

struct kiln_chunk_cache_counts {
    uint64_t hits, misses, stored, damaged, failed;
};
void kiln_chunk_cache_counts(const struct kiln_chunk_cache *c, struct kiln_chunk_cache_counts *out);
/* At the end of a build: logs what the cache did and, if entries were
 * stored, trims the cache to its size limit (unless another process is
 * trimming it). */
void kiln_chunk_cache_end(struct kiln_chunk_cache *c, kiln_log_fn log, void *userdata);

/* Every entry of the cache at dir, least recently used first, with their
 * total size; temporary files (of writers running or killed) are counted,
 * and those last changed before stale_before (seconds since the epoch) are
 * removed. A missing cache is an empty one. */
struct kiln_cache_scan_entry {
    char *path;
    uint64_t size;
    int64_t mtime;
};
struct kiln_cache_scan {
    struct kiln_cache_scan_entry *v;
    size_t n;
    uint64_t bytes;
    uint64_t temp_files, removed_temp;
    uint64_t removed, removed_bytes; /* entries removed by kiln_cache_trim */
};
int kiln_cache_scan(const char *dir, int64_t stale_before, struct kiln_cache_scan *s,
                    struct kiln_error *err);
void kiln_cache_scan_free(struct kiln_cache_scan *s);
/* Scans, then removes the least recently used entries until at most target
 * bytes are left. The caller holds the lock. */
int kiln_cache_trim(const char *dir, uint64_t target, int64_t stale_before,
                    struct kiln_cache_scan *s, struct kiln_error *err);
/* flock of DIR/lock: returns its descriptor, -2 when !wait and another
 * process holds it, or -1 with err set. */
int kiln_cache_lock(const char *dir, bool wait, struct kiln_error *err);

#endif
