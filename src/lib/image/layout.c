/*
 * oci:DIR[:TAG] as a destination that many processes share, and the held
 * temporaries every destination uses (layout.h says the rules).
 *
 * prepare: a new layout is written whole into a held "DIR.kiln-tmp-XXXXXX";
 *          into an existing one, the blobs it lacks are staged in a held
 *          "DIR/.kiln-stage-XXXXXX" (on its file system, so that they can
 *          be renamed in).
 * commit:  a new layout is renamed into place when nothing is there yet (or
 *          an empty directory); otherwise, and for every existing layout,
 *          under the layout's lock: the staged blobs are renamed into
 *          blobs/sha256 (any that another writer's rollback removed since
 *          are written again), index.json is re-read, our entry replaces
 *          the one of the same tag, and the new index.json is renamed over.
 * rollback: before the commit, the temporaries go; after it, under the lock,
 *          our entry is taken out again (the one it displaced put back) and
 *          the blobs this commit added go unless an entry references them.
 */
#include "../base/sink.h"
#include "layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INDEX_MAX (4 * 1024 * 1024)
#define DOC_MAX (4 * 1024 * 1024)

/* ---- held temporaries ---------------------------------------------------- */

/* flock where the file system has it; without it (some network file systems)
 * a temporary is simply never reclaimed. */
static void hold(int fd)
{
    while (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EINTR)
        ;
}

int kiln_held_create(const char *dir_and_name, bool dir, struct kiln_held *h,
                     struct kiln_error *err)
{
    h->fd = -1;
    size_t n = strlen(dir_and_name) + 7;
    if (!(h->path = kiln_xmalloc(n, err)))
        return -1;
    snprintf(h->path, n, "%sXXXXXX", dir_and_name);
    if (dir) {
        if (!mkdtemp(h->path))
            goto fail;
        h->fd = open(h->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (h->fd < 0) {
            int e = errno;
            rmdir(h->path);
            errno = e;
            goto fail;
        }
        (void)chmod(h->path, 0755);
    } else {
        h->fd = mkostemp(h->path, O_CLOEXEC);
        if (h->fd < 0)
            goto fail;
        (void)fchmod(h->fd, 0644);
    }
    hold(h->fd);
    return 0;
fail:;
    int e = errno;
    _cleanup_free_ char *where = kiln_dirname(h->path, NULL);
    kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "cannot create a temporary %s in %s",
                    dir ? "directory" : "file", where ? where : dir_and_name);
    free(h->path);
    h->path = NULL;
    return -1;
}

int kiln_held_beside(const char *path, bool dir, struct kiln_held *h, struct kiln_error *err)
{
    size_t n = strlen(path) + sizeof(KILN_TMP_INFIX);
    _cleanup_free_ char *name = kiln_xmalloc(n, err);
    if (!name)
        return -1;
    snprintf(name, n, "%s%s", path, KILN_TMP_INFIX);
    return kiln_held_create(name, dir, h, err);
}

int kiln_held_open(const char *path, struct kiln_held *h, struct kiln_error *err)
{
    if (!(h->path = kiln_strdup(path, err)))
        return -1;
    h->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (h->fd >= 0)
        hold(h->fd);
    return 0; /* not holding it only makes it reclaimable sooner */
}

void kiln_held_release(struct kiln_held *h, bool remove)
{
    if (remove && h->path)
        kiln_rm_rf(h->path);
    if (h->fd >= 0)
        close(h->fd);
    free(h->path);
    h->path = NULL;
    h->fd = -1;
}

static bool is_temporary(const char *name)
{
    return !strncmp(name, KILN_STAGE_PREFIX, strlen(KILN_STAGE_PREFIX)) ||
           strstr(name, KILN_TMP_INFIX) != NULL;
}

void kiln_reclaim_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    time_t now = time(NULL);
    while ((de = readdir(d))) {
        if (!is_temporary(de->d_name))
            continue;
        _cleanup_free_ char *p = kiln_path_join(dir, de->d_name, NULL);
        if (!p)
            break;
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            continue;
        struct stat st;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0)
            continue; /* its owner is alive (or it cannot be locked here) */
        /* Just made: its owner may not hold it yet. */
        if (now - st.st_ctime < KILN_STALE_SECONDS && now >= st.st_ctime)
            continue;
        kiln_rm_rf(p);
    }
    closedir(d);
}

