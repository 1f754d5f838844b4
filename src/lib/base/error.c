/* Error reporting: one fixed-size message per error, context prepended on the way up. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <string.h>

#include "base.h"

static void vset(struct kiln_error *err, int code, const char *fmt, va_list ap) KILN_PRINTF(3, 0);
static void vset(struct kiln_error *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return;
    err->code = code;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

int kiln_fail(struct kiln_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int kiln_fail_errno(struct kiln_error *err, int code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    if (err) {
        size_t l = strlen(err->message);
        snprintf(err->message + l, sizeof(err->message) - l, ": %s", strerror(errnum));
    }
    return -1;
}

int kiln_error_prefix(struct kiln_error *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[KILN_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    char old[KILN_ERROR_MESSAGE_MAX];
    memcpy(old, err->message, sizeof(old));
    /* Truncation is fine: the start of the message says the most. */
    size_t pl = strlen(prefix), cap = sizeof(err->message) - 1;
    if (pl > cap - 2)
        pl = cap - 2;
    memcpy(err->message, prefix, pl);
    memcpy(err->message + pl, ": ", 2);
    size_t ol = strlen(old);
    if (ol > cap - pl - 2)
        ol = cap - pl - 2;
    memcpy(err->message + pl + 2, old, ol);
    err->message[pl + 2 + ol] = '\0';
    return -1;
}

static volatile sig_atomic_t interrupted;

void kiln_interrupt(void)
{
    interrupted = 1;
}

void kiln_interrupt_reset(void)
{
    interrupted = 0;
}

bool kiln_is_interrupted(void)
{
    return interrupted != 0;
}

int kiln_check_interrupt(struct kiln_error *err)
{
    if (!interrupted)
        return 0;
    return kiln_fail(err, KILN_ERR_INTERRUPTED, "interrupted");
}

int kiln_oom(struct kiln_error *err)
{
    return kiln_fail(err, KILN_ERR_NOMEM, "out of memory");
}

void closep_(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

void kiln_logv(kiln_log_fn fn, void *userdata, enum kiln_log_level level, const char *fmt,
               va_list ap)
{
    if (!fn)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    fn(userdata, level, msg);
}

void kiln_log(kiln_log_fn fn, void *userdata, enum kiln_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_logv(fn, userdata, level, fmt, ap);
    va_end(ap);
}
