/* Unit tests: tar/diff.c — changesets between two trees, whiteouts, opaque
 * markers, type changes, hardlink groups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "internal.h"
#include "unit.h"

#define T0 1000000000 /* every mtime, unless a test says otherwise */

/* ---- fixture: OLD and NEW below a temp dir ------------------------------ */

struct fx {
    char tmp[64];
    char old[96], new_[96];
    struct kiln_buf warnings;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->tmp, sizeof(f->tmp), "%s/kiln-test-diff-XXXXXX", test_tmpdir());
    if (!mkdtemp(f->tmp)) {
        free(f);
        return -1;
    }
    snprintf(f->old, sizeof(f->old), "%s/old", f->tmp);
    snprintf(f->new_, sizeof(f->new_), "%s/new", f->tmp);
    if (mkdir(f->old, 0755) < 0 || mkdir(f->new_, 0755) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int rc = kiln_rm_rf(f->tmp);
    kiln_buf_free(&f->warnings);
    free(f);
    return rc;
}

static char *at(const char *root, const char *rel)
{
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, sizeof(bufs[0]), "%s/%s", root, rel);
    return b;
}

static void mkdir_(const char *root, const char *rel, mode_t mode)
{
    assert_int_equal(mkdir(at(root, rel), mode), 0);
    assert_int_equal(chmod(at(root, rel), mode), 0);
}

