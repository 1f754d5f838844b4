/*
 * Reading images. Every transport ends in the same model: the top document
 * (a manifest, or an index of manifests), and per image its manifest bytes,
 * config bytes and layer descriptors whose bytes are files on disk (or are
 * fetched into a temporary directory on demand). Everything read is checked
 * against its digest.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tar/tar.h"
#include "layout.h"
#include "output.h"
#include "source.h"
#include "transport.h"

#define DOC_MAX (4 * 1024 * 1024)
#define CONFIG_MAX (16 * 1024 * 1024)

void kiln_src_free(struct kiln_src *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nimages; i++)
        kiln_image_release(&s->images[i]);
    free(s->images);
    kiln_buf_free(&s->index);
    if (s->tmpdir)
        kiln_rm_rf(s->tmpdir);
    free(s->tmpdir);
    free(s->layout);
    free(s->spec);
    free(s->tag);
    kiln_registry_close(s->reg);
    kiln_reference_free(&s->ref);
    free(s);
}

int kiln_parse_docker_ref(const char *spec, bool bare, struct kiln_reference *r,
                          struct kiln_error *err)
{
    memset(r, 0, sizeof(*r));
    if (kiln_transport_of(spec) != KILN_TRANSPORT_DOCKER) {
        if (!bare)
            return kiln_fail(err, KILN_ERR_USAGE, "'%s': expected docker://HOST/REPO[:TAG]",
                             spec);
        return kiln_reference_parse(spec, r, err);
    }
    struct kiln_spec t;
    if (kiln_spec_parse(spec, NULL, &t, err) < 0)
        return -1;
    *r = t.ref;
    memset(&t.ref, 0, sizeof(t.ref));
    kiln_spec_free(&t);
    return 0;
}

char *kiln_reference_repo_path(const struct kiln_reference *r)
{
    return strdup(r->path);
}

static int make_tmpdir(struct kiln_src *s, struct kiln_error *err)
{
    if (s->tmpdir)
        return 0;
    const char *dir = kiln_tmpdir();
    char *p = kiln_path_join(dir, "kiln-src-XXXXXX", err);
    if (!p)
        return -1;
    if (!mkdtemp(p)) {
        int e = errno;
        free(p);
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, e,
                               "cannot create a temporary directory in %s%s", dir,
                               strcmp(dir, "/tmp") ? " (TMPDIR: create it, or set TMPDIR to a "
                                                     "writable directory)"
                                                   : "");
    }
    s->tmpdir = p;
    return 0;
}

static int blob_file(const struct kiln_src *s, const char *digest, char **out,
                     struct kiln_error *err)
{
    if (!kiln_digest_valid(digest))
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: invalid digest '%s'", s->spec, digest);
    char rel[128];
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest + 7);
    *out = kiln_path_join(s->layout, rel, err);
    return *out ? 0 : -1;
}

static const char *damaged_what(const struct kiln_src *s)
{
    return kiln_transport_of(s->spec) == KILN_TRANSPORT_OCI ? "layout" : "archive";
}

/* A small document (manifest, index, config) by digest, verified. */
static int get_doc(struct kiln_src *s, const char *repo, const char *digest, bool manifest,
                   struct kiln_buf *out, char mt[128], struct kiln_error *err)
{
    if (s->kind == KILN_SRC_REGISTRY) {
        if (manifest) {
            char d[KILN_DIGEST_MAX];
            return kiln_registry_get_manifest(s->reg, repo, digest, out, mt, d, err);
        }
        return kiln_registry_get_blob_buf(s->reg, repo, digest, CONFIG_MAX, out, err);
    }
    _cleanup_free_ char *path = NULL;
    if (blob_file(s, digest, &path, err) < 0)
        return -1;
    if (kiln_read_file(path, manifest ? DOC_MAX : CONFIG_MAX, out, err) < 0)
        return kiln_error_prefix(err, "%s", s->spec);
    char got[KILN_DIGEST_MAX];
    if (kiln_sha256_buf(out->data, out->len, got, err) < 0)
        return -1;
    if (strcmp(got, digest))
        return kiln_fail(err, KILN_ERR_INPUT,
                         "blob %s in %s does not match its digest: the %s is damaged; re-create it",
                         digest, s->spec, damaged_what(s));
    if (mt)
        mt[0] = '\0';
    return 0;
}

static int64_t parse_time(const char *s)
{
    if (!s)
        return 0;
    struct tm tm = {0};
    const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!e)
        return 0;
    return (int64_t)timegm(&tm);
}

/* What the image takes from its config: platform, creation time and the
 * diff_ids, and each layer's diff_id when the config lists one per layer. */
static int layer_diff_ids(struct kiln_image *im, json_t *c, struct kiln_error *err)
{
    kiln_platform_from_json(c, &im->platform);
    im->created = parse_time(json_string_value(json_object_get(c, "created")));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(c, "rootfs"), "diff_ids"), i, v)
    {
        const char *id = json_string_value(v);
        if (kiln_strlist_push(&im->diff_ids, id ? id : "", err) < 0)
            return -1;
    }
    for (i = 0; im->diff_ids.n == im->nlayers && i < im->nlayers; i++)
        snprintf(im->layers[i].diff_id, KILN_DIGEST_MAX, "%s", im->diff_ids.v[i]);
    return 0;
}

