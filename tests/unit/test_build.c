/* Unit tests: whole builds through the library, in a temporary directory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <libdeflate.h>

#include "internal.h"
#include "unit.h"

#define SDE      1700000000
#define BIG_SIZE (2 * 1024 * 1024 + 4321)

/* ---- helpers ---------------------------------------------------------- */

struct fx {
    char tmp[64];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->tmp, sizeof(f->tmp), "%s/kiln-test-build-XXXXXX", test_tmpdir());
    if (!mkdtemp(f->tmp)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int rc = kiln_rm_rf(f->tmp);
    free(f);
    return rc;
}

static char *pjoin(const char *a, const char *b)
{
    char *p = kiln_path_join(a, b, NULL);
    assert_non_null(p);
    return p;
}

static void write_file(const char *path, const void *p, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        fail_msg("%s: %s", path, strerror(errno));
    assert_int_equal(kiln_write_all(fd, p, n, path, NULL), 0);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static char *read_all(const char *path, size_t *len)
{
    struct kiln_buf b = { 0 };
    struct kiln_error err = { 0 };
    if (kiln_read_file(path, 0, &b, &err) < 0)
        fail_msg("%s", err.message);
    if (len)
        *len = b.len;
    return b.data;
}

static json_t *read_json(const char *path)
{
    char *s = read_all(path, NULL);
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    free(s);
    return j;
}

static void file_digest(const char *path, char out[KILN_DIGEST_MAX])
{
    size_t n;
    char *s = read_all(path, &n);
    assert_int_equal(kiln_sha256_buf(s, n, out, NULL), 0);
    free(s);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static const char *tool_text = "#!/bin/sh\necho tool\n";

static unsigned char *big_data(void)
{
    unsigned char *p = malloc(BIG_SIZE);
    assert_non_null(p);
    uint32_t x = 77;
    for (size_t i = 0; i < BIG_SIZE; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (i / 4096) % 2 ? (unsigned char)(x >> 24) : (unsigned char)("kiln"[i % 4]);
    }
    return p;
}

/* root/{bin/tool, data/{big,h1,h2 (hardlinked)}, etc/{config,empty}, link -> etc/config}
 * (an empty directory has a test of its own: test_empty_directory) */
static char *make_tree(const char *tmp, const char *name, const char *config_text)
{
    char *root = pjoin(tmp, name);
    assert_int_equal(mkdir(root, 0755), 0);
    static const char *const dirs[] = { "bin", "data", "etc" };
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        char *d = pjoin(root, dirs[i]);
        assert_int_equal(mkdir(d, 0755), 0);
        assert_int_equal(chmod(d, 0755), 0);
        free(d);
    }
    char *p = pjoin(root, "bin/tool");
    write_file(p, tool_text, strlen(tool_text), 04755);
    free(p);
    p = pjoin(root, "etc/config");
    write_file(p, config_text, strlen(config_text), 0644);
    free(p);
    p = pjoin(root, "etc/empty");
    write_file(p, "", 0, 0600);
    free(p);
    unsigned char *big = big_data();
    p = pjoin(root, "data/big");
    write_file(p, big, BIG_SIZE, 0644);
    free(p);
    free(big);
    char *h1 = pjoin(root, "data/h1"), *h2 = pjoin(root, "data/h2");
    write_file(h1, "same inode\n", 11, 0640);
    assert_int_equal(link(h1, h2), 0);
    free(h1);
    free(h2);
    p = pjoin(root, "link");
    assert_int_equal(symlink("etc/config", p), 0);
    free(p);
    return root;
}

struct hook {
    enum { HOOK_NONE, HOOK_RMDIR, HOOK_MKDIR } action;
    char *path;
    int fired;
};

static void log_hook(void *userdata, enum kiln_log_level level, const char *message)
{
    (void)message;
    struct hook *h = userdata;
    if (!h || level != KILN_LOG_INFO || h->fired++)
        return;
    /* runs while the layers are built: after the outputs were checked */
    if (h->action == HOOK_RMDIR)
        assert_int_equal(rmdir(h->path), 0);
    else if (h->action == HOOK_MKDIR)
        assert_int_equal(mkdir(h->path, 0755), 0);
}

/* Runs a build; inputs are "d:DIR" or "t:FILE". Returns kiln_build_run's rc. */
static int run_build(const char *const *inputs, size_t nin, const char *const *outputs, size_t nout,
                     unsigned jobs, struct hook *hook, char digest[KILN_DIGEST_MAX],
                     struct kiln_error *err)
{
    kiln_build *b = kiln_build_new();
    assert_non_null(b);
    if (hook)
        kiln_build_set_log(b, log_hook, hook);
    for (size_t i = 0; i < nin; i++) {
        int rc = inputs[i][0] == 'd' ? kiln_build_add_rootfs(b, inputs[i] + 2, err)
                                     : kiln_build_add_tar(b, inputs[i] + 2, err);
        assert_int_equal(rc, 0);
    }
    for (size_t i = 0; i < nout; i++)
        if (kiln_build_add_output(b, outputs[i], err) != 0)
            fail_msg("-o %s: %s", outputs[i], err->message);
    assert_int_equal(kiln_build_set(b, KILN_SET_PLATFORM, "linux/amd64", err), 0);
    assert_int_equal(kiln_build_set(b, KILN_SET_TAG, "example.com/test/app:1.0", err), 0);
    kiln_build_set_source_date_epoch(b, SDE);
    kiln_build_set_jobs(b, jobs);
    int rc = kiln_build_run(b, digest, err);
    kiln_build_free(b);
    return rc;
}

static char *spec(const char *transport, const char *path, const char *suffix)
{
    size_t n = strlen(transport) + strlen(path) + strlen(suffix) + 1;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%s%s%s", transport, path, suffix);
    return s;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in dir, one per line. */
static char *list_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("%s: %s", dir, strerror(errno));
    char **v = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        v = realloc(v, (n + 1) * sizeof(*v));
        assert_non_null(v);
        v[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_names);
    struct kiln_buf b = { 0 };
    assert_int_equal(kiln_buf_append(&b, "", 0, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(kiln_buf_printf(&b, NULL, "%s\n", v[i]), 0);
        free(v[i]);
    }
    free(v);
    return b.data;
}

static void assert_no_temp_files(const char *dir)
{
    char *l = list_dir(dir);
    if (strstr(l, ".kiln-tmp-") || strstr(l, ".kiln-stage-") || strstr(l, ".tmp-"))
        fail_msg("temporary files left in %s:\n%s", dir, l);
    free(l);
}

/* Every blob of a layout hashes to its name; returns how many there are. */
static size_t check_blobs(const char *layout)
{
    char *dir = pjoin(layout, "blobs/sha256");
    char *l = list_dir(dir);
    size_t count = 0;
    for (char *s = l, *nl; (nl = strchr(s, '\n')); s = nl + 1) {
        *nl = '\0';
        assert_int_equal(strlen(s), 64);
        char *p = pjoin(dir, s);
        char d[KILN_DIGEST_MAX];
        file_digest(p, d);
        if (strcmp(d + 7, s))
            fail_msg("blob %s hashes to %s", s, d);
        free(p);
        count++;
    }
    free(l);
    free(dir);
    return count;
}

static char *blob_path(const char *layout, const char *digest)
{
    assert_true(kiln_digest_valid(digest));
    char rel[128];
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest + 7);
    return pjoin(layout, rel);
}

/* Decompresses a gzip file (of concatenated members) into memory. */
static unsigned char *gunzip_file(const char *path, size_t *out_len)
{
    size_t n;
    char *gz = read_all(path, &n);
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    assert_non_null(d);
    struct kiln_buf out = { 0 };
    unsigned char *chunk = malloc(KILN_GZIP_BLOCK_SIZE);
    assert_non_null(chunk);
    size_t off = 0;
    while (off < n) {
        size_t in_used = 0, got = 0;
        assert_int_equal(libdeflate_gzip_decompress_ex(d, gz + off, n - off, chunk,
                                                       KILN_GZIP_BLOCK_SIZE, &in_used, &got),
                         LIBDEFLATE_SUCCESS);
        assert_int_equal(kiln_buf_append(&out, chunk, got, NULL), 0);
        off += in_used;
    }
    free(chunk);
    libdeflate_free_decompressor(d);
    free(gz);
    *out_len = out.len;
    return (unsigned char *)out.data;
}

struct want_entry {
    const char *path;
    int type; /* AE_IF* */
    unsigned perm;
    const char *link; /* symlink target or hardlink target */
    bool hardlink;
    size_t size;
};

static const struct want_entry layer_entries[] = {
    { "bin/", AE_IFDIR, 0755, NULL, false, 0 },
    { "bin/tool", AE_IFREG, 04755, NULL, false, 20 },
    { "data/", AE_IFDIR, 0755, NULL, false, 0 },
    { "data/big", AE_IFREG, 0644, NULL, false, BIG_SIZE },
    { "data/h1", AE_IFREG, 0640, NULL, false, 11 },
    { "data/h2", AE_IFREG, 0640, "data/h1", true, 0 },
    { "etc/", AE_IFDIR, 0755, NULL, false, 0 },
    { "etc/config", AE_IFREG, 0644, NULL, false, 0 /* from the text */ },
    { "etc/empty", AE_IFREG, 0600, NULL, false, 0 },
    { "link", AE_IFLNK, 0777, "etc/config", false, 0 },
};

/* Checks the layer tar: entries, order, metadata, clamped mtimes, contents. */
static void check_layer_tar(const unsigned char *tar, size_t len, const char *config_text)
{
    struct archive *a = archive_read_new();
    assert_non_null(a);
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, tar, len), ARCHIVE_OK);
    struct archive_entry *ae;
    unsigned char *big = big_data();
    for (size_t i = 0; i < ARRAY_SIZE(layer_entries); i++) {
        const struct want_entry *w = &layer_entries[i];
        if (archive_read_next_header(a, &ae) != ARCHIVE_OK)
            fail_msg("entry %zu (%s): %s", i, w->path, archive_error_string(a));
        assert_string_equal(archive_entry_pathname(ae), w->path);
        assert_int_equal(archive_entry_perm(ae), w->perm);
        assert_int_equal(archive_entry_mtime(ae), SDE); /* clamped */
        assert_int_equal(archive_entry_uid(ae), (int64_t)getuid());
        assert_int_equal(archive_entry_gid(ae), (int64_t)getgid());
        if (w->hardlink) {
            assert_string_equal(archive_entry_hardlink(ae), w->link);
            continue;
        }
        assert_int_equal(archive_entry_filetype(ae), w->type);
        if (w->type == AE_IFLNK)
            assert_string_equal(archive_entry_symlink(ae), w->link);
        if (w->type != AE_IFREG)
            continue;
        const void *want = !strcmp(w->path, "bin/tool")     ? (const void *)tool_text
                           : !strcmp(w->path, "data/big")   ? (const void *)big
                           : !strcmp(w->path, "data/h1")    ? (const void *)"same inode\n"
                           : !strcmp(w->path, "etc/config") ? (const void *)config_text
                                                            : (const void *)"";
        size_t want_len = !strcmp(w->path, "etc/config") ? strlen(config_text) : w->size;
        assert_int_equal(archive_entry_size(ae), (int64_t)want_len);
        unsigned char *got = malloc(want_len + 1);
        assert_non_null(got);
        size_t have = 0;
        la_ssize_t r;
        while ((r = archive_read_data(a, got + have, want_len + 1 - have)) > 0)
            have += (size_t)r;
        assert_int_equal(r, 0);
        assert_int_equal(have, want_len);
        assert_memory_equal(got, want, want_len);
        free(got);
    }
    assert_int_equal(archive_read_next_header(a, &ae), ARCHIVE_EOF);
    archive_read_free(a);
    free(big);
}

