/*
 * Outputs: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE.
 *
 * Each output is prepared in a held temporary next to its destination and
 * committed after every output has been prepared: an archive by one rename,
 * a layout by merging under its lock (image/layout.c). On failure the
 * temporaries are removed, so nothing partial appears and an existing
 * destination stays as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tar/tar.h"
#include "layout.h"
#include "transport.h"

#define INDEX_MAX (4 * 1024 * 1024)

void kiln_output_free(struct kiln_output *o)
{
    if (!o)
        return;
    free(o->spec);
    free(o->path);
    free(o->tag);
    kiln_reference_free(&o->repo_tag);
    kiln_held_release(&o->tmp, false);
    kiln_held_release(&o->stage, false);
    kiln_held_release(&o->backup, false);
    free(o->entry);
    free(o->displaced);
    kiln_strlist_free(&o->added_blobs);
    memset(o, 0, sizeof(*o));
    o->tmp.fd = o->stage.fd = o->backup.fd = -1;
}

int kiln_output_parse(const char *spec, struct kiln_output *o, struct kiln_error *err)
{
    memset(o, 0, sizeof(*o));
    o->tmp.fd = o->stage.fd = o->backup.fd = -1;
    struct kiln_spec t;
    if (kiln_spec_parse(spec, "-o", &t, err) < 0)
        return -1;
    int rc = 0;
    if (t.kind == KILN_TRANSPORT_DOCKER)
        rc = kiln_fail(err, KILN_ERR_USAGE,
                       "-o %s: a registry is not a local output (kiln build and copy push to it)",
                       spec);
    else if (t.index >= 0)
        rc = kiln_fail(err, KILN_ERR_USAGE,
                       "-o %s: @INDEX chooses an image to read; an output takes a name", spec);
    if (rc < 0) {
        kiln_spec_free(&t);
        return -1;
    }
    o->kind = t.kind == KILN_TRANSPORT_OCI           ? KILN_OUT_OCI
              : t.kind == KILN_TRANSPORT_OCI_ARCHIVE ? KILN_OUT_OCI_ARCHIVE
                                                     : KILN_OUT_DOCKER_ARCHIVE;
    o->path = TAKE_PTR(t.path);
    if (t.kind == KILN_TRANSPORT_DOCKER_ARCHIVE) {
        /* the image's name in the archive (its RepoTags), as skopeo writes it */
        o->repo_tag = t.ref;
        o->have_repo_tag = t.have_ref;
        memset(&t.ref, 0, sizeof(t.ref));
    } else
        o->tag = TAKE_PTR(t.name);
    kiln_spec_free(&t);
    if (!(o->spec = kiln_strdup(spec, err))) {
        kiln_output_free(o);
        return -1;
    }
    return 0;
}