/* Fills an image from its manifest bytes. */
static int load_image(struct kiln_src *s, const char *repo, struct kiln_image *im,
                      struct kiln_error *err)
{
    json_error_t je;
    json_t *m = json_loads(im->manifest.data, 0, &je);
    if (!m)
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: manifest %s is not JSON: %s", s->spec,
                         im->manifest_digest, je.text);
    int rc = 0;
    const char *mt = json_string_value(json_object_get(m, "mediaType"));
    if (mt && !im->media_type[0])
        snprintf(im->media_type, sizeof(im->media_type), "%s", mt);
    if (!im->media_type[0])
        snprintf(im->media_type, sizeof(im->media_type), "%s", KILN_MT_OCI_MANIFEST);
    if (json_integer_value(json_object_get(m, "schemaVersion")) != 2) {
        json_decref(m);
        return kiln_fail(err, KILN_ERR_FORMAT,
                         "%s: manifest %s is not schema version 2 (schema 1 images are not "
                         "supported)",
                         s->spec, im->manifest_digest);
    }
    json_t *cfg = json_object_get(m, "config");
    const char *cd = json_string_value(json_object_get(cfg, "digest"));
    json_t *layers = json_object_get(m, "layers");
    if (!cd || !kiln_digest_valid(cd) || !json_is_array(layers)) {
        json_decref(m);
        return kiln_fail(err, KILN_ERR_FORMAT,
                         "%s: manifest %s lacks a valid config digest or layers array", s->spec,
                         im->manifest_digest);
    }
    snprintf(im->config_digest, sizeof(im->config_digest), "%s", cd);
    json_t *csz = json_object_get(cfg, "size");
    /* nlayers only once the array exists: kiln_image_release walks it */
    im->layers = calloc(json_array_size(layers) ? json_array_size(layers) : 1,
                        sizeof(*im->layers));
    if (!im->layers)
        rc = kiln_oom(err);
    else
        im->nlayers = json_array_size(layers);
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
    {
        if (rc < 0)
            break;
        const char *d = json_string_value(json_object_get(l, "digest"));
        const char *lmt = json_string_value(json_object_get(l, "mediaType"));
        json_int_t sz = json_integer_value(json_object_get(l, "size"));
        if (!d || !kiln_digest_valid(d) || sz < 0) {
            rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: manifest %s: layer %zu is malformed",
                           s->spec, im->manifest_digest, i);
            break;
        }
        snprintf(im->layers[i].digest, KILN_DIGEST_MAX, "%s", d);
        snprintf(im->layers[i].media_type, 128, "%s", lmt ? lmt : "");
        im->layers[i].size = (uint64_t)sz;
        im->layers[i].src = s;
        if (s->kind == KILN_SRC_LAYOUT) {
            im->layers[i].origin = s->spec;
            if (blob_file(s, d, &im->layers[i].path, err) < 0)
                rc = -1;
        }
    }
    /* read before m goes: csz belongs to it */
    bool have_csz = json_is_integer(csz);
    json_int_t want_csz = json_integer_value(csz);
    json_decref(m);
    if (rc == 0)
        rc = get_doc(s, repo, im->config_digest, false, &im->config, NULL, err);
    if (rc < 0)
        return -1;
    if (s->kind == KILN_SRC_LAYOUT && have_csz && (uint64_t)want_csz != im->config.len)
        return kiln_fail(err, KILN_ERR_INPUT,
                         "blob %s in %s does not match its size (%zu bytes, the descriptor says "
                         "%lld): the %s is damaged; re-create it",
                         im->config_digest, s->spec, im->config.len, (long long)want_csz,
                         damaged_what(s));
    json_t *c = json_loads(im->config.data, 0, &je);
    if (!c)
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: config %s is not JSON: %s", s->spec,
                         im->config_digest, je.text);
    rc = layer_diff_ids(im, c, err);
    json_decref(c);
    return rc;
}

static int add_image(struct kiln_src *s, struct kiln_image **out, struct kiln_error *err)
{
    struct kiln_image *v = realloc(s->images, (s->nimages + 1) * sizeof(*v));
    if (!v)
        return kiln_oom(err);
    s->images = v;
    *out = &v[s->nimages++];
    memset(*out, 0, sizeof(**out));
    return 0;
}