/* Checks an OCI layout written by a build that returned digest. */
static void check_layout(const char *layout, const char *digest, const char *tag,
                         const char *config_text)
{
    char *p = pjoin(layout, "oci-layout");
    char *s = read_all(p, NULL);
    assert_string_equal(s, "{\"imageLayoutVersion\":\"1.0.0\"}");
    free(s);
    free(p);

    p = pjoin(layout, "index.json");
    json_t *idx = read_json(p);
    free(p);
    assert_int_equal(json_integer_value(json_object_get(idx, "schemaVersion")), 2);
    json_t *ms = json_object_get(idx, "manifests");
    json_t *m = NULL;
    for (size_t i = 0; i < json_array_size(ms); i++) {
        json_t *a = json_object_get(json_array_get(ms, i), "annotations");
        if (!strcmp(json_string_value(json_object_get(a, KILN_ANNOT_REF_NAME)), tag))
            m = json_array_get(ms, i);
    }
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "digest")), digest);
    assert_string_equal(json_string_value(json_object_get(m, "mediaType")), KILN_MT_OCI_MANIFEST);

    /* the digest is the sha256 of the manifest blob, whose size index.json gives */
    char *mp = blob_path(layout, digest);
    char d[KILN_DIGEST_MAX];
    file_digest(mp, d);
    assert_string_equal(d, digest);
    struct stat st;
    assert_int_equal(stat(mp, &st), 0);
    assert_int_equal(json_integer_value(json_object_get(m, "size")), st.st_size);
    json_t *man = read_json(mp);
    free(mp);
    assert_string_equal(json_string_value(json_object_get(man, "mediaType")), KILN_MT_OCI_MANIFEST);

    /* config */
    json_t *cd = json_object_get(man, "config");
    char *cp = blob_path(layout, json_string_value(json_object_get(cd, "digest")));
    assert_int_equal(stat(cp, &st), 0);
    assert_int_equal(json_integer_value(json_object_get(cd, "size")), st.st_size);
    json_t *cfg = read_json(cp);
    free(cp);
    assert_string_equal(json_string_value(json_object_get(cfg, "created")), "2023-11-14T22:13:20Z");
    assert_string_equal(json_string_value(json_object_get(cfg, "architecture")), "amd64");
    json_t *diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
    json_t *layers = json_object_get(man, "layers");
    assert_int_equal(json_array_size(layers), 1);
    assert_int_equal(json_array_size(diff_ids), 1);
    assert_int_equal(json_array_size(json_object_get(cfg, "history")), 1);

    /* the layer: its size, its digest, and its diff_id is the sha256 of the tar */
    json_t *ld = json_array_get(layers, 0);
    assert_string_equal(json_string_value(json_object_get(ld, "mediaType")),
                        "application/vnd.oci.image.layer.v1.tar+gzip");
    char *lp = blob_path(layout, json_string_value(json_object_get(ld, "digest")));
    assert_int_equal(stat(lp, &st), 0);
    assert_int_equal(json_integer_value(json_object_get(ld, "size")), st.st_size);
    size_t tar_len;
    unsigned char *tar = gunzip_file(lp, &tar_len);
    free(lp);
    assert_int_equal(tar_len % 512, 0);
    assert_int_equal(kiln_sha256_buf(tar, tar_len, d, NULL), 0);
    assert_string_equal(d, json_string_value(json_array_get(diff_ids, 0)));
    check_layer_tar(tar, tar_len, config_text);
    free(tar);

    json_decref(cfg);
    json_decref(man);
    json_decref(idx);
}