/* ---- the layout's lock ------------------------------------------------------ */

int kiln_layout_explain_missing(const char *dir, const char *spec, struct kiln_error *err)
{
    _cleanup_free_ char *vp = kiln_path_join(dir, "version", NULL);
    struct kiln_buf v = {0};
    struct kiln_error ve = {0};
    /* the dir: transport writes "Directory Transport Version: 1.1\n" */
    static const char magic[] = "Directory Transport Version:";
    if (vp && kiln_read_file(vp, 256, &v, &ve) == 0 && v.len >= sizeof(magic) - 1 &&
        !memcmp(v.data, magic, sizeof(magic) - 1))
        kiln_fail(err, KILN_ERR_INPUT,
                  "%s: %s is a containers/image dir: directory (as podman save --format "
                  "docker-dir or skopeo copy ... dir: write it), not an OCI layout; kiln does not "
                  "read that format: convert it with 'skopeo copy dir:%s oci:NEWDIR:TAG'",
                  spec, dir, dir);
    kiln_buf_free(&v);
    return -1;
}

int kiln_layout_lock(const char *layout, bool *gone, struct kiln_error *err)
{
    *gone = false;
    _cleanup_free_ char *p = kiln_path_join(layout, KILN_LAYOUT_LOCK, err);
    if (!p)
        return -1;
    for (int tries = 0; tries < 1000; tries++) {
        int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 && (errno == EACCES || errno == EROFS))
            fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            int e = errno;
            if (e == ENOENT || e == ENOTDIR)
                *gone = true;
            return kiln_fail_errno(err, *gone ? KILN_ERR_INPUT : KILN_ERR_OUTPUT, e,
                                   "%s: cannot lock the layout", p);
        }
        while (flock(fd, LOCK_EX) < 0) {
            if (errno == EINTR) {
                if (kiln_check_interrupt(err) < 0) {
                    close(fd);
                    return -1;
                }
                continue;
            }
            int e = errno;
            close(fd);
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, e,
                                   "%s: cannot lock the layout (the file system has no flock)",
                                   p);
        }
        /* Still the lock of the layout at that path (not of one renamed away)? */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(p, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino)
            return fd;
        close(fd);
    }
    return kiln_fail(err, KILN_ERR_OUTPUT, "%s: the layout keeps being replaced; cannot lock it",
                     layout);
}

void kiln_layout_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* ---- index.json entries ----------------------------------------------------- */


const char *kiln_layout_tag(const struct kiln_output *o, const struct kiln_image_set *set)
{
    if (o->tag)
        return o->tag;
    if (set->ntags && set->tags[0].tag)
        return set->tags[0].tag;
    return "latest";
}

json_t *kiln_layout_entry(const struct kiln_output *o, const struct kiln_image_set *set,
                          struct kiln_error *err)
{
    const char *tag = kiln_layout_tag(o, set);
    const char *digest, *mt;
    const struct kiln_buf *top = kiln_set_top(set, &digest, &mt);
    const struct kiln_platform *platform = kiln_set_platform(set);
    json_t *d = json_object(), *ann = json_object(), *plat = json_object();
    _cleanup_free_ char *full = NULL;
    for (size_t i = 0; i < set->ntags && !full; i++)
        if (set->tags[i].tag && !strcmp(set->tags[i].tag, tag) &&
            !(full = kiln_reference_full(&set->tags[i], err)))
            goto fail;
    if (!d || !ann || !plat)
        goto oom;
    if (json_object_set_new(d, "mediaType", json_string(mt)) ||
        json_object_set_new(d, "digest", json_string(digest)) ||
        json_object_set_new(d, "size", json_integer((json_int_t)top->len)) ||
        json_object_set_new(ann, KILN_ANNOT_REF_NAME, json_string(tag)) ||
        (full && json_object_set_new(ann, KILN_ANNOT_CONTAINERD_NAME, json_string(full))) ||
        json_object_set(d, "annotations", ann))
        goto oom;
    if (platform) {
        if (json_object_set_new(plat, "architecture", json_string(platform->arch)) ||
            json_object_set_new(plat, "os", json_string(platform->os)) ||
            (platform->variant[0] &&
             json_object_set_new(plat, "variant", json_string(platform->variant))) ||
            json_object_set(d, "platform", plat))
            goto oom;
    }
    json_decref(ann);
    json_decref(plat);
    return d;
oom:
    kiln_oom(err);
fail:
    json_decref(d);
    json_decref(ann);
    json_decref(plat);
    return NULL;
}

