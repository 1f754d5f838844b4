/* Unit tests: image/flatten.c — the merge of layers into one tree: whiteouts,
 * opaque directories, replacements, hardlinks whose targets go, symlinked
 * parents, and the order and bytes of the tar written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "image/flatten.h"
#include "internal.h"
#include "unit.h"

/* A layer, one entry a string: "f PATH MODE UID CONTENT", "d PATH MODE",
 * "l PATH TARGET" (symlink), "h PATH TARGET" (hardlink); NULL ends it. A
 * whiteout is an "f" entry named .wh.NAME. */
static char *write_layer(const char *const *spec)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/kiln-flatten-XXXXXX", test_tmpdir()) > 0);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    struct kiln_fd_sink out;
    kiln_fd_sink_init(&out, fd, path);
    struct kiln_tar_writer w;
    kiln_tar_writer_init(&w, &out.sink);
    struct kiln_error err = { 0 };
    for (; *spec; spec++) {
        char kind, p[256] = "", a[256] = "", c[256] = "";
        unsigned mode = 0644, uid = 0;
        int n = sscanf(*spec, "%c %255s", &kind, p);
        assert_int_equal(n, 2);
        struct kiln_tar_entry e = { .path = p, .mtime = 1 };
        if (kind == 'f') {
            sscanf(*spec, "%*c %*s %o %u %255s", &mode, &uid, c);
            e.type = KILN_TAR_REG;
            e.size = strlen(c);
        } else if (kind == 'd') {
            sscanf(*spec, "%*c %*s %o", &mode);
            e.type = KILN_TAR_DIR;
        } else {
            sscanf(*spec, "%*c %*s %255s", a);
            e.type = kind == 'l' ? KILN_TAR_SYMLINK : KILN_TAR_HARDLINK;
            e.linkname = a;
        }
        e.mode = mode;
        e.uid = e.gid = uid;
        assert_int_equal(kiln_tar_write_header(&w, &e, &err), 0);
        if (e.size)
            assert_int_equal(kiln_tar_write_data(&w, c, e.size, &err), 0);
        assert_int_equal(kiln_tar_end_entry(&w, &err), 0);
    }
    assert_int_equal(kiln_tar_finish(&w, &err), 0);
    close(fd);
    return path;
}

/* Flattens the layers; returns 0 and the tar as lines "TYPE PATH MODE UID
 * [CONTENT|=>TARGET]" in *out, or -1 and the error. */
static int flatten(const char *const *const *layers, size_t n, char **out, struct kiln_error *err)
{
    struct kiln_src s = { .kind = KILN_SRC_LAYOUT, .spec = "oci:test" };
    struct kiln_image im = { 0 };
    struct kiln_layer ly[8];
    memset(ly, 0, sizeof(ly));
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        snprintf(ly[i].digest, sizeof(ly[i].digest), "sha256:layer%zu", i);
        ly[i].path = write_layer(layers[i]);
    }
    im.layers = ly;
    im.nlayers = n;
    s.images = &im;
    s.nimages = 1;
    struct kiln_buf_sink bs;
    kiln_buf_sink_init(&bs);
    struct kiln_tar_writer w;
    kiln_tar_writer_init(&w, &bs.sink);
    int rc = kiln_flatten_write(&s, &w, err);
    if (rc == 0)
        rc = kiln_tar_finish(&w, err);
    for (size_t i = 0; i < n; i++) {
        unlink(ly[i].path);
        free(ly[i].path);
    }
    *out = NULL;
    if (rc < 0) {
        kiln_buf_free(&bs.buf);
        return rc;
    }
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, bs.buf.data, bs.buf.len), ARCHIVE_OK);
    struct kiln_buf txt = { 0 };
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *hl = archive_entry_hardlink(e), *sl = archive_entry_symlink(e);
        char data[256] = "";
        la_ssize_t k = archive_read_data(a, data, sizeof(data) - 1);
        data[k > 0 ? k : 0] = '\0';
        char t = hl                                      ? 'h'
                 : archive_entry_filetype(e) == AE_IFDIR ? 'd'
                 : archive_entry_filetype(e) == AE_IFLNK ? 'l'
                                                         : 'f';
        kiln_buf_printf(&txt, NULL, "%c %s %o %d%s%s%s\n", t, archive_entry_pathname(e),
                        (unsigned)archive_entry_perm(e), (int)archive_entry_uid(e),
                        hl || sl ? " =>"
                        : *data  ? " "
                                 : "",
                        hl   ? hl
                        : sl ? sl
                             : "",
                        data);
    }
    archive_read_free(a);
    kiln_buf_free(&bs.buf);
    *out = txt.data ? txt.data : strdup("");
    return 0;
}

#define LAYERS(...) ((const char *const *const[]){ __VA_ARGS__ })
#define L(...)      ((const char *const[]){ __VA_ARGS__, NULL })

static void expect(const char *const *const *layers, size_t n, const char *want)
{
    struct kiln_error err = { 0 };
    char *got;
    int rc = flatten(layers, n, &got, &err);
    if (rc < 0)
        fail_msg("flatten failed: %s", err.message);
    assert_string_equal(got, want);
    free(got);
}

