/*
 * kiln_attach, kiln_referrers, kiln_copy_referrers: referrers kept in an OCI
 * layout, an oci-archive or a registry (docs/referrers.md).
 *
 * Layouts: an artifact manifest is an untagged entry of index.json (with its
 * artifactType, so that readers can tell it from an image), never a platform
 * of an index. Its blobs enter blobs/sha256 under the layout's lock, as
 * every writer's do (image/layout.h).
 * Archives: extracted, changed as a layout, written again beside the file
 * and renamed over it; writers of one archive take a kiln lock (below).
 * Registries: the manifest is pushed by digest; when the registry answers
 * with OCI-Subject it has indexed it for the referrers API, else kiln adds
 * the descriptor to the list at the fallback tag sha256-<hex>, a
 * read-modify-write that kiln processes serialise with a lock. Registries
 * without conditional PUT (distribution 2.8) still let another tool's
 * concurrent update lose an entry: the docs say so.
 *
 * kiln locks: a file kiln-locks/<sha256 of the key>.lock (lock_dir says
 * where) flock(2)ed exclusively. The files stay (removing a lock file lets a waiter lock the
 * old inode while a newcomer locks a new one); every path out of a locked
 * section closes the descriptor, which releases the lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../base/sink.h"
#include "../copy.h"
#include "../digest/sha256.h"
#include "../image/config.h"
#include "../image/layout.h"
#include "../image/source.h"
#include "../image/transport.h"
#include "../registry/registry.h"
#include "../tar/tar.h"
#include "referrers.h"

void kiln_attach_opts_init_size(struct kiln_attach_opts *o, size_t size)
{
    struct kiln_attach_opts d = { .size = sizeof(d) };
    d.size = size < sizeof(d) ? size : sizeof(d);
    memcpy(o, &d, d.size);
}

/* ---- kiln locks ----------------------------------------------------------- */

/* The directory of kiln's lock files: $XDG_RUNTIME_DIR/kiln-locks (the
 * user's runtime directory, made for such files), else
 * $TMPDIR/kiln-locks-UID, which must be the user's own directory. */
static char *lock_dir(struct kiln_error *err)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    struct kiln_buf b = { 0 };
    if (xdg && xdg[0] == '/') {
        if (kiln_buf_printf(&b, err, "%s/kiln-locks", xdg) < 0)
            return NULL;
        if (mkdir(b.data, 0700) < 0 && errno != EEXIST)
            kiln_buf_free(&b); /* a runtime directory kiln cannot write: TMPDIR's */
    }
    if (!b.data &&
        kiln_buf_printf(&b, err, "%s/kiln-locks-%u", kiln_tmpdir(), (unsigned)getuid()) < 0)
        return NULL;
    struct stat sb;
    if (mkdir(b.data, 0700) < 0 && errno != EEXIST) {
        kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create kiln's lock directory",
                        b.data);
        kiln_buf_free(&b);
        return NULL;
    }
    if (lstat(b.data, &sb) < 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != getuid()) {
        kiln_fail(err, KILN_ERR_OUTPUT,
                  "%s: kiln's lock directory is not a directory of this user; remove it", b.data);
        kiln_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Returns the locked descriptor (close it to unlock), or -1 with err set. */
static int key_lock(const char *key, struct kiln_error *err)
{
    char d[KILN_DIGEST_MAX];
    if (kiln_sha256_buf(key, strlen(key), d, err) < 0)
        return -1;
    char name[64];
    snprintf(name, sizeof(name), "%.32s.lock", d + 7);
    _cleanup_free_ char *dir = lock_dir(err);
    _cleanup_free_ char *p = dir ? kiln_path_join(dir, name, err) : NULL;
    if (!p)
        return -1;
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno,
                               "%s: cannot create the lock for %s (set TMPDIR)", p, key);
    while (flock(fd, LOCK_EX) < 0) {
        int e = errno;
        if (e == EINTR && kiln_check_interrupt(err) == 0)
            continue;
        close(fd);
        return e == EINTR ? -1 : kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "%s: cannot lock", p);
    }
    return fd;
}

/* ---- files ---------------------------------------------------------------- */

/* Copies src to a new file dst, hashing what it copies. */
static int copy_hashing(const char *src, const char *dst, char digest[KILN_DIGEST_MAX],
                        uint64_t *size, struct kiln_error *err)
{
    _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", src);
    struct stat st;
    if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode))
        return kiln_fail(err, KILN_ERR_INPUT, "%s: not a regular file", src);
    _cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", dst);
    struct kiln_sha256 h;
    if (kiln_sha256_init(&h, err) < 0)
        return -1;
    char buf[65536];
    uint64_t n = 0;
    int rc = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: read", src);
            break;
        }
        if (r == 0)
            break;
        kiln_sha256_update(&h, buf, (size_t)r);
        n += (uint64_t)r;
        if ((rc = kiln_write_all(out, buf, (size_t)r, dst, err)) < 0)
            break;
    }
    if (rc < 0) {
        kiln_sha256_free(&h);
        unlink(dst);
        return -1;
    }
    kiln_sha256_final(&h, digest);
    *size = n;
    return 0;
}

static char *blob_path(const char *layout, const char *digest, struct kiln_error *err)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest + 7);
    return kiln_path_join(layout, rel, err);
}