static const char *entry_tag(json_t *e)
{
    return json_string_value(json_object_get(json_object_get(e, "annotations"), KILN_ANNOT_REF_NAME));
}

static json_t *new_index(void)
{
    json_t *idx = json_object();
    if (idx && (json_object_set_new(idx, "schemaVersion", json_integer(2)) ||
                json_object_set_new(idx, "mediaType", json_string(KILN_MT_OCI_INDEX)) ||
                json_object_set_new(idx, "manifests", json_array()))) {
        json_decref(idx);
        return NULL;
    }
    return idx;
}

/* Reads LAYOUT's index.json; a missing one is an empty index. */
/* `who` names the layout in messages ("-o oci:DIR:TAG" for an output). */
static json_t *read_index(const char *who, const char *layout, struct kiln_error *err)
{
    _cleanup_free_ char *p = kiln_path_join(layout, "index.json", err);
    if (!p)
        return NULL;
    struct kiln_buf b = {0};
    if (kiln_read_file(p, INDEX_MAX, &b, err) < 0) {
        kiln_buf_free(&b);
        if (access(p, F_OK) < 0 && errno == ENOENT) {
            json_t *idx = new_index();
            if (!idx)
                kiln_oom(err);
            return idx;
        }
        kiln_error_prefix(err, "%s", who);
        return NULL;
    }
    json_error_t je;
    json_t *idx = json_loads(b.data, 0, &je);
    kiln_buf_free(&b);
    if (!idx || !json_is_array(json_object_get(idx, "manifests"))) {
        kiln_fail(err, KILN_ERR_OUTPUT,
                  "%s: %s is not an OCI image index (%s); fix or remove the layout", who, p,
                  idx ? "no manifests array" : je.text);
        json_decref(idx);
        return NULL;
    }
    return idx;
}

/* Our entry in place of those of its tag; *displaced gets the first of them. */
static int index_put(json_t *idx, json_t *entry, json_t **displaced, struct kiln_error *err)
{
    json_t *ms = json_object_get(idx, "manifests");
    const char *tag = entry_tag(entry);
    for (size_t i = json_array_size(ms); i-- > 0;) {
        json_t *e = json_array_get(ms, i);
        const char *t = entry_tag(e);
        if (t && tag && !strcmp(t, tag)) {
            if (displaced) {
                json_decref(*displaced);
                *displaced = json_incref(e);
            }
            json_array_remove(ms, i);
        }
    }
    if (json_array_append(ms, entry) < 0)
        return kiln_oom(err);
    return 0;
}

/* index.json and its entries, as kiln writes every JSON document */
static char *dump_index(json_t *idx, struct kiln_error *err)
{
    char *s = json_dumps(idx, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (!s)
        kiln_oom(err);
    return s;
}

int kiln_layout_index_bytes(const struct kiln_output *o, const struct kiln_image_set *set,
                            struct kiln_buf *out, struct kiln_error *err)
{
    json_t *idx = new_index();
    json_t *e = idx ? kiln_layout_entry(o, set, err) : NULL;
    int rc = -1;
    if (!idx)
        kiln_oom(err);
    else if (e && index_put(idx, e, NULL, err) == 0) {
        char *s = dump_index(idx, err);
        if (s) {
            kiln_buf_free(out);
            rc = kiln_buf_append(out, s, strlen(s), err);
            free(s);
        }
    }
    json_decref(e);
    json_decref(idx);
    return rc;
}

/* Writes the index into the held directory `into` and renames it over
 * LAYOUT/index.json: readers see the old index or the new one. */
static int write_index(const char *who, const char *layout, const char *into, json_t *idx,
                       struct kiln_error *err)
{
    _cleanup_free_ char *s = dump_index(idx, err);
    _cleanup_free_ char *tmp = s ? kiln_path_join(into, "index.json.new", err) : NULL;
    _cleanup_free_ char *dst = tmp ? kiln_path_join(layout, "index.json", err) : NULL;
    if (!dst)
        return -1;
    unlink(tmp);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: %s: cannot create", who, tmp);
    if (kiln_write_all(fd, s, strlen(s), tmp, err) < 0)
        return -1;
    if (fchmod(fd, 0644) < 0 || fsync(fd) < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: %s: cannot write", who, tmp);
    if (rename(tmp, dst) < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot rename %s to %s", who,
                               tmp, dst);
    return 0;
}

/* ---- blobs ------------------------------------------------------------------ */

static char *blob_path(const char *layout, const char *digest, struct kiln_error *err)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest + 7);
    return kiln_path_join(layout, rel, err);
}