static void test_whiteout_and_replace(void **state)
{
    (void)state;
    expect(LAYERS(L("d a 755", "f a/x 644 0 x", "f a/y 644 0 y", "f b 600 5 b"),
                  L("f a/.wh.x 644 0", "f b 640 6 B")),
           2,
           "d a/ 755 0\n"
           "f a/y 644 0 y\n"
           "f b 640 6 B\n");
}

static void test_whiteout_of_a_directory(void **state)
{
    (void)state;
    expect(LAYERS(L("d a 755", "d a/sub 700", "f a/sub/x 644 0 x"), L("f a/.wh.sub 644 0")), 2,
           "d a/ 755 0\n");
}

static void test_opaque_keeps_its_own_layer(void **state)
{
    (void)state;
    /* the marker after an entry of its own layer: that entry stays */
    expect(LAYERS(L("d o 755", "f o/old 644 0 old", "d o/deep 755", "f o/deep/z 644 0 z"),
                  L("d o 750", "f o/new 644 0 new", "f o/.wh..wh..opq 644 0")),
           2,
           "d o/ 750 0\n"
           "f o/new 644 0 new\n");
}

static void test_aufs_metadata_ignored(void **state)
{
    (void)state;
    expect(LAYERS(L("f k 644 0 k"), L("f .wh..wh.plnk 644 0", "f .wh..wh.aufs 644 0")), 2,
           "f k 644 0 k\n");
}

static void test_hardlink_target_removed(void **state)
{
    (void)state;
    /* the content stays with the names that are left: the first of them in
     * path order gets the data, the others link to it */
    expect(LAYERS(L("f t 644 3 data", "h l2 t", "h l1 t"), L("f .wh.t 644 0")), 2,
           "f l1 644 3 data\n"
           "h l2 644 3 =>l1\n");
}

static void test_hardlink_target_replaced(void **state)
{
    (void)state;
    expect(LAYERS(L("f t 644 0 old", "h l t"), L("f t 644 0 new")), 2,
           "f l 644 0 old\n"
           "f t 644 0 new\n");
}

static void test_hardlink_to_a_lower_layer(void **state)
{
    (void)state;
    expect(LAYERS(L("f t 644 0 x"), L("h u t")), 2,
           "f t 644 0 x\n"
           "h u 644 0 =>t\n");
}

static void test_hardlink_to_nothing(void **state)
{
    (void)state;
    struct kiln_error err = { 0 };
    char *got;
    assert_int_equal(flatten(LAYERS(L("f a 644 0 a"), L("h b missing")), 2, &got, &err), -1);
    assert_non_null(strstr(err.message, "hardlink 'b' to 'missing'"));
    assert_non_null(strstr(err.message, "sha256:layer1"));
}

static void test_file_over_directory(void **state)
{
    (void)state;
    expect(LAYERS(L("d a 755", "f a/x 644 0 x"), L("f a 644 0 file")), 2, "f a 644 0 file\n");
    expect(LAYERS(L("f a 644 0 file"), L("d a 700", "f a/x 644 0 x")), 2,
           "d a/ 700 0\n"
           "f a/x 644 0 x\n");
}

static void test_through_a_symlinked_parent(void **state)
{
    (void)state;
    /* as a runtime's extraction does: the entry lands in the link's target */
    expect(LAYERS(L("d usr 755", "d usr/bin 755", "l bin usr/bin"), L("f bin/tool 755 0 t")), 2,
           "d usr/ 755 0\n"
           "d usr/bin/ 755 0\n"
           "l bin 644 0 =>usr/bin\n"
           "f usr/bin/tool 755 0 t\n");
}

static void test_implicit_parents(void **state)
{
    (void)state;
    expect(LAYERS(L("f x/y/z 644 0 z")), 1,
           "d x/ 755 0\n"
           "d x/y/ 755 0\n"
           "f x/y/z 644 0 z\n");
}

static void test_directory_metadata_from_the_top_layer(void **state)
{
    (void)state;
    /* written once, where its first child needs it, with the last layer's mode */
    expect(LAYERS(L("d a 755", "f a/x 644 0 x"), L("d a 700 ")), 2,
           "d a/ 700 0\n"
           "f a/x 644 0 x\n");
}

static void test_not_a_directory(void **state)
{
    (void)state;
    struct kiln_error err = { 0 };
    char *got;
    assert_int_equal(flatten(LAYERS(L("f a 644 0 a"), L("f a/b 644 0 b")), 2, &got, &err), -1);
    assert_non_null(strstr(err.message, "not a directory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whiteout_and_replace),
        cmocka_unit_test(test_whiteout_of_a_directory),
        cmocka_unit_test(test_opaque_keeps_its_own_layer),
        cmocka_unit_test(test_aufs_metadata_ignored),
        cmocka_unit_test(test_hardlink_target_removed),
        cmocka_unit_test(test_hardlink_target_replaced),
        cmocka_unit_test(test_hardlink_to_a_lower_layer),
        cmocka_unit_test(test_hardlink_to_nothing),
        cmocka_unit_test(test_file_over_directory),
        cmocka_unit_test(test_through_a_symlinked_parent),
        cmocka_unit_test(test_implicit_parents),
        cmocka_unit_test(test_directory_metadata_from_the_top_layer),
        cmocka_unit_test(test_not_a_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