/* Fails early (before any layer is built) when the destination cannot work. */
int kiln_output_check(struct kiln_output *o, struct kiln_error *err)
{
    struct stat st;
    _cleanup_free_ char *parent = kiln_dirname(o->path, err);
    if (!parent)
        return -1;
    if (stat(parent, &st) < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "-o %s: directory %s", o->spec,
                               parent);
    if (!S_ISDIR(st.st_mode))
        return kiln_fail(err, KILN_ERR_OUTPUT, "-o %s: %s is not a directory", o->spec, parent);
    bool exists = stat(o->path, &st) == 0;
    /* Adding to a layout needs only the layout to be writable. */
    const char *where = exists && o->kind == KILN_OUT_OCI && S_ISDIR(st.st_mode) ? o->path : parent;
    if (access(where, W_OK | X_OK) < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "-o %s: cannot write in %s", o->spec,
                               where);
    /* What killed writers left beside the destination goes first. */
    if (!access(parent, W_OK | X_OK))
        kiln_reclaim_stale(parent);
    if (o->kind == KILN_OUT_OCI) {
        if (!exists)
            return 0;
        if (!S_ISDIR(st.st_mode))
            return kiln_fail(err, KILN_ERR_OUTPUT,
                             "-o %s: %s exists and is not a directory (remove it, or name another)",
                             o->spec, o->path);
        _cleanup_free_ char *lf = kiln_path_join(o->path, "oci-layout", err);
        if (!lf)
            return -1;
        struct kiln_buf b = {0};
        if (kiln_read_file(lf, 4096, &b, NULL) < 0) {
            /* An empty directory is fine to fill; anything else is not ours. */
            int n = 0;
            DIR *d = opendir(o->path);
            if (d) {
                struct dirent *de;
                while ((de = readdir(d)))
                    if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        n++;
                closedir(d);
            }
            if (n == 0)
                return 0;
            return kiln_fail(err, KILN_ERR_OUTPUT,
                             "-o %s: %s is a non-empty directory without an oci-layout file; "
                             "name a new directory or an existing OCI layout",
                             o->spec, o->path);
        }
        json_t *j = json_loads(b.data, 0, NULL);
        kiln_buf_free(&b);
        const char *v = json_string_value(json_object_get(j, "imageLayoutVersion"));
        bool ok = v && !strcmp(v, "1.0.0");
        json_decref(j);
        if (!ok)
            return kiln_fail(err, KILN_ERR_OUTPUT,
                             "-o %s: %s/oci-layout is not {\"imageLayoutVersion\":\"1.0.0\"}",
                             o->spec, o->path);
        o->existed = true;
        return 0;
    }
    if (exists && S_ISDIR(st.st_mode))
        return kiln_fail(err, KILN_ERR_OUTPUT, "-o %s: %s is a directory; name a file", o->spec,
                         o->path);
    return 0;
}

static const char *hex_of(const char *digest)
{
    return digest + 7;
}

/* ---- archives ---- */

struct item {
    char *name;
    enum { ITEM_DIR, ITEM_BYTES, ITEM_FILE } kind;
    const void *data; /* ITEM_BYTES */
    char *owned;      /* ITEM_BYTES data owned by the item */
    size_t len;
    const char *path; /* ITEM_FILE */
    uint64_t size;
    const char *digest, *origin; /* ITEM_FILE to check (kiln_layer.origin) */
};

struct items {
    struct item *v;
    size_t n;
};

static void items_free(struct items *it)
{
    for (size_t i = 0; i < it->n; i++) {
        free(it->v[i].name);
        free(it->v[i].owned);
    }
    free(it->v);
    it->v = NULL;
    it->n = 0;
}

static struct item *items_add(struct items *it, const char *name, struct kiln_error *err)
{
    struct item *v = realloc(it->v, (it->n + 1) * sizeof(*v));
    if (!v) {
        kiln_oom(err);
        return NULL;
    }
    it->v = v;
    struct item *x = &v[it->n];
    memset(x, 0, sizeof(*x));
    if (!(x->name = kiln_strdup(name, err)))
        return NULL;
    it->n++;
    return x;
}

static int add_dir(struct items *it, const char *name, struct kiln_error *err)
{
    struct item *x = items_add(it, name, err);
    if (!x)
        return -1;
    x->kind = ITEM_DIR;
    return 0;
}

static int add_bytes(struct items *it, const char *name, const void *p, size_t n, char *owned,
                     struct kiln_error *err)
{
    struct item *x = items_add(it, name, err);
    if (!x) {
        free(owned);
        return -1;
    }
    x->kind = ITEM_BYTES;
    x->data = p;
    x->len = n;
    x->owned = owned;
    return 0;
}

static int add_file(struct items *it, const char *name, struct kiln_layer *b,
                    struct kiln_error *err)
{
    if (kiln_layer_fetch(b, err) < 0)
        return -1;
    struct item *x = items_add(it, name, err);
    if (!x)
        return -1;
    x->kind = ITEM_FILE;
    x->path = b->path;
    x->size = b->size;
    x->digest = b->digest;
    x->origin = b->origin;
    return 0;
}

static int item_cmp(const void *a, const void *b)
{
    return kiln_tar_path_cmp(((const struct item *)a)->name, ((const struct item *)b)->name);
}