/* A layout's document, checked against its digest. */
static int layout_doc(const char *layout, const char *digest, struct kiln_buf *out,
                      struct kiln_error *err)
{
    if (!kiln_digest_valid(digest))
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: index.json names a bad digest", layout);
    _cleanup_free_ char *p = blob_path(layout, digest, err);
    char d[KILN_DIGEST_MAX];
    kiln_buf_free(out);
    if (!p || kiln_read_file(p, KILN_REFERRER_DOC_MAX, out, err) < 0 ||
        kiln_sha256_buf(out->data, out->len, d, err) < 0)
        return -1;
    if (strcmp(d, digest))
        return kiln_fail(err, KILN_ERR_INPUT, "%s: the bytes hash to %s; the layout is damaged", p,
                         d);
    return 0;
}

static json_t *layout_index(const char *layout, struct kiln_error *err)
{
    _cleanup_free_ char *p = kiln_path_join(layout, "index.json", err);
    struct kiln_buf b = { 0 };
    if (!p || kiln_read_file(p, KILN_REFERRER_DOC_MAX, &b, err) < 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, 0, &je);
    kiln_buf_free(&b);
    if (!j || !json_is_array(json_object_get(j, "manifests"))) {
        json_decref(j);
        kiln_fail(err, KILN_ERR_FORMAT, "%s is not an OCI image index", p);
        return NULL;
    }
    return j;
}

/* ---- stores --------------------------------------------------------------- */

struct rblob {
    char digest[KILN_DIGEST_MAX];
    uint64_t size;
    char *path;                  /* a verified file of ours, or */
    const struct kiln_buf *data; /* bytes */
};

struct store {
    enum kiln_transport kind;
    const char *spec;
    char *layout;  /* oci:; the extracted oci-archive: (src->layout) */
    char *archive; /* oci-archive: the file being rewritten */
    struct kiln_src *src;
    struct kiln_registry *reg; /* src->reg or own_reg */
    struct kiln_registry *own_reg;
    const char *repo;
    struct kiln_reference ref;
    char *tmpdir; /* files in transit */
    unsigned ntmp;
    int lock; /* an archive's kiln lock */
    bool dirty;
    kiln_log_fn log;
    void *log_ud;
};

static void store_init(struct store *st, const char *spec, const struct kiln_remote_opts *o)
{
    memset(st, 0, sizeof(*st));
    st->spec = spec;
    st->lock = -1;
    st->log = o->log;
    st->log_ud = o->log_userdata;
}

static int store_tmp(struct store *st, char **path, struct kiln_error *err)
{
    if (!st->tmpdir) {
        _cleanup_free_ char *t = kiln_path_join(kiln_tmpdir(), "kiln-ref-XXXXXX", err);
        if (!t)
            return -1;
        if (!mkdtemp(t))
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create (set TMPDIR)",
                                   t);
        st->tmpdir = TAKE_PTR(t);
    }
    char name[32];
    snprintf(name, sizeof(name), "f%u", st->ntmp++);
    return (*path = kiln_path_join(st->tmpdir, name, err)) ? 0 : -1;
}

static void store_free(struct store *st)
{
    if (st->tmpdir)
        kiln_rm_rf(st->tmpdir);
    free(st->tmpdir);
    kiln_src_free(st->src);
    kiln_registry_close(st->own_reg);
    kiln_reference_free(&st->ref);
    if (!st->src)
        free(st->layout);
    free(st->archive);
    if (st->lock >= 0)
        close(st->lock); /* the archive's lock goes last, after its rewrite */
    memset(st, 0, sizeof(*st));
    st->lock = -1;
}

/* The key of an archive's kiln lock: its real path. */
static int archive_lock(const char *file, struct kiln_error *err)
{
    char *real = realpath(file, NULL);
    struct kiln_buf key = { 0 };
    int rc = kiln_buf_printf(&key, err, "oci-archive:%s", real ? real : file);
    free(real);
    int fd = rc == 0 ? key_lock(key.data, err) : -1;
    kiln_buf_free(&key);
    return fd;
}

/* Opens spec as a store. With subject, spec names an image that is opened
 * (its digest is the subject's); without, only the place is (a copy's
 * destination). */
static int store_open(struct store *st, const char *spec, bool subject, bool writing,
                      const struct kiln_remote_opts *o, struct kiln_error *err)
{
    store_init(st, spec, o);
    struct kiln_spec t;
    if (kiln_spec_parse(spec, NULL, &t, err) < 0)
        return -1;
    st->kind = t.kind;
    int rc = 0;
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, writing ? o->dest_creds : o->src_creds, &ro);
    if (t.kind == KILN_TRANSPORT_DOCKER_ARCHIVE && writing)
        rc = kiln_fail(err, KILN_ERR_USAGE,
                       "%s: a docker-archive cannot hold referrers (docker save has no place "
                       "for them); use oci:, oci-archive: or docker://",
                       spec);
    if (rc == 0 && t.kind == KILN_TRANSPORT_OCI_ARCHIVE && writing) {
        /* the lock first: the archive read must be the one rewritten */
        if ((st->lock = archive_lock(t.path, err)) < 0)
            rc = -1;
        else if (!(st->archive = kiln_strdup(t.path, err)))
            rc = -1;
    }
    if (rc == 0 && (subject || t.kind == KILN_TRANSPORT_OCI_ARCHIVE ||
                    t.kind == KILN_TRANSPORT_DOCKER_ARCHIVE))
        rc = kiln_src_open_ex(spec, NULL, 0, &ro, &st->src, err);
    if (rc == 0 && st->src && st->src->layout)
        st->layout = st->src->layout;
    if (rc == 0 && st->src && st->src->reg) {
        st->reg = st->src->reg;
        st->repo = st->src->ref.path;
    }
    if (rc == 0 && !st->src && t.kind == KILN_TRANSPORT_OCI)
        st->layout = TAKE_PTR(t.path);
    if (rc == 0 && !st->src && t.kind == KILN_TRANSPORT_DOCKER) {
        st->ref = t.ref;
        memset(&t.ref, 0, sizeof(t.ref));
        rc = kiln_registry_open(st->ref.domain, &ro, &st->own_reg, err);
        st->reg = st->own_reg;
        st->repo = st->ref.path;
    }
    kiln_spec_free(&t);
    return rc;
}

