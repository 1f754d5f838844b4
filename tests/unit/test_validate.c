/* Unit tests: image/validate.c — the checks that need no consumer: the
 * merged filesystem (whiteouts, opaque directories, symlinks, PATH), users
 * and groups, tar entries, documents and counts, on layouts written here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "unit.h"

struct ent {
    const char *path;
    char type;       /* 'f' file, 'x' executable file, 'd' dir, 'l' symlink, 'h' hardlink */
    const char *arg; /* file data, link target */
};
struct layer {
    const struct ent *e;
    size_t n;
};
#define LAYER(...)                                                           \
    {                                                                        \
        (const struct ent[]){ __VA_ARGS__ },                                 \
            sizeof((const struct ent[]){ __VA_ARGS__ }) / sizeof(struct ent) \
    }

enum {
    BAD_DIFF_ID = 1,
    EXTRA_DIFF_ID = 2,
    BAD_SIZE = 4,
    DOCKER_LAYER_MT = 8,
    DOCKER_CONFIG_MT = 16
};

struct fx {
    char tmp[64];
    char ref[128];
    struct kiln_finding *f;
    size_t n;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->tmp, sizeof(f->tmp), "%s/kiln-test-validate-XXXXXX", test_tmpdir());
    if (!mkdtemp(f->tmp))
        return -1;
    snprintf(f->ref, sizeof(f->ref), "oci:%s/img:t", f->tmp);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    kiln_findings_free(f->f, f->n);
    int rc = kiln_rm_rf(f->tmp);
    free(f);
    return rc;
}

static void put(const char *dir, const void *p, size_t n, char digest[KILN_DIGEST_MAX])
{
    assert_int_equal(kiln_sha256_buf(p, n, digest, NULL), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest + 7);
    assert_int_equal(kiln_write_file_atomic(path, p, n, NULL), 0);
}

static void layer_tar(const struct layer *l, struct kiln_buf_sink *out)
{
    kiln_buf_sink_init(out);
    struct kiln_tar_writer w;
    kiln_tar_writer_init(&w, &out->sink);
    for (size_t i = 0; i < l->n; i++) {
        const struct ent *e = &l->e[i];
        struct kiln_tar_entry te = { .path = e->path, .mode = 0644, .mtime = 1700000000 };
        switch (e->type) {
        case 'd':
            te.type = KILN_TAR_DIR;
            te.mode = 0755;
            break;
        case 'l':
            te.type = KILN_TAR_SYMLINK;
            te.linkname = e->arg;
            te.mode = 0777;
            break;
        case 'h':
            te.type = KILN_TAR_HARDLINK;
            te.linkname = e->arg;
            break;
        default:
            te.type = KILN_TAR_REG;
            te.mode = e->type == 'x' ? 0755 : 0644;
            te.size = e->arg ? strlen(e->arg) : 0;
        }
        assert_int_equal(kiln_tar_write_header(&w, &te, NULL), 0);
        if (te.type == KILN_TAR_REG && te.size)
            assert_int_equal(kiln_tar_write_data(&w, e->arg, te.size, NULL), 0);
        assert_int_equal(kiln_tar_end_entry(&w, NULL), 0);
    }
    assert_int_equal(kiln_tar_finish(&w, NULL), 0);
}

/* Writes the layout DIR/img with one image, tag "t"; config_json is the
 * image config's "config" object. */