/* Writes the sorted, de-duplicated items as a tar file at o->tmp. */
static int write_archive(struct kiln_output *o, struct items *it, int64_t mtime,
                         struct kiln_error *err)
{
    qsort(it->v, it->n, sizeof(*it->v), item_cmp);
    /* held (and so not reclaimed) until the commit renames it */
    if (kiln_held_beside(o->path, false, &o->tmp, err) < 0)
        return kiln_error_prefix(err, "-o %s", o->spec);
    int fd = o->tmp.fd;
    struct kiln_fd_sink fs;
    kiln_fd_sink_init(&fs, fd, o->path);
    struct kiln_tar_writer w;
    kiln_tar_writer_init(&w, &fs.sink);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < it->n; i++) {
        const struct item *x = &it->v[i];
        if (i && !strcmp(x->name, it->v[i - 1].name))
            continue;
        if (x->kind == ITEM_DIR)
            rc = kiln_tar_add_dir(&w, x->name, mtime, err);
        else if (x->kind == ITEM_BYTES)
            rc = kiln_tar_add_bytes(&w, x->name, x->data, x->len, mtime, err);
        else if (!x->origin)
            rc = kiln_tar_add_file_from_path(&w, x->name, x->path, x->size, mtime, NULL, err);
        else {
            struct kiln_blob_check c;
            rc = kiln_blob_check_init(&c, x->digest, x->size, x->origin, err);
            if (rc == 0)
                rc = kiln_tar_add_file_from_path(&w, x->name, x->path, x->size, mtime, &c, err);
            kiln_blob_check_free(&c);
        }
    }
    if (rc == 0)
        rc = kiln_tar_finish(&w, err);
    if (rc == 0 && fsync(fd) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot write", o->path);
    return rc;
}

static int prepare_oci_archive(struct kiln_output *o, const struct kiln_image_set *set,
                               struct kiln_error *err)
{
    struct items it = {0};
    struct kiln_buf ij = {0};
    char name[128];
    struct kiln_set_blob *v = calloc(kiln_set_blob_max(set), sizeof(*v));
    size_t n = v ? kiln_set_blobs(set, v) : 0;
    int rc = v ? kiln_layout_index_bytes(o, set, &ij, err) : kiln_oom(err);
    if (rc == 0)
        rc = add_bytes(&it, "oci-layout", KILN_OCI_LAYOUT_BYTES, strlen(KILN_OCI_LAYOUT_BYTES), NULL, err);
    if (rc == 0)
        rc = add_bytes(&it, "index.json", ij.data, ij.len, NULL, err);
    if (rc == 0)
        rc = add_dir(&it, "blobs", err);
    if (rc == 0)
        rc = add_dir(&it, "blobs/sha256", err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        snprintf(name, sizeof(name), "blobs/sha256/%s", hex_of(v[i].digest));
        rc = v[i].layer ? add_file(&it, name, v[i].layer, err)
                        : add_bytes(&it, name, v[i].bytes->data, v[i].bytes->len, NULL, err);
    }
    if (rc == 0)
        rc = write_archive(o, &it, set->file_mtime, err);
    items_free(&it);
    kiln_buf_free(&ij);
    free(v);
    return rc;
}

