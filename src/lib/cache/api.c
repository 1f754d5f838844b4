/* The cache's public API: options, usage, prune, wipe (kiln.h). */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"

void kiln_cache_opts_init_size(struct kiln_cache_opts *o, size_t size)
{
    struct kiln_cache_opts d = { .size = sizeof(d) };
    size_t n = size < sizeof(d) ? size : sizeof(d);
    memcpy(o, &d, n);
    if (n >= sizeof(o->size))
        o->size = n;
}

/* The caller's options, with this version's defaults for the fields its
 * header does not have. */
void kiln_cache_opts_copy(struct kiln_cache_opts *dst, const struct kiln_cache_opts *o)
{
    kiln_cache_opts_init(dst);
    size_t n = o->size < sizeof(*dst) ? o->size : sizeof(*dst);
    memcpy(dst, o, n);
    dst->size = sizeof(*dst);
}

static void give_stats(struct kiln_cache_stats *st, size_t size, const struct kiln_cache_scan *s)
{
    if (!st)
        return;
    struct kiln_cache_stats mine = { .entries = s->n - (size_t)s->removed,
                                     .bytes = s->bytes,
                                     .temp_files = s->temp_files - s->removed_temp,
                                     .removed = s->removed + s->removed_temp,
                                     .removed_bytes = s->removed_bytes };
    mine.size = size < sizeof(mine) ? size : sizeof(mine);
    memcpy(st, &mine, mine.size);
}

static int64_t now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return t.tv_sec;
}

int kiln_cache_usage_size(const char *dir, struct kiln_cache_stats *st, size_t size,
                          struct kiln_error *err)
{
    if (!dir || !*dir)
        return kiln_fail(err, KILN_ERR_USAGE, "cache: no directory given");
    struct kiln_cache_scan s;
    if (kiln_cache_scan(dir, INT64_MIN, &s, err) < 0)
        return -1;
    give_stats(st, size, &s);
    kiln_cache_scan_free(&s);
    return 0;
}

static int trim_locked(const char *dir, uint64_t target, struct kiln_cache_stats *st, size_t size,
                       struct kiln_error *err)
{
    if (!dir || !*dir)
        return kiln_fail(err, KILN_ERR_USAGE, "cache: no directory given");
    if (access(dir, F_OK) != 0) { /* nothing to remove; do not create it */
        struct kiln_cache_scan none = { 0 };
        give_stats(st, size, &none);
        return 0;
    }
    int lock = kiln_cache_lock(dir, true, err);
    if (lock < 0)
        return -1;
    struct kiln_cache_scan s;
    int rc = kiln_cache_trim(dir, target, now_s() - 600, &s, err);
    if (rc == 0) {
        give_stats(st, size, &s);
        kiln_cache_scan_free(&s);
    }
    close(lock);
    return rc;
}

int kiln_cache_prune_size(const struct kiln_cache_opts *o, struct kiln_cache_stats *st, size_t size,
                          struct kiln_error *err)
{
    struct kiln_cache_opts c;
    kiln_cache_opts_copy(&c, o);
    return trim_locked(c.dir, c.max_size ? c.max_size : KILN_CACHE_DEFAULT_MAX_SIZE, st, size, err);
}

int kiln_cache_wipe_size(const char *dir, struct kiln_cache_stats *st, size_t size,
                         struct kiln_error *err)
{
    return trim_locked(dir, 0, st, size, err);
}
