/* The base every module stands on: ownership helpers, errors, buffers, string
 * lists, files and paths.
 *
 * Ownership: locals that own memory or descriptors are declared with the
 * _cleanup_*_ attributes below; TAKE_PTR() hands ownership on. Every free
 * function accepts NULL. */
#ifndef KILN_BASE_H
#define KILN_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include "kiln/kiln.h"

#define KILN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void *take_ptr_(void **p)
{
    void *v = *p;
    *p = NULL;
    return v;
}
#define TAKE_PTR(p) take_ptr_((void **)&(p))

static inline void freep_(void *p) { free(*(void **)p); }
#define _cleanup_free_ __attribute__((cleanup(freep_)))
void closep_(int *fd);
#define _cleanup_close_ __attribute__((cleanup(closep_)))

/* ---- base/error.c ---------------------------------------------------- */
/* Sets err (if not NULL) and returns -1, so callers can `return kiln_fail(...)`. */
int kiln_fail(struct kiln_error *err, int code, const char *fmt, ...) KILN_PRINTF(3, 4);
/* One formatted message to a log callback (nothing when fn is NULL). */
void kiln_logv(kiln_log_fn fn, void *userdata, enum kiln_log_level level, const char *fmt,
               va_list ap) KILN_PRINTF(4, 0);
void kiln_log(kiln_log_fn fn, void *userdata, enum kiln_log_level level, const char *fmt, ...)
    KILN_PRINTF(4, 5);
/* Same, appending ": strerror(errnum)". */
int kiln_fail_errno(struct kiln_error *err, int code, int errnum, const char *fmt, ...)
    KILN_PRINTF(4, 5);
/* Prepends "context: " to an error already set, as it travels up. */
int kiln_error_prefix(struct kiln_error *err, const char *fmt, ...) KILN_PRINTF(2, 3);
int kiln_oom(struct kiln_error *err);
/* Returns -1 with KILN_ERR_INTERRUPTED once kiln_interrupt() was called, else 0. */
int kiln_check_interrupt(struct kiln_error *err);
bool kiln_is_interrupted(void);

/* ---- base/buf.c: growable byte buffer with a hard size cap ------------ */
struct kiln_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len, cap;
    size_t max; /* 0 = SIZE_MAX/2 */
};
int kiln_buf_append(struct kiln_buf *b, const void *p, size_t n, struct kiln_error *err);
int kiln_buf_printf(struct kiln_buf *b, struct kiln_error *err, const char *fmt, ...)
    KILN_PRINTF(3, 4);
void kiln_buf_free(struct kiln_buf *b);

/* ---- base/buf.c: a list of strings ----------------------------------- */
struct kiln_strlist {
    char **v;
    size_t n;
};
int kiln_strlist_push(struct kiln_strlist *l, const char *s, struct kiln_error *err);
void kiln_strlist_free(struct kiln_strlist *l);

/* ---- base/util.c ------------------------------------------------------ */
void *kiln_xmalloc(size_t n, struct kiln_error *err);
char *kiln_strdup(const char *s, struct kiln_error *err);
int kiln_write_all(int fd, const void *p, size_t n, const char *what, struct kiln_error *err);
/* Writes data to DIR/NAME atomically: temp file in DIR, fsync, rename. */
int kiln_write_file_atomic(const char *path, const void *p, size_t n, struct kiln_error *err);
int kiln_read_file(const char *path, size_t max, struct kiln_buf *out, struct kiln_error *err);
/* Copies file src to dst (new file): hardlink, else copy_file_range, else read/write. */
int kiln_copy_or_link(const char *src, const char *dst, struct kiln_error *err);
/* pseudo (OpenEmbedded's fakeroot) is preloaded and active. */
bool kiln_under_pseudo(void);
struct kiln_blob_check;
/* The same, checking the bytes against c (one read of src, linked or copied);
 * dst is removed on any failure. */
int kiln_copy_or_link_checked(const char *src, const char *dst, struct kiln_blob_check *c,
                              struct kiln_error *err);
int kiln_rm_rf(const char *path);
/* Where temporary files go: $TMPDIR, or /tmp when it is unset or empty. */
const char *kiln_tmpdir(void);
char *kiln_path_join(const char *a, const char *b, struct kiln_error *err);
char *kiln_dirname(const char *path, struct kiln_error *err);
void kiln_format_time(int64_t t, char out[32]); /* RFC 3339, UTC, seconds */
void kiln_hex(const unsigned char *in, size_t n, char *out);

#endif