static void file_(const char *root, const char *rel, mode_t mode, const char *content)
{
    int fd = open(at(root, rel), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    size_t n = strlen(content);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    assert_int_equal(chmod(at(root, rel), mode), 0);
}

static void symlink_(const char *root, const char *rel, const char *target)
{
    assert_int_equal(symlink(target, at(root, rel)), 0);
}

static void link_(const char *root, const char *existing, const char *rel)
{
    assert_int_equal(link(at(root, existing), at(root, rel)), 0);
}

static void set_mtime(const char *path, int64_t t)
{
    struct timespec ts[2] = {{(time_t)t, 0}, {(time_t)t, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* Gives everything below (and including) dir the mtime t. */
static void set_times(const char *dir, int64_t t)
{
    char **names;
    size_t n;
    struct kiln_error err = {0};
    assert_int_equal(kiln_walk_list_dir(dir, &names, &n, &err), 0);
    for (size_t i = 0; i < n; i++) {
        char *p = kiln_path_join(dir, names[i], &err);
        struct stat st;
        assert_int_equal(lstat(p, &st), 0);
        if (S_ISDIR(st.st_mode))
            set_times(p, t);
        else
            set_mtime(p, t);
        free(p);
    }
    kiln_walk_names_free(names, n);
    set_mtime(dir, t);
}

static void both_times(struct fx *f)
{
    set_times(f->old, T0);
    set_times(f->new_, T0);
}

/* ---- running a diff and reading it back -------------------------------- */

static void on_log(void *ud, enum kiln_log_level level, const char *msg)
{
    struct fx *f = ud;
    if (level == KILN_LOG_WARNING)
        assert_int_equal(kiln_buf_printf(&f->warnings, NULL, "%s\n", msg), 0);
}

struct got {
    char *list; /* one "TYPE path[>target]" a line */
    struct kiln_buf raw;
};

static void got_free(struct got *g)
{
    free(g->list);
    kiln_buf_free(&g->raw);
}

/* One line per member: "d a", "f a/x", "l a/l>target", "h a/y>a/x", "c dev 1,3". */
static char *listing(const struct kiln_buf *raw)
{
    struct archive *a = archive_read_new();
    assert_non_null(a);
    assert_int_equal(archive_read_support_format_tar(a), ARCHIVE_OK);
    assert_int_equal(archive_read_open_memory(a, raw->data, raw->len), ARCHIVE_OK);
    struct kiln_buf out = {0};
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(e);
        const char *hl = archive_entry_hardlink(e);
        char ty = '?';
        switch (archive_entry_filetype(e)) {
        case AE_IFREG: ty = hl ? 'h' : 'f'; break;
        case AE_IFDIR: ty = 'd'; break;
        case AE_IFLNK: ty = 'l'; break;
        case AE_IFCHR: ty = 'c'; break;
        case AE_IFBLK: ty = 'b'; break;
        case AE_IFIFO: ty = 'p'; break;
        default: ty = hl ? 'h' : '?'; break;
        }
        size_t plen = strlen(p);
        if (ty == 'd' && plen > 1 && p[plen - 1] == '/')
            plen--; /* kiln writes directories as "name/" */
        assert_int_equal(kiln_buf_printf(&out, NULL, "%c %.*s", ty, (int)plen, p), 0);
        if (hl)
            assert_int_equal(kiln_buf_printf(&out, NULL, ">%s", hl), 0);
        else if (ty == 'l')
            assert_int_equal(kiln_buf_printf(&out, NULL, ">%s", archive_entry_symlink(e)), 0);
        else if (ty == 'c' || ty == 'b')
            assert_int_equal(kiln_buf_printf(&out, NULL, " %u,%u", (unsigned)archive_entry_rdevmajor(e),
                                             (unsigned)archive_entry_rdevminor(e)),
                             0);
        assert_int_equal(kiln_buf_append(&out, "\n", 1, NULL), 0);
    }
    assert_int_equal(r, ARCHIVE_EOF);
    archive_read_free(a);
    if (!out.data)
        assert_int_equal(kiln_buf_append(&out, "", 0, NULL), 0);
    return out.data ? out.data : strdup("");
}

static struct kiln_layer_opts opts(struct fx *f)
{
    return (struct kiln_layer_opts){.xattrs = true, .log = on_log, .log_userdata = f};
}

static void diff_with(struct fx *f, const struct kiln_layer_opts *o, struct got *g)
{
    struct kiln_buf_sink bs;
    kiln_buf_sink_init(&bs);
    struct kiln_tar_writer w;
    kiln_tar_writer_init(&w, &bs.sink);
    struct kiln_error err = {0};
    int rc = kiln_layer_from_diff(f->old, f->new_, o, &w, &err);
    if (rc != 0)
        fail_msg("kiln_layer_from_diff: %s", err.message);
    assert_int_equal(kiln_tar_finish(&w, &err), 0);
    g->raw = bs.buf;
    g->list = listing(&g->raw);
}

static void diff(struct fx *f, struct got *g)
{
    struct kiln_layer_opts o = opts(f);
    diff_with(f, &o, g);
}

/* Asserts the member list (lines joined) and frees the result. */
static void expect(struct fx *f, const char *want)
{
    struct got g = {0};
    diff(f, &g);
    assert_string_equal(g.list, want);
    got_free(&g);
}

/* The header of the member named path, from a raw archive. */
struct hdr {
    int found;
    unsigned mode, type;
    int64_t uid, gid, size, mtime;
};
static struct hdr header_of(const struct kiln_buf *raw, const char *path)
{
    struct hdr h = {0};
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, raw->data, raw->len), ARCHIVE_OK);
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        if (strcmp(archive_entry_pathname(e), path))
            continue;
        h.found = 1;
        h.mode = archive_entry_perm(e);
        h.type = archive_entry_filetype(e);
        h.uid = archive_entry_uid(e);
        h.gid = archive_entry_gid(e);
        h.size = archive_entry_size(e);
        h.mtime = archive_entry_mtime(e);
        break;
    }
    archive_read_free(a);
    return h;
}

/* ---- the cases ---------------------------------------------------------- */

static void test_added_file(void **state)
{
    struct fx *f = *state;
    mkdir_(f->old, "etc", 0755);
    file_(f->old, "etc/keep", 0644, "keep");
    mkdir_(f->new_, "etc", 0755);
    file_(f->new_, "etc/keep", 0644, "keep");
    file_(f->new_, "etc/new", 0640, "new file");
    mkdir_(f->new_, "opt", 0755);
    mkdir_(f->new_, "opt/app", 0700);
    file_(f->new_, "opt/app/run", 0755, "#!/bin/sh");
    both_times(f);
    /* etc is written (unchanged) because something below it is, like docker */
    expect(f, "d etc\n"
              "f etc/new\n"
              "d opt\n"
              "d opt/app\n"
              "f opt/app/run\n");
}

