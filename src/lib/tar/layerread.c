/*
 * A layer's tar entries read from its blob file, for kiln unpack and for
 * kiln export/flatten: the filters libarchive knows, the blob's digest and
 * size checked on every byte when asked (a damaged blob is the error
 * reported, whatever else went wrong), and the uncompressed stream completed
 * with zeros when it ends inside a 512-byte block. umoci 0.4.7 writes the
 * last member of some layers with no padding and no end blocks (umoci#436);
 * whether those zeros only stood for the missing padding is decided after the
 * last entry, and any other short end stays an error.
 *
 * Two archives: `raw` reads the file through the filters with libarchive's
 * raw format, `a` reads tar from raw's data (padded).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerread.h"

#define READ_BLOCK (1 << 20)

static la_ssize_t checked_read(struct archive *a, void *ud, const void **out)
{
    struct kiln_layer_reader *lr = ud;
    ssize_t n;
    do
        n = read(lr->fd, lr->rbuf, READ_BLOCK);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        archive_set_error(a, errno, "read error");
        return -1;
    }
    if (lr->check && n > 0 &&
        kiln_blob_check_at(lr->check, lr->check->hashed, lr->rbuf, (size_t)n, &lr->cerr) < 0) {
        lr->cfailed = true;
        archive_set_error(a, EIO, "%s", lr->cerr.message);
        return -1;
    }
    *out = lr->rbuf;
    return n;
}

static la_ssize_t padded_read(struct archive *a, void *ud, const void **out)
{
    struct kiln_layer_reader *lr = ud;
    if (lr->eof)
        return 0;
    la_ssize_t n = archive_read_data(lr->raw, lr->pbuf, READ_BLOCK);
    if (n < 0) {
        archive_set_error(a, archive_errno(lr->raw), "%s", archive_error_string(lr->raw));
        return -1;
    }
    if (n == 0) {
        lr->eof = true;
        if (lr->total % 512 == 0)
            return 0;
        lr->pad = 512 - (size_t)(lr->total % 512);
        memset(lr->pbuf, 0, lr->pad);
        n = (la_ssize_t)lr->pad;
    } else
        lr->total += (uint64_t)n;
    *out = lr->pbuf;
    return n;
}

int kiln_layer_reader_fail(struct kiln_layer_reader *lr, struct archive *a, struct kiln_error *err)
{
    if (lr->cfailed)
        return kiln_fail(err, lr->cerr.code, "%s", lr->cerr.message);
    return kiln_fail(err, KILN_ERR_INPUT, "layer %s: corrupt or truncated: %s", lr->layer,
                     archive_error_string(a));
}

void kiln_layer_reader_free(struct kiln_layer_reader *lr)
{
    archive_read_free(lr->a);
    archive_read_free(lr->raw);
    if (lr->fd >= 0)
        close(lr->fd);
    free(lr->rbuf);
    free(lr->pbuf);
    free(lr->last_name);
    memset(lr, 0, sizeof(*lr));
    lr->fd = -1;
}

int kiln_layer_reader_open(struct kiln_layer_reader *lr, const char *path, const char *layer,
                           struct kiln_blob_check *check, struct kiln_error *err)
{
    memset(lr, 0, sizeof(*lr));
    lr->layer = layer;
    lr->check = check;
    struct stat st;
    if ((lr->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(lr->fd, &st) < 0) {
        kiln_fail_errno(err, KILN_ERR_INPUT, errno, "layer %s: %s", layer, path);
        kiln_layer_reader_free(lr);
        return -1;
    }
    lr->raw = archive_read_new();
    lr->a = archive_read_new();
    lr->rbuf = malloc(READ_BLOCK);
    lr->pbuf = malloc(READ_BLOCK);
    if (!lr->raw || !lr->a || !lr->rbuf || !lr->pbuf) {
        kiln_layer_reader_free(lr);
        return kiln_oom(err);
    }
    int rc = check ? kiln_blob_check_size(check, (uint64_t)st.st_size, err) : 0;
    archive_read_support_filter_all(lr->raw);
    archive_read_support_format_raw(lr->raw);
    archive_read_support_format_tar(lr->a);
    struct archive_entry *re;
    if (rc == 0 && (archive_read_open(lr->raw, lr, NULL, checked_read, NULL) != ARCHIVE_OK ||
                    archive_read_next_header(lr->raw, &re) != ARCHIVE_OK))
        rc = kiln_layer_reader_fail(lr, lr->raw, err);
    if (rc == 0 && archive_read_open(lr->a, lr, NULL, padded_read, NULL) != ARCHIVE_OK)
        rc = kiln_layer_reader_fail(lr, lr->a, err);
    if (rc < 0)
        kiln_layer_reader_free(lr);
    return rc;
}

/* Whether the zeros added at the end only stood for the last member's
 * missing padding: it must be a regular file (not sparse) whose data ended
 * before them. */
static bool short_end_ok(const struct kiln_layer_reader *lr)
{
    if (!lr->pad)
        return true;
    if (!lr->last_regular || lr->last_size <= 0)
        return false;
    size_t padding = (size_t)((512 - (uint64_t)lr->last_size % 512) % 512);
    return lr->pad <= padding;
}

int kiln_layer_reader_next(struct kiln_layer_reader *lr, struct archive_entry **e,
                           struct kiln_error *err)
{
    int r = archive_read_next_header(lr->a, e);
    if (r == ARCHIVE_EOF) {
        if (!short_end_ok(lr))
            return kiln_fail(err, KILN_ERR_INPUT,
                             "layer %s: corrupt or truncated: the tar stream ends %zu bytes short "
                             "of a 512-byte block, and not in the padding of its last entry ('%s')",
                             lr->layer, lr->pad, lr->last_name ? lr->last_name : "(none)");
        lr->ended = true; /* what the check finds is the answer from here on */
        if (lr->check && (kiln_blob_check_drain(lr->check, lr->fd, err) < 0 ||
                          kiln_blob_check_end(lr->check, err) < 0))
            return -1;
        return 0;
    }
    if (r < ARCHIVE_WARN || r == ARCHIVE_RETRY)
        return kiln_layer_reader_fail(lr, lr->a, err);
    lr->last_regular = archive_entry_filetype(*e) == AE_IFREG && !archive_entry_hardlink(*e) &&
                       archive_entry_sparse_count(*e) == 0;
    lr->last_size = archive_entry_size(*e);
    const char *name = archive_entry_pathname(*e);
    free(lr->last_name);
    lr->last_name = NULL;
    if (name && !(lr->last_name = strdup(name)))
        return kiln_oom(err);
    return 1;
}

int kiln_layer_reader_damaged(struct kiln_layer_reader *lr, struct kiln_error *err)
{
    if (!lr->check || lr->fd < 0 || lr->ended)
        return 0;
    if (!lr->cfailed && (kiln_blob_check_drain(lr->check, lr->fd, &lr->cerr) < 0 ||
                         kiln_blob_check_end(lr->check, &lr->cerr) < 0))
        lr->cfailed = true;
    if (!lr->cfailed)
        return 0;
    return kiln_fail(err, lr->cerr.code, "%s", lr->cerr.message);
}