/* Reads a docker archive: checks manifest.json against the layout's blobs. */
static void check_docker_archive(const char *file, const char *layout, const char *digest)
{
    char *mp = blob_path(layout, digest);
    json_t *man = read_json(mp);
    free(mp);
    const char *cfg_digest =
        json_string_value(json_object_get(json_object_get(man, "config"), "digest"));
    const char *layer_digest = json_string_value(
        json_object_get(json_array_get(json_object_get(man, "layers"), 0), "digest"));

    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, file, 65536), ARCHIVE_OK);
    struct archive_entry *ae;
    json_t *dm = NULL;
    char cfg_name[80], layer_name[200] = "";
    snprintf(cfg_name, sizeof(cfg_name), "%s.json", cfg_digest + 7);
    bool saw_cfg = false, saw_layer = false, saw_repos = false;
    /* every regular member: check what can be checked by its name */
    while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ae);
        assert_int_equal(archive_entry_mtime(ae), SDE);
        if (archive_entry_filetype(ae) != AE_IFREG)
            continue;
        size_t n = (size_t)archive_entry_size(ae);
        unsigned char *data = malloc(n + 1);
        assert_non_null(data);
        size_t have = 0;
        la_ssize_t r;
        while (have < n && (r = archive_read_data(a, data + have, n - have)) > 0)
            have += (size_t)r;
        assert_int_equal(have, n);
        data[n] = '\0';
        char d[KILN_DIGEST_MAX];
        assert_int_equal(kiln_sha256_buf(data, n, d, NULL), 0);
        if (!strcmp(name, "manifest.json")) {
            dm = json_loads((char *)data, 0, NULL);
            assert_non_null(dm);
        } else if (!strcmp(name, "repositories")) {
            json_t *r2 = json_loads((char *)data, 0, NULL);
            assert_non_null(json_object_get(json_object_get(r2, "example.com/test/app"), "1.0"));
            json_decref(r2);
            saw_repos = true;
        } else if (!strcmp(name, cfg_name)) {
            assert_string_equal(d, cfg_digest);
            saw_cfg = true;
        } else if (strlen(name) > 10 && !strcmp(name + strlen(name) - 10, "/layer.tar")) {
            /* the compressed layer, as in the layout */
            assert_string_equal(d, layer_digest);
            snprintf(layer_name, sizeof(layer_name), "%s", name);
            saw_layer = true;
        }
        free(data);
    }
    archive_read_free(a);
    assert_true(saw_cfg);
    assert_true(saw_layer);
    assert_true(saw_repos);
    assert_non_null(dm);
    json_t *e = json_array_get(dm, 0);
    assert_int_equal(json_array_size(dm), 1);
    assert_string_equal(json_string_value(json_object_get(e, "Config")), cfg_name);
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "Layers"), 0)),
                        layer_name);
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "RepoTags"), 0)),
                        "example.com/test/app:1.0");
    json_decref(dm);
    json_decref(man);
}