/* The subject a store was opened by: the index or image the spec names. */
static void store_subject(const struct store *st, const char **mt, const char **digest,
                          uint64_t *size)
{
    const struct kiln_src *s = st->src;
    if (s->is_index) {
        *mt = s->index_media_type;
        *digest = s->index_digest;
        *size = s->index.len;
    } else {
        *mt = s->images[0].media_type;
        *digest = s->images[0].manifest_digest;
        *size = s->images[0].manifest.len;
    }
}

/* The referrers of subject at the store, as a referrers list. *how says
 * where they were found. */
static int store_list(struct store *st, const char *subject, const char *artifact_type,
                      json_t **out, const char **how, struct kiln_error *err)
{
    *out = NULL;
    if (st->kind == KILN_TRANSPORT_DOCKER_ARCHIVE) {
        *how = "docker-archive (no referrers)";
        return (*out = kiln_referrers_index_new()) ? 0 : kiln_oom(err);
    }
    if (st->layout) {
        *how = "layout";
        json_t *idx = layout_index(st->layout, err), *list = kiln_referrers_index_new();
        int rc = idx && list ? 0 : list ? -1 : kiln_oom(err);
        size_t i;
        json_t *e;
        struct kiln_buf doc = { 0 };
        json_array_foreach(rc == 0 ? json_object_get(idx, "manifests") : NULL, i, e)
        {
            const char *mt = json_string_value(json_object_get(e, "mediaType"));
            const char *dg = json_string_value(json_object_get(e, "digest"));
            if (!mt || strcmp(mt, KILN_MT_OCI_MANIFEST))
                continue; /* referrers kiln reads are OCI manifests */
            char sub[KILN_DIGEST_MAX];
            json_t *d = NULL;
            if ((rc = layout_doc(st->layout, dg, &doc, err)) < 0)
                break;
            struct kiln_error e2;
            if (kiln_referrer_descriptor(doc.data, doc.len, &d, sub, &e2) < 0)
                continue; /* an image, not a referrer */
            if (!strcmp(sub, subject) && kiln_referrers_index_add(list, d, err) < 0)
                rc = -1;
            json_decref(d);
            if (rc < 0)
                break;
        }
        kiln_buf_free(&doc);
        json_decref(idx);
        if (rc < 0) {
            json_decref(list);
            return kiln_error_prefix(err, "%s", st->spec);
        }
        kiln_referrers_index_filter(list, artifact_type);
        *out = list;
        return 0;
    }
    struct kiln_buf body = { 0 };
    bool filtered = false;
    char what[256];
    int rc = kiln_registry_get_referrers(st->reg, st->repo, subject, artifact_type, &body,
                                         &filtered, err);
    if (rc == 0) {
        *how = "referrers API";
        snprintf(what, sizeof(what), "the referrers API's answer for %s@%s", st->repo, subject);
        rc = kiln_referrers_index_parse(body.data, body.len, subject, what, out, err);
    } else if (rc == 1) {
        char tag[80], mt[128], d[KILN_DIGEST_MAX];
        *how = "fallback tag";
        rc = kiln_referrers_tag(subject, tag, err);
        int have = rc == 0 ? kiln_registry_get_manifest_if_exists(st->reg, st->repo, tag, &body, mt,
                                                                  d, err)
                           : -1;
        snprintf(what, sizeof(what), "%s:%s (the fallback tag of %s)", st->repo, tag, subject);
        if (have < 0)
            rc = -1;
        else if (have == 1 && !(*out = kiln_referrers_index_new()))
            rc = kiln_oom(err);
        else if (have == 0)
            rc = kiln_referrers_index_parse(body.data, body.len, subject, what, out, err);
    }
    kiln_buf_free(&body);
    if (rc == 0 && !filtered)
        kiln_referrers_index_filter(*out, artifact_type);
    return rc < 0 ? kiln_error_prefix(err, "%s", st->spec) : 0;
}

/* A referrer's manifest, by digest, checked. */
static int store_manifest(struct store *st, const char *digest, struct kiln_buf *out,
                          struct kiln_error *err)
{
    if (st->layout)
        return layout_doc(st->layout, digest, out, err);
    char mt[128], d[KILN_DIGEST_MAX];
    return kiln_registry_get_manifest(st->reg, st->repo, digest, out, mt, d, err);
}