static void test_removed_file(void **state)
{
    struct fx *f = *state;
    mkdir_(f->old, "etc", 0755);
    file_(f->old, "etc/gone", 0644, "gone");
    file_(f->old, "etc/keep", 0644, "keep");
    file_(f->old, "top-gone", 0644, "x");
    mkdir_(f->new_, "etc", 0755);
    file_(f->new_, "etc/keep", 0644, "keep");
    both_times(f);
    set_mtime(f->new_, T0 + 5);
    struct got g = {0};
    diff(f, &g);
    assert_string_equal(g.list, "f .wh.top-gone\n"
                                "d etc\n"
                                "f etc/.wh.gone\n");
    /* the conventional whiteout header: empty regular file, mode 0, 0:0,
     * the mtime of the NEW directory holding it */
    struct hdr h = header_of(&g.raw, "etc/.wh.gone");
    assert_true(h.found);
    assert_int_equal(h.type, AE_IFREG);
    assert_int_equal(h.mode, 0);
    assert_int_equal(h.uid, 0);
    assert_int_equal(h.gid, 0);
    assert_int_equal(h.size, 0);
    assert_int_equal(h.mtime, T0);
    h = header_of(&g.raw, ".wh.top-gone");
    assert_int_equal(h.mtime, T0 + 5);
    got_free(&g);
}

static void test_removed_dir(void **state)
{
    struct fx *f = *state;
    mkdir_(f->old, "a", 0755);
    mkdir_(f->old, "a/d", 0755);
    mkdir_(f->old, "a/d/sub", 0755);
    file_(f->old, "a/d/1", 0644, "1");
    file_(f->old, "a/d/sub/2", 0644, "2");
    file_(f->old, "a/k", 0644, "k");
    mkdir_(f->new_, "a", 0755);
    file_(f->new_, "a/k", 0644, "k");
    both_times(f);
    expect(f, "d a\n"
              "f a/.wh.d\n");
}

static void test_nested_parents(void **state)
{
    struct fx *f = *state;
    const char *dirs[] = {"a", "a/b", "a/b/c", "z"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        mkdir_(f->old, dirs[i], 0755);
        mkdir_(f->new_, dirs[i], 0755);
    }
    file_(f->old, "a/b/c/f", 0644, "old");
    file_(f->new_, "a/b/c/f", 0644, "new");
    file_(f->old, "z/same", 0644, "same");
    file_(f->new_, "z/same", 0644, "same");
    both_times(f);
    expect(f, "d a\n"
              "d a/b\n"
              "d a/b/c\n"
              "f a/b/c/f\n");
}

static void test_content_same_size_same_mtime(void **state)
{
    struct fx *f = *state;
    mkdir_(f->old, "d", 0755);
    mkdir_(f->new_, "d", 0755);
    file_(f->old, "d/conf", 0644, "value=1");
    file_(f->new_, "d/conf", 0644, "value=2");
    file_(f->old, "d/same", 0644, "identical, other inode");
    file_(f->new_, "d/same", 0644, "identical, other inode");
    file_(f->old, "d/empty", 0644, "");
    file_(f->new_, "d/empty", 0644, "");
    both_times(f);
    expect(f, "d d\n"
              "f d/conf\n");
}

static void test_big_file_differs_late(void **state)
{
    struct fx *f = *state;
    size_t n = 3 * 256 * 1024 + 77; /* several compare chunks */
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    memset(buf, 'a', n);
    buf[n] = '\0';
    file_(f->old, "big", 0644, buf);
    file_(f->new_, "same-big", 0644, buf);
    file_(f->old, "same-big", 0644, buf);
    buf[n - 1] = 'b';
    file_(f->new_, "big", 0644, buf);
    free(buf);
    both_times(f);
    expect(f, "f big\n");
}

