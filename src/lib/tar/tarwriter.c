/*
 * PAX tar writer. Each entry is a ustar header, preceded by a PAX extended
 * header ('x') when a value does not fit ustar: long or non-ASCII-safe paths
 * and link targets, ids above 2097151, sizes of 8 GiB and more, mtimes
 * outside 0..8^11-1, and extended attributes (SCHILY.xattr.NAME). uname and
 * gname stay empty; no atime or ctime is written. Records are emitted in a
 * fixed order so that equal entries give equal bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tar.h"

#define BLOCK 512
#define USTAR_MAX_OCTAL7 07777777ULL
#define USTAR_MAX_OCTAL11 077777777777ULL

static const char zero_block[BLOCK];

void kiln_tar_writer_init(struct kiln_tar_writer *w, struct kiln_sink *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

int kiln_tar_path_cmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    for (;; x++, y++) {
        unsigned cx = *x == '/' ? 1 : (*x ? *x + 1u : 0);
        unsigned cy = *y == '/' ? 1 : (*y ? *y + 1u : 0);
        if (cx != cy)
            return cx < cy ? -1 : 1;
        if (!cx)
            return 0;
    }
}

void kiln_xattrs_free(struct kiln_xattr *x, size_t n)
{
    if (!x)
        return;
    for (size_t i = 0; i < n; i++) {
        free(x[i].name);
        free(x[i].value);
    }
    free(x);
}

static void put_octal(char *field, size_t width, uint64_t v)
{
    /* width-1 octal digits, zero padded, then NUL. */
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0;) {
        field[i] = (char)('0' + (v & 7));
        v >>= 3;
    }
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0 && c >= 0xc2)
            len = 2;
        else if ((c & 0xf0) == 0xe0)
            len = 3;
        else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
            len = 4;
        else
            return false;
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        unsigned c1 = s[i + 1];
        if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) ||
            (c == 0xf4 && c1 > 0x8f))
            return false; /* overlong, surrogate, or beyond U+10FFFF */
        i += len;
    }
    return true;
}

/* Appends one "LEN KEY=VALUE\n" record; LEN counts the whole record. */
static int pax_record(struct kiln_buf *b, const char *key, const void *val, size_t vlen,
                      struct kiln_error *err)
{
    size_t base = strlen(key) + vlen + 3; /* ' ' '=' '\n' */
    size_t len = base + 1;
    for (;;) {
        char digits[24];
        size_t d = (size_t)snprintf(digits, sizeof(digits), "%zu", len);
        if (base + d == len)
            break;
        len = base + d;
    }
    if (kiln_buf_printf(b, err, "%zu %s=", len, key) < 0 ||
        kiln_buf_append(b, val, vlen, err) < 0 || kiln_buf_append(b, "\n", 1, err) < 0)
        return -1;
    return 0;
}

static int pax_number(struct kiln_buf *b, const char *key, int64_t v, bool is_signed,
                      struct kiln_error *err)
{
    char num[32];
    int n = is_signed ? snprintf(num, sizeof(num), "%lld", (long long)v)
                      : snprintf(num, sizeof(num), "%llu", (unsigned long long)(uint64_t)v);
    return pax_record(b, key, num, (size_t)n, err);
}

static void checksum(char *h)
{
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += (unsigned char)h[i];
    put_octal(h + 148, 7, sum);
    h[155] = ' ';
}

static void fill_header(char *h, const char *name, size_t name_len, char type, uint32_t mode,
                        uint64_t uid, uint64_t gid, uint64_t size, int64_t mtime,
                        const char *link, size_t link_len, uint32_t devmajor, uint32_t devminor)
{
    memset(h, 0, BLOCK);
    memcpy(h, name, name_len > 100 ? 100 : name_len);
    put_octal(h + 100, 8, mode & 07777);
    put_octal(h + 108, 8, uid <= USTAR_MAX_OCTAL7 ? uid : 0);
    put_octal(h + 116, 8, gid <= USTAR_MAX_OCTAL7 ? gid : 0);
    put_octal(h + 124, 12, size <= USTAR_MAX_OCTAL11 ? size : 0);
    put_octal(h + 136, 12,
              (mtime >= 0 && (uint64_t)mtime <= USTAR_MAX_OCTAL11) ? (uint64_t)mtime : 0);
    h[156] = type;
    if (link)
        memcpy(h + 157, link, link_len > 100 ? 100 : link_len);
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    put_octal(h + 329, 8, devmajor);
    put_octal(h + 337, 8, devminor);
    checksum(h);
}