/* A blob of the store as a verified file of ours in b->path. */
static int store_blob(struct store *st, struct rblob *b, struct kiln_error *err)
{
    if (store_tmp(st, &b->path, err) < 0)
        return -1;
    if (!st->layout)
        return kiln_registry_get_blob(st->reg, st->repo, b->digest, b->size, b->path, err);
    _cleanup_free_ char *p = blob_path(st->layout, b->digest, err);
    char d[KILN_DIGEST_MAX];
    uint64_t n;
    if (!p || copy_hashing(p, b->path, d, &n, err) < 0)
        return -1;
    if (strcmp(d, b->digest) || (b->size && n != b->size))
        return kiln_fail(err, KILN_ERR_INPUT,
                         "%s: %s has other bytes than its digest says; "
                         "the layout is damaged",
                         st->spec, p);
    return 0;
}

static int write_new(const char *path, const struct kiln_buf *b, struct kiln_error *err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", path);
    if (kiln_write_all(fd, b->data, b->len, path, err) < 0)
        return -1;
    if (fsync(fd) < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot write", path);
    return 0;
}

static int write_index_into(const char *layout, const char *stage, json_t *idx,
                            struct kiln_error *err)
{
    struct kiln_buf b = { 0 };
    _cleanup_free_ char *tmp = kiln_path_join(stage, "index.json.new", err);
    _cleanup_free_ char *dst = tmp ? kiln_path_join(layout, "index.json", err) : NULL;
    int rc = dst ? kiln_json_bytes(idx, &b, err) : -1;
    if (rc == 0)
        rc = write_new(tmp, &b, err);
    if (rc == 0 && rename(tmp, dst) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "cannot rename %s to %s", tmp, dst);
    kiln_buf_free(&b);
    return rc;
}

/* Under the layout's lock: the staged blobs in, the entry added. */
static int layout_merge(struct store *st, const char *stage, struct rblob *blobs, size_t n,
                        json_t *entry, bool *added, struct kiln_error *err)
{
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *from = kiln_path_join(stage, blobs[i].digest + 7, err);
        _cleanup_free_ char *to = from ? blob_path(st->layout, blobs[i].digest, err) : NULL;
        struct stat sb;
        if (!to)
            return -1;
        if (lstat(to, &sb) == 0)
            continue; /* there already (the same bytes: the name is their hash) */
        if (rename(from, to) < 0)
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "cannot rename %s to %s", from, to);
    }
    json_t *idx = layout_index(st->layout, err);
    if (!idx)
        return -1;
    json_t *ms = json_object_get(idx, "manifests");
    const char *dg = json_string_value(json_object_get(entry, "digest"));
    size_t i;
    json_t *e;
    *added = true;
    json_array_foreach(ms, i, e)
    {
        const char *x = json_string_value(json_object_get(e, "digest"));
        if (x && !strcmp(x, dg))
            *added = false;
    }
    int rc = 0;
    if (*added && json_array_append(ms, entry) < 0)
        rc = kiln_oom(err);
    if (rc == 0 && *added)
        rc = write_index_into(st->layout, stage, idx, err);
    json_decref(idx);
    return rc;
}

