/* Byte sinks: the stages of the streaming pipeline that are not compressors. */
#include <string.h>

#include "../internal.h"

static int hash_write(struct kiln_sink *s, const void *p, size_t n, struct kiln_error *err)
{
    struct kiln_hash_sink *h = (struct kiln_hash_sink *)s;
    kiln_sha256_update(&h->sha, p, n);
    h->bytes += n;
    return h->next ? kiln_sink_write(h->next, p, n, err) : 0;
}

static int hash_finish(struct kiln_sink *s, struct kiln_error *err)
{
    struct kiln_hash_sink *h = (struct kiln_hash_sink *)s;
    return h->next ? kiln_sink_finish(h->next, err) : 0;
}

int kiln_hash_sink_init(struct kiln_hash_sink *h, struct kiln_sink *next, struct kiln_error *err)
{
    memset(h, 0, sizeof(*h));
    h->sink.write = hash_write;
    h->sink.finish = hash_finish;
    h->next = next;
    return kiln_sha256_init(&h->sha, err);
}

static int fd_write(struct kiln_sink *s, const void *p, size_t n, struct kiln_error *err)
{
    struct kiln_fd_sink *f = (struct kiln_fd_sink *)s;
    return kiln_write_all(f->fd, p, n, f->what, err);
}

void kiln_fd_sink_init(struct kiln_fd_sink *s, int fd, const char *what)
{
    s->sink.write = fd_write;
    s->sink.finish = NULL;
    s->fd = fd;
    s->what = what;
}

static int limit_write(struct kiln_sink *s, const void *p, size_t n, struct kiln_error *err)
{
    struct kiln_limit_sink *l = (struct kiln_limit_sink *)s;
    if (n > l->max - l->bytes)
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: more than the %llu bytes announced", l->what,
                         (unsigned long long)l->max);
    l->bytes += n;
    return kiln_sink_write(l->next, p, n, err);
}

static int limit_finish(struct kiln_sink *s, struct kiln_error *err)
{
    return kiln_sink_finish(((struct kiln_limit_sink *)s)->next, err);
}

void kiln_limit_sink_init(struct kiln_limit_sink *s, struct kiln_sink *next, uint64_t max,
                          const char *what)
{
    s->sink.write = limit_write;
    s->sink.finish = limit_finish;
    s->next = next;
    s->max = max;
    s->bytes = 0;
    s->what = what;
}

static int buf_write(struct kiln_sink *s, const void *p, size_t n, struct kiln_error *err)
{
    return kiln_buf_append(&((struct kiln_buf_sink *)s)->buf, p, n, err);
}

void kiln_buf_sink_init(struct kiln_buf_sink *s)
{
    memset(s, 0, sizeof(*s));
    s->sink.write = buf_write;
}