/* Loads the top document: a manifest, or an index and the manifests it lists. */
static int load_top(struct kiln_src *s, const char *repo, struct kiln_buf *doc, const char *mt,
                    const char *digest, const char *platform, struct kiln_error *err)
{
    json_t *j = json_loads(doc->data, 0, NULL);
    if (!j)
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: %s is not JSON", s->spec, digest);
    const char *jmt = json_string_value(json_object_get(j, "mediaType"));
    /* a copy: j is released before type's last use */
    char type[128];
    snprintf(type, sizeof(type), "%s", mt && *mt ? mt : jmt ? jmt : "");
    bool index = kiln_media_type_is_index(type) ||
                 (!*type && json_is_array(json_object_get(j, "manifests")));
    char host[KILN_PLATFORM_MAX];
    if (index && !platform && s->host_default) {
        struct kiln_platform hp;
        kiln_platform_host(&hp);
        platform = kiln_platform_format(&hp, host);
    }
    struct kiln_platform want;
    memset(&want, 0, sizeof(want));
    if (platform && kiln_platform_parse(platform, &want, err) < 0) {
        json_decref(j);
        return -1;
    }
    int rc = 0;
    if (!index) {
        json_decref(j);
        struct kiln_image *im = NULL;
        if (add_image(s, &im, err) < 0)
            return -1;
        im->manifest = *doc;
        *doc = (struct kiln_buf){0};
        snprintf(im->manifest_digest, KILN_DIGEST_MAX, "%s", digest);
        snprintf(im->media_type, sizeof(im->media_type), "%s", type);
        if (load_image(s, repo, im, err) < 0)
            return -1;
        char have[KILN_PLATFORM_MAX];
        if (platform && !kiln_platform_match(&want, &im->platform))
            return kiln_fail(err, KILN_ERR_INPUT, "%s is a single %s image, not %s", s->spec,
                             kiln_platform_format(&im->platform, have), platform);
        return 0;
    }
    json_t *ms = json_object_get(j, "manifests");
    size_t i;
    json_t *d;
    bool found = false;
    char avail[512] = "";
    json_array_foreach(ms, i, d)
    {
        if (rc < 0)
            break;
        struct kiln_platform have;
        kiln_platform_from_json(json_object_get(d, "platform"), &have);
        size_t al = strlen(avail);
        char hs[KILN_PLATFORM_MAX];
        snprintf(avail + al, sizeof(avail) - al, "%s%s", al ? ", " : "",
                 kiln_platform_format(&have, hs));
        if (platform && !kiln_platform_match(&want, &have))
            continue;
        const char *cd = json_string_value(json_object_get(d, "digest"));
        const char *cmt = json_string_value(json_object_get(d, "mediaType"));
        if (!cd || !kiln_digest_valid(cd)) {
            rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: index %s: entry %zu has no valid digest",
                           s->spec, digest, i);
            break;
        }
        if (cmt && kiln_media_type_is_index(cmt)) {
            rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: nested indexes are not supported", s->spec);
            break;
        }
        struct kiln_image *im = NULL;
        if ((rc = add_image(s, &im, err)) < 0)
            break;
        snprintf(im->manifest_digest, KILN_DIGEST_MAX, "%s", cd);
        char gmt[128] = "";
        if ((rc = get_doc(s, repo, cd, true, &im->manifest, gmt, err)) < 0)
            break;
        snprintf(im->media_type, sizeof(im->media_type), "%s", cmt ? cmt : gmt);
        rc = load_image(s, repo, im, err);
        found = true;
        if (platform)
            break;
    }
    json_decref(j);
    if (rc == 0 && platform && !found)
        return kiln_fail(err, KILN_ERR_INPUT, "%s: no image for platform %s (it has: %s)", s->spec,
                         platform, avail);
    if (rc == 0 && !platform) {
        s->is_index = true;
        s->index = *doc;
        *doc = (struct kiln_buf){0};
        snprintf(s->index_digest, KILN_DIGEST_MAX, "%s", digest);
        snprintf(s->index_media_type, 128, "%s", *type ? type : KILN_MT_OCI_INDEX);
    }
    return rc;
}

/* ---- oci: and oci-archive: ---- */