static int layout_put(struct store *st, struct rblob *blobs, size_t n, json_t *desc, bool *added,
                      struct kiln_error *err)
{
    struct kiln_held stage = KILN_HELD_INIT;
    _cleanup_free_ char *pre = kiln_path_join(st->layout, KILN_STAGE_PREFIX, err);
    _cleanup_free_ char *bdir = pre ? kiln_path_join(st->layout, "blobs/sha256", err) : NULL;
    if (!bdir)
        return -1;
    kiln_reclaim_stale(st->layout);
    struct stat sb;
    if (stat(bdir, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return kiln_fail(err, KILN_ERR_OUTPUT, "%s: no blobs/sha256: not an OCI layout",
                         st->layout);
    if (kiln_held_create(pre, true, &stage, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        _cleanup_free_ char *to = kiln_path_join(stage.path, blobs[i].digest + 7, err);
        if (!to)
            rc = -1;
        else if (blobs[i].data)
            rc = write_new(to, blobs[i].data, err);
        else
            rc = kiln_copy_or_link(blobs[i].path, to, err); /* our own verified file */
    }
    /* the layout's entry: untagged, with its artifactType */
    json_t *entry =
        rc == 0 ? json_pack("{s:O,s:O,s:O,s:O}", "mediaType", json_object_get(desc, "mediaType"),
                            "digest", json_object_get(desc, "digest"), "size",
                            json_object_get(desc, "size"), "artifactType",
                            json_object_get(desc, "artifactType"))
                : NULL;
    if (rc == 0 && !entry)
        rc = kiln_fail(err, KILN_ERR_FORMAT, "a referrer without an artifactType");
    if (rc == 0) {
        bool gone;
        int lk = kiln_layout_lock(st->layout, &gone, err);
        if (lk < 0)
            rc = -1;
        else {
            rc = layout_merge(st, stage.path, blobs, n, entry, added, err);
            kiln_layout_unlock(lk);
        }
    }
    json_decref(entry);
    kiln_held_release(&stage, true);
    if (rc == 0 && *added)
        st->dirty = true;
    return rc < 0 ? kiln_error_prefix(err, "%s", st->spec) : 0;
}

/* Adds desc to subject's list at the fallback tag, under a kiln lock. */
static int fallback_add(struct store *st, const char *subject, json_t *desc, bool *added,
                        struct kiln_error *err)
{
    char tag[80], mt[128], d[KILN_DIGEST_MAX], what[256];
    struct kiln_buf key = { 0 }, body = { 0 }, out = { 0 };
    json_t *list = NULL;
    int rc = kiln_referrers_tag(subject, tag, err);
    if (rc == 0)
        rc = kiln_buf_printf(&key, err, "docker://%s/%s@%s", kiln_registry_host(st->reg), st->repo,
                             subject);
    _cleanup_close_ int lk = rc == 0 ? key_lock(key.data, err) : -1;
    if (lk < 0)
        rc = -1;
    int have = rc == 0
                   ? kiln_registry_get_manifest_if_exists(st->reg, st->repo, tag, &body, mt, d, err)
                   : -1;
    snprintf(what, sizeof(what), "%s:%s (the fallback tag of %s)", st->repo, tag, subject);
    if (have < 0)
        rc = -1;
    else if (have == 1 && !(list = kiln_referrers_index_new()))
        rc = kiln_oom(err);
    else if (have == 0 &&
             kiln_referrers_index_parse(body.data, body.len, subject, what, &list, err) < 0)
        rc = kiln_error_prefix(err, "kiln leaves it alone");
    int r = rc == 0 ? kiln_referrers_index_add(list, desc, err) : -1;
    *added = r == 0;
    if (r < 0)
        rc = -1;
    if (rc == 0 && r == 0)
        rc = kiln_json_bytes(list, &out, err);
    if (rc == 0 && r == 0)
        rc = kiln_sha256_buf(out.data, out.len, d, err);
    if (rc == 0 && r == 0)
        rc = kiln_registry_put_manifest(st->reg, st->repo, tag, &out, KILN_MT_OCI_INDEX, d, err);
    json_decref(list);
    kiln_buf_free(&key);
    kiln_buf_free(&body);
    kiln_buf_free(&out);
    return rc; /* lk closes here: unlocked on every path */
}

static int registry_put(struct store *st, struct rblob *blobs, size_t n,
                        const struct kiln_buf *manifest, json_t *desc, const char *subject,
                        bool *added, const char **how, struct kiln_error *err)
{
    struct kiln_push_blob *pb = calloc(n ? n : 1, sizeof(*pb));
    if (!pb)
        return kiln_oom(err);
    for (size_t i = 0; i < n; i++) {
        snprintf(pb[i].digest, sizeof(pb[i].digest), "%s", blobs[i].digest);
        pb[i].size = blobs[i].size;
        pb[i].path = blobs[i].path;
        pb[i].data = blobs[i].data;
    }
    const char *dg = json_string_value(json_object_get(desc, "digest"));
    char got[KILN_DIGEST_MAX];
    int rc = kiln_registry_push_blobs(st->reg, st->repo, pb, n, err);
    free(pb);
    if (rc == 0)
        rc = kiln_registry_put_manifest_subject(st->reg, st->repo, dg, manifest,
                                                KILN_MT_OCI_MANIFEST, dg, got, err);
    if (rc == 0 && !strcmp(got, subject)) {
        *how = "referrers API";
        *added = true;
    } else if (rc == 0) {
        *how = "fallback tag";
        rc = fallback_add(st, subject, desc, added, err);
    }
    return rc < 0 ? kiln_error_prefix(err, "%s", st->spec) : 0;
}

/* Puts a referrer (its blobs, then its manifest) into the store. */
static int store_put(struct store *st, struct rblob *blobs, size_t n,
                     const struct kiln_buf *manifest, const char *subject, bool *added,
                     const char **how, char digest[KILN_DIGEST_MAX], struct kiln_error *err)
{
    json_t *desc = NULL;
    char sub[KILN_DIGEST_MAX];
    if (kiln_referrer_descriptor(manifest->data, manifest->len, &desc, sub, err) < 0)
        return -1;
    int rc = 0;
    if (strcmp(sub, subject))
        rc = kiln_fail(err, KILN_ERR_INTERNAL, "a referrer of %s, not of %s", sub, subject);
    if (rc == 0)
        snprintf(digest, KILN_DIGEST_MAX, "%s", json_string_value(json_object_get(desc, "digest")));
    /* the manifest is a blob of a layout too */
    struct rblob *all = rc == 0 ? calloc(n + 1, sizeof(*all)) : NULL;
    if (rc == 0 && !all)
        rc = kiln_oom(err);
    if (rc == 0) {
        memcpy(all, blobs, n * sizeof(*all));
        snprintf(all[n].digest, sizeof(all[n].digest), "%s", digest);
        all[n].size = manifest->len;
        all[n].data = manifest;
    }
    if (rc == 0 && st->layout) {
        *how = "layout";
        rc = layout_put(st, all, n + 1, desc, added, err);
    } else if (rc == 0)
        rc = registry_put(st, blobs, n, manifest, desc, subject, added, how, err);
    free(all);
    json_decref(desc);
    return rc;
}

static int add_member(struct kiln_tar_writer *w, const char *layout, const char *name,
                      int64_t mtime, struct kiln_error *err)
{
    _cleanup_free_ char *p = kiln_path_join(layout, name, err);
    struct stat sb;
    if (!p)
        return -1;
    if (stat(p, &sb) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", p);
    return kiln_tar_add_file_from_path(w, name, p, (uint64_t)sb.st_size, mtime, NULL, err);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An oci-archive written again from its extracted layout: beside the file,
 * then renamed over it (readers see the old archive or the new one). */
static int archive_rewrite(struct store *st, struct kiln_error *err)
{
    /* the members' times: SOURCE_DATE_EPOCH, else 0 (a rewrite adds no time) */
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    int64_t mtime = 0;
    if (sde && *sde && kiln_parse_source_date_epoch(sde, &mtime, err) < 0)
        return kiln_error_prefix(err, "SOURCE_DATE_EPOCH");
    _cleanup_free_ char *bdir = kiln_path_join(st->layout, "blobs/sha256", err);
    if (!bdir)
        return -1;
    struct kiln_strlist names = { 0 };
    DIR *d = opendir(bdir);
    if (!d)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", bdir);
    struct dirent *de;
    int rc = 0;
    char name[128];
    while (rc == 0 && (de = readdir(d))) {
        if (strlen(de->d_name) != 64)
            continue;
        snprintf(name, sizeof(name), "blobs/sha256/%s", de->d_name);
        rc = kiln_strlist_push(&names, name, err);
    }
    closedir(d);
    if (rc == 0 && names.n)
        qsort(names.v, names.n, sizeof(*names.v), name_cmp);
    struct kiln_held tmp = KILN_HELD_INIT;
    if (rc == 0)
        rc = kiln_held_beside(st->archive, false, &tmp, err);
    struct kiln_fd_sink fs;
    struct kiln_tar_writer w;
    if (rc == 0) {
        kiln_fd_sink_init(&fs, tmp.fd, tmp.path);
        kiln_tar_writer_init(&w, &fs.sink);
        rc = kiln_tar_add_dir(&w, "blobs", mtime, err);
    }
    if (rc == 0)
        rc = kiln_tar_add_dir(&w, "blobs/sha256", mtime, err);
    for (size_t i = 0; rc == 0 && i < names.n; i++)
        rc = add_member(&w, st->layout, names.v[i], mtime, err);
    if (rc == 0)
        rc = add_member(&w, st->layout, "index.json", mtime, err);
    if (rc == 0)
        rc = add_member(&w, st->layout, "oci-layout", mtime, err);
    if (rc == 0)
        rc = kiln_tar_finish(&w, err);
    if (rc == 0 && fsync(tmp.fd) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot write", tmp.path);
    if (rc == 0 && rename(tmp.path, st->archive) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "cannot rename %s to %s", tmp.path,
                             st->archive);
    kiln_held_release(&tmp, rc < 0);
    kiln_strlist_free(&names);
    return rc < 0 ? kiln_error_prefix(err, "%s", st->spec) : 0;
}

/* Commits a changed archive, then frees the store. */
static int store_close(struct store *st, bool commit, struct kiln_error *err)
{
    int rc = 0;
    if (commit && st->dirty && st->archive)
        rc = archive_rewrite(st, err);
    store_free(st);
    return rc;
}

/* ---- kiln_attach ---------------------------------------------------------- */

/* SOURCE_DATE_EPOCH, else now; a malformed one is an error, as for kiln build. */
static int created_time(int64_t *t, struct kiln_error *err)
{
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde)
        return kiln_parse_source_date_epoch(sde, t, err) < 0
                   ? kiln_error_prefix(err, "SOURCE_DATE_EPOCH")
                   : 0;
    *t = (int64_t)time(NULL);
    return 0;
}

int kiln_attach(const char *ref, const char *file, const struct kiln_attach_opts *ao_in,
                const struct kiln_remote_opts *o, char digest_out[KILN_DIGEST_MAX],
                struct kiln_error *err)
{
    struct kiln_remote_opts rlocal;
    o = kiln_remote_opts_get(o, &rlocal);
    struct kiln_attach_opts ao;
    kiln_attach_opts_init_size(&ao, sizeof(ao));
    if (ao_in) {
        size_t n = ao_in->size && ao_in->size < sizeof(ao) ? ao_in->size : sizeof(ao);
        memcpy(&ao, ao_in, n);
        ao.size = sizeof(ao);
    }
    if (digest_out)
        digest_out[0] = '\0';
    const char *at = kiln_artifact_type_resolve(ao.artifact_type);
    if (!ao.artifact_type)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "attach %s: an artifact type is needed (spdx, "
                         "spdx3, cyclonedx, in-toto or a media type)",
                         file ? file : "");
    if (!at)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "attach: artifact type '%s' is not a media type (TYPE/SUBTYPE) nor one "
                         "of spdx, spdx3, cyclonedx, in-toto",
                         ao.artifact_type);
    const char *mt = ao.media_type ? ao.media_type : at;
    if (!kiln_media_type_valid(mt))
        return kiln_fail(err, KILN_ERR_USAGE, "attach: media type '%s' is not TYPE/SUBTYPE", mt);
    if (!file)
        return kiln_fail(err, KILN_ERR_USAGE, "attach: no file given");
    int64_t created;
    if (created_time(&created, err) < 0)
        return -1;
    struct store st;
    int rc = store_open(&st, ref, true, true, o, err);
    struct rblob blobs[2];
    memset(blobs, 0, sizeof(blobs));
    struct kiln_buf empty = { 0 }, manifest = { 0 };
    const char *smt = NULL, *sdg = NULL, *how = "";
    uint64_t ssize = 0;
    bool added = false;
    char digest[KILN_DIGEST_MAX] = "";
    if (rc == 0 && st.kind == KILN_TRANSPORT_DOCKER_ARCHIVE)
        rc = kiln_fail(err, KILN_ERR_USAGE, "a docker-archive cannot hold referrers");
    if (rc == 0)
        rc = kiln_buf_append(&empty, "{}", 2, err);
    if (rc == 0) {
        snprintf(blobs[0].digest, sizeof(blobs[0].digest), "%s", KILN_EMPTY_DIGEST);
        blobs[0].size = 2;
        blobs[0].data = &empty;
        rc = store_tmp(&st, &blobs[1].path, err);
    }
    /* the copy is what is hashed and stored: a file changing meanwhile
     * cannot give bytes other than the digest says */
    if (rc == 0)
        rc = copy_hashing(file, blobs[1].path, blobs[1].digest, &blobs[1].size, err);
    if (rc == 0) {
        store_subject(&st, &smt, &sdg, &ssize);
        const char *base = strrchr(file, '/');
        struct kiln_artifact a = {
            .artifact_type = at,
            .media_type = mt,
            .size = blobs[1].size,
            .title = base ? base + 1 : file,
            .subject_media_type = smt,
            .subject_digest = sdg,
            .subject_size = ssize,
            .annotations = ao.annotations,
            .nannotations = ao.nannotations,
            .created = created,
        };
        snprintf(a.digest, sizeof(a.digest), "%s", blobs[1].digest);
        rc = kiln_artifact_manifest_build(&a, &manifest, err);
    }
    char subject[KILN_DIGEST_MAX] = ""; /* sdg goes with the store */
    if (rc == 0) {
        snprintf(subject, sizeof(subject), "%s", sdg);
        rc = store_put(&st, blobs, 2, &manifest, subject, &added, &how, digest, err);
    }
    /* commits a rewritten archive only when all went well */
    int crc = store_close(&st, rc == 0, err);
    if (rc == 0)
        rc = crc;
    if (rc == 0)
        kiln_log(o->log, o->log_userdata, KILN_LOG_INFO, "attached %s to %s as %s (%s%s)", file,
                 subject, digest, how, added ? "" : "; it was there already");
    if (rc == 0 && digest_out)
        snprintf(digest_out, KILN_DIGEST_MAX, "%s", digest);
    free(blobs[1].path);
    kiln_buf_free(&empty);
    kiln_buf_free(&manifest);
    return rc < 0 ? kiln_error_prefix(err, "attach %s to %s", file, ref) : 0;
}

/* ---- kiln_referrers ------------------------------------------------------- */

int kiln_referrers(const char *ref, const char *artifact_type, const struct kiln_remote_opts *o,
                   char **list_json, struct kiln_error *err)
{
    struct kiln_remote_opts rlocal;
    o = kiln_remote_opts_get(o, &rlocal);
    *list_json = NULL;
    const char *at = artifact_type ? kiln_artifact_type_resolve(artifact_type) : NULL;
    if (artifact_type && !at)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "referrers: artifact type '%s' is not a media type nor one of spdx, "
                         "spdx3, cyclonedx, in-toto",
                         artifact_type);
    struct store st;
    json_t *list = NULL;
    const char *how = "", *smt, *sdg;
    uint64_t ssize;
    struct kiln_buf b = { 0 };
    int rc = store_open(&st, ref, true, false, o, err);
    if (rc == 0) {
        store_subject(&st, &smt, &sdg, &ssize);
        rc = store_list(&st, sdg, at, &list, &how, err);
    }
    if (rc == 0) {
        kiln_log(o->log, o->log_userdata, KILN_LOG_INFO, "%zu referrer%s of %s (%s)",
                 json_array_size(json_object_get(list, "manifests")),
                 json_array_size(json_object_get(list, "manifests")) == 1 ? "" : "s", sdg, how);
        rc = kiln_json_bytes(list, &b, err);
    }
    if (rc == 0)
        *list_json = TAKE_PTR(b.data);
    kiln_buf_free(&b);
    json_decref(list);
    store_close(&st, false, err);
    return rc < 0 ? kiln_error_prefix(err, "referrers of %s", ref) : 0;
}

/* ---- kiln_copy_referrers -------------------------------------------------- */

/* One referrer from src to dest: its manifest, its blobs, then its entry. */
static int copy_one(struct store *src, struct store *dest, const char *subject, json_t *desc,
                    bool *added, struct kiln_error *err)
{
    const char *dg = json_string_value(json_object_get(desc, "digest"));
    const char *mt = json_string_value(json_object_get(desc, "mediaType"));
    *added = false;
    if (!mt || strcmp(mt, KILN_MT_OCI_MANIFEST)) {
        kiln_log(src->log, src->log_ud, KILN_LOG_WARNING,
                 "referrer %s of %s is a %s, not an OCI manifest: not copied", dg, subject,
                 mt ? mt : "document without a media type");
        return 0;
    }
    struct kiln_buf m = { 0 };
    struct rblob *blobs = NULL;
    size_t n = 0;
    json_t *j = NULL;
    int rc = store_manifest(src, dg, &m, err);
    char sub[KILN_DIGEST_MAX], got[KILN_DIGEST_MAX];
    json_t *d = NULL;
    if (rc == 0)
        rc = kiln_referrer_descriptor(m.data, m.len, &d, sub, err);
    json_decref(d);
    if (rc == 0 && strcmp(sub, subject))
        rc = kiln_fail(err, KILN_ERR_FORMAT, "%s is listed as a referrer of %s but names %s", dg,
                       subject, sub);
    if (rc == 0 && !(j = json_loadb(m.data, m.len, 0, NULL)))
        rc = kiln_oom(err);
    json_t *layers = json_object_get(j, "layers"), *config = json_object_get(j, "config");
    size_t nl = json_array_size(layers);
    if (rc == 0 && nl > 1024)
        rc = kiln_fail(err, KILN_ERR_FORMAT, "referrer %s has %zu layers", dg, nl);
    if (rc == 0 && !(blobs = calloc(nl + 1, sizeof(*blobs))))
        rc = kiln_oom(err);
    for (size_t i = 0; rc == 0 && i <= nl; i++) {
        json_t *x = i == 0 ? config : json_array_get(layers, i - 1);
        const char *bd = json_string_value(json_object_get(x, "digest"));
        json_t *sz = json_object_get(x, "size");
        if (!x && i == 0)
            continue;
        if (!kiln_digest_valid(bd) || !json_is_integer(sz) || json_integer_value(sz) < 0) {
            rc = kiln_fail(err, KILN_ERR_FORMAT, "referrer %s: a blob without digest and size", dg);
            break;
        }
        struct rblob *b = &blobs[n++];
        snprintf(b->digest, sizeof(b->digest), "%s", bd);
        b->size = (uint64_t)json_integer_value(sz);
        rc = store_blob(src, b, err);
    }
    const char *how = "";
    if (rc == 0)
        rc = store_put(dest, blobs, n, &m, subject, added, &how, got, err);
    for (size_t i = 0; blobs && i < n; i++)
        free(blobs[i].path);
    free(blobs);
    json_decref(j);
    kiln_buf_free(&m);
    return rc < 0 ? kiln_error_prefix(err, "referrer %s", dg) : 0;
}

int kiln_copy_referrers(const char *src, const char *dest, const char *digest,
                        const struct kiln_remote_opts *o, unsigned *copied, struct kiln_error *err)
{
    struct kiln_remote_opts rlocal;
    o = kiln_remote_opts_get(o, &rlocal);
    if (copied)
        *copied = 0;
    struct store s, d;
    store_init(&d, dest, o);
    struct kiln_strlist subjects = { 0 };
    int rc = store_open(&s, src, true, false, o, err);
    const char *smt, *sdg;
    uint64_t ssize;
    if (rc == 0) {
        store_subject(&s, &smt, &sdg, &ssize);
        if (digest && digest[0] && strcmp(digest, sdg)) {
            /* one image of an index was copied */
            rc = kiln_strlist_push(&subjects, digest, err);
        } else {
            rc = kiln_strlist_push(&subjects, sdg, err);
            for (size_t i = 0; rc == 0 && s.src->is_index && i < s.src->nimages; i++)
                rc = kiln_strlist_push(&subjects, s.src->images[i].manifest_digest, err);
        }
    }
    bool to_docker_archive = false;
    if (rc == 0) {
        struct kiln_spec t;
        if ((rc = kiln_spec_parse(dest, NULL, &t, err)) == 0) {
            to_docker_archive = t.kind == KILN_TRANSPORT_DOCKER_ARCHIVE;
            kiln_spec_free(&t);
        }
    }
    if (rc == 0 && !to_docker_archive)
        rc = store_open(&d, dest, false, true, o, err);
    unsigned n = 0, dropped = 0;
    for (size_t i = 0; rc == 0 && i < subjects.n; i++) {
        json_t *list = NULL;
        const char *how;
        rc = store_list(&s, subjects.v[i], NULL, &list, &how, err);
        size_t k;
        json_t *desc;
        json_array_foreach(rc == 0 ? json_object_get(list, "manifests") : NULL, k, desc)
        {
            bool added = false;
            if (to_docker_archive) {
                dropped++;
                continue;
            }
            if ((rc = copy_one(&s, &d, subjects.v[i], desc, &added, err)) < 0)
                break;
            n += added;
        }
        json_decref(list);
    }
    if (rc == 0 && dropped)
        kiln_log(o->log, o->log_userdata, KILN_LOG_WARNING,
                 "%s: a docker-archive cannot hold referrers: %u referrer%s of %s dropped", dest,
                 dropped, dropped == 1 ? "" : "s", src);
    int crc = store_close(&d, rc == 0 && !to_docker_archive, err);
    if (rc == 0)
        rc = crc;
    store_close(&s, false, err);
    kiln_strlist_free(&subjects);
    if (rc == 0 && copied)
        *copied = n;
    if (rc == 0)
        kiln_log(o->log, o->log_userdata, KILN_LOG_INFO, "%u referrer%s copied to %s", n,
                 n == 1 ? "" : "s", dest);
    return rc < 0 ? kiln_error_prefix(err, "copy the referrers of %s to %s", src, dest) : 0;
}