static void image(struct fx *fx, const struct layer *layers, size_t nlayers,
                  const char *config_json, int flags)
{
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/img", fx->tmp);
    kiln_rm_rf(dir);
    char blobs[160];
    snprintf(blobs, sizeof(blobs), "%s/blobs", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkdir(blobs, 0755), 0);
    strcat(blobs, "/sha256");
    assert_int_equal(mkdir(blobs, 0755), 0);
    json_t *ids = json_array(), *jl = json_array();
    for (size_t i = 0; i < nlayers; i++) {
        struct kiln_buf_sink t;
        layer_tar(&layers[i], &t);
        char d[KILN_DIGEST_MAX];
        put(dir, t.buf.data, t.buf.len, d);
        char id[KILN_DIGEST_MAX];
        snprintf(id, sizeof(id), "%s", d);
        if ((flags & BAD_DIFF_ID) && i == nlayers - 1)
            kiln_sha256_buf("x", 1, id, NULL);
        json_array_append_new(ids, json_string(id));
        json_array_append_new(
            jl, json_pack("{s:s,s:s,s:I}", "mediaType",
                          flags & DOCKER_LAYER_MT ? "application/vnd.docker.image.rootfs.diff.tar"
                                                  : "application/vnd.oci.image.layer.v1.tar",
                          "digest", d, "size",
                          (json_int_t)t.buf.len + ((flags & BAD_SIZE) && i == 0 ? 1 : 0)));
        kiln_buf_free(&t.buf);
    }
    if (flags & EXTRA_DIFF_ID)
        json_array_append(ids, json_array_get(ids, 0));
    json_error_t je;
    json_t *cc = json_loads(config_json ? config_json : "{}", 0, &je);
    assert_non_null(cc);
    json_t *cfg = json_pack("{s:s,s:s,s:{s:s,s:o},s:o}", "architecture", "amd64", "os", "linux",
                            "rootfs", "type", "layers", "diff_ids", ids, "config", cc);
    char *cs = json_dumps(cfg, JSON_COMPACT);
    char cd[KILN_DIGEST_MAX];
    put(dir, cs, strlen(cs), cd);
    json_t *m = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType",
                          KILN_MT_OCI_MANIFEST, "config", "mediaType",
                          flags & DOCKER_CONFIG_MT ? KILN_MT_DOCKER_CONFIG : KILN_MT_OCI_CONFIG,
                          "digest", cd, "size", (json_int_t)strlen(cs), "layers", jl);
    char *ms = json_dumps(m, JSON_COMPACT);
    char md[KILN_DIGEST_MAX];
    put(dir, ms, strlen(ms), md);
    json_t *idx = json_pack("{s:i,s:[{s:s,s:s,s:I,s:{s:s}}]}", "schemaVersion", 2, "manifests",
                            "mediaType", KILN_MT_OCI_MANIFEST, "digest", md, "size",
                            (json_int_t)strlen(ms), "annotations", KILN_ANNOT_REF_NAME, "t");
    char *is = json_dumps(idx, JSON_COMPACT);
    char path[256];
    snprintf(path, sizeof(path), "%s/index.json", dir);
    assert_int_equal(kiln_write_file_atomic(path, is, strlen(is), NULL), 0);
    snprintf(path, sizeof(path), "%s/oci-layout", dir);
    assert_int_equal(kiln_write_file_atomic(path, "{\"imageLayoutVersion\":\"1.0.0\"}", 30, NULL),
                     0);
    free(cs);
    free(ms);
    free(is);
    json_decref(cfg);
    json_decref(m);
    json_decref(idx);
}

static void validate(struct fx *fx)
{
    kiln_findings_free(fx->f, fx->n);
    fx->f = NULL;
    fx->n = 0;
    struct kiln_error err = { 0 };
    int rc = kiln_validate(fx->ref, NULL, NULL, &fx->f, &fx->n, &err);
    if (rc < 0)
        fail_msg("kiln_validate: %s", err.message);
}

/* The findings of one check and severity whose where contains `where`. */
static size_t count(const struct fx *fx, enum kiln_severity sev, const char *check,
                    const char *where)
{
    size_t k = 0;
    for (size_t i = 0; i < fx->n; i++)
        if (fx->f[i].severity == sev && !strcmp(fx->f[i].check, check) &&
            (!where || strstr(fx->f[i].where, where)))
            k++;
    return k;
}

static void print_findings(const struct fx *fx)
{
    for (size_t i = 0; i < fx->n; i++)
        print_message("  %s %s [%s] %s\n", fx->f[i].severity ? "warning" : "error", fx->f[i].check,
                      fx->f[i].where, fx->f[i].message);
}

#define ASSERT_CLEAN(fx)              \
    do {                              \
        if ((fx)->n)                  \
            print_findings(fx);       \
        assert_int_equal((fx)->n, 0); \
    } while (0)