static char *dump_json(json_t *j, struct kiln_error *err)
{
    if (!j) {
        kiln_oom(err);
        return NULL;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(j);
    if (!s)
        kiln_oom(err);
    return s;
}

/* Legacy v1 ids: deterministic, distinct per layer position and image. */
static int v1_ids(const struct kiln_image *img, char (*ids)[65], struct kiln_error *err)
{
    char chain[KILN_DIGEST_MAX];
    for (size_t i = 0; i < img->nlayers; i++) {
        struct kiln_buf b = {0};
        if (i == 0)
            snprintf(chain, sizeof(chain), "%s", img->diff_ids.v[0]);
        else {
            if (kiln_buf_printf(&b, err, "%s %s", chain, img->diff_ids.v[i]) < 0)
                return -1;
            int rc = kiln_sha256_buf(b.data, b.len, chain, err);
            kiln_buf_free(&b);
            if (rc < 0)
                return -1;
        }
        bool top = i + 1 == img->nlayers;
        if (kiln_buf_printf(&b, err, "{\"layer_id\":\"%s\",\"parent\":\"%s\"%s%s%s}", chain,
                            i ? ids[i - 1] : "", top ? ",\"config\":\"" : "",
                            top ? img->config_digest : "", top ? "\"" : "") < 0)
            return -1;
        char d[KILN_DIGEST_MAX];
        int rc = kiln_sha256_buf(b.data, b.len, d, err);
        kiln_buf_free(&b);
        if (rc < 0)
            return -1;
        memcpy(ids[i], hex_of(d), 65);
    }
    return 0;
}

static int prepare_docker_archive(struct kiln_output *o, const struct kiln_image_set *set,
                                  struct kiln_error *err)
{
    struct items it = {0};
    char name[160];
    if (set->index || set->nimages != 1)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "-o %s: a docker archive holds one image, not a multi-platform "
                         "index (copy one platform with kiln copy --platform)",
                         o->spec);
    const struct kiln_image *img = &set->images[0];
    /* its layers are named by the chain of their diff_ids */
    if (img->diff_ids.n != img->nlayers)
        return kiln_fail(err, KILN_ERR_FORMAT,
                         "-o %s: the config lists %zu diff_ids for %zu layers", o->spec,
                         img->diff_ids.n, img->nlayers);
    char (*ids)[65] = calloc(img->nlayers ? img->nlayers : 1, sizeof(*ids));
    if (!ids)
        return kiln_oom(err);
    int rc = v1_ids(img, ids, err);
    json_t *cfg = json_loads(img->config.data, 0, NULL);
    if (rc == 0 && !cfg)
        rc = kiln_fail(err, KILN_ERR_INTERNAL, "cannot re-read the image config");

    char created[32];
    kiln_format_time(img->created, created);
    for (size_t i = 0; rc == 0 && i < img->nlayers; i++) {
        bool top = i + 1 == img->nlayers;
        rc = add_dir(&it, ids[i], err);
        snprintf(name, sizeof(name), "%s/VERSION", ids[i]);
        if (rc == 0)
            rc = add_bytes(&it, name, "1.0", 3, NULL, err);
        json_t *j = json_object();
        if (j) {
            json_object_set_new(j, "id", json_string(ids[i]));
            if (i)
                json_object_set_new(j, "parent", json_string(ids[i - 1]));
            json_object_set_new(j, "created", json_string(created));
            json_object_set(j, "os", json_object_get(cfg, "os"));
            if (top) {
                json_object_set(j, "architecture", json_object_get(cfg, "architecture"));
                if (json_object_get(cfg, "author"))
                    json_object_set(j, "author", json_object_get(cfg, "author"));
                json_object_set(j, "config", json_object_get(cfg, "config"));
            }
            json_object_set_new(j, "container_config", json_object());
        }
        char *s = rc == 0 ? dump_json(j, err) : (json_decref(j), NULL);
        snprintf(name, sizeof(name), "%s/json", ids[i]);
        if (rc == 0)
            rc = s ? add_bytes(&it, name, s, strlen(s), s, err) : -1;
        snprintf(name, sizeof(name), "%s/layer.tar", ids[i]);
        if (rc == 0)
            rc = add_file(&it, name, &img->layers[i], err);
    }
    json_decref(cfg);

    snprintf(name, sizeof(name), "%s.json", hex_of(img->config_digest));
    if (rc == 0)
        rc = add_bytes(&it, name, img->config.data, img->config.len, NULL, err);

    json_t *m = json_object(), *tags = json_array(), *layers = json_array(),
           *repos = json_object();
    /* docker-archive:FILE:REF names the image in place of its tags */
    const struct kiln_reference *names = o->have_repo_tag ? &o->repo_tag : set->tags;
    size_t nnames = o->have_repo_tag ? 1 : set->ntags;
    for (size_t i = 0; rc == 0 && i < nnames; i++) {
        char *fam = kiln_reference_familiar(&names[i], false, err);
        if (!fam) {
            rc = -1;
            break;
        }
        const char *tag = names[i].tag ? names[i].tag : "latest";
        char *ft = malloc(strlen(fam) + strlen(tag) + 2);
        if (ft) {
            sprintf(ft, "%s:%s", fam, tag);
            json_array_append_new(tags, json_string(ft));
            free(ft);
        } else
            rc = kiln_oom(err);
        json_t *r = json_object_get(repos, fam);
        if (!r) {
            r = json_object();
            json_object_set_new(repos, fam, r);
        }
        if (img->nlayers)
            json_object_set_new(r, tag, json_string(ids[img->nlayers - 1]));
        free(fam);
    }
    for (size_t i = 0; i < img->nlayers; i++) {
        snprintf(name, sizeof(name), "%s/layer.tar", ids[i]);
        json_array_append_new(layers, json_string(name));
    }
    snprintf(name, sizeof(name), "%s.json", hex_of(img->config_digest));
    json_object_set_new(m, "Config", json_string(name));
    json_object_set_new(m, "RepoTags", tags);
    json_object_set_new(m, "Layers", layers);
    json_t *arr = json_array();
    json_array_append_new(arr, m);
    char *ms = rc == 0 ? dump_json(arr, err) : (json_decref(arr), NULL);
    char *rs = rc == 0 ? dump_json(repos, err) : (json_decref(repos), NULL);
    if (rc == 0 && (!ms || !rs))
        rc = -1;
    if (rc == 0)
        rc = add_bytes(&it, "manifest.json", ms, strlen(ms), ms, err);
    else
        free(ms);
    if (rc == 0)
        rc = add_bytes(&it, "repositories", rs, strlen(rs), rs, err);
    else
        free(rs);
    if (rc == 0)
        rc = write_archive(o, &it, set->file_mtime, err);
    items_free(&it);
    free(ids);
    return rc;
}