static int open_layout(struct kiln_src *s, const char *tag, long index, const char *platform,
                       struct kiln_error *err)
{
    _cleanup_free_ char *ip = kiln_path_join(s->layout, "index.json", err);
    if (!ip)
        return -1;
    struct kiln_buf b = {0};
    if (kiln_read_file(ip, DOC_MAX, &b, err) < 0) {
        kiln_error_prefix(err, "%s: not an OCI layout", s->spec);
        return kiln_layout_explain_missing(s->layout, s->spec, err);
    }
    json_t *idx = json_loads(b.data, 0, NULL);
    kiln_buf_free(&b);
    json_t *ms = json_object_get(idx, "manifests");
    if (!json_is_array(ms)) {
        json_decref(idx);
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: index.json has no manifests array", s->spec);
    }
    json_t *pick = NULL;
    size_t i;
    json_t *d;
    char tags[512] = "";
    /* Referrers kiln attached are untagged entries with an artifactType
     * (docs/referrers.md): a layout of one image and its referrers still
     * names its image without :NAME. */
    size_t nimages = 0;
    json_t *only = NULL;
    json_array_foreach(ms, i, d) if (!json_object_get(d, "artifactType"))
    {
        nimages++;
        only = d;
    }
    json_array_foreach(ms, i, d)
    {
        const char *t = json_string_value(
            json_object_get(json_object_get(d, "annotations"), KILN_ANNOT_REF_NAME));
        size_t l = strlen(tags);
        if (t)
            snprintf(tags + l, sizeof(tags) - l, "%s%s", l ? ", " : "", t);
        if (tag ? (t && !strcmp(t, tag))
                : index >= 0 ? (size_t)index == i : nimages == 1 && d == only)
            pick = d;
    }
    if (!pick) {
        int rc;
        if (index >= 0)
            rc = kiln_fail(err, KILN_ERR_INPUT,
                           "%s: no image @%ld: the layout holds %zu (@0 to @%zu; tags: %s)",
                           s->spec, index, json_array_size(ms),
                           json_array_size(ms) ? json_array_size(ms) - 1 : 0,
                           tags[0] ? tags : "none");
        else if (tag)
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: no image with that tag (tags in the layout: %s)",
                           s->spec, tags[0] ? tags : "none");
        else if (!json_array_size(ms))
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: the layout holds no image", s->spec);
        else
            rc = kiln_fail(err, KILN_ERR_INPUT,
                           "%s: the layout holds %zu images: name one with :NAME or :@INDEX "
                           "(tags in the layout: %s)",
                           s->spec, json_array_size(ms), tags[0] ? tags : "none");
        json_decref(idx);
        return rc;
    }
    char digest[KILN_DIGEST_MAX];
    const char *pd = json_string_value(json_object_get(pick, "digest"));
    const char *pmt = json_string_value(json_object_get(pick, "mediaType"));
    char mt[128];
    snprintf(digest, sizeof(digest), "%s", pd ? pd : "");
    snprintf(mt, sizeof(mt), "%s", pmt ? pmt : "");
    json_decref(idx);
    struct kiln_buf doc = {0};
    int rc = get_doc(s, NULL, digest, true, &doc, NULL, err);
    if (rc == 0)
        rc = load_top(s, NULL, &doc, mt, digest, platform, err);
    kiln_buf_free(&doc);
    return rc;
}

/* Extracts the regular files of a tar archive into dir, refusing escapes. */
static int extract(const char *file, const char *dir, struct kiln_error *err)
{
    struct archive *a = archive_read_new();
    if (!a)
        return kiln_oom(err);
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    int rc = 0;
    struct kiln_buf norm = {0}, target = {0};
    struct kiln_strlist links = {0}; /* member, target, member, target, … */
    if (archive_read_open_filename(a, file, 1 << 20) != ARCHIVE_OK) {
        rc = kiln_fail(err, KILN_ERR_INPUT, "%s: %s", file, archive_error_string(a));
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN || r == ARCHIVE_RETRY) {
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: corrupt or truncated archive: %s", file,
                           archive_error_string(a));
            break;
        }
        if (kiln_normalise_member_path(archive_entry_pathname(e), &norm, err) < 0) {
            rc = kiln_error_prefix(err, "%s", file);
            break;
        }
        if (!norm.len)
            continue;
        _cleanup_free_ char *dst = kiln_path_join(dir, norm.data, err);
        if (!dst) {
            rc = -1;
            break;
        }
        if (archive_entry_filetype(e) == AE_IFDIR) {
            if (mkdir(dst, 0755) < 0 && errno != EEXIST)
                rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
            continue;
        }
        const char *link = archive_entry_hardlink(e);
        bool sym = !link && archive_entry_filetype(e) == AE_IFLNK;
        if (sym)
            link = archive_entry_symlink(e);
        if (link) {
            /* a member stored once for several images: linked to later */
            if ((rc = kiln_archive_link_resolve(norm.data, link, sym, &target, err)) < 0 ||
                (rc = kiln_strlist_push(&links, norm.data, err)) < 0 ||
                (rc = kiln_strlist_push(&links, target.data, err)) < 0) {
                kiln_error_prefix(err, "%s", file);
                break;
            }
            continue;
        }
        if (archive_entry_filetype(e) != AE_IFREG)
            continue; /* image archives hold only files, directories and links */
        /* parents may be implicit */
        for (char *p = dst + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
            *p = '\0';
            mkdir(dst, 0755);
            *p = '/';
        }
        int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) {
            rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
            break;
        }
        const void *buf;
        size_t len;
        la_int64_t off;
        while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
            if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
                rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
                break;
            }
        }
        close(fd);
        if (rc == 0 && r != ARCHIVE_EOF)
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: corrupt or truncated archive: %s", file,
                           archive_error_string(a));
        if (rc < 0)
            break;
    }
    /* Links become hard links to what they name, once that is extracted (a
     * link to a link resolves in a later round); the rest are ignored, as
     * before: a manifest that names one then finds it missing. */
    for (bool progress = true; rc == 0 && progress;) {
        progress = false;
        for (size_t i = 0; rc == 0 && i + 1 < links.n; i += 2) {
            if (!links.v[i][0])
                continue;
            _cleanup_free_ char *dst = kiln_path_join(dir, links.v[i], err);
            _cleanup_free_ char *src = dst ? kiln_path_join(dir, links.v[i + 1], err) : NULL;
            struct stat st;
            if (!src)
                rc = -1;
            else if (lstat(src, &st) == 0 && S_ISREG(st.st_mode)) {
                for (char *p = dst + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
                    *p = '\0';
                    mkdir(dst, 0755);
                    *p = '/';
                }
                unlink(dst);
                if (link(src, dst) < 0)
                    rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
                links.v[i][0] = '\0';
                progress = true;
            }
        }
    }