static bool exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* Writes a blob to the new file dst, from its layer's file (checked against
 * its digest as it is read when it comes from a source) or from bytes. */
static int write_blob(const char *dst, const struct kiln_set_blob *v, struct kiln_error *err)
{
    const struct kiln_buf *bytes = v->bytes;
    struct kiln_layer *b = v->layer;
    if (!bytes && kiln_layer_fetch(b, err) < 0)
        return -1;
    if (bytes) {
        _cleanup_close_ int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", dst);
        if (kiln_write_all(fd, bytes->data, bytes->len, dst, err) < 0 || fsync(fd) < 0) {
            if (err && !err->code)
                kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot write", dst);
            unlink(dst);
            return -1;
        }
        return 0;
    }
    if (!b->origin)
        return kiln_copy_or_link(b->path, dst, err);
    struct kiln_blob_check c;
    if (kiln_blob_check_init(&c, b->digest, b->size, b->origin, err) < 0)
        return -1;
    int rc = kiln_copy_or_link_checked(b->path, dst, &c, err);
    kiln_blob_check_free(&c);
    return rc;
}

/* Stages every blob that `layout` lacks into `stage` (a directory of the
 * same file system, blobs named by their hex). With `into` set, then renames
 * them into layout (under its lock), recording the ones it added. */
static int stage_blobs(struct kiln_output *o, const char *layout, const char *stage, bool into,
                       struct kiln_error *err)
{
    _cleanup_free_ struct kiln_set_blob *v = calloc(kiln_set_blob_max(o->set), sizeof(*v));
    if (!v)
        return kiln_oom(err);
    size_t n = kiln_set_blobs(o->set, v);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *dst = blob_path(layout, v[i].digest, err);
        _cleanup_free_ char *st = dst ? kiln_path_join(stage, v[i].digest + 7, err) : NULL;
        if (!st)
            return -1;
        if (exists(dst))
            continue;
        if (!exists(st) && write_blob(st, &v[i], err) < 0)
            return kiln_error_prefix(err, "-o %s", o->spec);
        if (!into)
            continue;
        if (rename(st, dst) < 0)
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "-o %s: cannot rename %s to %s",
                                   o->spec, st, dst);
        if (kiln_strlist_push(&o->added_blobs, v[i].digest, err) < 0)
            return -1;
    }
    return 0;
}

static int mkdir_blobs(const char *layout, struct kiln_error *err)
{
    _cleanup_free_ char *blobs = kiln_path_join(layout, "blobs", err);
    _cleanup_free_ char *sha = blobs ? kiln_path_join(blobs, "sha256", err) : NULL;
    if (!sha)
        return -1;
    if ((mkdir(blobs, 0755) < 0 && errno != EEXIST) || (mkdir(sha, 0755) < 0 && errno != EEXIST))
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", sha);
    return 0;
}

/* ---- what the index references ------------------------------------------- */

static int mark(json_t *set, const char *digest)
{
    return digest ? json_object_set_new(set, digest, json_true()) : 0;
}

/* Marks the descriptor's blob and, for manifests and indexes, what they
 * reference, as far as the documents can be read. */
