/*
 * Outputs: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE.
 *
 * Each output is prepared in a temporary place next to its destination and
 * committed by one rename, after every output has been prepared; on failure
 * the temporaries are removed, so nothing partial appears and an existing
 * destination stays as it was. Adding to an existing layout writes the new
 * (content-addressed, unreferenced) blobs first and commits by replacing
 * index.json; a rollback removes the blobs it added.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../internal.h"

#define INDEX_MAX (4 * 1024 * 1024)

void kiln_output_free(struct kiln_output *o)
{
    if (!o)
        return;
    free(o->spec);
    free(o->path);
    free(o->tag);
    free(o->tmp);
    free(o->backup);
    kiln_strlist_free(&o->added_blobs);
    memset(o, 0, sizeof(*o));
}

int kiln_output_parse(const char *spec, struct kiln_output *o, struct kiln_error *err)
{
    memset(o, 0, sizeof(*o));
    const char *rest;
    bool taggable = true;
    if (!strncmp(spec, "oci:", 4)) {
        o->kind = KILN_OUT_OCI;
        rest = spec + 4;
    } else if (!strncmp(spec, "oci-archive:", 12)) {
        o->kind = KILN_OUT_OCI_ARCHIVE;
        rest = spec + 12;
    } else if (!strncmp(spec, "docker-archive:", 15)) {
        o->kind = KILN_OUT_DOCKER_ARCHIVE;
        rest = spec + 15;
        taggable = false;
    } else {
        return kiln_fail(err, KILN_ERR_USAGE,
                         "-o %s: unknown transport; use oci:DIR[:TAG], oci-archive:FILE[:TAG] or "
                         "docker-archive:FILE",
                         spec);
    }
    if (!(o->spec = kiln_strdup(spec, err)) || !(o->path = kiln_strdup(rest, err)))
        goto fail;
    char *colon = taggable ? strrchr(o->path, ':') : NULL;
    if (colon && !strchr(colon, '/')) {
        *colon = '\0';
        if (!kiln_tag_valid(colon + 1)) {
            kiln_fail(err, KILN_ERR_USAGE, "-o %s: '%s' is not a valid tag", spec, colon + 1);
            goto fail;
        }
        if (!(o->tag = kiln_strdup(colon + 1, err)))
            goto fail;
    }
    if (!*o->path) {
        kiln_fail(err, KILN_ERR_USAGE, "-o %s: no path given", spec);
        goto fail;
    }
    size_t l = strlen(o->path);
    while (l > 1 && o->path[l - 1] == '/')
        o->path[--l] = '\0';
    return 0;
fail:
    kiln_output_free(o);
    return -1;
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
    if (access(parent, W_OK | X_OK) < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "-o %s: cannot write in %s", o->spec,
                               parent);
    bool exists = stat(o->path, &st) == 0;
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

static char *tmp_name(const char *path, struct kiln_error *err)
{
    size_t n = strlen(path) + 24;
    char *t = kiln_xmalloc(n, err);
    if (t)
        snprintf(t, n, "%s.kiln-tmp-XXXXXX", path);
    return t;
}

static const char *hex_of(const char *digest)
{
    return digest + 7;
}

/* The tag written as org.opencontainers.image.ref.name. */
static const char *layout_tag(const struct kiln_output *o, const struct kiln_image_out *img)
{
    if (o->tag)
        return o->tag;
    if (img->ntags && img->tags[0].tag)
        return img->tags[0].tag;
    return "latest";
}

static json_t *manifest_descriptor(const struct kiln_output *o, const struct kiln_image_out *img,
                                   struct kiln_error *err)
{
    const char *tag = layout_tag(o, img);
    json_t *d = json_object(), *ann = json_object(), *plat = json_object();
    if (!d || !ann || !plat) {
        json_decref(d);
        json_decref(ann);
        json_decref(plat);
        kiln_oom(err);
        return NULL;
    }
    json_object_set_new(d, "mediaType", json_string(img->manifest_media_type));
    json_object_set_new(d, "digest", json_string(img->manifest_digest));
    json_object_set_new(d, "size", json_integer((json_int_t)img->manifest->len));
    json_object_set_new(ann, KILN_ANNOT_REF_NAME, json_string(tag));
    for (size_t i = 0; i < img->ntags; i++) {
        if (img->tags[i].tag && !strcmp(img->tags[i].tag, tag)) {
            char *full = kiln_reference_full(&img->tags[i], err);
            if (!full) {
                json_decref(d);
                json_decref(ann);
                json_decref(plat);
                return NULL;
            }
            json_object_set_new(ann, KILN_ANNOT_CONTAINERD_NAME, json_string(full));
            free(full);
            break;
        }
    }
    json_object_set_new(d, "annotations", ann);
    if (img->platform) {
        json_object_set_new(plat, "architecture", json_string(img->platform->arch));
        json_object_set_new(plat, "os", json_string(img->platform->os));
        if (img->platform->variant[0])
            json_object_set_new(plat, "variant", json_string(img->platform->variant));
        json_object_set_new(d, "platform", plat);
    } else
        json_decref(plat);
    return d;
}