#define BASE                                                                              \
    LAYER({ "bin", 'd', NULL }, { "bin/app", 'x', "#!/bin/app\n" }, { "etc", 'd', NULL }, \
          { "etc/passwd", 'f', "root:x:0:0::/:/bin/app\napp:x:1000:1000::/:/bin/app\n" }, \
          { "etc/group", 'f', "root:x:0:\nstaff:x:50:\n" })

static void test_clean(void **state)
{
    struct fx *fx = *state;
    struct layer l[] = { BASE };
    image(fx, l, 1,
          "{\"Entrypoint\":[\"/bin/app\"],\"User\":\"app:staff\",\"WorkingDir\":\"/srv\"}", 0);
    validate(fx);
    ASSERT_CLEAN(fx);
}

static void test_whiteout_removes_entrypoint(void **state)
{
    struct fx *fx = *state;
    struct layer l[] = { BASE, LAYER({ "bin/.wh.app", 'f', NULL }) };
    image(fx, l, 2, "{\"Entrypoint\":[\"/bin/app\"]}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "command", "Entrypoint[0]"), 1);
}

static void test_opaque_applies_to_lower_layers_only(void **state)
{
    struct fx *fx = *state;
    /* the opaque marker hides bin/app of layer 0, not bin/new of its own layer */
    struct layer l[] = { BASE, LAYER({ "bin", 'd', NULL }, { "bin/.wh..wh..opq", 'f', NULL },
                                     { "bin/new", 'x', "new" }) };
    image(fx, l, 2, "{\"Entrypoint\":[\"/bin/new\"]}", 0);
    validate(fx);
    ASSERT_CLEAN(fx);
    image(fx, l, 2, "{\"Entrypoint\":[\"/bin/app\"]}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "command", NULL), 1);
}

static void test_symlinks_and_path(void **state)
{
    struct fx *fx = *state;
    struct layer l[] = {
        BASE, LAYER({ "usr", 'd', NULL }, { "usr/bin", 'd', NULL },
                    { "usr/bin/rel", 'l', "../../bin/app" }, { "usr/bin/abs", 'l', "/bin/app" },
                    { "usr/bin/loop", 'l', "loop" }, { "usr/bin/data", 'f', "not executable" },
                    { "sbin", 'l', "usr/bin" })
    };
    image(fx, l, 2, "{\"Cmd\":[\"rel\"],\"Env\":[\"PATH=/nope:/usr/bin\"]}", 0);
    validate(fx);
    ASSERT_CLEAN(fx);
    image(fx, l, 2, "{\"Entrypoint\":[\"/sbin/abs\"]}", 0);
    validate(fx);
    ASSERT_CLEAN(fx);
    /* no PATH in the image: docker's default one, which has /usr/bin */
    image(fx, l, 2, "{\"Cmd\":[\"abs\"]}", 0);
    validate(fx);
    ASSERT_CLEAN(fx);
    image(fx, l, 2, "{\"Entrypoint\":[\"/usr/bin/loop\"]}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "command", NULL), 1);
    image(fx, l, 2, "{\"Entrypoint\":[\"/usr/bin/data\"]}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "command", NULL), 1);
    assert_non_null(strstr(fx->f[0].message, "not executable"));
    image(fx, l, 2, "{\"Entrypoint\":[\"/usr/bin\"]}", 0);
    validate(fx);
    assert_non_null(strstr(fx->f[0].message, "not a regular file"));
    image(fx, l, 2, "{\"Cmd\":[\"data\"],\"Env\":[\"PATH=/usr/bin\"]}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "command", NULL), 1);
    image(fx, l, 2, "{}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "command", "Entrypoint/Cmd"), 1);
}

/* Entries written over a symlinked directory land where it points (merged
 * /usr), whiteouts too (umoci#254); missing parents are implicit. */
static void test_symlinked_dirs_and_implicit_parents(void **state)
{
    struct fx *fx = *state;
    struct layer l[] = { LAYER({ "usr", 'd', NULL }, { "usr/bin", 'd', NULL },
                               { "usr/bin/app", 'x', "a" }, { "bin", 'l', "usr/bin" }),
                         LAYER({ "bin/tool", 'x', "t" }, { "opt/x/run", 'x', "r" }) };
    image(fx, l, 2, "{\"Entrypoint\":[\"/usr/bin/tool\"]}", 0);
    validate(fx);
    ASSERT_CLEAN(fx);
    image(fx, l, 2, "{\"Entrypoint\":[\"/opt/x/run\"]}", 0);
    validate(fx);
    ASSERT_CLEAN(fx);
    struct layer w[] = { l[0], LAYER({ "bin/.wh.app", 'f', NULL }, { "bin/l", 'h', "bin/app" }) };
    image(fx, w, 2, "{\"Entrypoint\":[\"/usr/bin/app\"]}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "command", NULL), 1);
    /* the hardlink's target was whited out before it, in its own layer */
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "hardlink", "bin/l"), 1);
    struct layer h[] = { l[0], LAYER({ "bin/l", 'h', "bin/app" }) };
    image(fx, h, 2, "{\"Entrypoint\":[\"/usr/bin/l\"]}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "hardlink", "bin/l"), 1);
    assert_int_equal(fx->n, 1);
}

static void test_users_and_groups(void **state)
{
    struct fx *fx = *state;
    struct layer l[] = { BASE };
    const char *ok[] = { "app", "app:staff", "1000", "4321:4321", "root:0", "app:50" };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        char cfg[128];
        snprintf(cfg, sizeof(cfg), "{\"Entrypoint\":[\"/bin/app\"],\"User\":\"%s\"}", ok[i]);
        image(fx, l, 1, cfg, 0);
        validate(fx);
        ASSERT_CLEAN(fx);
    }
    image(fx, l, 1, "{\"Entrypoint\":[\"/bin/app\"],\"User\":\"ap\"}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "user", NULL), 1);
    image(fx, l, 1, "{\"Entrypoint\":[\"/bin/app\"],\"User\":\"app:wheel\"}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "user", NULL), 1);
    /* a passwd file whited out above is gone */
    struct layer l2[] = { BASE, LAYER({ "etc/.wh.passwd", 'f', NULL }) };
    image(fx, l2, 2, "{\"Entrypoint\":[\"/bin/app\"],\"User\":\"app\"}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "user", NULL), 1);
    /* and one replaced above is the one that counts */
    struct layer l3[] = { BASE, LAYER({ "etc/passwd", 'f', "other:x:7:7::/:/bin/app\n" }) };
    image(fx, l3, 2, "{\"Entrypoint\":[\"/bin/app\"],\"User\":\"other\"}", 0);
    validate(fx);
    ASSERT_CLEAN(fx);
    image(fx, l3, 2, "{\"Entrypoint\":[\"/bin/app\"],\"User\":\"app\"}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "user", NULL), 1);
}

static void test_workdir(void **state)
{
    struct fx *fx = *state;
    struct layer l[] = { BASE };
    image(fx, l, 1, "{\"Entrypoint\":[\"/bin/app\"],\"WorkingDir\":\"srv\"}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "workdir", NULL), 1);
    image(fx, l, 1, "{\"Entrypoint\":[\"/bin/app\"],\"WorkingDir\":\"/etc/passwd\"}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "workdir", NULL), 1);
    /* a relative command with a slash is looked up from the working directory */
    image(fx, l, 1, "{\"Entrypoint\":[\"./app\"],\"WorkingDir\":\"/bin\"}", 0);
    validate(fx);
    ASSERT_CLEAN(fx);
}

static void test_tar_entries(void **state)
{
    struct fx *fx = *state;
    const char *cfg = "{\"Entrypoint\":[\"/bin/app\"]}";
    /* hardlinks: to an earlier entry (fine); to a lower layer's file (a
     * warning: overlay2 cannot make it); to nowhere, to a directory, with
     * '..' (errors) */
    struct layer ok[] = { BASE, LAYER({ "bin/same", 'x', "x" }, { "bin/l1", 'h', "bin/same" },
                                      { "bin/l2", 'h', "bin/app" }) };
    image(fx, ok, 2, cfg, 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "hardlink", ": bin/l2"), 1);
    assert_int_equal(fx->n, 1);
    struct layer bad[] = { BASE, LAYER({ "bin/l0", 'h', "bin/later" }, { "bin/later", 'x', "x" },
                                       { "bin/l1", 'h', "bin" }, { "bin/l2", 'h', "../bin/app" }) };
    image(fx, bad, 2, cfg, 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "hardlink", "layer 1 ("), 3);
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "hardlink", ": bin/l0"), 1);
    /* names */
    struct layer names[] = { BASE, LAYER({ "a/../../x", 'f', "x" }, { "/abs", 'f', "x" },
                                         { "dup", 'f', "1" }, { "dup", 'f', "2" },
                                         { "etc/.wh.", 'f', NULL }, { "etc/.wh.x", 'f', "data" },
                                         { "etc/.wh..wh.plnk", 'f', NULL }) };
    image(fx, names, 2, cfg, 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "layer-path", "a/../../x"), 1);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "layer-path", "/abs"), 1);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "layer-path", "dup"), 1);
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "whiteout", "etc/.wh."), 1);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "whiteout", "etc/.wh.x"), 1);
    assert_int_equal(fx->n, 5);
    /* a whiteout of its own layer's entry: warned, and the entry gone (as
     * docker and containerd do it) */
    struct layer own[] = { BASE, LAYER({ "bin/new", 'x', "n" }, { "bin/.wh.new", 'f', NULL }) };
    image(fx, own, 2, "{\"Entrypoint\":[\"/bin/new\"]}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "whiteout", "bin/.wh.new"), 1);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "command", NULL), 1);
}