static void mark_tree(const char *layout, json_t *desc, json_t *set, int depth)
{
    const char *d = json_string_value(json_object_get(desc, "digest"));
    if (!d || !kiln_digest_valid(d) || json_object_get(set, d) || depth > 8)
        return;
    mark(set, d);
    _cleanup_free_ char *p = blob_path(layout, d, NULL);
    struct kiln_buf b = {0};
    if (!p || kiln_read_file(p, DOC_MAX, &b, NULL) < 0) {
        kiln_buf_free(&b);
        return;
    }
    json_t *doc = json_loads(b.data, 0, NULL);
    kiln_buf_free(&b);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return; /* a layer, or not a document */
    }
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(doc, "manifests"), i, x) mark_tree(layout, x, set, depth + 1);
    mark(set, json_string_value(json_object_get(json_object_get(doc, "config"), "digest")));
    json_array_foreach(json_object_get(doc, "layers"), i, x)
        mark(set, json_string_value(json_object_get(x, "digest")));
    json_array_foreach(json_object_get(doc, "blobs"), i, x)
        mark(set, json_string_value(json_object_get(x, "digest")));
    json_decref(doc);
}

/* ---- prepare / commit / rollback --------------------------------------------- */

static int make_entry(struct kiln_output *o, const struct kiln_image_set *set,
                      struct kiln_error *err)
{
    json_t *e = kiln_layout_entry(o, set, err);
    if (!e)
        return -1;
    o->entry = dump_index(e, err);
    json_decref(e);
    return o->entry ? 0 : -1;
}

int kiln_layout_prepare(struct kiln_output *o, const struct kiln_image_set *set,
                        struct kiln_error *err)
{
    char who[600]; /* o as the user named it, for messages */
    snprintf(who, sizeof(who), "-o %s", o->spec);
    if (make_entry(o, set, err) < 0)
        return -1;
    _cleanup_free_ char *parent = kiln_dirname(o->path, err);
    if (!parent)
        return -1;
    if (o->existed) {
        _cleanup_free_ char *name = kiln_path_join(o->path, KILN_STAGE_PREFIX, err);
        if (!name || kiln_held_create(name, true, &o->stage, err) < 0)
            return kiln_error_prefix(err, "-o %s", o->spec);
        return stage_blobs(o, o->path, o->stage.path, false, err);
    }
    if (kiln_held_beside(o->path, true, &o->tmp, err) < 0)
        return kiln_error_prefix(err, "-o %s", o->spec);
    const char *L = o->tmp.path;
    _cleanup_free_ char *lf = kiln_path_join(L, "oci-layout", err);
    _cleanup_free_ char *sha = lf ? kiln_path_join(L, "blobs/sha256", err) : NULL;
    if (!sha || kiln_write_file_atomic(lf, KILN_OCI_LAYOUT_BYTES, strlen(KILN_OCI_LAYOUT_BYTES), err) < 0 ||
        mkdir_blobs(L, err) < 0 || stage_blobs(o, L, sha, false, err) < 0)
        return -1;
    /* every blob is staged under its final name in L/blobs/sha256 */
    json_error_t je;
    json_t *idx = new_index(), *e = json_loads(o->entry, 0, &je);
    int rc = idx && e ? index_put(idx, e, NULL, err) : kiln_oom(err);
    if (rc == 0)
        rc = write_index(who, L, L, idx, err);
    json_decref(idx);
    json_decref(e);
    return rc;
}

/* Under the lock of an existing layout: our blobs in, our entry merged. */
static int merge_locked(struct kiln_output *o, const char *stage, const char *scratch,
                        struct kiln_error *err)
{
    char who[600]; /* o as the user named it, for messages */
    snprintf(who, sizeof(who), "-o %s", o->spec);
    kiln_reclaim_stale(o->path);
    if (mkdir_blobs(o->path, err) < 0 || stage_blobs(o, o->path, stage, true, err) < 0)
        return -1;
    json_t *idx = read_index(who, o->path, err);
    if (!idx)
        return -1;
    json_error_t je;
    json_t *e = json_loads(o->entry, 0, &je), *displaced = NULL;
    int rc = e ? index_put(idx, e, &displaced, err) : kiln_oom(err);
    if (rc == 0)
        rc = write_index(who, o->path, scratch, idx, err);
    if (rc == 0 && displaced &&
        !(o->displaced = dump_index(displaced, err)))
        rc = -1;
    json_decref(displaced);
    json_decref(e);
    json_decref(idx);
    return rc;
}