/* ---- tests ------------------------------------------------------------ */

static void test_build_outputs(void **state)
{
    struct fx *f = *state;
    char *root = make_tree(f->tmp, "root", "key=value\n");
    char *layout = pjoin(f->tmp, "out1");
    char *archive = pjoin(f->tmp, "a1.tar");
    char *ociar = pjoin(f->tmp, "o1.tar");
    char *in = spec("d:", root, "");
    char *o1 = spec("oci:", layout, ""), *o2 = spec("docker-archive:", archive, ""),
         *o3 = spec("oci-archive:", ociar, "");
    const char *inputs[] = { in };
    const char *outputs[] = { o1, o2, o3 };
    char digest[KILN_DIGEST_MAX];
    struct kiln_error err = { 0 };
    if (run_build(inputs, 1, outputs, 3, 2, NULL, digest, &err) != 0)
        fail_msg("build: %s", err.message);
    assert_true(kiln_digest_valid(digest));

    /* the tag of the first --tag names the image in the layout */
    check_layout(layout, digest, "1.0", "key=value\n");
    /* one layer, the config, the manifest */
    assert_int_equal(check_blobs(layout), 3);
    check_docker_archive(archive, layout, digest);
    assert_no_temp_files(f->tmp);
    assert_no_temp_files(layout);

    char *want = list_dir(f->tmp);
    assert_string_equal(want, "a1.tar\no1.tar\nout1\nroot\n");
    free(want);

    free(in);
    free(o1);
    free(o2);
    free(o3);
    free(root);
    free(layout);
    free(archive);
    free(ociar);
}