static void test_mode_owner_mtime(void **state)
{
    struct fx *f = *state;
    const char *names[] = {"mode", "suid", "owner", "mtime", "clamped"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        file_(f->old, names[i], 0755, "same");
        file_(f->new_, names[i], 0755, "same");
    }
    assert_int_equal(chmod(at(f->new_, "mode"), 0750), 0);
    assert_int_equal(chmod(at(f->new_, "suid"), 04755), 0);
    mkdir_(f->old, "dmode", 0755);
    mkdir_(f->new_, "dmode", 0700);
    bool root = getuid() == 0;
    if (root) {
        assert_int_equal(lchown(at(f->new_, "owner"), 1234, 5678), 0);
        symlink_(f->old, "lowner", "t");
        symlink_(f->new_, "lowner", "t");
        assert_int_equal(lchown(at(f->new_, "lowner"), 42, 42), 0);
    }
    both_times(f);
    set_mtime(at(f->new_, "mtime"), T0 + 100);
    set_mtime(at(f->old, "clamped"), T0 + 100);
    set_mtime(at(f->new_, "clamped"), T0 + 200);
    const char *want_root = "f clamped\n"
                            "d dmode\n"
                            "l lowner>t\n"
                            "f mode\n"
                            "f mtime\n"
                            "f owner\n"
                            "f suid\n";
    const char *want_user = "f clamped\n"
                            "d dmode\n"
                            "f mode\n"
                            "f mtime\n"
                            "f suid\n";
    expect(f, root ? want_root : want_user);

    /* with SOURCE_DATE_EPOCH clamping, mtimes past it compare equal, and an
     * mtime change alone below it is still a change */
    struct kiln_layer_opts o = opts(f);
    o.clamp_mtime = true;
    o.clamp_to = T0 + 50;
    struct got g = {0};
    diff_with(f, &o, &g);
    assert_string_equal(g.list, root ? "d dmode\n"
                                       "l lowner>t\n"
                                       "f mode\n"
                                       "f mtime\n"
                                       "f owner\n"
                                       "f suid\n"
                                     : "d dmode\n"
                                       "f mode\n"
                                       "f mtime\n"
                                       "f suid\n");
    struct hdr h = header_of(&g.raw, "mtime");
    assert_int_equal(h.mtime, T0 + 50);
    got_free(&g);
    o.clamp_to = T0 - 1; /* everything clamped: only metadata and content count */
    diff_with(f, &o, &g);
    assert_string_equal(g.list, root ? "d dmode\n"
                                       "l lowner>t\n"
                                       "f mode\n"
                                       "f owner\n"
                                       "f suid\n"
                                     : "d dmode\n"
                                       "f mode\n"
                                       "f suid\n");
    got_free(&g);
}

static void test_symlink_xattr_fifo_device(void **state)
{
    struct fx *f = *state;
    symlink_(f->old, "retarget", "a");
    symlink_(f->new_, "retarget", "b");
    symlink_(f->old, "same", "a");
    symlink_(f->new_, "same", "a");
    file_(f->old, "xa", 0644, "x");
    file_(f->new_, "xa", 0644, "x");
    assert_int_equal(mkfifo(at(f->old, "fifo"), 0644), 0);
    assert_int_equal(mkfifo(at(f->new_, "fifo"), 0644), 0);
    bool xattrs = setxattr(at(f->old, "xa"), "user.k", "v1", 2, 0) == 0;
    if (xattrs)
        assert_int_equal(setxattr(at(f->new_, "xa"), "user.k", "v2", 2, 0), 0);
    bool root = getuid() == 0;
    if (root) {
        assert_int_equal(mknod(at(f->old, "dev"), S_IFCHR | 0666, makedev(1, 3)), 0);
        assert_int_equal(mknod(at(f->new_, "dev"), S_IFCHR | 0666, makedev(1, 5)), 0);
    }
    both_times(f);
    struct kiln_buf want = {0};
    if (root)
        assert_int_equal(kiln_buf_printf(&want, NULL, "c dev 1,5\n"), 0);
    assert_int_equal(kiln_buf_printf(&want, NULL, "l retarget>b\n"), 0);
    if (xattrs)
        assert_int_equal(kiln_buf_printf(&want, NULL, "f xa\n"), 0);
    expect(f, want.data);
    kiln_buf_free(&want);

    if (xattrs) { /* xattrs not kept: not compared either */
        struct kiln_layer_opts o = opts(f);
        o.xattrs = false;
        struct got g = {0};
        diff_with(f, &o, &g);
        assert_string_equal(g.list, root ? "c dev 1,5\nl retarget>b\n" : "l retarget>b\n");
        got_free(&g);
    }
}