int kiln_layout_commit(struct kiln_output *o, struct kiln_error *err)
{
    for (int tries = 0; tries < 100; tries++) {
        if (o->tmp.path) {
            /* A new layout: one rename, where nothing (or an empty directory) is. */
            struct stat st;
            bool was_dir = lstat(o->path, &st) == 0 && S_ISDIR(st.st_mode);
            if (rename(o->tmp.path, o->path) == 0) {
                o->removed_empty_dir = was_dir;
                o->fresh_commit = true;
                kiln_held_release(&o->tmp, false);
                o->committed = true;
                return 0;
            }
            if (errno != ENOTEMPTY && errno != EEXIST)
                return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno,
                                       "-o %s: cannot rename %s to %s", o->spec, o->tmp.path,
                                       o->path);
            /* another writer made the layout meanwhile: merge into it */
        }
        bool gone;
        int lock = kiln_layout_lock(o->path, &gone, err);
        if (lock < 0) {
            if (gone && o->tmp.path)
                continue; /* it went again: try the rename once more */
            return kiln_error_prefix(err, "-o %s", o->spec);
        }
        int rc;
        if (o->tmp.path) {
            _cleanup_free_ char *sha = kiln_path_join(o->tmp.path, "blobs/sha256", err);
            rc = sha ? merge_locked(o, sha, o->tmp.path, err) : -1;
        } else {
            rc = merge_locked(o, o->stage.path, o->stage.path, err);
        }
        kiln_layout_unlock(lock);
        if (rc < 0)
            return -1;
        kiln_held_release(&o->tmp, true);
        kiln_held_release(&o->stage, true);
        o->committed = true;
        return 0;
    }
    return kiln_fail(err, KILN_ERR_OUTPUT, "-o %s: the layout keeps appearing and disappearing",
                     o->spec);
}

/* Takes our entry out of the index again, puts back the one it displaced,
 * and removes the blobs we added that no entry references. */
static void unmerge_locked(struct kiln_output *o, const char *scratch)
{
    char who[600]; /* o as the user named it, for messages */
    snprintf(who, sizeof(who), "-o %s", o->spec);
    json_t *idx = read_index(who, o->path, NULL);
    if (!idx)
        return;
    json_t *mine = json_loads(o->entry, 0, NULL);
    json_t *ms = json_object_get(idx, "manifests");
    const char *tag = entry_tag(mine);
    const char *dig = json_string_value(json_object_get(mine, "digest"));
    bool changed = false, tag_taken = false;
    for (size_t i = json_array_size(ms); i-- > 0;) {
        json_t *e = json_array_get(ms, i);
        const char *t = entry_tag(e), *d = json_string_value(json_object_get(e, "digest"));
        if (t && tag && !strcmp(t, tag)) {
            if (d && dig && !strcmp(d, dig)) {
                json_array_remove(ms, i);
                changed = true;
            } else
                tag_taken = true; /* another writer's since: it stays */
        }
    }
    json_t *back = o->displaced ? json_loads(o->displaced, 0, NULL) : NULL;
    if (changed && back && !tag_taken)
        json_array_append(ms, back);
    bool empty = json_array_size(ms) == 0;
    if (changed && write_index(who, o->path, scratch, idx, NULL) < 0)
        empty = false;
    json_t *set = json_object();
    size_t i;
    json_t *x;
    json_array_foreach(ms, i, x) mark_tree(o->path, x, set, 0);
    for (size_t k = 0; set && k < o->added_blobs.n; k++) {
        if (json_object_get(set, o->added_blobs.v[k]))
            continue;
        _cleanup_free_ char *p = blob_path(o->path, o->added_blobs.v[k], NULL);
        if (p)
            unlink(p);
    }
    o->now_empty = empty;
    json_decref(set);
    json_decref(back);
    json_decref(mine);
    json_decref(idx);
}

/* Another writer's temporaries in the layout: it is about to merge into it. */
static bool others_inside(const char *layout)
{
    DIR *d = opendir(layout);
    if (!d)
        return false;
    struct dirent *de;
    bool found = false;
    while (!found && (de = readdir(d)))
        found = is_temporary(de->d_name);
    closedir(d);
    return found;
}