int kiln_output_prepare(struct kiln_output *o, const struct kiln_image_set *set,
                        struct kiln_error *err)
{
    int rc;
    o->set = set;
    if (o->kind == KILN_OUT_OCI)
        rc = kiln_layout_prepare(o, set, err);
    else if (o->kind == KILN_OUT_OCI_ARCHIVE)
        rc = prepare_oci_archive(o, set, err);
    else
        rc = prepare_docker_archive(o, set, err);
    if (rc < 0 && !strstr(err ? err->message : "", o->spec))
        kiln_error_prefix(err, "-o %s", o->spec);
    return rc;
}

int kiln_output_commit(struct kiln_output *o, struct kiln_error *err)
{
    if (o->kind == KILN_OUT_OCI)
        return kiln_layout_commit(o, err);
    if (!o->tmp.path)
        return 0;
    struct stat st;
    if (lstat(o->path, &st) == 0) {
        /* Keep what is replaced until every output is in place: a link to
         * it, under a name made for it, held. */
        struct kiln_held b = KILN_HELD_INIT;
        if (kiln_held_beside(o->path, false, &b, err) < 0)
            return kiln_error_prefix(err, "-o %s", o->spec);
        _cleanup_free_ char *name = kiln_strdup(b.path, err);
        kiln_held_release(&b, true);
        if (!name)
            return -1;
        if (link(o->path, name) < 0)
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "-o %s: cannot keep a copy of %s",
                                   o->spec, o->path);
        if (kiln_held_open(name, &o->backup, err) < 0) {
            unlink(name);
            return -1;
        }
    }
    if (rename(o->tmp.path, o->path) < 0) {
        int e = errno;
        kiln_held_release(&o->backup, true);
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "-o %s: cannot rename %s to %s", o->spec,
                               o->tmp.path, o->path);
    }
    kiln_held_release(&o->tmp, false);
    o->committed = true;
    return 0;
}

void kiln_output_rollback(struct kiln_output *o)
{
    if (o->kind == KILN_OUT_OCI) {
        kiln_layout_rollback(o);
        return;
    }
    kiln_held_release(&o->tmp, true);
    if (o->committed) {
        if (o->backup.path)
            rename(o->backup.path, o->path);
        else
            unlink(o->path);
        o->committed = false;
    }
    kiln_held_release(&o->backup, true);
}

void kiln_output_finish(struct kiln_output *o)
{
    if (o->kind == KILN_OUT_OCI) {
        kiln_layout_finish(o);
        return;
    }
    kiln_held_release(&o->backup, true);
    o->committed = false;
}