int kiln_tar_write_header(struct kiln_tar_writer *w, const struct kiln_tar_entry *e,
                          struct kiln_error *err)
{
    if (w->remaining)
        return kiln_fail(err, KILN_ERR_INTERNAL, "tar: previous entry is incomplete");
    bool dir = e->type == KILN_TAR_DIR;
    size_t plen = strlen(e->path);
    struct kiln_buf name = {0};
    if (kiln_buf_append(&name, e->path, plen, err) < 0 ||
        (dir && kiln_buf_append(&name, "/", 1, err) < 0)) {
        kiln_buf_free(&name);
        return -1;
    }
    size_t llen = e->linkname ? strlen(e->linkname) : 0;
    uint64_t size = e->type == KILN_TAR_REG ? e->size : 0;

    struct kiln_buf pax = {0};
    bool binary = !utf8_valid((unsigned char *)name.data, name.len) ||
                  (e->linkname && !utf8_valid((const unsigned char *)e->linkname, llen));
    int rc = 0;
    char key[512];
    for (size_t i = 0; rc == 0 && i < e->nxattrs; i++) {
        snprintf(key, sizeof(key), "SCHILY.xattr.%s", e->xattrs[i].name);
        rc = pax_record(&pax, key, e->xattrs[i].value, e->xattrs[i].len, err);
    }
    if (rc == 0 && e->gid > USTAR_MAX_OCTAL7)
        rc = pax_number(&pax, "gid", (int64_t)e->gid, false, err);
    if (rc == 0 && binary && (name.len > 100 || llen > 100))
        rc = pax_record(&pax, "hdrcharset", "BINARY", 6, err);
    if (rc == 0 && llen > 100)
        rc = pax_record(&pax, "linkpath", e->linkname, llen, err);
    if (rc == 0 && (e->mtime < 0 || (uint64_t)e->mtime > USTAR_MAX_OCTAL11))
        rc = pax_number(&pax, "mtime", e->mtime, true, err);
    if (rc == 0 && name.len > 100)
        rc = pax_record(&pax, "path", name.data, name.len, err);
    if (rc == 0 && size > USTAR_MAX_OCTAL11)
        rc = pax_number(&pax, "size", (int64_t)size, false, err);
    if (rc == 0 && e->uid > USTAR_MAX_OCTAL7)
        rc = pax_number(&pax, "uid", (int64_t)e->uid, false, err);

    char h[BLOCK];
    if (rc == 0 && pax.len) {
        /* A deterministic name for the extended header: PaxHeaders/<base>. */
        const char *base = strrchr(e->path, '/');
        base = base ? base + 1 : e->path;
        char xname[101];
        int xn = snprintf(xname, sizeof(xname), "PaxHeaders/%s", base);
        size_t xlen = xn < 0 ? 0 : ((size_t)xn > 100 ? 100 : (size_t)xn);
        int64_t xm = e->mtime < 0 ? 0 : e->mtime;
        if ((uint64_t)xm > USTAR_MAX_OCTAL11)
            xm = 0;
        fill_header(h, xname, xlen, 'x', 0644, 0, 0, pax.len, xm, NULL, 0, 0, 0);
        size_t pad = (BLOCK - pax.len % BLOCK) % BLOCK;
        rc = kiln_sink_write(w->out, h, BLOCK, err);
        if (rc == 0)
            rc = kiln_sink_write(w->out, pax.data, pax.len, err);
        if (rc == 0)
            rc = kiln_sink_write(w->out, zero_block, pad, err);
    }
    if (rc == 0) {
        fill_header(h, name.data, name.len, (char)e->type, e->mode, e->uid, e->gid, size,
                    e->mtime, e->linkname, llen, e->devmajor, e->devminor);
        rc = kiln_sink_write(w->out, h, BLOCK, err);
    }
    kiln_buf_free(&pax);
    kiln_buf_free(&name);
    if (rc == 0) {
        w->remaining = size;
        w->written = 0;
    }
    return rc;
}