void kiln_layout_rollback(struct kiln_output *o)
{
    kiln_held_release(&o->tmp, true);
    if (o->committed) {
        bool gone;
        int lock = kiln_layout_lock(o->path, &gone, NULL);
        if (lock >= 0) {
            struct kiln_held scratch = KILN_HELD_INIT;
            _cleanup_free_ char *name = kiln_path_join(o->path, KILN_STAGE_PREFIX, NULL);
            if (name && kiln_held_create(name, true, &scratch, NULL) == 0) {
                if (o->fresh_commit && !o->added_blobs.n) {
                    /* the new layout's blobs were all ours */
                    struct kiln_set_blob *v = calloc(kiln_set_blob_max(o->set), sizeof(*v));
                    size_t n = v ? kiln_set_blobs(o->set, v) : 0;
                    for (size_t i = 0; i < n; i++)
                        kiln_strlist_push(&o->added_blobs, v[i].digest, NULL);
                    free(v);
                }
                unmerge_locked(o, scratch.path);
                kiln_held_release(&scratch, true);
            }
            if (o->fresh_commit && o->now_empty && !others_inside(o->path)) {
                /* Nobody else wrote to it: the layout goes as it came. Waiters
                 * on its lock see it gone and start again. */
                struct kiln_held away = KILN_HELD_INIT;
                if (kiln_held_beside(o->path, true, &away, NULL) == 0) {
                    /* renamed over the empty held directory, then removed */
                    if (rename(o->path, away.path) == 0 && o->removed_empty_dir)
                        mkdir(o->path, 0755);
                    kiln_held_release(&away, true);
                }
            }
            kiln_layout_unlock(lock);
        }
        o->committed = false;
    }
    kiln_held_release(&o->stage, true);
    kiln_strlist_free(&o->added_blobs);
}

void kiln_layout_finish(struct kiln_output *o)
{
    kiln_held_release(&o->tmp, true);
    kiln_held_release(&o->stage, true);
    kiln_strlist_free(&o->added_blobs);
    o->committed = false;
}

/* ---- untag and collect garbage ------------------------------------------------ */

/* A scratch directory for index.json.new, inside the layout (same file
 * system, so that the rename is atomic), under the layout's lock. */
static int locked_scratch(const char *layout, struct kiln_held *scratch, struct kiln_error *err)
{
    _cleanup_free_ char *name = kiln_path_join(layout, KILN_STAGE_PREFIX, err);
    return name ? kiln_held_create(name, true, scratch, err) : -1;
}

int kiln_layout_untag(const char *layout, const char *spec, const char *tag,
                      struct kiln_error *err)
{
    bool gone;
    int lock = kiln_layout_lock(layout, &gone, err);
    if (lock < 0)
        return gone ? kiln_fail(err, KILN_ERR_INPUT, "%s: no such layout", spec) : -1;
    kiln_reclaim_stale(layout);
    json_t *idx = read_index(spec, layout, err);
    int rc = idx ? 0 : -1;
    json_t *ms = json_object_get(idx, "manifests");
    size_t removed = 0;
    char tags[512] = "";
    for (size_t i = json_array_size(ms); rc == 0 && i-- > 0;) {
        const char *t = entry_tag(json_array_get(ms, i));
        if (t && !strcmp(t, tag)) {
            json_array_remove(ms, i);
            removed++;
        } else if (t) {
            size_t l = strlen(tags);
            snprintf(tags + l, sizeof(tags) - l, "%s%s", l ? ", " : "", t);
        }
    }
    if (rc == 0 && !removed)
        rc = kiln_fail(err, KILN_ERR_INPUT, "%s: no image with the tag '%s' (tags in the layout: %s)",
                       spec, tag, tags[0] ? tags : "none");
    struct kiln_held scratch = KILN_HELD_INIT;
    if (rc == 0)
        rc = locked_scratch(layout, &scratch, err);
    if (rc == 0)
        rc = write_index(spec, layout, scratch.path, idx, err);
    kiln_held_release(&scratch, true);
    json_decref(idx);
    kiln_layout_unlock(lock);
    return rc;
}

/* Marks what the descriptor references, refusing documents it cannot read:
 * a collector that skipped them would remove what they reference. */