/* index.json: the old one (if any) without entries of the same tag, plus ours. */
static int index_json(const struct kiln_output *o, const struct kiln_image_out *img,
                      const char *old_index, struct kiln_buf *out, struct kiln_error *err)
{
    json_t *idx = NULL;
    if (old_index) {
        struct kiln_buf b = {0};
        if (kiln_read_file(old_index, INDEX_MAX, &b, err) < 0)
            return kiln_error_prefix(err, "-o %s", o->spec);
        json_error_t je;
        idx = json_loads(b.data, 0, &je);
        kiln_buf_free(&b);
        if (!idx || !json_is_array(json_object_get(idx, "manifests"))) {
            json_decref(idx);
            return kiln_fail(err, KILN_ERR_OUTPUT,
                             "-o %s: %s is not an OCI image index (%s); fix or remove the layout",
                             o->spec, old_index, idx ? "no manifests array" : je.text);
        }
    } else {
        idx = json_object();
        if (!idx)
            return kiln_oom(err);
        json_object_set_new(idx, "schemaVersion", json_integer(2));
        json_object_set_new(idx, "mediaType", json_string(KILN_MT_OCI_INDEX));
        json_object_set_new(idx, "manifests", json_array());
    }
    json_t *ms = json_object_get(idx, "manifests");
    const char *tag = layout_tag(o, img);
    for (size_t i = json_array_size(ms); i-- > 0;) {
        json_t *a = json_object_get(json_array_get(ms, i), "annotations");
        const char *t = json_string_value(json_object_get(a, KILN_ANNOT_REF_NAME));
        if (t && !strcmp(t, tag))
            json_array_remove(ms, i);
    }
    json_t *d = manifest_descriptor(o, img, err);
    if (!d) {
        json_decref(idx);
        return -1;
    }
    json_array_append_new(ms, d);
    char *s = json_dumps(idx, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(idx);
    if (!s)
        return kiln_oom(err);
    kiln_buf_free(out);
    int rc = kiln_buf_append(out, s, strlen(s), err);
    free(s);
    return rc;
}

static const char oci_layout_bytes[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

/* Puts a blob into LAYOUT/blobs/sha256/ unless it is there; *added says if it was. */
int kiln_layout_write_blob_file(const char *layout, const struct kiln_blob *b, bool *added,
                                struct kiln_error *err)
{
    *added = false;
    char rel[128];
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", hex_of(b->digest));
    _cleanup_free_ char *dst = kiln_path_join(layout, rel, err);
    if (!dst)
        return -1;
    struct stat st;
    if (lstat(dst, &st) == 0)
        return 0;
    _cleanup_free_ char *tmp = tmp_name(dst, err);
    if (!tmp)
        return -1;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", dst);
    close(fd);
    unlink(tmp);
    if (b->origin) {
        struct kiln_blob_check c;
        if (kiln_blob_check_init(&c, b->digest, b->size, b->origin, err) < 0)
            return -1;
        int rc = kiln_copy_or_link_checked(b->path, tmp, &c, err);
        kiln_blob_check_free(&c);
        if (rc < 0)
            return -1;
    } else if (kiln_copy_or_link(b->path, tmp, err) < 0) {
        return -1;
    }
    if (rename(tmp, dst) < 0) {
        int e = errno;
        unlink(tmp);
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "%s: cannot rename into place", dst);
    }
    *added = true;
    return 0;
}

static int write_bytes_blob(const char *layout, const char *digest, const struct kiln_buf *b,
                            bool *added, struct kiln_error *err)
{
    *added = false;
    char rel[128];
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", hex_of(digest));
    _cleanup_free_ char *dst = kiln_path_join(layout, rel, err);
    if (!dst)
        return -1;
    struct stat st;
    if (lstat(dst, &st) == 0)
        return 0;
    if (kiln_write_file_atomic(dst, b->data, b->len, err) < 0)
        return -1;
    *added = true;
    return 0;
}

static int mkdir_p2(const char *layout, struct kiln_error *err)
{
    _cleanup_free_ char *blobs = kiln_path_join(layout, "blobs", err);
    _cleanup_free_ char *sha = blobs ? kiln_path_join(blobs, "sha256", err) : NULL;
    if (!sha)
        return -1;
    if ((mkdir(blobs, 0755) < 0 && errno != EEXIST) || (mkdir(sha, 0755) < 0 && errno != EEXIST))
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", sha);
    return 0;
}

static int record_added(struct kiln_output *o, const char *layout, const char *digest,
                        struct kiln_error *err)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", hex_of(digest));
    _cleanup_free_ char *p = kiln_path_join(layout, rel, err);
    return p ? kiln_strlist_push(&o->added_blobs, p, err) : -1;
}