static void test_documents(void **state)
{
    struct fx *fx = *state;
    const char *cfg = "{\"Entrypoint\":[\"/bin/app\"]}";
    struct layer l[] = { BASE };
    image(fx, l, 1, cfg, BAD_DIFF_ID);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "diff-id", "layer 0"), 1);
    image(fx, l, 1, cfg, EXTRA_DIFF_ID);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "layer-count", NULL), 1);
    image(fx, l, 1, cfg, BAD_SIZE);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "blob-size", "layer 0"), 1);
    image(fx, l, 1, cfg, DOCKER_LAYER_MT);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_WARNING, "media-type", NULL), 1);
    assert_int_equal(fx->n, 1);
    image(fx, l, 1, cfg, DOCKER_CONFIG_MT);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "media-type", NULL), 1);
    image(fx, l, 1, "{\"Entrypoint\":\"/bin/app\",\"User\":7}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "config", "Entrypoint"), 1);
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "config", "User"), 1);
}

static void test_layer_limit(void **state)
{
    struct fx *fx = *state;
    struct layer l[129];
    static struct ent e[129];
    static char names[129][8];
    l[0] = (struct layer)BASE;
    for (size_t i = 1; i < 129; i++) {
        snprintf(names[i], sizeof(names[i]), "f%03zu", i);
        e[i] = (struct ent){ names[i], 'f', "x" };
        l[i] = (struct layer){ &e[i], 1 };
    }
    image(fx, l, 128, "{\"Entrypoint\":[\"/bin/app\"]}", 0);
    validate(fx);
    ASSERT_CLEAN(fx);
    image(fx, l, 129, "{\"Entrypoint\":[\"/bin/app\"]}", 0);
    validate(fx);
    assert_int_equal(count(fx, KILN_SEVERITY_ERROR, "layer-count", "manifest layers"), 1);
}

static void test_unreadable_source(void **state)
{
    struct fx *fx = *state;
    /* no layout at all: one finding that names the path, not a failure */
    validate(fx);
    assert_int_equal(fx->n, 1);
    assert_int_equal(fx->f[0].severity, KILN_SEVERITY_ERROR);
    assert_string_equal(fx->f[0].check, "read");
    assert_non_null(strstr(fx->f[0].message, fx->tmp));
    /* a malformed REF is a usage error */
    struct kiln_finding *f = NULL;
    size_t n = 0;
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_validate("nope:x", NULL, NULL, &f, &n, &err), -1);
    assert_int_equal(err.code, KILN_ERR_USAGE);
    assert_null(f);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_clean),
        T(test_whiteout_removes_entrypoint),
        T(test_opaque_applies_to_lower_layers_only),
        T(test_symlinks_and_path),
        T(test_symlinked_dirs_and_implicit_parents),
        T(test_users_and_groups),
        T(test_workdir),
        T(test_tar_entries),
        T(test_documents),
        T(test_layer_limit),
        T(test_unreadable_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
