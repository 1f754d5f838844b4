/*
 * The chunk cache. An entry is one file, DIR/chunks-v1/HH/<key hex> (HH: the
 * key's first byte), holding
 *
 *   magic "KILNCH1\n" | key (32) | sha256 of the payload (32) |
 *   payload length (8, little-endian) | payload
 *
 * It is written to a temporary file beside it and renamed into place, so a
 * reader sees a whole entry or none, and a process killed while writing
 * leaves only a temporary file (removed by the next trim once it is old).
 * Every read checks the whole entry before it is used: a damaged one is a
 * miss, and the block compressed again replaces it. The last-use time is the
 * entry's mtime, refreshed on a hit; the trim (under an flock of DIR/lock)
 * removes the least recently used entries down to 90 % of the limit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "cache.h"

#define MAGIC   "KILNCH1\n"
#define HDR_LEN (8 + 32 + 32 + 8)

struct kiln_chunk_cache {
    char *dir;
    char *chunks; /* DIR/chunks-v1 */
    uint64_t max_size;
    _Atomic uint64_t hits, misses, stored, damaged, failed;
};

static const char cachedir_tag[] =
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by kiln.\n"
    "# Its contents can be rebuilt: see docs/cache.md, or run 'kiln cache wipe'.\n";

static int mkdir_ok(const char *path)
{
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* mkdir -p: the cache's root may be several levels below an existing
 * directory ($XDG_CACHE_HOME/kiln on a fresh account). */
static int mkdir_parents(const char *dir)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = 0;
        if (mkdir_ok(p) < 0)
            return -1;
        *q = '/';
    }
    return mkdir_ok(p);
}

int kiln_chunk_cache_open(const char *dir, uint64_t max_size, struct kiln_chunk_cache **out,
                          struct kiln_error *err)
{
    *out = NULL;
    if (!dir || !*dir)
        return kiln_fail(err, KILN_ERR_USAGE, "cache: no directory given");
    struct kiln_chunk_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return kiln_oom(err);
    c->max_size = max_size ? max_size : KILN_CACHE_DEFAULT_MAX_SIZE;
    c->dir = kiln_strdup(dir, err);
    c->chunks = c->dir ? kiln_path_join(dir, "chunks-v1", err) : NULL;
    if (!c->chunks) {
        kiln_chunk_cache_free(c);
        return -1;
    }
    if (mkdir_parents(dir) < 0 || mkdir_ok(c->chunks) < 0) {
        int e = errno;
        kiln_chunk_cache_free(c);
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, e,
                               "cache %s: cannot create (give another with --cache-dir, or "
                               "--no-cache)",
                               dir);
    }
    _cleanup_free_ char *tag = kiln_path_join(dir, "CACHEDIR.TAG", err);
    if (!tag) {
        kiln_chunk_cache_free(c);
        return -1;
    }
    if (access(tag, F_OK) != 0 &&
        kiln_write_file_atomic(tag, cachedir_tag, sizeof(cachedir_tag) - 1, err) < 0) {
        kiln_chunk_cache_free(c);
        return kiln_error_prefix(err, "cache %s", dir);
    }
    *out = c;
    return 0;
}

void kiln_chunk_cache_free(struct kiln_chunk_cache *c)
{
    if (!c)
        return;
    free(c->dir);
    free(c->chunks);
    free(c);
}

void kiln_chunk_params(enum kiln_compression kind, int level, size_t block_size,
                       unsigned char out[KILN_CHUNK_KEY_LEN])
{
    char text[256];
    int n = snprintf(text, sizeof(text),
                     "kiln chunk cache v1\nalgorithm %s\nlevel %d\nblock %zu\nlayer-format %d\n"
                     "libdeflate %s\nlibzstd %s\n",
                     kind == KILN_COMPRESSION_GZIP   ? "gzip"
                     : kind == KILN_COMPRESSION_ZSTD ? "zstd"
                                                     : "none",
                     level, block_size, KILN_LAYER_FORMAT_VERSION, LIBDEFLATE_VERSION_STRING,
                     ZSTD_versionString());
    unsigned int len = 0;
    if (n < 0 || !EVP_Digest(text, (size_t)n, out, &len, EVP_sha256(), NULL))
        memset(out, 0, KILN_CHUNK_KEY_LEN); /* cannot happen with OpenSSL's sha256 */
}

