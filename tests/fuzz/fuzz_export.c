/*
 * kiln export and kiln flatten: the layers of an image nobody vetted merged
 * into one tar (image/flatten.c), without touching a disk tree. The layers
 * are the input; the merge must not crash, leak or loop, and what it writes
 * must be a tar that a consumer takes as it is: names normalised (no "..",
 * no absolute names), no whiteouts, every parent before its children and
 * every hardlink after its target, each name once.
 *
 * Input: as fuzz_unpack's (and its corpus): up to four layer blobs separated
 * by "--kiln-layer--", each a tar, compressed or not. They become a
 * one-image OCI layout in a scratch directory, and kiln_export writes it to
 * a file there, which is then read back with libarchive.
 */
#include <archive.h>
#include <archive_entry.h>
#include <string.h>

#include "fuzz_common.h"

#define MAXLAYERS 4

static char layout[4096], outfile[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    fz_path(layout, "layout");
    fz_path(outfile, "export.tar");
    return 0;
}

static void write_blob(const void *p, size_t n, char digest[KILN_DIGEST_MAX])
{
    char path[4200];
    fz_digest(p, n, digest);
    snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, digest + 7);
    fz_write_file(path, p, n);
}

static void bad(const char *what, const char *name)
{
    fprintf(stderr, "kiln fuzz: kiln_export wrote %s: '%s'\n", what, name);
    abort();
}

/* The names seen so far, in a growing list (inputs are small). */
struct names {
    char **v;
    size_t n;
};

static bool seen(const struct names *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == len && !memcmp(s->v[i], name, len))
            return true;
    return false;
}

static void check_output(void)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, outfile, 1 << 16) != ARCHIVE_OK)
        bad("an unreadable tar", outfile);
    struct names s = { 0 };
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(e);
        if (!p || !*p || p[0] == '/')
            bad("an empty or absolute name", p ? p : "(null)");
        size_t len = strlen(p);
        if (p[len - 1] == '/')
            len--;
        char name[8192];
        if (len >= sizeof(name))
            bad("a name too long to check", p);
        memcpy(name, p, len);
        name[len] = '\0';
        if (!strcmp(name, "..") || !strncmp(name, "../", 3) || strstr(name, "/../") ||
            (len >= 3 && !strcmp(name + len - 3, "/..")) || !strcmp(name, ".") ||
            strstr(name, "/./") || !strncmp(name, "./", 2) || strstr(name, "//"))
            bad("a name that is not normalised", p);
        const char *base = strrchr(name, '/');
        if (!strncmp(base ? base + 1 : name, ".wh.", 4))
            bad("a whiteout", p);
        if (seen(&s, name, len))
            bad("a name twice", p);
        if (base && !seen(&s, name, (size_t)(base - name)))
            bad("an entry before its parent", p);
        const char *hl = archive_entry_hardlink(e);
        if (hl && !seen(&s, hl, strlen(hl)))
            bad("a hardlink before its target", p);
        s.v = realloc(s.v, (s.n + 1) * sizeof(*s.v));
        if (!s.v || !(s.v[s.n++] = strdup(name)))
            abort();
        if (archive_read_data_skip(a) != ARCHIVE_OK)
            bad("a member whose data cannot be read", p);
    }
    if (r != ARCHIVE_EOF)
        bad("a damaged tar", archive_error_string(a));
    archive_read_free(a);
    for (size_t i = 0; i < s.n; i++)
        free(s.v[i]);
    free(s.v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sep[] = "--kiln-layer--";
    char *layers[MAXLAYERS];
    size_t lens[MAXLAYERS];
    size_t n = fz_split(data, size, sep, strlen(sep), layers, lens, MAXLAYERS);

    char p[4200];
    fz_rm_rf(layout);
    fz_mkdir(layout);
    snprintf(p, sizeof(p), "%s/blobs", layout);
    fz_mkdir(p);
    snprintf(p, sizeof(p), "%s/blobs/sha256", layout);
    fz_mkdir(p);

    char ld[MAXLAYERS][KILN_DIGEST_MAX];
    struct kiln_buf man = { 0 }, cfg = { 0 };
    struct kiln_platform host;
    kiln_platform_host(&host);
    kiln_buf_printf(&cfg, NULL,
                    "{\"architecture\":\"%s\",\"os\":\"linux\",%s%s%s\"rootfs\":{\"type\":"
                    "\"layers\",\"diff_ids\":[",
                    host.arch, host.variant[0] ? "\"variant\":\"" : "", host.variant,
                    host.variant[0] ? "\"," : "");
    for (size_t i = 0; i < n; i++) {
        write_blob(layers[i], lens[i], ld[i]);
        kiln_buf_printf(&cfg, NULL, "%s\"%s\"", i ? "," : "", ld[i]);
    }
    kiln_buf_printf(&cfg, NULL, "]}}");
    char cd[KILN_DIGEST_MAX], md[KILN_DIGEST_MAX];
    write_blob(cfg.data, cfg.len, cd);
    kiln_buf_printf(&man, NULL,
                    "{\"schemaVersion\":2,\"mediaType\":\"" KILN_MT_OCI_MANIFEST
                    "\",\"config\":{\"mediaType\":\"" KILN_MT_OCI_CONFIG
                    "\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[",
                    cd, cfg.len);
    for (size_t i = 0; i < n; i++)
        kiln_buf_printf(&man, NULL,
                        "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":"
                        "\"%s\",\"size\":%zu}",
                        i ? "," : "", ld[i], lens[i]);
    kiln_buf_printf(&man, NULL, "]}");
    write_blob(man.data, man.len, md);
    struct kiln_buf idx = { 0 };
    kiln_buf_printf(&idx, NULL,
                    "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" KILN_MT_OCI_MANIFEST
                    "\",\"digest\":\"%s\",\"size\":%zu}]}",
                    md, man.len);
    snprintf(p, sizeof(p), "%s/index.json", layout);
    fz_write_file(p, idx.data, idx.len);
    kiln_buf_free(&idx);
    kiln_buf_free(&man);
    kiln_buf_free(&cfg);
    fz_parts_free(layers, n);

    char spec[4200];
    snprintf(spec, sizeof(spec), "oci:%s", layout);
    struct kiln_error err = { 0 };
    int rc = kiln_export(spec, outfile, NULL, NULL, &err);
    fz_debug("kiln_export", rc, &err);
    if (rc < 0 && !err.message[0])
        abort();
    if (rc == 0)
        check_output();
    fz_rm_rf(outfile);
    return 0;
}