static void test_unchanged_tree_is_empty(void **state)
{
    struct fx *f = *state;
    const char *roots[] = {f->old, f->new_};
    for (int k = 0; k < 2; k++) {
        const char *r = roots[k];
        mkdir_(r, "usr", 0755);
        mkdir_(r, "usr/bin", 0755);
        file_(r, "usr/bin/tool", 04755, "tool");
        link_(r, "usr/bin/tool", "usr/bin/tool2");
        symlink_(r, "bin", "usr/bin");
        mkdir_(r, "empty", 0700);
        assert_int_equal(mkfifo(at(r, "fifo"), 0600), 0);
    }
    both_times(f);
    struct got g = {0};
    diff(f, &g);
    assert_string_equal(g.list, "");
    assert_int_equal(g.raw.len, 1024); /* just the two end blocks */
    for (size_t i = 0; i < g.raw.len; i++)
        assert_int_equal(g.raw.data[i], 0);
    got_free(&g);

    /* the same tree against itself, and trees sharing inodes (cp -al) */
    memcpy(f->new_, f->old, sizeof(f->old));
    diff(f, &g);
    assert_string_equal(g.list, "");
    got_free(&g);
}

static void test_shared_inodes(void **state)
{
    struct fx *f = *state;
    file_(f->old, "shared", 0644, "one inode in both trees");
    link_(f->old, "shared", "../new/shared");
    file_(f->old, "changed", 0644, "old");
    link_(f->old, "changed", "../new/changed");
    both_times(f);
    /* written through the NEW path: the same inode, so the OLD path changes
     * too and there is no difference left */
    file_(f->new_, "changed", 0644, "new");
    set_times(f->new_, T0);
    expect(f, "");
}

static void test_dir_to_symlink(void **state)
{
    struct fx *f = *state;
    /* merged /usr: bin becomes a symlink to usr/bin */
    mkdir_(f->old, "bin", 0755);
    file_(f->old, "bin/sh", 0755, "sh");
    mkdir_(f->old, "bin/sub", 0755);
    file_(f->old, "bin/sub/x", 0644, "x");
    mkdir_(f->old, "usr", 0755);
    mkdir_(f->old, "usr/bin", 0755);
    file_(f->old, "usr/bin/env", 0755, "env");
    symlink_(f->new_, "bin", "usr/bin");
    mkdir_(f->new_, "usr", 0755);
    mkdir_(f->new_, "usr/bin", 0755);
    file_(f->new_, "usr/bin/env", 0755, "env");
    file_(f->new_, "usr/bin/sh", 0755, "sh");
    both_times(f);
    expect(f, "l bin>usr/bin\n"
              "d usr\n"
              "d usr/bin\n"
              "f usr/bin/sh\n");
}

static void test_symlink_to_dir(void **state)
{
    struct fx *f = *state;
    mkdir_(f->old, "usr", 0755);
    mkdir_(f->old, "usr/lib", 0755);
    file_(f->old, "usr/lib/libc", 0644, "libc");
    symlink_(f->old, "lib", "usr/lib");
    file_(f->old, "was-file", 0644, "file");
    symlink_(f->old, "was-link", "x");
    mkdir_(f->new_, "usr", 0755);
    mkdir_(f->new_, "usr/lib", 0755);
    file_(f->new_, "usr/lib/libc", 0644, "libc");
    mkdir_(f->new_, "lib", 0755);
    file_(f->new_, "lib/libc", 0644, "libc");
    mkdir_(f->new_, "lib/sub", 0750);
    file_(f->new_, "lib/sub/deep", 0600, "deep");
    mkdir_(f->new_, "was-file", 0755);
    file_(f->new_, "was-file/in", 0644, "in");
    file_(f->new_, "was-link", 0644, "now a file");
    both_times(f);
    expect(f, "d lib\n"
              "f lib/libc\n"
              "d lib/sub\n"
              "f lib/sub/deep\n"
              "d was-file\n"
              "f was-file/in\n"
              "f was-link\n");
}

