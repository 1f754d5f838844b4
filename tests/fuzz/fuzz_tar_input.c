/*
 * Tarballs given to `kiln build --tar`: any tar flavour under any
 * compression libarchive knows, re-normalised into one layer.
 *
 * Input: the tarball's bytes (written to a file, as kiln reads a file).
 * Byte 0 also picks options (xattrs kept or not, mtimes clamped or not).
 * The same bytes, cut at the first NUL, go to kiln_normalise_member_path.
 *
 * Checked beyond memory safety, on a layer kiln produced:
 *   - libarchive reads it back without a warning (but the C locale's
 *     "can't be converted" about UTF-8 names);
 *   - every member path is normalised (no "." or ".." component, no leading
 *     or trailing or doubled '/'), sorted strictly as a tree walk (so no
 *     duplicates);
 *   - every hardlink points to a member written before it;
 *   - kiln_normalise_member_path's result is normalised and a fixed point.
 */
#include <archive.h>
#include <archive_entry.h>
#include <string.h>

#include "fuzz_common.h"

#define OUT_MAX (48u << 20)

static char tar_path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    fz_path(tar_path, "input.tar");
    return 0;
}

static bool normalised(const char *p)
{
    if (p[0] == '/')
        return false;
    size_t n = strlen(p);
    if (n && p[n - 1] == '/')
        return false;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == 0 || (l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += l;
        if (*s)
            s++;
    }
    return true;
}

static void check_normalise(const char *in)
{
    struct kiln_buf out = {0}, again = {0};
    struct kiln_error err = {0};
    if (kiln_normalise_member_path(in, &out, &err) == 0) {
        if (!out.data || !normalised(out.data))
            abort();
        if (kiln_normalise_member_path(out.data, &again, &err) < 0 || strcmp(out.data, again.data))
            abort();
    } else if (!err.message[0]) {
        abort();
    }
    kiln_buf_free(&out);
    kiln_buf_free(&again);
}

struct seen {
    char **v;
    size_t n, cap;
};

static bool seen_has(const struct seen *s, const char *p)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], p))
            return true;
    return false;
}

static void check_layer(const struct kiln_buf *layer)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    if (archive_read_open_memory(a, layer->data, layer->len) != ARCHIVE_OK)
        abort();
    struct seen s = {0};
    char *prev = NULL;
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        /* pax names are UTF-8; in the C locale libarchive warns that it
         * cannot convert them, which says nothing about kiln's output */
        const char *why = archive_error_string(a);
        if (r != ARCHIVE_OK && !(r == ARCHIVE_WARN && why && strstr(why, "can't be converted"))) {
            fprintf(stderr, "kiln wrote a layer libarchive reads with an error: %s\n", why);
            abort();
        }
        const char *p = archive_entry_pathname(e);
        if (!p)
            abort();
        char *path = strdup(p);
        size_t l = strlen(path);
        if (archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e) && l > 1 &&
            path[l - 1] == '/')
            path[--l] = '\0'; /* directories are written as "name/" */
        if (!normalised(path)) {
            fprintf(stderr, "kiln wrote the member name '%s'\n", p);
            abort();
        }
        if (prev && kiln_tar_path_cmp(prev, path) >= 0) {
            fprintf(stderr, "members out of order: '%s' then '%s'\n", prev, path);
            abort();
        }
        const char *hl = archive_entry_hardlink(e);
        if (hl && !seen_has(&s, hl)) {
            fprintf(stderr, "hardlink '%s' -> '%s' before its target\n", path, hl);
            abort();
        }
        if (s.n == s.cap) {
            s.cap = s.cap ? 2 * s.cap : 64;
            s.v = realloc(s.v, s.cap * sizeof(*s.v));
        }
        s.v[s.n++] = strdup(path);
        free(prev);
        prev = path;
    }
    free(prev);
    for (size_t i = 0; i < s.n; i++)
        free(s.v[i]);
    free(s.v);
    archive_read_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *cut = strndup((const char *)data, size);
    check_normalise(cut);
    free(cut);

    fz_write_file(tar_path, data, size);
    uint8_t flags = size ? data[0] : 0;
    /* --max-bytes below the scratch file limit: sparse members and bombs stop
     * at kiln's own bound, on both paths */
    struct kiln_layer_opts o = {.xattrs = !(flags & 1),
                                .clamp_mtime = (flags & 2) != 0,
                                .clamp_to = 1700000000,
                                .max_bytes = OUT_MAX / 2};
    /* The streaming path first, as kiln build runs it; whenever it finishes,
     * the spooled-and-sorted path must give the same bytes (or fail too). */
    struct kiln_buf_sink streamed;
    kiln_buf_sink_init(&streamed);
    streamed.buf.max = OUT_MAX;
    struct kiln_tar_writer w;
    kiln_tar_writer_init(&w, &streamed.sink);
    struct kiln_error err = {0};
    o.tar_stream = true;
    int src = kiln_layer_from_tarball(tar_path, &o, &w, &err);
    if (src == 0)
        src = kiln_tar_finish(&w, &err);
    fz_debug("kiln_layer_from_tarball (stream)", src, &err);
    if (src < 0 && !err.message[0])
        abort();

    struct kiln_buf_sink out;
    kiln_buf_sink_init(&out);
    out.buf.max = OUT_MAX;
    kiln_tar_writer_init(&w, &out.sink);
    memset(&err, 0, sizeof(err));
    o.tar_stream = false;
    int rc = kiln_layer_from_tarball(tar_path, &o, &w, &err);
    if (rc == 0)
        rc = kiln_tar_finish(&w, &err);
    fz_debug("kiln_layer_from_tarball", rc, &err);
    if (rc == 0)
        check_layer(&out.buf);
    else if (!err.message[0])
        abort();
    if (src == 0 && (rc != 0 || out.buf.len != streamed.buf.len ||
                     memcmp(out.buf.data, streamed.buf.data, out.buf.len)))
        abort(); /* the two paths disagree */
    if (src < 0 && rc == 0)
        abort(); /* the stream refused what the spool accepts */
    kiln_buf_free(&streamed.buf);
    kiln_buf_free(&out.buf);
    return 0;
}
