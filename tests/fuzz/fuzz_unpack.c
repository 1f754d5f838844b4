/*
 * kiln unpack: applying layers (and their whiteouts) from an image nobody
 * vetted to a directory. The layers are the input; nothing may land, change
 * or vanish outside the destination.
 *
 * Input: up to four layer blobs separated by "--kiln-layer--" (each a tar,
 * compressed or not: libarchive detects it). They become a one-image OCI
 * layout (index.json -> manifest -> config, real digests) in a scratch
 * directory, and kiln_unpack applies it to JAIL/work/out.
 *
 * Escapes are crashes: JAIL holds sentinels next to the destination
 * (JAIL/work/sibling-*) and one level up (JAIL/outside-*), with known
 * contents, modes and times. After every input they must be unchanged,
 * nothing else may appear in JAIL or JAIL/work (a failed unpack leaves no
 * temporary directory), and only then is JAIL/work/out removed.
 * (The fuzzer usually runs as root: ownership, devices and xattrs are
 * applied for real, inside the scratch directory.)
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"

#define SENTINEL_TIME 1000000000
#define MAXLAYERS 4

static char layout[4096], jail[4096], work[4096], out[4096];
static const char sentinel_text[] = "kiln fuzz sentinel\n";

static void sentinel_file(const char *path)
{
    fz_write_file(path, sentinel_text, strlen(sentinel_text));
    struct timespec t[2] = {{SENTINEL_TIME, 0}, {SENTINEL_TIME, 0}};
    if (chmod(path, 0640) < 0 || utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW) < 0)
        abort();
}

static void sentinel_dir(const char *path)
{
    char keep[4200];
    fz_mkdir(path);
    snprintf(keep, sizeof(keep), "%s/keep", path);
    fz_mkdir(keep);
    struct timespec t[2] = {{SENTINEL_TIME, 0}, {SENTINEL_TIME, 0}};
    if (chmod(keep, 0750) < 0 || chmod(path, 0750) < 0 ||
        utimensat(AT_FDCWD, keep, t, AT_SYMLINK_NOFOLLOW) < 0 ||
        utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW) < 0)
        abort();
}

static void fail(const char *what, const char *path)
{
    fprintf(stderr, "kiln fuzz: after kiln_unpack: %s: %s\n", path, what);
    abort();
}

static void check_node(const char *path, mode_t type, mode_t perm)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        fail("removed", path);
    if ((st.st_mode & S_IFMT) != type || (st.st_mode & 07777) != perm)
        fail("type or mode changed", path);
    if (st.st_uid != geteuid() || st.st_gid != getegid())
        fail("owner changed", path);
    if (st.st_mtime != SENTINEL_TIME)
        fail("mtime changed", path);
    if (type == S_IFREG) {
        struct kiln_buf b = {0};
        if (kiln_read_file(path, 1 << 20, &b, NULL) < 0 || b.len != strlen(sentinel_text) ||
            memcmp(b.data, sentinel_text, b.len))
            fail("contents changed", path);
        kiln_buf_free(&b);
        if (st.st_nlink != 1)
            fail("hard-linked", path);
    }
}

static void check_dir_sentinel(const char *path)
{
    char keep[4200];
    snprintf(keep, sizeof(keep), "%s/keep", path);
    check_node(keep, S_IFDIR, 0750);
    /* nothing added: a directory's mtime changes when an entry is added */
    check_node(path, S_IFDIR, 0750);
    DIR *d = opendir(keep);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            fail("entry added", keep);
    if (d)
        closedir(d);
}

/* Only the names listed (NULL-terminated) may be in dir. */
static void check_only(const char *dir, const char *const *names, bool allow_out)
{
    DIR *d = opendir(dir);
    if (!d)
        fail("removed", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        bool ok = allow_out && !strcmp(de->d_name, "out");
        for (const char *const *n = names; !ok && *n; n++)
            ok = !strcmp(de->d_name, *n);
        if (!ok) {
            char p[8300];
            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            fail("unexpected entry", p);
        }
    }
    closedir(d);
}

static void check_jail(bool unpacked)
{
    char p[4200];
    static const char *const jail_names[] = {"outside-file", "outside-dir", "work", NULL};
    static const char *const work_names[] = {"sibling-file", "sibling-dir", NULL};
    check_only(jail, jail_names, false);
    check_only(work, work_names, unpacked);
    snprintf(p, sizeof(p), "%s/outside-file", jail);
    check_node(p, S_IFREG, 0640);
    snprintf(p, sizeof(p), "%s/outside-dir", jail);
    check_dir_sentinel(p);
    snprintf(p, sizeof(p), "%s/sibling-file", work);
    check_node(p, S_IFREG, 0640);
    snprintf(p, sizeof(p), "%s/sibling-dir", work);
    check_dir_sentinel(p);
    struct stat st;
    if (lstat(jail, &st) < 0 || st.st_mtime != SENTINEL_TIME)
        fail("entries changed", jail);
    if (unpacked && (lstat(out, &st) < 0 || !S_ISDIR(st.st_mode)))
        fail("kiln_unpack succeeded without a directory", out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    char p[4200];
    fz_path(layout, "layout");
    fz_path(jail, "jail");
    fz_mkdir(jail);
    snprintf(work, sizeof(work), "%s/work", jail);
    fz_mkdir(work);
    snprintf(out, sizeof(out), "%s/out", work);
    snprintf(p, sizeof(p), "%s/outside-file", jail);
    sentinel_file(p);
    snprintf(p, sizeof(p), "%s/outside-dir", jail);
    sentinel_dir(p);
    snprintf(p, sizeof(p), "%s/sibling-file", work);
    sentinel_file(p);
    snprintf(p, sizeof(p), "%s/sibling-dir", work);
    sentinel_dir(p);
    struct timespec t[2] = {{SENTINEL_TIME, 0}, {SENTINEL_TIME, 0}};
    if (utimensat(AT_FDCWD, jail, t, AT_SYMLINK_NOFOLLOW) < 0)
        abort();
    check_jail(false);
    return 0;
}

static void write_blob(const void *p, size_t n, char digest[KILN_DIGEST_MAX])
{
    char path[4200];
    fz_digest(p, n, digest);
    snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, digest + 7);
    fz_write_file(path, p, n);
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
    struct kiln_buf man = {0}, cfg = {0};
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
    struct kiln_buf idx = {0};
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
    struct kiln_error err = {0};
    int rc = kiln_unpack(spec, out, NULL, NULL, &err);
    fz_debug("kiln_unpack", rc, &err);
    if (rc < 0 && !err.message[0])
        abort();
    check_jail(rc == 0);
    fz_rm_rf(out);
    return 0;
}
