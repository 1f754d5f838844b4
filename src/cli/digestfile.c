/* --digestfile FILE (build, copy, index): the digest written, as podman push
 * and skopeo copy write it (no newline), replacing FILE atomically. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static int fail(struct kiln_error *err, int code, const char *path, const char *what, int e)
{
    err->code = code;
    snprintf(err->message, sizeof(err->message), "--digestfile %s: %s: %s", path, what,
             strerror(e));
    return -1;
}

int cli_digestfile_check(const char *path, struct kiln_error *err)
{
    char *copy = strdup(path);
    if (!copy)
        return fail(err, KILN_ERR_NOMEM, path, "out of memory", ENOMEM);
    const char *dir = dirname(copy);
    int rc = access(dir, W_OK | X_OK) == 0
                 ? 0
                 : fail(err, KILN_ERR_USAGE, path, "its directory cannot be written", errno);
    free(copy);
    return rc;
}

int cli_digestfile_write(const char *path, const char *digest, struct kiln_error *err)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return fail(err, KILN_ERR_NOMEM, path, "out of memory", ENOMEM);
    snprintf(tmp, n, "%s.kiln-tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return fail(err, KILN_ERR_OUTPUT, path, "cannot create a file beside it", e);
    }
    size_t len = strlen(digest);
    int rc = 0, e = 0;
    if (fchmod(fd, 0644) < 0 || write(fd, digest, len) != (ssize_t)len || fsync(fd) < 0)
        rc = -1, e = errno ? errno : EIO;
    if (close(fd) < 0 && rc == 0)
        rc = -1, e = errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -1, e = errno;
    if (rc < 0) {
        unlink(tmp);
        fail(err, KILN_ERR_OUTPUT, path, "cannot write it", e);
    }
    free(tmp);
    return rc;
}