int kiln_chunk_key(const unsigned char params[KILN_CHUNK_KEY_LEN], const void *block, size_t n,
                   unsigned char key[KILN_CHUNK_KEY_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(ctx, params, KILN_CHUNK_KEY_LEN) && EVP_DigestUpdate(ctx, block, n) &&
             EVP_DigestFinal_ex(ctx, key, &len);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

static void entry_path(const struct kiln_chunk_cache *c,
                       const unsigned char key[KILN_CHUNK_KEY_LEN], char *out, size_t len,
                       bool dir_only)
{
    static const char hex[] = "0123456789abcdef";
    char name[2 * KILN_CHUNK_KEY_LEN + 1];
    for (size_t i = 0; i < KILN_CHUNK_KEY_LEN; i++) {
        name[2 * i] = hex[key[i] >> 4];
        name[2 * i + 1] = hex[key[i] & 15];
    }
    name[2 * KILN_CHUNK_KEY_LEN] = 0;
    if (dir_only)
        snprintf(out, len, "%s/%.2s", c->chunks, name);
    else
        snprintf(out, len, "%s/%.2s/%s", c->chunks, name, name);
}

static bool read_full(int fd, void *p, size_t n, off_t off)
{
    unsigned char *q = p;
    while (n) {
        ssize_t r = pread(fd, q, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        q += r;
        n -= (size_t)r;
        off += r;
    }
    return true;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

size_t kiln_chunk_cache_get(struct kiln_chunk_cache *c, const unsigned char key[KILN_CHUNK_KEY_LEN],
                            void *out, size_t cap)
{
    char path[PATH_MAX];
    entry_path(c, key, path, sizeof(path), false);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        c->misses++;
        return 0;
    }
    struct stat st;
    unsigned char hdr[HDR_LEN], sum[32];
    unsigned int sum_len = 0;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= HDR_LEN &&
              (uint64_t)st.st_size - HDR_LEN <= cap && read_full(fd, hdr, HDR_LEN, 0);
    size_t n = ok ? (size_t)st.st_size - HDR_LEN : 0;
    ok = ok && !memcmp(hdr, MAGIC, 8) && !memcmp(hdr + 8, key, KILN_CHUNK_KEY_LEN) &&
         get_le64(hdr + 72) == n && n > 0 && read_full(fd, out, n, HDR_LEN) &&
         EVP_Digest(out, n, sum, &sum_len, EVP_sha256(), NULL) && !memcmp(sum, hdr + 40, 32);
    if (ok) {
        /* the last use, for the trim; an hour's precision is enough */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec - st.st_mtim.tv_sec > 3600)
            (void)futimens(fd, NULL);
    }
    close(fd);
    if (!ok) {
        c->damaged++;
        c->misses++;
        return 0;
    }
    c->hits++;
    return n;
}

void kiln_chunk_cache_reject(struct kiln_chunk_cache *c)
{
    c->hits--;
    c->misses++;
    c->damaged++;
}

void kiln_chunk_cache_put(struct kiln_chunk_cache *c, const unsigned char key[KILN_CHUNK_KEY_LEN],
                          const void *payload, size_t n)
{
    char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 32];
    entry_path(c, key, dir, sizeof(dir), true);
    entry_path(c, key, path, sizeof(path), false);
    snprintf(tmp, sizeof(tmp), "%s/.tmp-XXXXXX", dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) { /* the first entry of HH, or a wiped cache */
        (void)mkdir_ok(c->chunks);
        (void)mkdir_ok(dir);
        snprintf(tmp, sizeof(tmp), "%s/.tmp-XXXXXX", dir); /* mkostemp changed it */
        fd = mkostemp(tmp, O_CLOEXEC);
    }
    if (fd < 0) {
        c->failed++;
        return;
    }
    unsigned char hdr[HDR_LEN];
    unsigned int sum_len = 0;
    memcpy(hdr, MAGIC, 8);
    memcpy(hdr + 8, key, KILN_CHUNK_KEY_LEN);
    bool ok = EVP_Digest(payload, n, hdr + 40, &sum_len, EVP_sha256(), NULL);
    put_le64(hdr + 72, n);
    struct iovec iov[2] = { { hdr, HDR_LEN }, { (void *)payload, n } };
    size_t want = HDR_LEN + n;
    ssize_t w = ok ? writev(fd, iov, 2) : -1;
    if (w >= 0 && (size_t)w < want) { /* short write: the rest, plainly */
        size_t done = (size_t)w;
        while (ok && done < want) {
            const unsigned char *p =
                done < HDR_LEN ? hdr + done : (const unsigned char *)payload + (done - HDR_LEN);
            size_t len = done < HDR_LEN ? HDR_LEN - done : want - done;
            ssize_t r = write(fd, p, len);
            if (r < 0 && errno == EINTR)
                continue;
            ok = r > 0;
            done += ok ? (size_t)r : 0;
        }
    } else if (w < 0) {
        ok = false;
    }
    ok = ok && fchmod(fd, 0644) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) == 0) {
        c->stored++;
        return;
    }
    unlink(tmp);
    c->failed++;
}