/* kiln_interrupt() stops an operation; after kiln_interrupt_reset() the next
 * one runs (a long-lived program need not restart). */
static void test_interrupt_reset(void **state)
{
    struct fx *f = *state;
    char *root = make_tree(f->tmp, "root", "x\n");
    char *layout = pjoin(f->tmp, "out");
    char *in = spec("d:", root, ""), *o1 = spec("oci:", layout, "");
    const char *inputs[] = { in };
    const char *outputs[] = { o1 };
    char digest[KILN_DIGEST_MAX];
    struct kiln_error err = { 0 };
    kiln_interrupt();
    assert_int_not_equal(run_build(inputs, 1, outputs, 1, 1, NULL, digest, &err), 0);
    assert_int_equal(err.code, KILN_ERR_INTERRUPTED);
    assert_no_temp_files(f->tmp);
    kiln_interrupt_reset();
    memset(&err, 0, sizeof(err));
    if (run_build(inputs, 1, outputs, 1, 1, NULL, digest, &err) != 0)
        fail_msg("build after kiln_interrupt_reset: %s", err.message);
    assert_int_equal(kiln_version_number(), KILN_VERSION_NUMBER);
    assert_int_equal(kiln_version_number(),
                     KILN_VERSION_MAJOR * 10000 + KILN_VERSION_MINOR * 100 + KILN_VERSION_PATCH);
    free(in);
    free(o1);
    free(root);
    free(layout);
}

static void test_build_reproducible(void **state)
{
    struct fx *f = *state;
    char *root = make_tree(f->tmp, "root", "key=value\n");
    char *in = spec("d:", root, "");
    const char *inputs[] = { in };
    char digests[3][KILN_DIGEST_MAX];
    char *archives[3], *ociars[3], *layouts[3];
    static const unsigned jobs[3] = { 1, 3, 8 };
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "layout%d", i);
        layouts[i] = pjoin(f->tmp, name);
        snprintf(name, sizeof(name), "d%d.tar", i);
        archives[i] = pjoin(f->tmp, name);
        snprintf(name, sizeof(name), "o%d.tar", i);
        ociars[i] = pjoin(f->tmp, name);
        char *o1 = spec("oci:", layouts[i], ""), *o2 = spec("docker-archive:", archives[i], ""),
             *o3 = spec("oci-archive:", ociars[i], "");
        const char *outputs[] = { o1, o2, o3 };
        struct kiln_error err = { 0 };
        if (run_build(inputs, 1, outputs, 3, jobs[i], NULL, digests[i], &err) != 0)
            fail_msg("build %d: %s", i, err.message);
        free(o1);
        free(o2);
        free(o3);
        /* later mtimes change nothing: they are clamped to SOURCE_DATE_EPOCH */
        char *p = pjoin(root, "etc/config");
        struct timespec ts[2] = { { .tv_sec = SDE + 1000 * (i + 1) },
                                  { .tv_sec = SDE + 1000 * (i + 1) } };
        assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
        free(p);
    }
    for (int i = 1; i < 3; i++) {
        assert_string_equal(digests[i], digests[0]);
        size_t n0, n1;
        char *a0 = read_all(archives[0], &n0), *a1 = read_all(archives[i], &n1);
        assert_int_equal(n0, n1);
        assert_memory_equal(a0, a1, n0);
        free(a0);
        free(a1);
        a0 = read_all(ociars[0], &n0);
        a1 = read_all(ociars[i], &n1);
        assert_int_equal(n0, n1);
        assert_memory_equal(a0, a1, n0);
        free(a0);
        free(a1);
        char *l0 = list_dir(layouts[0]), *l1 = list_dir(layouts[i]);
        assert_string_equal(l0, l1);
        free(l0);
        free(l1);
        char *b0 = pjoin(layouts[0], "blobs/sha256"), *b1 = pjoin(layouts[i], "blobs/sha256");
        l0 = list_dir(b0);
        l1 = list_dir(b1);
        assert_string_equal(l0, l1);
        free(l0);
        free(l1);
        free(b0);
        free(b1);
        char *i0 = pjoin(layouts[0], "index.json"), *i1 = pjoin(layouts[i], "index.json");
        a0 = read_all(i0, &n0);
        a1 = read_all(i1, &n1);
        assert_string_equal(a0, a1);
        free(a0);
        free(a1);
        free(i0);
        free(i1);
    }
    /* different content, different digest */
    char *root2 = make_tree(f->tmp, "root2", "key=other\n");
    char *in2 = spec("d:", root2, "");
    const char *inputs2[] = { in2 };
    char *l3 = pjoin(f->tmp, "layout3");
    char *o = spec("oci:", l3, "");
    const char *outputs[] = { o };
    char d3[KILN_DIGEST_MAX];
    struct kiln_error err = { 0 };
    assert_int_equal(run_build(inputs2, 1, outputs, 1, 2, NULL, d3, &err), 0);
    assert_string_not_equal(d3, digests[0]);
    check_layout(l3, d3, "1.0", "key=other\n");
    free(o);
    free(l3);
    free(in2);
    free(root2);
    for (int i = 0; i < 3; i++) {
        free(archives[i]);
        free(ociars[i]);
        free(layouts[i]);
    }
    free(in);
    free(root);
}