static void test_opaque_marker_first(void **state)
{
    struct fx *f = *state;
    mkdir_(f->old, "d", 0755);
    file_(f->old, "d/a", 0644, "a");
    mkdir_(f->old, "d/b", 0755);
    file_(f->old, "d/b/c", 0644, "c");
    mkdir_(f->new_, "d", 0755);
    file_(f->new_, "d/-x", 0644, "sorts before .wh.");
    file_(f->new_, "d/0", 0644, "so does this");
    mkdir_(f->new_, "d/z", 0755);
    file_(f->new_, "d/z/in", 0644, "in");
    /* a directory emptied: whiteouts, not an opaque marker */
    mkdir_(f->old, "e", 0755);
    file_(f->old, "e/1", 0644, "1");
    file_(f->old, "e/2", 0644, "2");
    mkdir_(f->new_, "e", 0755);
    both_times(f);
    expect(f, "d d\n"
              "f d/.wh..wh..opq\n"
              "f d/-x\n"
              "f d/0\n"
              "d d/z\n"
              "f d/z/in\n"
              "d e\n"
              "f e/.wh.1\n"
              "f e/.wh.2\n");
}

static void test_opaque_at_root(void **state)
{
    struct fx *f = *state;
    file_(f->old, "a", 0644, "a");
    file_(f->new_, "b", 0644, "b");
    both_times(f);
    expect(f, "f .wh..wh..opq\n"
              "f b\n");
}

static void test_whiteout_order(void **state)
{
    struct fx *f = *state;
    mkdir_(f->old, "d", 0755);
    mkdir_(f->new_, "d", 0755);
    file_(f->old, "d/-x", 0644, "old");
    file_(f->new_, "d/-x", 0644, "new");
    file_(f->old, "d/0gone", 0644, "");
    file_(f->old, "d/zgone", 0644, "");
    mkdir_(f->old, "d/-dir", 0755);
    file_(f->old, "d/-dir/in", 0644, "");
    file_(f->new_, "d/-added", 0644, "");
    file_(f->old, "d/keep", 0644, "keep");
    file_(f->new_, "d/keep", 0644, "keep");
    both_times(f);
    expect(f, "d d\n"
              "f d/.wh.-dir\n"
              "f d/.wh.0gone\n"
              "f d/.wh.zgone\n"
              "f d/-added\n"
              "f d/-x\n");
}

static void test_hardlink_group_kept_whole(void **state)
{
    struct fx *f = *state;
    const char *roots[] = {f->old, f->new_};
    for (int k = 0; k < 2; k++) {
        const char *r = roots[k];
        mkdir_(r, "a", 0755);
        mkdir_(r, "b", 0755);
        mkdir_(r, "c", 0755);
        file_(r, "a/one", 0755, "the group");
        link_(r, "a/one", "b/two");
        link_(r, "a/one", "c/three");
        file_(r, "c/other", 0644, "other");
    }
    /* one member more in NEW: the whole group is written */
    mkdir_(f->new_, "d", 0755);
    link_(f->new_, "a/one", "d/four");
    both_times(f);
    expect(f, "d a\n"
              "f a/one\n"
              "d b\n"
              "h b/two>a/one\n"
              "d c\n"
              "h c/three>a/one\n"
              "d d\n"
              "h d/four>a/one\n");
}

static void test_hardlink_group_member_changed(void **state)
{
    struct fx *f = *state;
    const char *roots[] = {f->old, f->new_};
    for (int k = 0; k < 2; k++) {
        const char *r = roots[k];
        mkdir_(r, "x", 0755);
        file_(r, "x/a", 0644, k ? "new" : "old");
        link_(r, "x/a", "x/b");
        link_(r, "x/a", "y");
        file_(r, "z", 0644, "z");
    }
    both_times(f);
    expect(f, "d x\n"
              "f x/a\n"
              "h x/b>x/a\n"
              "h y>x/a\n");
}