static int prepare_oci_dir(struct kiln_output *o, const struct kiln_image_out *img,
                           struct kiln_error *err)
{
    const char *layout;
    if (o->existed) {
        layout = o->path;
    } else {
        if (!(o->tmp = tmp_name(o->path, err)))
            return -1;
        if (!mkdtemp(o->tmp)) {
            int e = errno;
            free(o->tmp);
            o->tmp = NULL;
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "-o %s: cannot create a directory",
                                   o->spec);
        }
        chmod(o->tmp, 0755);
        layout = o->tmp;
        _cleanup_free_ char *lf = kiln_path_join(layout, "oci-layout", err);
        if (!lf || kiln_write_file_atomic(lf, oci_layout_bytes, strlen(oci_layout_bytes), err) < 0)
            return -1;
    }
    if (mkdir_p2(layout, err) < 0)
        return -1;
    bool added;
    for (size_t i = 0; i < img->nlayers; i++) {
        if (kiln_layout_write_blob_file(layout, &img->layer_blobs[i], &added, err) < 0)
            return -1;
        if (added && o->existed && record_added(o, layout, img->layer_blobs[i].digest, err) < 0)
            return -1;
    }
    if (img->config_json) {
        if (write_bytes_blob(layout, img->config_digest, img->config_json, &added, err) < 0)
            return -1;
        if (added && o->existed && record_added(o, layout, img->config_digest, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < img->nextra; i++) {
        if (write_bytes_blob(layout, img->extra[i].digest, img->extra[i].data, &added, err) < 0)
            return -1;
        if (added && o->existed && record_added(o, layout, img->extra[i].digest, err) < 0)
            return -1;
    }
    if (write_bytes_blob(layout, img->manifest_digest, img->manifest, &added, err) < 0)
        return -1;
    if (added && o->existed && record_added(o, layout, img->manifest_digest, err) < 0)
        return -1;

    _cleanup_free_ char *index = kiln_path_join(layout, "index.json", err);
    if (!index)
        return -1;
    struct kiln_buf ij = {0};
    if (index_json(o, img, o->existed ? index : NULL, &ij, err) < 0)
        return -1;
    int rc;
    if (o->existed) {
        /* Prepared beside index.json; the commit renames it over. */
        if (!(o->tmp = tmp_name(index, err))) {
            kiln_buf_free(&ij);
            return -1;
        }
        int fd = mkstemp(o->tmp);
        if (fd < 0) {
            rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", o->tmp);
            free(o->tmp);
            o->tmp = NULL;
        } else {
            rc = kiln_write_all(fd, ij.data, ij.len, index, err);
            if (rc == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
                rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot write", index);
            close(fd);
        }
    } else {
        rc = kiln_write_file_atomic(index, ij.data, ij.len, err);
    }
    kiln_buf_free(&ij);
    return rc;
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
    const char *digest, *origin; /* ITEM_FILE to check (kiln_blob.origin) */
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

static int add_file(struct items *it, const char *name, const struct kiln_blob *b,
                    struct kiln_error *err)
{
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

int kiln_tar_add_file_from_path(struct kiln_tar_writer *w, const char *name, const char *src,
                                uint64_t size, int64_t mtime, struct kiln_blob_check *check,
                                struct kiln_error *err)
{
    _cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_INTERNAL, errno, "%s", src);
    struct stat st;
    if (check && fstat(fd, &st) == 0 && kiln_blob_check_size(check, (uint64_t)st.st_size, err) < 0)
        return -1;
    struct kiln_tar_entry e = {
        .path = name, .type = KILN_TAR_REG, .mode = 0644, .mtime = mtime, .size = size};
    if (kiln_tar_write_header(w, &e, err) < 0)
        return -1;
    static unsigned char buf[1 << 20];
    uint64_t left = size;
    while (left) {
        ssize_t r = read(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && check && kiln_blob_check_end(check, err) < 0)
            return -1; /* shrank since it was opened */
        if (r <= 0)
            return kiln_fail_errno(err, KILN_ERR_INTERNAL, r < 0 ? errno : EIO,
                                   "%s: read failed", src);
        /* checked before written: the last bytes of a damaged blob are not */
        if (check && kiln_blob_check_at(check, check->hashed, buf, (size_t)r, err) < 0)
            return -1;
        if (kiln_tar_write_data(w, buf, (size_t)r, err) < 0)
            return -1;
        left -= (uint64_t)r;
    }
    if (check && kiln_blob_check_end(check, err) < 0)
        return -1;
    return kiln_tar_end_entry(w, err);
}

/* Writes the sorted, de-duplicated items as a tar file at o->tmp. */
static int write_archive(struct kiln_output *o, struct items *it, int64_t mtime,
                         struct kiln_error *err)
{
    qsort(it->v, it->n, sizeof(*it->v), item_cmp);
    if (!(o->tmp = tmp_name(o->path, err)))
        return -1;
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "-o %s: cannot create a file", o->spec);
    }
    fchmod(fd, 0644);
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
    if (close(fd) < 0 && rc == 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot write", o->path);
    return rc;
}

static int prepare_oci_archive(struct kiln_output *o, const struct kiln_image_out *img,
                               struct kiln_error *err)
{
    struct items it = {0};
    struct kiln_buf ij = {0};
    char name[128];
    int rc = index_json(o, img, NULL, &ij, err);
    if (rc == 0)
        rc = add_bytes(&it, "oci-layout", oci_layout_bytes, strlen(oci_layout_bytes), NULL, err);
    if (rc == 0)
        rc = add_bytes(&it, "index.json", ij.data, ij.len, NULL, err);
    if (rc == 0)
        rc = add_dir(&it, "blobs", err);
    if (rc == 0)
        rc = add_dir(&it, "blobs/sha256", err);
    for (size_t i = 0; rc == 0 && i < img->nlayers; i++) {
        snprintf(name, sizeof(name), "blobs/sha256/%s", hex_of(img->layer_blobs[i].digest));
        rc = add_file(&it, name, &img->layer_blobs[i], err);
    }
    if (rc == 0 && img->config_json) {
        snprintf(name, sizeof(name), "blobs/sha256/%s", hex_of(img->config_digest));
        rc = add_bytes(&it, name, img->config_json->data, img->config_json->len, NULL, err);
    }
    for (size_t i = 0; rc == 0 && i < img->nextra; i++) {
        snprintf(name, sizeof(name), "blobs/sha256/%s", hex_of(img->extra[i].digest));
        rc = add_bytes(&it, name, img->extra[i].data->data, img->extra[i].data->len, NULL, err);
    }
    if (rc == 0) {
        snprintf(name, sizeof(name), "blobs/sha256/%s", hex_of(img->manifest_digest));
        rc = add_bytes(&it, name, img->manifest->data, img->manifest->len, NULL, err);
    }
    if (rc == 0)
        rc = write_archive(o, &it, img->file_mtime, err);
    items_free(&it);
    kiln_buf_free(&ij);
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
static int v1_ids(const struct kiln_image_out *img, char (*ids)[65], struct kiln_error *err)
{
    char chain[KILN_DIGEST_MAX];
    for (size_t i = 0; i < img->nlayers; i++) {
        struct kiln_buf b = {0};
        if (i == 0)
            snprintf(chain, sizeof(chain), "%s", img->diff_ids[0]);
        else {
            if (kiln_buf_printf(&b, err, "%s %s", chain, img->diff_ids[i]) < 0)
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

static int prepare_docker_archive(struct kiln_output *o, const struct kiln_image_out *img,
                                  struct kiln_error *err)
{
    struct items it = {0};
    char name[160];
    if (!img->config_json || !img->diff_ids)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "-o %s: a docker archive holds one image, not a multi-platform "
                         "index (copy one platform with kiln copy --platform)",
                         o->spec);
    char (*ids)[65] = calloc(img->nlayers ? img->nlayers : 1, sizeof(*ids));
    if (!ids)
        return kiln_oom(err);
    int rc = v1_ids(img, ids, err);
    json_t *cfg = json_loads(img->config_json->data, 0, NULL);
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
            rc = add_file(&it, name, &img->layer_blobs[i], err);
    }
    json_decref(cfg);

    snprintf(name, sizeof(name), "%s.json", hex_of(img->config_digest));
    if (rc == 0)
        rc = add_bytes(&it, name, img->config_json->data, img->config_json->len, NULL, err);

    json_t *m = json_object(), *tags = json_array(), *layers = json_array(),
           *repos = json_object();
    for (size_t i = 0; rc == 0 && i < img->ntags; i++) {
        char *fam = kiln_reference_familiar(&img->tags[i], false, err);
        if (!fam) {
            rc = -1;
            break;
        }
        const char *tag = img->tags[i].tag ? img->tags[i].tag : "latest";
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
        rc = write_archive(o, &it, img->file_mtime, err);
    items_free(&it);
    free(ids);
    return rc;
}

int kiln_output_prepare(struct kiln_output *o, const struct kiln_image_out *img,
                        struct kiln_error *err)
{
    int rc;
    if (o->kind == KILN_OUT_OCI)
        rc = prepare_oci_dir(o, img, err);
    else if (o->kind == KILN_OUT_OCI_ARCHIVE)
        rc = prepare_oci_archive(o, img, err);
    else
        rc = prepare_docker_archive(o, img, err);
    if (rc < 0 && !strstr(err ? err->message : "", o->spec))
        kiln_error_prefix(err, "-o %s", o->spec);
    return rc;
}

static char *commit_target(const struct kiln_output *o, struct kiln_error *err)
{
    if (o->kind == KILN_OUT_OCI && o->existed)
        return kiln_path_join(o->path, "index.json", err);
    return kiln_strdup(o->path, err);
}

int kiln_output_commit(struct kiln_output *o, struct kiln_error *err)
{
    if (!o->tmp)
        return 0;
    _cleanup_free_ char *dst = commit_target(o, err);
    if (!dst)
        return -1;
    struct stat st;
    if (o->kind == KILN_OUT_OCI && !o->existed) {
        /* An empty directory left where the layout goes is replaced. */
        if (lstat(dst, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (rmdir(dst) < 0)
                return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "-o %s: %s", o->spec, dst);
            o->removed_empty_dir = true;
        }
    } else if (lstat(dst, &st) == 0) {
        /* Keep what is replaced until every output is in place. */
        if (!(o->backup = tmp_name(dst, err)))
            return -1;
        int fd = mkstemp(o->backup);
        if (fd >= 0) {
            close(fd);
            unlink(o->backup);
        }
        if (fd < 0 || link(dst, o->backup) < 0) {
            int e = errno;
            free(o->backup);
            o->backup = NULL;
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "-o %s: cannot keep a copy of %s",
                                   o->spec, dst);
        }
    }
    if (rename(o->tmp, dst) < 0) {
        int e = errno;
        if (o->removed_empty_dir) {
            mkdir(dst, 0755);
            o->removed_empty_dir = false;
        }
        if (o->backup) {
            unlink(o->backup);
            free(o->backup);
            o->backup = NULL;
        }
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "-o %s: cannot rename %s to %s", o->spec,
                               o->tmp, dst);
    }
    free(o->tmp);
    o->tmp = NULL;
    o->committed = true;
    return 0;
}

void kiln_output_rollback(struct kiln_output *o)
{
    if (o->tmp) {
        kiln_rm_rf(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
    }
    if (o->committed) {
        char *dst = commit_target(o, NULL);
        if (dst) {
            if (o->backup)
                rename(o->backup, dst);
            else
                kiln_rm_rf(dst);
            if (o->removed_empty_dir)
                mkdir(dst, 0755);
            free(dst);
        }
        o->committed = false;
    }
    free(o->backup);
    o->backup = NULL;
    for (size_t i = 0; i < o->added_blobs.n; i++)
        unlink(o->added_blobs.v[i]);
    kiln_strlist_free(&o->added_blobs);
}

void kiln_output_finish(struct kiln_output *o)
{
    if (o->backup) {
        unlink(o->backup);
        free(o->backup);
        o->backup = NULL;
    }
    kiln_strlist_free(&o->added_blobs);
    o->committed = false;
}