static void test_failed_build_leaves_nothing(void **state)
{
    struct fx *f = *state;
    char *root = make_tree(f->tmp, "root", "key=value\n");
    char *parent = pjoin(f->tmp, "out");
    assert_int_equal(mkdir(parent, 0755), 0);
    char *layout = pjoin(parent, "layout"), *archive = pjoin(parent, "img.tar"),
         *ociar = pjoin(parent, "oci.tar");
    char *missing = pjoin(f->tmp, "no-such-input.tar");
    char *in1 = spec("d:", root, ""), *in2 = spec("t:", missing, "");
    char *o1 = spec("oci:", layout, ""), *o2 = spec("docker-archive:", archive, ""),
         *o3 = spec("oci-archive:", ociar, "");
    const char *inputs[] = { in1, in2 };
    const char *outputs[] = { o1, o2, o3 };
    char digest[KILN_DIGEST_MAX] = "untouched";
    struct kiln_error err = { 0 };
    assert_int_equal(run_build(inputs, 2, outputs, 3, 2, NULL, digest, &err), -1);
    assert_int_equal(err.code, KILN_ERR_INPUT);
    assert_non_null(strstr(err.message, missing));
    assert_string_equal(digest, "untouched");
    assert_false(exists(layout));
    assert_false(exists(archive));
    assert_false(exists(ociar));
    char *l = list_dir(parent);
    assert_string_equal(l, ""); /* no .kiln-tmp-*, no .kiln-stage-* */
    free(l);
    l = list_dir(f->tmp);
    assert_string_equal(l, "out\nroot\n");
    free(l);

    /* an empty directory named as the layout is left as it was */
    assert_int_equal(mkdir(layout, 0755), 0);
    assert_int_equal(run_build(inputs, 2, outputs, 3, 1, NULL, digest, &err), -1);
    l = list_dir(parent);
    assert_string_equal(l, "layout\n");
    free(l);
    l = list_dir(layout);
    assert_string_equal(l, "");
    free(l);

    free(in1);
    free(in2);
    free(o1);
    free(o2);
    free(o3);
    free(missing);
    free(layout);
    free(archive);
    free(ociar);
    free(parent);
    free(root);
}

struct snapshot {
    char *index;
    size_t index_len;
    char *blobs;
    char *top;
};

static void snap(const char *layout, struct snapshot *s)
{
    char *p = pjoin(layout, "index.json");
    s->index = read_all(p, &s->index_len);
    free(p);
    p = pjoin(layout, "blobs/sha256");
    s->blobs = list_dir(p);
    free(p);
    s->top = list_dir(layout);
}

static void snap_free(struct snapshot *s)
{
    free(s->index);
    free(s->blobs);
    free(s->top);
}

static void assert_unchanged(const char *layout, const struct snapshot *before)
{
    struct snapshot now;
    snap(layout, &now);
    assert_int_equal(now.index_len, before->index_len);
    assert_memory_equal(now.index, before->index, now.index_len);
    assert_string_equal(now.blobs, before->blobs);
    assert_string_equal(now.top, before->top);
    snap_free(&now);
}