void kiln_chunk_cache_counts(const struct kiln_chunk_cache *c, struct kiln_chunk_cache_counts *out)
{
    out->hits = c->hits;
    out->misses = c->misses;
    out->stored = c->stored;
    out->damaged = c->damaged;
    out->failed = c->failed;
}

/* ---- scanning, trimming ---- */

static int scan_cmp(const void *a, const void *b)
{
    const struct kiln_cache_scan_entry *x = a, *y = b;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    return strcmp(x->path, y->path);
}

static bool is_entry_name(const char *name, const char *hh)
{
    if (strlen(name) != 2 * KILN_CHUNK_KEY_LEN || strncmp(name, hh, 2) != 0)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

void kiln_cache_scan_free(struct kiln_cache_scan *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].path);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

int kiln_cache_scan(const char *dir, int64_t stale_before, struct kiln_cache_scan *s,
                    struct kiln_error *err)
{
    memset(s, 0, sizeof(*s));
    _cleanup_free_ char *chunks = kiln_path_join(dir, "chunks-v1", err);
    if (!chunks)
        return -1;
    DIR *top = opendir(chunks);
    if (!top)
        return errno == ENOENT
                   ? 0
                   : kiln_fail_errno(err, KILN_ERR_INPUT, errno, "cache %s: cannot read", chunks);
    size_t cap = 0;
    int rc = 0;
    struct dirent *d;
    while (rc == 0 && (d = readdir(top))) {
        if (strlen(d->d_name) != 2 || d->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof(sub), "%s/%s", chunks, d->d_name);
        DIR *h = opendir(sub);
        if (!h)
            continue;
        struct dirent *e;
        while (rc == 0 && (e = readdir(h))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            struct stat st;
            if (fstatat(dirfd(h), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
                continue;
            bool tmp = !strncmp(e->d_name, ".tmp-", 5);
            bool entry = is_entry_name(e->d_name, d->d_name);
            if (!entry && !tmp)
                continue;
            if (tmp) {
                s->temp_files++;
                /* a temporary file is written in milliseconds: an old one
                 * belongs to a killed process */
                if (st.st_mtim.tv_sec < stale_before) {
                    char p[PATH_MAX];
                    snprintf(p, sizeof(p), "%s/%s", sub, e->d_name);
                    if (unlink(p) == 0) {
                        s->removed_temp++;
                        s->removed_bytes += (uint64_t)st.st_size;
                    }
                }
                continue;
            }
            if (s->n == cap) {
                size_t ncap = cap ? 2 * cap : 256;
                void *v = realloc(s->v, ncap * sizeof(*s->v));
                if (!v) {
                    rc = kiln_oom(err);
                    break;
                }
                s->v = v;
                cap = ncap;
            }
            char p[PATH_MAX];
            snprintf(p, sizeof(p), "%s/%s", sub, e->d_name);
            if (!(s->v[s->n].path = kiln_strdup(p, err))) {
                rc = -1;
                break;
            }
            s->v[s->n].size = (uint64_t)st.st_size;
            s->v[s->n].mtime = st.st_mtim.tv_sec;
            s->bytes += (uint64_t)st.st_size;
            s->n++;
        }
        closedir(h);
    }
    closedir(top);
    if (rc < 0)
        kiln_cache_scan_free(s);
    else if (s->n) /* qsort's array may not be NULL, even for no entries */
        qsort(s->v, s->n, sizeof(*s->v), scan_cmp);
    return rc;
}

int kiln_cache_lock(const char *dir, bool wait, struct kiln_error *err)
{
    _cleanup_free_ char *path = kiln_path_join(dir, "lock", err);
    if (!path)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "cache %s: cannot open", path);
    while (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return -2;
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "cache %s: cannot lock", path);
    }
    return fd;
}