static int mark_strict(const char *layout, const char *spec, json_t *desc, json_t *set,
                       int depth, struct kiln_error *err)
{
    const char *d = json_string_value(json_object_get(desc, "digest"));
    const char *mt = json_string_value(json_object_get(desc, "mediaType"));
    if (!d || !kiln_digest_valid(d))
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: a descriptor has no valid digest", spec);
    if (json_object_get(set, d))
        return 0;
    if (depth > 8)
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: indexes nested deeper than 8", spec);
    if (mark(set, d) < 0)
        return kiln_oom(err);
    _cleanup_free_ char *p = blob_path(layout, d, err);
    if (!p)
        return -1;
    struct kiln_buf b = {0};
    if (kiln_read_file(p, DOC_MAX, &b, err) < 0) {
        kiln_buf_free(&b);
        return kiln_error_prefix(err, "%s: %s (%s) cannot be read, so what it references is "
                                      "unknown; nothing was removed",
                                 spec, d, mt ? mt : "a manifest");
    }
    json_t *doc = json_loads(b.data, 0, NULL);
    kiln_buf_free(&b);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return kiln_fail(err, KILN_ERR_FORMAT,
                         "%s: %s is not a JSON document, so what it references is unknown; "
                         "nothing was removed",
                         spec, d);
    }
    int rc = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(doc, "manifests"), i, x)
    {
        if ((rc = mark_strict(layout, spec, x, set, depth + 1, err)) < 0)
            break;
    }
    const char *cd = json_string_value(json_object_get(json_object_get(doc, "config"), "digest"));
    if (rc == 0 && cd && mark(set, cd) < 0)
        rc = kiln_oom(err);
    static const char *const lists[] = {"layers", "blobs"};
    for (size_t k = 0; rc == 0 && k < ARRAY_SIZE(lists); k++)
        json_array_foreach(json_object_get(doc, lists[k]), i, x)
        {
            const char *ld = json_string_value(json_object_get(x, "digest"));
            if (ld && mark(set, ld) < 0) {
                rc = kiln_oom(err);
                break;
            }
        }
    json_decref(doc);
    return rc;
}

int kiln_layout_gc(const char *layout, const char *spec, bool dry_run, struct kiln_gc_stats *st,
                   struct kiln_error *err)
{
    memset(st, 0, sizeof(*st));
    st->size = sizeof(*st);
    bool gone;
    int lock = kiln_layout_lock(layout, &gone, err);
    if (lock < 0)
        return gone ? kiln_fail(err, KILN_ERR_INPUT, "%s: no such layout", spec) : -1;
    if (!dry_run)
        kiln_reclaim_stale(layout);
    json_t *idx = read_index(spec, layout, err);
    json_t *set = idx ? json_object() : NULL;
    int rc = set ? 0 : idx ? kiln_oom(err) : -1;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(idx, "manifests"), i, x)
    {
        if (rc < 0)
            break;
        rc = mark_strict(layout, spec, x, set, 0, err);
    }
    _cleanup_free_ char *dir = rc == 0 ? kiln_path_join(layout, "blobs/sha256", err) : NULL;
    DIR *d = dir ? opendir(dir) : NULL;
    if (rc == 0 && !d && errno != ENOENT)
        rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: %s", spec, dir);
    struct dirent *de;
    while (rc == 0 && d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char digest[KILN_DIGEST_MAX];
        snprintf(digest, sizeof(digest), "sha256:%.64s", de->d_name);
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (strlen(de->d_name) != 64 || !kiln_digest_valid(digest))
            continue; /* not a blob kiln or any peer names so: not ours to remove */
        if (json_object_get(set, digest)) {
            st->kept++;
            st->kept_bytes += (uint64_t)sb.st_size;
            continue;
        }
        if (!dry_run && unlinkat(dirfd(d), de->d_name, 0) < 0) {
            rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot remove %s/%s", spec,
                                 dir, de->d_name);
            break;
        }
        st->removed++;
        st->removed_bytes += (uint64_t)sb.st_size;
    }
    if (d)
        closedir(d);
    json_decref(set);
    json_decref(idx);
    kiln_layout_unlock(lock);
    return rc;
}