static void test_hardlink_topology(void **state)
{
    struct fx *f = *state;
    /* linked in NEW only */
    file_(f->old, "l1", 0644, "same");
    file_(f->old, "l2", 0644, "same");
    file_(f->new_, "l1", 0644, "same");
    link_(f->new_, "l1", "l2");
    /* linked in OLD only */
    file_(f->old, "u1", 0644, "same");
    link_(f->old, "u1", "u2");
    file_(f->new_, "u1", 0644, "same");
    file_(f->new_, "u2", 0644, "same");
    /* a member removed: the rest stays linked, nothing to write but a whiteout */
    file_(f->old, "r1", 0644, "same");
    link_(f->old, "r1", "r2");
    link_(f->old, "r1", "r3");
    file_(f->new_, "r1", 0644, "same");
    link_(f->new_, "r1", "r2");
    both_times(f);
    expect(f, "f .wh.r3\n"
              "f l1\n"
              "h l2>l1\n"
              "f u1\n"
              "f u2\n");
}

static void test_sockets(void **state)
{
    struct fx *f = *state;
    const char *paths[] = {"new/sock", "new/was-file", "old/gone-sock", "old/both", "new/both"};
    for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(s >= 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", f->tmp, paths[i]);
        assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(s);
    }
    file_(f->old, "was-file", 0644, "file");
    file_(f->old, "keep", 0644, "keep");
    file_(f->new_, "keep", 0644, "keep");
    both_times(f);
    expect(f, "f .wh.was-file\n");
    assert_non_null(f->warnings.data);
    assert_non_null(strstr(f->warnings.data, "new/sock: skipping socket"));
    assert_non_null(strstr(f->warnings.data, "new/was-file: skipping socket"));
    assert_null(strstr(f->warnings.data, "both"));
}

static void test_errors(void **state)
{
    struct fx *f = *state;
    struct kiln_buf_sink bs;
    kiln_buf_sink_init(&bs);
    struct kiln_tar_writer w;
    kiln_tar_writer_init(&w, &bs.sink);
    struct kiln_layer_opts o = opts(f);
    struct kiln_error err = {0};
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/missing", f->tmp);
    assert_int_equal(kiln_layer_from_diff(missing, f->new_, &o, &w, &err), -1);
    assert_int_equal(err.code, KILN_ERR_INPUT);
    assert_non_null(strstr(err.message, missing));
    file_(f->tmp, "file", 0644, "");
    assert_int_equal(kiln_layer_from_diff(f->old, at(f->tmp, "file"), &o, &w, &err), -1);
    assert_non_null(strstr(err.message, "not a directory"));
    o.prefix = "dest";
    assert_int_equal(kiln_layer_from_diff(f->old, f->new_, &o, &w, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    o = opts(f);
    if (getuid() != 0) { /* root reads anything */
        mkdir_(f->new_, "closed", 0000);
        assert_int_equal(kiln_layer_from_diff(f->old, f->new_, &o, &w, &err), -1);
        assert_non_null(strstr(err.message, "closed"));
        chmod(at(f->new_, "closed"), 0755);
    }
    kiln_buf_free(&bs.buf);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_added_file),
        T(test_removed_file),
        T(test_removed_dir),
        T(test_nested_parents),
        T(test_content_same_size_same_mtime),
        T(test_big_file_differs_late),
        T(test_mode_owner_mtime),
        T(test_symlink_xattr_fifo_device),
        T(test_unchanged_tree_is_empty),
        T(test_shared_inodes),
        T(test_dir_to_symlink),
        T(test_symlink_to_dir),
        T(test_opaque_marker_first),
        T(test_opaque_at_root),
        T(test_whiteout_order),
        T(test_hardlink_group_kept_whole),
        T(test_hardlink_group_member_changed),
        T(test_hardlink_topology),
        T(test_sockets),
        T(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