out:
    kiln_strlist_free(&links);
    kiln_buf_free(&target);
    kiln_buf_free(&norm);
    archive_read_free(a);
    return rc;
}

/* ---- docker-archive: ---- */

/* Reads a docker-archive layer once: its digest and size (the compressed
 * bytes, as a manifest names them) and, through libarchive's decompressors,
 * its diff_id (the tar), which the config records: what a damaged archive
 * fails. diff_id is left empty when the compression is not one libarchive
 * decodes here. */

static int hash_layer(const char *path, char digest[KILN_DIGEST_MAX], uint64_t *size,
                      unsigned char magic[6], char diff_id[KILN_DIGEST_MAX],
                      struct kiln_error *err)
{
    diff_id[0] = '\0';
    struct kiln_hash_reader lr = {.fd = open(path, O_RDONLY | O_CLOEXEC)};
    if (lr.fd < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", path);
    memset(magic, 0, 6);
    ssize_t m = pread(lr.fd, magic, 6, 0);
    bool gzip = m >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    bool zstd = m >= 4 && !memcmp(magic, "\x28\xb5\x2f\xfd", 4);
    bool plain = !gzip && !zstd && memcmp(magic, "BZh", 3) && memcmp(magic, "\xfd" "7zXZ", 5);
    struct kiln_sha256 tar;
    bool have_tar = false;
    int rc = kiln_sha256_init(&lr.sha, err);
    if (rc == 0 && !(lr.buf = kiln_xmalloc(1 << 16, err)))
        rc = -1;
    struct archive *a = NULL;
    if (rc == 0 && (gzip || zstd || plain)) {
        if (!(a = archive_read_new()) || kiln_sha256_init(&tar, err) < 0)
            rc = a ? -1 : kiln_oom(err);
        else
            have_tar = true;
    }
    if (rc == 0 && a) {
        archive_read_support_filter_all(a);
        archive_read_support_format_raw(a);
        struct archive_entry *e;
        int r = archive_read_open(a, &lr, NULL, kiln_hash_reader_read, NULL);
        if (r == ARCHIVE_OK)
            r = archive_read_next_header(a, &e);
        /* a compression this libarchive cannot decode gives no diff_id */
        bool decoded = r == ARCHIVE_OK && (plain || archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE);
        const void *blk;
        size_t len;
        la_int64_t off;
        while (decoded && (r = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK)
            kiln_sha256_update(&tar, blk, len);
        if (r == ARCHIVE_EOF && decoded)
            kiln_sha256_final(&tar, diff_id);
        else if (decoded || r == ARCHIVE_FATAL)
            /* the bytes do not decode: the layer is damaged */
            rc = kiln_fail(err, KILN_ERR_INPUT, "cannot decompress: %s",
                           archive_error_string(a) ? archive_error_string(a) : "read error");
    }
    if (a)
        archive_read_free(a);
    if (have_tar)
        kiln_sha256_free(&tar);
    /* what libarchive left unread (all of it, without a decoder) */
    while (rc == 0) {
        ssize_t r = read(lr.fd, lr.buf, 1 << 16);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", path);
        if (r <= 0)
            break;
        kiln_sha256_update(&lr.sha, lr.buf, (size_t)r);
        lr.n += (uint64_t)r;
    }
    if (rc == 0) {
        kiln_sha256_final(&lr.sha, digest);
        *size = lr.n;
    }
    kiln_sha256_free(&lr.sha);
    free(lr.buf);
    close(lr.fd);
    return rc;
}

/* "@0 a:1, a:latest; @1 b:1": what manifest.json holds, for messages. */
static void describe_archive(json_t *m, char *out, size_t n)
{
    out[0] = '\0';
    size_t i;
    json_t *im;
    json_array_foreach(m, i, im)
    {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s@%zu", i ? "; " : "", i);
        json_t *tags = json_object_get(im, "RepoTags");
        size_t j;
        json_t *t;
        json_array_foreach(tags, j, t)
        {
            l = strlen(out);
            snprintf(out + l, n - l, "%s%s", j ? ", " : " ",
                     json_string_value(t) ? json_string_value(t) : "?");
        }
        if (!json_array_size(tags)) {
            l = strlen(out);
            snprintf(out + l, n - l, " (untagged)");
        }
    }
}

/* The image of manifest.json that the spec chooses: by reference (one of
 * its RepoTags, normalised), by @INDEX, or the only one. docker save orders
 * the images of one call at random, so several with no choice is an error. */
static int choose_docker_image(struct kiln_src *s, json_t *m, const struct kiln_spec *t,
                               json_t **out, const char **repo_tag, struct kiln_error *err)
{
    size_t n = json_array_size(m);
    char held[768];
    describe_archive(m, held, sizeof(held));
    *repo_tag = NULL;
    *out = NULL;
    if (!json_is_array(m) || n == 0)
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: manifest.json lists no image", s->spec);
    if (t->have_ref) {
        size_t i, j;
        json_t *im, *tag;
        json_array_foreach(m, i, im)
        {
            json_array_foreach(json_object_get(im, "RepoTags"), j, tag)
            {
                if (!*out && kiln_repo_tag_matches(json_string_value(tag), &t->ref)) {
                    *out = im;
                    *repo_tag = json_string_value(tag);
                }
            }
        }
        if (!*out)
            return kiln_fail(err, KILN_ERR_INPUT, "%s: no image named %s in the archive (it holds: %s)",
                             s->spec, t->name, held);
        return 0;
    }
    if (t->index >= 0) {
        if ((size_t)t->index >= n)
            return kiln_fail(err, KILN_ERR_INPUT,
                             "%s: no image @%ld: the archive holds %zu (%s)", s->spec, t->index,
                             n, held);
        *out = json_array_get(m, (size_t)t->index);
    } else if (n > 1)
        return kiln_fail(err, KILN_ERR_INPUT,
                         "%s: the archive holds %zu images: choose one with :NAME:TAG or "
                         ":@INDEX (%s)",
                         s->spec, n, held);
    else
        *out = json_array_get(m, 0);
    *repo_tag = json_string_value(json_array_get(json_object_get(*out, "RepoTags"), 0));
    return 0;
}

static int open_docker_archive(struct kiln_src *s, const char *file, const struct kiln_spec *t,
                               struct kiln_error *err)
{
    if (make_tmpdir(s, err) < 0 || extract(file, s->tmpdir, err) < 0)
        return -1;
    _cleanup_free_ char *mp = kiln_path_join(s->tmpdir, "manifest.json", err);
    if (!mp)
        return -1;
    struct kiln_buf b = {0};
    if (kiln_read_file(mp, DOC_MAX, &b, NULL) < 0)
        return kiln_fail(err, KILN_ERR_INPUT,
                         "%s: no manifest.json: not a docker archive (or one from Docker < 1.10)",
                         s->spec);
    json_t *m = json_loads(b.data, 0, NULL);
    kiln_buf_free(&b);
    json_t *e0;
    const char *rt;
    if (choose_docker_image(s, m, t, &e0, &rt, err) < 0) {
        json_decref(m);
        return -1;
    }
    const char *cfg = json_string_value(json_object_get(e0, "Config"));
    json_t *layers = json_object_get(e0, "Layers");
    if (!cfg || !json_is_array(layers)) {
        json_decref(m);
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: manifest.json lacks Config or Layers", s->spec);
    }
    if (rt && !(s->tag = strdup(rt))) {
        json_decref(m);
        return kiln_oom(err);
    }
    struct kiln_image *im = NULL;
    int rc = add_image(s, &im, err);
    struct kiln_buf norm = {0};
    if (rc == 0 && (rc = kiln_normalise_member_path(cfg, &norm, err)) == 0) {
        char *cp = kiln_path_join(s->tmpdir, norm.data, err);
        rc = cp ? kiln_read_file(cp, CONFIG_MAX, &im->config, err) : -1;
        free(cp);
    }
    if (rc == 0)
        rc = kiln_sha256_buf(im->config.data, im->config.len, im->config_digest, err);
    /* a config named by its digest ("<hex>.json", "blobs/sha256/<hex>") must have it */
    const char *cbase = rc == 0 ? strrchr(norm.data, '/') : NULL;
    cbase = cbase ? cbase + 1 : norm.data;
    if (rc == 0 && strspn(cbase, "0123456789abcdef") == 64 &&
        (!strcmp(cbase + 64, ".json") || (!cbase[64] && !strncmp(norm.data, "blobs/sha256/", 13))) &&
        strncmp(cbase, im->config_digest + 7, 64))
        rc = kiln_fail(err, KILN_ERR_INPUT,
                       "blob sha256:%.64s in %s does not match its digest: the archive is "
                       "damaged; re-create it",
                       cbase, s->spec);
    json_t *cj = rc == 0 ? json_loads(im->config.data, 0, NULL) : NULL;
    json_t *cids = json_object_get(json_object_get(cj, "rootfs"), "diff_ids");
    if (rc == 0 && !(im->layers = calloc(json_array_size(layers) ? json_array_size(layers) : 1,
                                         sizeof(*im->layers))))
        rc = kiln_oom(err);
    if (rc == 0)
        im->nlayers = json_array_size(layers);
    json_t *jl = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(layers, i, v)
    {
        if (rc < 0)
            break;
        struct kiln_layer *l = &im->layers[i];
        l->src = s;
        if ((rc = kiln_normalise_member_path(json_string_value(v) ? json_string_value(v) : "",
                                             &norm, err)) < 0)
            break;
        if (!(l->path = kiln_path_join(s->tmpdir, norm.data, err))) {
            rc = -1;
            break;
        }
        unsigned char magic[6];
        char diff_id[KILN_DIGEST_MAX];
        if ((rc = hash_layer(l->path, l->digest, &l->size, magic, diff_id, err)) < 0) {
            rc = kiln_error_prefix(err, "layer %s in %s is damaged (re-create the archive)",
                                   norm.data, s->spec);
            break;
        }
        /* a layer named by its digest must have it; its tar must have the
         * diff_id the config records for it */
        const char *lbase = strrchr(norm.data, '/');
        lbase = lbase ? lbase + 1 : norm.data;
        const char *want_id = json_string_value(json_array_get(cids, i));
        if (!strncmp(norm.data, "blobs/sha256/", 13) && strspn(lbase, "0123456789abcdef") == 64 &&
            !lbase[64] && strcmp(lbase, l->digest + 7)) {
            rc = kiln_fail(err, KILN_ERR_INPUT,
                           "layer %s in %s does not match its digest: the archive is damaged; "
                           "re-create it",
                           norm.data, s->spec);
            break;
        }
        if (diff_id[0] && want_id && json_array_size(cids) == json_array_size(layers) &&
            strcmp(diff_id, want_id)) {
            rc = kiln_fail(err, KILN_ERR_INPUT,
                           "layer %s in %s does not match its diff_id %s in the config: the "
                           "archive is damaged; re-create it",
                           norm.data, s->spec, want_id);
            break;
        }
        const char *lmt = "application/vnd.oci.image.layer.v1.tar";
        if (magic[0] == 0x1f && magic[1] == 0x8b)
            lmt = "application/vnd.oci.image.layer.v1.tar+gzip";
        else if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
            lmt = "application/vnd.oci.image.layer.v1.tar+zstd";
        else if (!memcmp(magic, "BZh", 3) || !memcmp(magic, "\xfd" "7zXZ", 5)) {
            rc = kiln_fail(err, KILN_ERR_FORMAT,
                           "%s: layer %s is bzip2/xz-compressed, which OCI images cannot carry",
                           s->spec, norm.data);
            break;
        }
        snprintf(l->media_type, sizeof(l->media_type), "%s", lmt);
        json_t *d = json_object();
        json_object_set_new(d, "mediaType", json_string(lmt));
        json_object_set_new(d, "digest", json_string(l->digest));
        json_object_set_new(d, "size", json_integer((json_int_t)l->size));
        json_array_append_new(jl, d);
    }
    kiln_buf_free(&norm);
    json_decref(m);
    json_decref(cj);
    if (rc < 0) {
        json_decref(jl);
        return -1;
    }
    /* The manifest kiln build would have written for these blobs. */
    json_t *man = json_object(), *cd = json_object();
    json_object_set_new(man, "schemaVersion", json_integer(2));
    json_object_set_new(man, "mediaType", json_string(KILN_MT_OCI_MANIFEST));
    json_object_set_new(cd, "mediaType", json_string(KILN_MT_OCI_CONFIG));
    json_object_set_new(cd, "digest", json_string(im->config_digest));
    json_object_set_new(cd, "size", json_integer((json_int_t)im->config.len));
    json_object_set_new(man, "config", cd);
    json_object_set_new(man, "layers", jl);
    char *ms = json_dumps(man, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(man);
    if (!ms)
        return kiln_oom(err);
    rc = kiln_buf_append(&im->manifest, ms, strlen(ms), err);
    free(ms);
    if (rc == 0)
        rc = kiln_sha256_buf(im->manifest.data, im->manifest.len, im->manifest_digest, err);
    snprintf(im->media_type, sizeof(im->media_type), "%s", KILN_MT_OCI_MANIFEST);
    json_t *c = rc == 0 ? json_loads(im->config.data, 0, NULL) : NULL;
    if (rc == 0 && !c)
        rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: the config is not JSON", s->spec);
    if (c) {
        rc = layer_diff_ids(im, c, err);
        json_decref(c);
    }
    return rc;
}

/* ---- docker:// ---- */

/* The manifest from the first mirror that has it (s->reg then stays that
 * mirror's, for the blobs too). Returns 1 when none has it. A mirror's
 * failure is only logged: the next one, then the registry itself, is tried,
 * as docker does. */
static int from_mirror(struct kiln_src *s, const struct kiln_registry_opts *ro,
                       struct kiln_buf *doc, char mt[128], char digest[KILN_DIGEST_MAX],
                       struct kiln_error *err)
{
    struct kiln_mirror *m = NULL;
    size_t n = 0;
    if (kiln_registry_mirrors(ro, s->ref.domain, &m, &n, err) < 0)
        return -1;
    const char *ref = s->ref.digest ? s->ref.digest : s->ref.tag;
    int rc = 1;
    for (size_t i = 0; rc == 1 && i < n; i++) {
        /* the mirror's own credentials (auth files), not the registry's */
        struct kiln_registry_opts mo = *ro;
        mo.creds = NULL;
        mo.insecure = ro->insecure || m[i].insecure;
        mo.retries = ro->retries < 1 ? ro->retries : 1;
        struct kiln_registry *reg = NULL;
        struct kiln_error e = {0};
        if (kiln_registry_open(m[i].host, &mo, &reg, &e) == 0 &&
            kiln_registry_get_manifest(reg, s->ref.path, ref, doc, mt, digest, &e) == 0) {
            s->reg = reg;
            kiln_log(ro->log, ro->log_ud, KILN_LOG_INFO, "%s: from the mirror %s", s->spec,
                     m[i].host);
            rc = 0;
        } else {
            kiln_log(ro->log, ro->log_ud, KILN_LOG_INFO, "%s: mirror %s: %s; trying %s",
                     s->spec, m[i].host, e.message,
                     i + 1 < n ? "the next mirror" : "the registry itself");
            kiln_registry_close(reg);
        }
    }
    free(m);
    return rc;
}

static int open_registry(struct kiln_src *s, const char *platform,
                         const struct kiln_registry_opts *ro, struct kiln_error *err)
{
    const char *ref = s->ref.digest ? s->ref.digest : s->ref.tag;
    struct kiln_buf doc = {0};
    char mt[128] = "", digest[KILN_DIGEST_MAX];
    int rc = from_mirror(s, ro, &doc, mt, digest, err);
    if (rc < 0)
        return -1;
    if (rc == 1 && kiln_registry_open(s->ref.domain, ro, &s->reg, err) < 0)
        return -1;
    if (rc == 1)
        rc = kiln_registry_get_manifest(s->reg, s->ref.path, ref, &doc, mt, digest, err);
    if (rc == 0)
        rc = load_top(s, s->ref.path, &doc, mt, digest, platform, err);
    kiln_buf_free(&doc);
    return rc;
}

int kiln_layer_fetch(struct kiln_layer *l, struct kiln_error *err)
{
    struct kiln_src *s = l->src;
    if (l->path) {
        if (access(l->path, R_OK) < 0)
            return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s: blob %s", s ? s->spec : "layer",
                                   l->digest);
        return 0;
    }
    if (!s || s->kind != KILN_SRC_REGISTRY)
        return kiln_fail(err, KILN_ERR_INTERNAL, "%s: blob %s has no file", s ? s->spec : "layer",
                         l->digest);
    /* The temporary directory exists from kiln_src_open on; a unique name
     * per download lets threads fetch the same digest side by side. */
    char name[128];
    snprintf(name, sizeof(name), "%.64s-XXXXXX", l->digest + 7);
    char *p = kiln_path_join(s->tmpdir, name, err);
    if (!p)
        return -1;
    int fd = mkstemp(p);
    if (fd < 0) {
        int e = errno;
        free(p);
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, e, "cannot create a temporary file");
    }
    close(fd);
    if (kiln_registry_get_blob(s->reg, s->ref.path, l->digest, l->size, p, err) < 0) {
        unlink(p);
        free(p);
        return -1;
    }
    l->path = p;
    return 0;
}

int kiln_src_open(const char *spec, const char *platform, const struct kiln_registry_opts *ro,
                  struct kiln_src **out, struct kiln_error *err)
{
    return kiln_src_open_ex(spec, platform, 0, ro, out, err);
}

int kiln_src_open_ex(const char *spec, const char *platform, unsigned flags,
                     const struct kiln_registry_opts *ro, struct kiln_src **out,
                     struct kiln_error *err)
{
    struct kiln_src *s = calloc(1, sizeof(*s));
    if (!s)
        return kiln_oom(err);
    s->host_default = flags & KILN_SRC_HOST_DEFAULT;
    struct kiln_spec t;
    int rc = 0;
    if (!(s->spec = kiln_strdup(spec, err)) || kiln_spec_parse(spec, NULL, &t, err) < 0) {
        kiln_src_free(s);
        return -1;
    }
    struct stat st;
    if (t.kind == KILN_TRANSPORT_DOCKER) {
        s->kind = KILN_SRC_REGISTRY;
        s->ref = t.ref;
        memset(&t.ref, 0, sizeof(t.ref));
        if (s->ref.tag && !(s->tag = strdup(s->ref.tag)))
            rc = kiln_oom(err);
        if (rc == 0)
            rc = make_tmpdir(s, err);
        if (rc == 0)
            rc = open_registry(s, platform, ro, err);
    } else if (stat(t.path, &st) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", spec);
    else if (t.kind == KILN_TRANSPORT_OCI) {
        s->kind = KILN_SRC_LAYOUT;
        s->layout = TAKE_PTR(t.path);
        if (t.name && !(s->tag = strdup(t.name)))
            rc = kiln_oom(err);
        if (rc == 0)
            rc = open_layout(s, t.name, t.index, platform, err);
    } else if (t.kind == KILN_TRANSPORT_OCI_ARCHIVE) {
        s->kind = KILN_SRC_LAYOUT;
        rc = make_tmpdir(s, err);
        if (rc == 0)
            rc = extract(t.path, s->tmpdir, err);
        if (rc == 0 && !(s->layout = strdup(s->tmpdir)))
            rc = kiln_oom(err);
        if (rc == 0 && t.name && !(s->tag = strdup(t.name)))
            rc = kiln_oom(err);
        if (rc == 0)
            rc = open_layout(s, t.name, t.index, platform, err);
    } else {
        s->kind = KILN_SRC_DOCKER_ARCHIVE;
        rc = open_docker_archive(s, t.path, &t, err);
    }
    kiln_spec_free(&t);
    if (rc < 0) {
        kiln_src_free(s);
        return -1;
    }
    *out = s;
    return 0;
}