int kiln_cache_trim(const char *dir, uint64_t target, int64_t stale_before,
                    struct kiln_cache_scan *s, struct kiln_error *err)
{
    if (kiln_cache_scan(dir, stale_before, s, err) < 0)
        return -1;
    for (size_t i = 0; i < s->n && s->bytes > target; i++) {
        if (unlink(s->v[i].path) != 0)
            continue;
        s->bytes -= s->v[i].size;
        s->removed++;
        s->removed_bytes += s->v[i].size;
    }
    return 0;
}

void kiln_chunk_cache_end(struct kiln_chunk_cache *c, kiln_log_fn log, void *userdata)
{
    if (!c)
        return;
    struct kiln_chunk_cache_counts n;
    kiln_chunk_cache_counts(c, &n);
    kiln_log(log, userdata, KILN_LOG_INFO, "cache %s: %llu of %llu blocks reused, %llu stored",
             c->dir, (unsigned long long)n.hits, (unsigned long long)(n.hits + n.misses),
             (unsigned long long)n.stored);
    if (n.damaged)
        kiln_log(log, userdata, KILN_LOG_WARNING,
                 "cache %s: %llu damaged entr%s ignored and written again", c->dir,
                 (unsigned long long)n.damaged, n.damaged == 1 ? "y" : "ies");
    if (n.failed)
        kiln_log(log, userdata, KILN_LOG_WARNING,
                 "cache %s: %llu block%s could not be stored (the build is not affected)", c->dir,
                 (unsigned long long)n.failed, n.failed == 1 ? "" : "s");
    if (!n.stored)
        return;
    struct kiln_error e = { 0 };
    int lock = kiln_cache_lock(c->dir, false, &e);
    if (lock == -2)
        return; /* another kiln is trimming */
    if (lock < 0) {
        kiln_log(log, userdata, KILN_LOG_WARNING, "%s", e.message);
        return;
    }
    struct kiln_cache_scan s;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (kiln_cache_trim(c->dir, c->max_size - c->max_size / 10, now.tv_sec - 600, &s, &e) < 0)
        kiln_log(log, userdata, KILN_LOG_WARNING, "%s", e.message);
    else if (s.removed)
        kiln_log(log, userdata, KILN_LOG_INFO,
                 "cache %s: over its limit; %llu least recently used entries removed", c->dir,
                 (unsigned long long)s.removed);
    kiln_cache_scan_free(&s);
    close(lock);
}