int kiln_tar_write_data(struct kiln_tar_writer *w, const void *p, size_t n, struct kiln_error *err)
{
    if (n > w->remaining)
        return kiln_fail(err, KILN_ERR_INTERNAL, "tar: more data than the header announced");
    w->remaining -= n;
    w->written += n;
    return kiln_sink_write(w->out, p, n, err);
}

int kiln_tar_end_entry(struct kiln_tar_writer *w, struct kiln_error *err)
{
    if (w->remaining)
        return kiln_fail(err, KILN_ERR_INTERNAL, "tar: entry ended %llu bytes short",
                         (unsigned long long)w->remaining);
    size_t pad = (size_t)((BLOCK - w->written % BLOCK) % BLOCK);
    w->written = 0;
    return kiln_sink_write(w->out, zero_block, pad, err);
}

int kiln_tar_finish(struct kiln_tar_writer *w, struct kiln_error *err)
{
    if (kiln_sink_write(w->out, zero_block, BLOCK, err) < 0 ||
        kiln_sink_write(w->out, zero_block, BLOCK, err) < 0)
        return -1;
    return 0;
}

/* Helpers for the small archives kiln writes itself (oci-archive, docker-archive). */
int kiln_tar_add_dir(struct kiln_tar_writer *w, const char *name, int64_t mtime,
                     struct kiln_error *err)
{
    struct kiln_tar_entry e = {.path = name, .type = KILN_TAR_DIR, .mode = 0755, .mtime = mtime};
    return kiln_tar_write_header(w, &e, err);
}

int kiln_tar_add_bytes(struct kiln_tar_writer *w, const char *name, const void *p, size_t n,
                       int64_t mtime, struct kiln_error *err)
{
    struct kiln_tar_entry e = {
        .path = name, .type = KILN_TAR_REG, .mode = 0644, .mtime = mtime, .size = n};
    if (kiln_tar_write_header(w, &e, err) < 0 || kiln_tar_write_data(w, p, n, err) < 0)
        return -1;
    return kiln_tar_end_entry(w, err);
}

/* A file as one regular member, its bytes checked against `check` (if any)
 * before they are written. */
int kiln_tar_add_file_from_path(struct kiln_tar_writer *w, const char *name, const char *src,
                                uint64_t size, int64_t mtime, struct kiln_blob_check *check,
                                struct kiln_error *err)
{
    _cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_INTERNAL, errno, "%s", src);
    struct stat st;
    if (check && fstat(fd, &st) == 0 && kiln_blob_check_size(check, (uint64_t)st.st_size, err) < 0)
        return -1;
    struct kiln_tar_entry e = {
        .path = name, .type = KILN_TAR_REG, .mode = 0644, .mtime = mtime, .size = size};
    if (kiln_tar_write_header(w, &e, err) < 0)
        return -1;
    static unsigned char buf[1 << 20];
    uint64_t left = size;
    while (left) {
        ssize_t r = read(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && check && kiln_blob_check_end(check, err) < 0)
            return -1; /* shrank since it was opened */
        if (r <= 0)
            return kiln_fail_errno(err, KILN_ERR_INTERNAL, r < 0 ? errno : EIO,
                                   "%s: read failed", src);
        /* checked before written: the last bytes of a damaged blob are not */
        if (check && kiln_blob_check_at(check, check->hashed, buf, (size_t)r, err) < 0)
            return -1;
        if (kiln_tar_write_data(w, buf, (size_t)r, err) < 0)
            return -1;
        left -= (uint64_t)r;
    }
    if (check && kiln_blob_check_end(check, err) < 0)
        return -1;
    return kiln_tar_end_entry(w, err);
}
