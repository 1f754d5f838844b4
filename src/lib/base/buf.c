/*
 * struct kiln_buf: a growable byte buffer.
 * Rules: data is NULL or NUL-terminated; len excludes the NUL; a buffer never
 * grows beyond max (0 means no cap beyond SIZE_MAX/2), so hostile input
 * cannot make kiln allocate without bound; kiln_buf_free() leaves it empty
 * and reusable.
 */
#include <string.h>

#include "base.h"

static int grow(struct kiln_buf *b, size_t extra, struct kiln_error *err)
{
    size_t max = b->max ? b->max : SIZE_MAX / 2;
    if (extra > max || b->len > max - extra)
        return kiln_fail(err, KILN_ERR_FORMAT, "data exceeds the limit of %zu bytes", max);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 4 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return kiln_oom(err);
    b->data = p;
    b->cap = cap;
    return 0;
}

int kiln_buf_append(struct kiln_buf *b, const void *p, size_t n, struct kiln_error *err)
{
    if (grow(b, n, err) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int kiln_buf_printf(struct kiln_buf *b, struct kiln_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return kiln_fail(err, KILN_ERR_INTERNAL, "formatting failed");
    if (grow(b, (size_t)n, err) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void kiln_buf_free(struct kiln_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
