/* --passphrase-file FILE and --passphrase-fd N: the first line, without its
 * newline, as skopeo's --sign-passphrase-file reads it, so that one file
 * serves both. The text is never printed; callers wipe it with
 * cli_passphrase_free. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define PASSPHRASE_MAX 65536

static int read_fd(int fd, const char *what, struct cli_passphrase *p, struct kiln_error *err)
{
    char *buf = malloc(PASSPHRASE_MAX + 1);
    if (!buf) {
        err->code = KILN_ERR_NOMEM;
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -1;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, PASSPHRASE_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err->code = KILN_ERR_INPUT;
            snprintf(err->message, sizeof(err->message), "read the passphrase from %s: %s", what,
                     strerror(errno));
            free(buf);
            return -1;
        }
        if (n == 0 || memchr(buf + len, '\n', (size_t)n)) {
            len += (size_t)n;
            break;
        }
        len += (size_t)n;
        if (len > PASSPHRASE_MAX) {
            explicit_bzero(buf, len);
            free(buf);
            err->code = KILN_ERR_INPUT;
            snprintf(err->message, sizeof(err->message), "the passphrase in %s is over 64 KiB",
                     what);
            return -1;
        }
    }
    char *nl = memchr(buf, '\n', len);
    size_t keep = nl ? (size_t)(nl - buf) : len;
    if (keep && buf[keep - 1] == '\r')
        keep--;
    explicit_bzero(buf + keep, len - keep);
    buf[keep] = '\0';
    p->text = buf;
    p->len = keep;
    return 0;
}

int cli_passphrase_read(const char *file, const char *fd_text, struct cli_passphrase *p,
                        struct kiln_error *err)
{
    p->text = NULL;
    p->len = 0;
    if (file && fd_text)
        return cli_usage(err, "passphrase", "give --passphrase-file or --passphrase-fd, not both");
    if (file) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            err->code = KILN_ERR_INPUT;
            snprintf(err->message, sizeof(err->message), "%s: %s", file, strerror(errno));
            return -1;
        }
        int rc = read_fd(fd, file, p, err);
        close(fd);
        return rc;
    }
    if (fd_text) {
        unsigned long long n;
        if (cli_parse_uint("--passphrase-fd", fd_text, 0, 1u << 20, &n, err) < 0)
            return -1;
        char what[64];
        snprintf(what, sizeof(what), "file descriptor %llu", n);
        return read_fd((int)n, what, p, err);
    }
    return cli_usage(err, "passphrase",
                     "the key's passphrase comes from --passphrase-file FILE or "
                     "--passphrase-fd N (kiln never asks on a terminal nor takes it as an "
                     "argument)");
}

void cli_passphrase_free(struct cli_passphrase *p)
{
    if (p->text) {
        explicit_bzero(p->text, p->len);
        free(p->text);
    }
    p->text = NULL;
    p->len = 0;
}
