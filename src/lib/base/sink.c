/* Byte sinks: the stages of the streaming pipeline that are not compressors. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"

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

/* ---- checks of blobs read from local sources ---- */

static int check_damaged(const struct kiln_blob_check *c, struct kiln_error *err,
                         const char *what)
{
    bool layout = kiln_transport_of(c->origin) == KILN_TRANSPORT_OCI;
    return kiln_fail(err, KILN_ERR_INPUT, "blob %s in %s does not match its %s: the %s is damaged; "
                     "re-create it", c->digest, c->origin ? c->origin : "the source", what,
                     layout ? "layout" : "archive");
}

int kiln_blob_check_init(struct kiln_blob_check *c, const char *digest, uint64_t size,
                         const char *origin, struct kiln_error *err)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->digest, sizeof(c->digest), "%s", digest);
    c->size = size;
    c->origin = origin;
    return kiln_sha256_init(&c->sha, err);
}

int kiln_blob_check_size(const struct kiln_blob_check *c, uint64_t actual, struct kiln_error *err)
{
    if (actual == c->size)
        return 0;
    char what[96];
    snprintf(what, sizeof(what), "size (%llu bytes, the descriptor says %llu)",
             (unsigned long long)actual, (unsigned long long)c->size);
    return check_damaged(c, err, what);
}

int kiln_blob_check_at(struct kiln_blob_check *c, uint64_t off, const void *p, size_t n,
                       struct kiln_error *err)
{
    if (c->done && !c->ok) /* once damaged, always: a rewind must not resend it */
        return check_damaged(c, err, "digest");
    if (off > c->hashed)
        return kiln_fail(err, KILN_ERR_INTERNAL, "blob %s: read out of order", c->digest);
    if (off + n <= c->hashed)
        return 0; /* a rewound request sends bytes already checked */
    size_t skip = (size_t)(c->hashed - off);
    p = (const char *)p + skip;
    n -= skip;
    if (n > c->size - c->hashed) {
        char what[96];
        snprintf(what, sizeof(what), "size (more than the %llu bytes of its descriptor)",
                 (unsigned long long)c->size);
        return check_damaged(c, err, what);
    }
    kiln_sha256_update(&c->sha, p, n);
    c->hashed += n;
    if (c->hashed == c->size && !c->done) {
        char got[KILN_DIGEST_MAX];
        kiln_sha256_final(&c->sha, got);
        c->done = true;
        c->ok = !strcmp(got, c->digest);
    }
    if (c->done && !c->ok)
        return check_damaged(c, err, "digest");
    return 0;
}

int kiln_blob_check_end(struct kiln_blob_check *c, struct kiln_error *err)
{
    if (!c->done && c->size == 0 && c->hashed == 0) { /* an empty blob: nothing streamed */
        char got[KILN_DIGEST_MAX];
        kiln_sha256_final(&c->sha, got);
        c->done = true;
        c->ok = !strcmp(got, c->digest);
    }
    if (!c->done) {
        char what[96];
        snprintf(what, sizeof(what), "size (%llu bytes, the descriptor says %llu)",
                 (unsigned long long)c->hashed, (unsigned long long)c->size);
        return check_damaged(c, err, what);
    }
    return c->ok ? 0 : check_damaged(c, err, "digest");
}

void kiln_blob_check_free(struct kiln_blob_check *c)
{
    if (c)
        kiln_sha256_free(&c->sha);
}

int kiln_blob_check_drain(struct kiln_blob_check *c, int fd, struct kiln_error *err)
{
    unsigned char buf[1 << 14];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "blob %s", c->digest);
        if (r == 0)
            return 0;
        if (kiln_blob_check_at(c, c->hashed, buf, (size_t)r, err) < 0)
            return -1;
    }
}

static int check_write(struct kiln_sink *s, const void *p, size_t n, struct kiln_error *err)
{
    struct kiln_check_sink *k = (struct kiln_check_sink *)s;
    if (kiln_blob_check_at(k->check, k->check->hashed, p, n, err) < 0)
        return -1;
    return k->next ? kiln_sink_write(k->next, p, n, err) : 0;
}

static int check_finish(struct kiln_sink *s, struct kiln_error *err)
{
    struct kiln_check_sink *k = (struct kiln_check_sink *)s;
    if (kiln_blob_check_end(k->check, err) < 0)
        return -1;
    return k->next ? kiln_sink_finish(k->next, err) : 0;
}

void kiln_check_sink_init(struct kiln_check_sink *s, struct kiln_sink *next,
                          struct kiln_blob_check *c)
{
    s->sink.write = check_write;
    s->sink.finish = check_finish;
    s->next = next;
    s->check = c;
}