static void test_failed_build_into_existing_layout(void **state)
{
    struct fx *f = *state;
    char *root = make_tree(f->tmp, "root", "key=value\n");
    char *root2 = make_tree(f->tmp, "root2", "key=changed\n");
    char *parent = pjoin(f->tmp, "out");
    assert_int_equal(mkdir(parent, 0755), 0);
    char *layout = pjoin(parent, "layout");
    char *in1 = spec("d:", root, ""), *in2 = spec("d:", root2, "");
    char *o1 = spec("oci:", layout, ":v1");
    char digest[KILN_DIGEST_MAX];
    struct kiln_error err = { 0 };
    {
        const char *inputs[] = { in1 };
        const char *outputs[] = { o1 };
        assert_int_equal(run_build(inputs, 1, outputs, 1, 2, NULL, digest, &err), 0);
    }
    check_layout(layout, digest, "v1", "key=value\n");
    struct snapshot before;
    snap(layout, &before);

    /* 1: the second input is missing */
    char *missing = pjoin(f->tmp, "missing-dir");
    char *inm = spec("d:", missing, "");
    char *o2 = spec("oci:", layout, ":v2");
    {
        const char *inputs[] = { in2, inm };
        const char *outputs[] = { o2 };
        memset(&err, 0, sizeof(err));
        assert_int_equal(run_build(inputs, 2, outputs, 1, 2, NULL, digest, &err), -1);
        assert_int_equal(err.code, KILN_ERR_INPUT);
    }
    assert_unchanged(layout, &before);
    assert_no_temp_files(parent);

    /* 2: a later output fails while it is prepared (its directory went away
     * after the check): the new blobs and the new index.json are taken back */
    char *q = pjoin(f->tmp, "q");
    char *qsub = pjoin(q, "sub");
    assert_int_equal(mkdir(q, 0755), 0);
    assert_int_equal(mkdir(qsub, 0755), 0);
    char *qarch = pjoin(qsub, "img.tar");
    char *o3 = spec("docker-archive:", qarch, "");
    struct hook h = { .action = HOOK_RMDIR, .path = qsub };
    {
        const char *inputs[] = { in2 };
        const char *outputs[] = { o2, o3 };
        memset(&err, 0, sizeof(err));
        assert_int_equal(run_build(inputs, 1, outputs, 2, 2, &h, digest, &err), -1);
        assert_int_equal(err.code, KILN_ERR_OUTPUT);
        assert_int_equal(h.fired, 1);
    }
    assert_unchanged(layout, &before);
    assert_no_temp_files(parent);
    assert_no_temp_files(q);

    /* and a good build adds v2 beside v1 */
    {
        const char *inputs[] = { in2 };
        const char *outputs[] = { o2 };
        assert_int_equal(run_build(inputs, 1, outputs, 1, 1, NULL, digest, &err), 0);
    }
    check_layout(layout, digest, "v2", "key=changed\n");
    char *ip = pjoin(layout, "index.json");
    json_t *idx = read_json(ip);
    assert_int_equal(json_array_size(json_object_get(idx, "manifests")), 2);
    json_decref(idx);
    free(ip);
    /* two layers, two configs, two manifests */
    assert_int_equal(check_blobs(layout), 6);
    assert_no_temp_files(layout);

    snap_free(&before);
    free(o3);
    free(qarch);
    free(qsub);
    free(q);
    free(o2);
    free(inm);
    free(missing);
    free(o1);
    free(in1);
    free(in2);
    free(layout);
    free(parent);
    free(root);
    free(root2);
}

/* "on failure nothing is left at any destination and an existing destination
 * is left as it was" (kiln.h) must hold also when the last step of a later
 * output, its commit, fails after an earlier output was committed. */
static void test_failed_commit_rolls_back_earlier_outputs(void **state)
{
    struct fx *f = *state;
    char *root = make_tree(f->tmp, "root", "key=value\n");
    char *root2 = make_tree(f->tmp, "root2", "key=changed\n");
    char *layout = pjoin(f->tmp, "layout");
    char *in1 = spec("d:", root, ""), *in2 = spec("d:", root2, "");
    char *o1 = spec("oci:", layout, ":v1");
    char digest[KILN_DIGEST_MAX];
    struct kiln_error err = { 0 };
    {
        const char *inputs[] = { in1 };
        const char *outputs[] = { o1 };
        assert_int_equal(run_build(inputs, 1, outputs, 1, 1, NULL, digest, &err), 0);
    }
    struct snapshot before;
    snap(layout, &before);

    /* a directory appears where the docker archive goes, after the check:
     * its rename fails at commit time, after the layout's index.json */
    char *arch = pjoin(f->tmp, "img.tar");
    char *newlayout = pjoin(f->tmp, "new-layout");
    char *o2 = spec("oci:", layout, ":v2"), *o3 = spec("oci:", newlayout, ""),
         *o4 = spec("docker-archive:", arch, "");
    struct hook h = { .action = HOOK_MKDIR, .path = arch };
    {
        const char *inputs[] = { in2 };
        const char *outputs[] = { o2, o3, o4 };
        memset(&err, 0, sizeof(err));
        assert_int_equal(run_build(inputs, 1, outputs, 3, 1, &h, digest, &err), -1);
        assert_int_equal(err.code, KILN_ERR_OUTPUT);
    }
    bool new_layout_left = exists(newlayout);
    struct snapshot now;
    snap(layout, &now);
    bool index_changed =
        now.index_len != before.index_len || memcmp(now.index, before.index, now.index_len);
    bool blobs_changed = strcmp(now.blobs, before.blobs) != 0;
    snap_free(&now);
    assert_no_temp_files(f->tmp);
    assert_no_temp_files(layout);

    snap_free(&before);
    free(o2);
    free(o3);
    free(o4);
    free(arch);
    free(newlayout);
    free(o1);
    free(in1);
    free(in2);
    free(layout);
    free(root);
    free(root2);
    if (index_changed || blobs_changed || new_layout_left)
        fail_msg("after a failed build:%s%s%s", index_changed ? " index.json was replaced;" : "",
                 blobs_changed ? " blobs were added;" : "",
                 new_layout_left ? " a new layout was left behind;" : "");
}

/* An empty directory is an ordinary part of a tree (/tmp, /proc, /mnt). The
 * build runs in a child so that a crash (or a sanitizer abort) fails this
 * test alone. */
static void test_empty_directory(void **state)
{
    struct fx *f = *state;
    /* on the stack: nothing leaks when the test fails */
    char root[128], empty[160], full[160], file[160], layout[128], o[160];
    snprintf(root, sizeof(root), "%s/root", f->tmp);
    snprintf(empty, sizeof(empty), "%s/empty", root);
    snprintf(full, sizeof(full), "%s/full", root);
    snprintf(file, sizeof(file), "%s/full/file", root);
    snprintf(layout, sizeof(layout), "%s/layout", f->tmp);
    snprintf(o, sizeof(o), "oci:%s", layout);
    assert_int_equal(mkdir(root, 0755), 0);
    assert_int_equal(mkdir(empty, 0755), 0);
    assert_int_equal(mkdir(full, 0755), 0);
    assert_int_equal(chmod(empty, 0755), 0);
    assert_int_equal(chmod(full, 0755), 0);
    write_file(file, "x", 1, 0644);
    char digest[KILN_DIGEST_MAX] = "";
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* no cmocka in here: its handlers would run the rest of the suite */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        close(fds[0]);
        kiln_build *b = kiln_build_new();
        struct kiln_error err = { 0 };
        int rc = b ? 0 : -1;
        if (rc == 0)
            rc = kiln_build_add_rootfs(b, root, &err);
        if (rc == 0)
            rc = kiln_build_add_output(b, o, &err);
        if (rc == 0) {
            kiln_build_set_source_date_epoch(b, SDE);
            kiln_build_set_jobs(b, 1);
            rc = kiln_build_run(b, digest, &err);
        }
        ssize_t w = rc == 0 ? write(fds[1], digest, strlen(digest))
                            : write(fds[1], err.message, strlen(err.message));
        _exit(w < 0 ? 3 : rc == 0 ? 0 : 2);
    }
    close(fds[1]);
    char msg[KILN_ERROR_MESSAGE_MAX + 1];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(msg) - 1 && (r = read(fds[0], msg + n, sizeof(msg) - 1 - n)) > 0)
        n += (size_t)r;
    msg[n] = '\0';
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        fail_msg("a build of a tree with an empty directory crashed (signal %d)", WTERMSIG(st));
    if (WEXITSTATUS(st) == 2)
        fail_msg("a build of a tree with an empty directory failed: %s", msg);
    if (WEXITSTATUS(st) != 0)
        fail_msg("a build of a tree with an empty directory died (exit status %d)",
                 WEXITSTATUS(st));
    assert_true(kiln_digest_valid(msg));

    /* the layer holds empty/, full/, full/file, in that order */
    char *mp = blob_path(layout, msg);
    json_t *man = read_json(mp);
    free(mp);
    char *lp = blob_path(layout, json_string_value(json_object_get(
                                     json_array_get(json_object_get(man, "layers"), 0), "digest")));
    size_t len;
    unsigned char *tar = gunzip_file(lp, &len);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, tar, len), ARCHIVE_OK);
    struct archive_entry *ae;
    static const char *const names[] = { "empty/", "full/", "full/file" };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        assert_int_equal(archive_read_next_header(a, &ae), ARCHIVE_OK);
        assert_string_equal(archive_entry_pathname(ae), names[i]);
    }
    assert_int_equal(archive_read_next_header(a, &ae), ARCHIVE_EOF);
    archive_read_free(a);
    free(tar);
    free(lp);
    json_decref(man);
}

static void test_tarball_input(void **state)
{
    /* the layer of a tree, fed back as --tar, gives the same layer */
    struct fx *f = *state;
    char *root = make_tree(f->tmp, "root", "key=value\n");
    char *l1 = pjoin(f->tmp, "l1"), *l2 = pjoin(f->tmp, "l2");
    char *in1 = spec("d:", root, ""), *o1 = spec("oci:", l1, ""), *o2 = spec("oci:", l2, "");
    char d1[KILN_DIGEST_MAX], d2[KILN_DIGEST_MAX];
    struct kiln_error err = { 0 };
    {
        const char *inputs[] = { in1 };
        const char *outputs[] = { o1 };
        assert_int_equal(run_build(inputs, 1, outputs, 1, 2, NULL, d1, &err), 0);
    }
    char *mp = blob_path(l1, d1);
    json_t *man = read_json(mp);
    free(mp);
    const char *ld = json_string_value(
        json_object_get(json_array_get(json_object_get(man, "layers"), 0), "digest"));
    char *layer = blob_path(l1, ld);
    char *in2 = spec("t:", layer, "");
    {
        const char *inputs[] = { in2 };
        const char *outputs[] = { o2 };
        if (run_build(inputs, 1, outputs, 1, 2, NULL, d2, &err) != 0)
            fail_msg("build from tar: %s", err.message);
    }
    /* same layer; only history's created_by differs in the config */
    char *mp2 = blob_path(l2, d2);
    json_t *man2 = read_json(mp2);
    free(mp2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(man2, "layers"), 0), "digest")),
                        ld);
    json_decref(man2);
    json_decref(man);
    free(in2);
    free(layer);
    free(in1);
    free(o1);
    free(o2);
    free(l1);
    free(l2);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_build_outputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_reproducible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_build_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_build_into_existing_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_rolls_back_earlier_outputs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tarball_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
