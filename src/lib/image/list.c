/*
 * kiln_list_images: what a local layout or archive holds, without unpacking
 * it. Only the small JSON documents are read (index.json, manifests, configs,
 * manifest.json); layer blobs are never opened, their sizes come from the
 * manifests (or, in a docker-archive, from the tar headers). Every document
 * read by digest is checked against it.
 */
#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <string.h>

#include "../internal.h"
#include "transport.h"
#include "layout.h"

#define DOC_MAX    (4 * 1024 * 1024)
#define CONFIG_MAX (16 * 1024 * 1024)
/* An archive's JSON documents are held in memory: bounded against hostile input. */
#define ARCHIVE_DOCS_MAX    (256 * 1024 * 1024)
#define ARCHIVE_MEMBERS_MAX 1000000
#define INDEX_DEPTH_MAX     4

/* A regular file of an archive: its size, and its bytes when it may be JSON. */
struct member {
    char *name;
    char *link; /* a link member: the archive path it points at (size and data are its) */
    uint64_t size;
    struct kiln_buf data; /* empty unless the file starts with '{' or '[' */
};

struct lister {
    const char *spec;
    enum { LIST_OCI, LIST_OCI_ARCHIVE, LIST_DOCKER_ARCHIVE } kind;
    struct kiln_spec t;
    const char *path;
    const char *tag; /* only entries with this name */
    struct member *members;
    size_t nmembers;
};

static void lister_free(struct lister *L)
{
    for (size_t i = 0; i < L->nmembers; i++) {
        free(L->members[i].name);
        free(L->members[i].link);
        kiln_buf_free(&L->members[i].data);
    }
    free(L->members);
    kiln_spec_free(&L->t);
}

static int parse_spec(struct lister *L, const char *spec, struct kiln_error *err)
{
    L->spec = spec;
    if (kiln_spec_parse(spec, NULL, &L->t, err) < 0)
        return -1;
    if (L->t.kind == KILN_TRANSPORT_DOCKER)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "%s: kiln list reads local layouts and archives; for a registry, use "
                         "kiln tags or kiln inspect",
                         spec);
    L->kind = L->t.kind == KILN_TRANSPORT_OCI           ? LIST_OCI
              : L->t.kind == KILN_TRANSPORT_OCI_ARCHIVE ? LIST_OCI_ARCHIVE
                                                        : LIST_DOCKER_ARCHIVE;
    L->path = L->t.path;
    L->tag = L->t.kind != KILN_TRANSPORT_DOCKER_ARCHIVE ? L->t.name : NULL;
    return 0;
}

/* One pass over an archive: every regular file's size, and the bytes of the
 * small ones that look like JSON. */
static int read_archive(struct lister *L, struct kiln_error *err)
{
    struct archive *a = archive_read_new();
    if (!a)
        return kiln_oom(err);
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    int rc = 0;
    uint64_t held = 0;
    struct kiln_buf norm = { 0 };
    if (archive_read_open_filename(a, L->path, 1 << 20) != ARCHIVE_OK) {
        rc = kiln_fail(err, KILN_ERR_INPUT, "%s: %s", L->spec, archive_error_string(a));
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN || r == ARCHIVE_RETRY) {
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: corrupt or truncated archive: %s", L->spec,
                           archive_error_string(a));
            break;
        }
        if ((rc = kiln_check_interrupt(err)) < 0)
            break;
        const char *link = archive_entry_hardlink(e);
        bool sym = !link && archive_entry_filetype(e) == AE_IFLNK;
        if (sym)
            link = archive_entry_symlink(e);
        if (!link && archive_entry_filetype(e) != AE_IFREG)
            continue;
        if ((rc = kiln_normalise_member_path(archive_entry_pathname(e), &norm, err)) < 0) {
            kiln_error_prefix(err, "%s", L->spec);
            break;
        }
        if (!norm.len)
            continue;
        if (L->nmembers >= ARCHIVE_MEMBERS_MAX) {
            rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: more than %d files: not an image archive",
                           L->spec, ARCHIVE_MEMBERS_MAX);
            break;
        }
        struct member *v = realloc(L->members, (L->nmembers + 1) * sizeof(*v));
        if (!v) {
            rc = kiln_oom(err);
            break;
        }
        L->members = v;
        struct member *m = &v[L->nmembers];
        memset(m, 0, sizeof(*m));
        if (!(m->name = kiln_strdup(norm.data, err))) {
            rc = -1;
            break;
        }
        L->nmembers++;
        if (link) {
            /* docker save stores a layer shared by several images once */
            struct kiln_buf t = { 0 };
            if ((rc = kiln_archive_link_resolve(m->name, link, sym, &t, err)) < 0) {
                kiln_error_prefix(err, "%s", L->spec);
                break;
            }
            m->link = t.data;
            continue;
        }
        la_int64_t sz = archive_entry_size(e);
        m->size = sz > 0 ? (uint64_t)sz : 0;
        if (m->size == 0 || m->size > CONFIG_MAX || held + m->size > ARCHIVE_DOCS_MAX)
            continue;
        /* the first block tells a JSON document from a layer */
        const void *buf;
        size_t len;
        la_int64_t off;
        bool json = false, first = true;
        while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
            if (first && len) {
                json = ((const char *)buf)[0] == '{' || ((const char *)buf)[0] == '[';
                first = false;
            }
            if (!json)
                break;
            if (off != (la_int64_t)m->data.len) {
                rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: %s is a sparse file", L->spec, m->name);
                break;
            }
            if ((rc = kiln_buf_append(&m->data, buf, len, err)) < 0)
                break;
        }
        if (rc < 0)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_EOF) {
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: corrupt or truncated archive: %s", L->spec,
                           archive_error_string(a));
            break;
        }
        held += m->data.len;
    }
out:
    kiln_buf_free(&norm);
    archive_read_free(a);
    return rc;
}

static const struct member *find_member(const struct lister *L, const char *name)
{
    /* links followed, a few deep (a loop finds nothing) */
    for (int depth = 0; depth < 8; depth++) {
        const struct member *m = NULL;
        for (size_t i = 0; i < L->nmembers && !m; i++)
            if (!strcmp(L->members[i].name, name))
                m = &L->members[i];
        if (!m || !m->link)
            return m;
        name = m->link;
    }
    return NULL;
}

/* A file of the layout or archive, by its path inside it; `what` it is
 * (a manifest, a config), if its name does not say. */
static int get_file(const struct lister *L, const char *name, const char *what, size_t max,
                    struct kiln_buf *out, struct kiln_error *err)
{
    const char *w = what ? what : "", *sp = what ? " " : "";
    if (L->kind == LIST_OCI) {
        _cleanup_free_ char *p = kiln_path_join(L->path, name, err);
        if (!p)
            return -1;
        if (kiln_read_file(p, max, out, err) < 0)
            return what ? kiln_error_prefix(err, "%s: %s", L->spec, what)
                        : kiln_error_prefix(err, "%s", L->spec);
        return 0;
    }
    const struct member *m = find_member(L, name);
    if (!m)
        return kiln_fail(err, KILN_ERR_INPUT, "%s: no %s%s%s in the archive", L->spec, w, sp,
                         name);
    if (!m->data.data || m->data.len != m->size)
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: %s%s%s is not a JSON document", L->spec, w,
                         sp, name);
    return kiln_buf_append(out, m->data.data, m->data.len, err);
}

static json_t *load_json(const struct lister *L, const char *name, const char *what,
                         const char *digest, size_t max, struct kiln_error *err)
{
    struct kiln_buf b = { 0 };
    if (get_file(L, name, digest ? what : NULL, max, &b, err) < 0)
        return NULL;
    if (digest) {
        char got[KILN_DIGEST_MAX];
        if (kiln_sha256_buf(b.data, b.len, got, err) < 0) {
            kiln_buf_free(&b);
            return NULL;
        }
        if (strcmp(got, digest)) {
            kiln_buf_free(&b);
            kiln_fail(err, KILN_ERR_FORMAT, "%s: %s %s: the bytes hash to %s", L->spec, what,
                      digest, got);
            return NULL;
        }
    }
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, 0, &je);
    kiln_buf_free(&b);
    if (j)
        return j;
    if (digest)
        kiln_fail(err, KILN_ERR_FORMAT, "%s: %s %s is not JSON: %s (line %d)", L->spec, what,
                  digest, je.text, je.line);
    else if (L->kind == LIST_OCI) {
        /* a file of the layout by name (index.json): its full path */
        _cleanup_free_ char *p = kiln_path_join(L->path, name, NULL);
        _cleanup_free_ char *full = p ? realpath(p, NULL) : NULL;
        kiln_fail(err, KILN_ERR_FORMAT, "%s: %s is not JSON: %s (line %d)", L->spec,
                  full ? full : p ? p : name, je.text, je.line);
    } else
        kiln_fail(err, KILN_ERR_FORMAT, "%s: %s in the archive is not JSON: %s (line %d)",
                  L->spec, name, je.text, je.line);
    return NULL;
}

/* The document a descriptor names, read from blobs/ALG/HEX. */
static json_t *load_blob(const struct lister *L, const char *digest, const char *what, size_t max,
                         struct kiln_error *err)
{
    if (!digest || !kiln_digest_valid(digest)) {
        kiln_fail(err, KILN_ERR_FORMAT, "%s: a %s descriptor has no valid digest", L->spec, what);
        return NULL;
    }
    char name[128];
    snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
    return load_json(L, name, what, digest, max, err);
}

/* What one entry gathers while its manifests are walked. */
struct acc {
    struct kiln_strlist platforms;
    uint64_t size;
    char created[64];
};

static int add_platform(struct acc *a, json_t *obj, struct kiln_error *err)
{
    struct kiln_platform pl;
    kiln_platform_from_json(obj, &pl);
    if (!pl.os[0])
        snprintf(pl.os, sizeof(pl.os), "unknown");
    if (!pl.arch[0])
        snprintf(pl.arch, sizeof(pl.arch), "unknown");
    char p[KILN_PLATFORM_MAX];
    kiln_platform_format(&pl, p);
    for (size_t i = 0; i < a->platforms.n; i++)
        if (!strcmp(a->platforms.v[i], p))
            return 0;
    return kiln_strlist_push(&a->platforms, p, err);
}

static void add_created(struct acc *a, json_t *config)
{
    const char *c = json_string_value(json_object_get(config, "created"));
    /* RFC 3339 in UTC sorts as text */
    if (c && strlen(c) < sizeof(a->created) && strcmp(c, a->created) > 0)
        snprintf(a->created, sizeof(a->created), "%s", c);
}

static uint64_t desc_size(json_t *d)
{
    json_int_t s = json_integer_value(json_object_get(d, "size"));
    return s > 0 ? (uint64_t)s : 0;
}

/* Walks a manifest or index (descriptor d) into a; the config digest of a
 * single image goes to config_out. */
static int walk(const struct lister *L, json_t *d, int depth, struct acc *a,
                char config_out[KILN_DIGEST_MAX], struct kiln_error *err)
{
    const char *digest = json_string_value(json_object_get(d, "digest"));
    if (depth > INDEX_DEPTH_MAX)
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: indexes nested more than %d deep", L->spec,
                         INDEX_DEPTH_MAX);
    json_t *m = load_blob(L, digest, "manifest", DOC_MAX, err);
    if (!m)
        return -1;
    const char *mt = json_string_value(json_object_get(d, "mediaType"));
    if (!mt)
        mt = json_string_value(json_object_get(m, "mediaType"));
    int rc = 0;
    json_t *children = json_object_get(m, "manifests");
    if (kiln_media_type_is_index(mt) || (!mt && json_is_array(children))) {
        size_t i;
        json_t *c;
        json_array_foreach(children, i, c)
        {
            if ((rc = walk(L, c, depth + 1, a, NULL, err)) < 0)
                break;
        }
        json_decref(m);
        return rc;
    }
    json_t *cd = json_object_get(m, "config");
    const char *cdigest = json_string_value(json_object_get(cd, "digest"));
    a->size += desc_size(cd);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(m, "layers"), i, l) a->size += desc_size(l);
    json_t *config = load_blob(L, cdigest, "config", CONFIG_MAX, err);
    if (!config)
        rc = -1;
    if (rc == 0) {
        /* An index's entry says which hosts get the image: docker, podman and
         * containerd pick by it, so it is what a list of platforms shows
         * (podman manifest add --arch sets it apart from the config; kiln
         * validate warns when the two disagree). A lone image has only its
         * config. */
        json_t *dp = json_object_get(d, "platform");
        bool by_entry = json_is_string(json_object_get(dp, "os")) &&
                        json_is_string(json_object_get(dp, "architecture"));
        rc = add_platform(a, by_entry ? dp : config, err);
        add_created(a, config);
        if (config_out)
            snprintf(config_out, KILN_DIGEST_MAX, "%s", cdigest);
    }
    json_decref(config);
    json_decref(m);
    return rc;
}

static int push_entry(struct kiln_image_entry **v, size_t *n, struct kiln_image_entry **out,
                      struct kiln_error *err)
{
    struct kiln_image_entry *nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv)
        return kiln_oom(err);
    *v = nv;
    *out = &nv[(*n)++];
    memset(*out, 0, sizeof(**out));
    return 0;
}

/* Fills e's strings from what a gathered. */
static int finish_entry(struct kiln_image_entry *e, const char *name, const char *media_type,
                        const struct acc *a, struct kiln_error *err)
{
    e->size = a->size;
    if (name && !(e->name = kiln_strdup(name, err)))
        return -1;
    if (media_type && !(e->media_type = kiln_strdup(media_type, err)))
        return -1;
    if (a->created[0] && !(e->created = kiln_strdup(a->created, err)))
        return -1;
    struct kiln_buf p = { 0 };
    if (kiln_buf_append(&p, "", 0, err) < 0)
        return -1;
    for (size_t i = 0; i < a->platforms.n; i++)
        if (kiln_buf_printf(&p, err, "%s%s", i ? "," : "", a->platforms.v[i]) < 0) {
            kiln_buf_free(&p);
            return -1;
        }
    e->platforms = p.data;
    return 0;
}

/* Entries that cannot be read are listed anyway, marked broken (platforms
 * NULL, no config, size 0, created NULL); the listing then fails with one
 * message that names each of them and why, and keeps its entries. */
#define LIST_PARTIAL (-2)

struct broken {
    size_t n;
    int code;
    struct kiln_buf why; /* "'NAME' (DIGEST): cause; ..." */
};

/* Whether a failure reading one entry may be listed as a broken entry (not
 * running out of memory, nor an interrupt). */
static bool entry_failure(const struct kiln_error *e)
{
    return e->code != KILN_ERR_NOMEM && e->code != KILN_ERR_INTERRUPTED;
}

static int add_broken(struct broken *b, const struct lister *L, const char *name,
                      const char *digest, const struct kiln_error *e, struct kiln_error *err)
{
    /* the cause without the "SPEC: " every message of the lister starts with */
    const char *cause = e->message;
    size_t sl = strlen(L->spec);
    if (!strncmp(cause, L->spec, sl) && !strncmp(cause + sl, ": ", 2))
        cause += sl + 2;
    if (!b->n++)
        b->code = e->code;
    if (b->why.len >= KILN_ERROR_MESSAGE_MAX)
        return 0; /* more than the message holds: the count says how many */
    return kiln_buf_printf(&b->why, err, "%s'%s'%s%s%s: %s", b->why.len ? "; " : "",
                           name ? name : "<none>", digest && *digest ? " (" : "",
                           digest && *digest ? digest : "", digest && *digest ? ")" : "", cause);
}

static int broken_result(struct broken *b, const struct lister *L, size_t total,
                         struct kiln_error *err)
{
    if (!b->n)
        return 0;
    kiln_fail(err, b->code, "%s: %zu of %zu entries cannot be read (listed as broken): %s",
              L->spec, b->n, total, b->why.data);
    kiln_buf_free(&b->why);
    return LIST_PARTIAL;
}

/* A referrer's entry (an untagged entry with an artifactType, as kiln
 * attach writes them): no platform (platforms ""), the size of its blobs,
 * created from its annotation. */
static int walk_referrer(const struct lister *L, json_t *d, struct acc *a, struct kiln_error *err)
{
    json_t *m = load_blob(L, json_string_value(json_object_get(d, "digest")), "manifest",
                          DOC_MAX, err);
    if (!m)
        return -1;
    size_t i;
    json_t *l;
    a->size = desc_size(json_object_get(m, "config"));
    json_array_foreach(json_object_get(m, "layers"), i, l) a->size += desc_size(l);
    const char *c = json_string_value(
        json_object_get(json_object_get(m, "annotations"), "org.opencontainers.image.created"));
    if (c && strlen(c) < sizeof(a->created))
        snprintf(a->created, sizeof(a->created), "%s", c);
    json_decref(m);
    return 0;
}

static int list_layout(const struct lister *L, struct kiln_image_entry **v, size_t *n,
                       struct kiln_error *err)
{
    json_t *idx = load_json(L, "index.json", "index.json", NULL, DOC_MAX, err);
    if (!idx)
        return L->kind == LIST_OCI ? kiln_layout_explain_missing(L->path, L->spec, err) : -1;
    json_t *ms = json_object_get(idx, "manifests");
    if (!json_is_array(ms)) {
        json_decref(idx);
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: index.json has no manifests array", L->spec);
    }
    int rc = 0;
    size_t i;
    json_t *d;
    struct broken b = { 0 };
    json_array_foreach(ms, i, d)
    {
        const char *name = json_string_value(
            json_object_get(json_object_get(d, "annotations"), KILN_ANNOT_REF_NAME));
        if ((L->tag && (!name || strcmp(name, L->tag))) ||
            (L->t.index >= 0 && (size_t)L->t.index != i))
            continue;
        if ((rc = kiln_check_interrupt(err)) < 0)
            break;
        struct acc a = { 0 };
        struct kiln_image_entry *e;
        char config[KILN_DIGEST_MAX] = "";
        struct kiln_error we = { 0 };
        const char *digest = json_string_value(json_object_get(d, "digest"));
        bool broken = (json_object_get(d, "artifactType") ? walk_referrer(L, d, &a, &we)
                                                           : walk(L, d, 0, &a, config, &we)) < 0;
        if (broken && !entry_failure(&we)) {
            *err = we;
            rc = -1;
        } else if (broken)
            rc = add_broken(&b, L, name, digest, &we, err);
        if (rc == 0)
            rc = push_entry(v, n, &e, err);
        if (rc == 0) {
            const char *mt = json_string_value(json_object_get(d, "mediaType"));
            snprintf(e->digest, sizeof(e->digest), "%s", digest ? digest : "");
            if (broken) { /* what index.json says of it, and nothing else */
                if ((name && !(e->name = kiln_strdup(name, err))) ||
                    (mt && !(e->media_type = kiln_strdup(mt, err))))
                    rc = -1;
            } else {
                snprintf(e->config_digest, sizeof(e->config_digest), "%s", config);
                rc = finish_entry(e, name, mt, &a, err);
            }
        }
        kiln_strlist_free(&a.platforms);
        if (rc < 0)
            break;
    }
    json_decref(idx);
    if (rc == 0 && L->tag && *n == 0)
        rc = kiln_fail(err, KILN_ERR_INPUT, "%s: no image with that tag", L->spec);
    if (rc == 0 && L->t.index >= 0 && *n == 0)
        rc = kiln_fail(err, KILN_ERR_INPUT, "%s: no image @%ld: the layout holds %zu", L->spec,
                       L->t.index, json_array_size(ms));
    if (rc == 0)
        rc = broken_result(&b, L, *n, err);
    kiln_buf_free(&b.why);
    return rc;
}

/* One image of manifest.json: its config (id, platform, created) and the
 * sizes of its config and layers, into a. */
static int read_docker_image(const struct lister *L, json_t *im, size_t i, struct acc *a,
                             char id[KILN_DIGEST_MAX], struct kiln_buf *norm,
                             struct kiln_error *err)
{
    const char *cfg = json_string_value(json_object_get(im, "Config"));
    if (!cfg)
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: manifest.json: image %zu has no Config",
                         L->spec, i);
    if (kiln_normalise_member_path(cfg, norm, err) < 0)
        return -1;
    struct kiln_buf cb = { 0 };
    if (get_file(L, norm->data, "config", CONFIG_MAX, &cb, err) < 0)
        return -1;
    int rc = kiln_sha256_buf(cb.data, cb.len, id, err);
    json_t *config = rc == 0 ? json_loadb(cb.data, cb.len, 0, NULL) : NULL;
    a->size = cb.len;
    kiln_buf_free(&cb);
    if (rc == 0 && !config)
        rc = kiln_fail(err, KILN_ERR_FORMAT, "%s: config %s is not JSON", L->spec, cfg);
    if (rc == 0)
        rc = add_platform(a, config, err);
    if (config)
        add_created(a, config);
    json_decref(config);
    size_t j;
    json_t *l;
    json_array_foreach(json_object_get(im, "Layers"), j, l)
    {
        if (rc < 0)
            break;
        const char *lp = json_string_value(l);
        if ((rc = kiln_normalise_member_path(lp ? lp : "", norm, err)) < 0)
            break;
        const struct member *lm = find_member(L, norm->data);
        if (!lm)
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: layer %s is missing", L->spec, norm->data);
        else
            a->size += lm->size;
    }
    return rc;
}

static int list_docker_archive(const struct lister *L, struct kiln_image_entry **v, size_t *n,
                               struct kiln_error *err)
{
    if (!find_member(L, "manifest.json"))
        return kiln_fail(err, KILN_ERR_INPUT,
                         "%s: no manifest.json: not a docker archive (or one from Docker < 1.10)",
                         L->spec);
    json_t *m = load_json(L, "manifest.json", "manifest.json", NULL, DOC_MAX, err);
    if (!m)
        return -1;
    int rc = 0;
    struct kiln_buf norm = { 0 };
    struct broken b = { 0 };
    size_t i;
    json_t *im;
    json_array_foreach(m, i, im)
    {
        if (L->t.index >= 0 && (size_t)L->t.index != i)
            continue;
        json_t *tags = json_object_get(im, "RepoTags");
        size_t nt = json_array_size(tags), only = nt;
        if (L->t.have_ref) { /* the entry of the tag asked for */
            for (size_t t = 0; t < nt && only == nt; t++)
                if (kiln_repo_tag_matches(json_string_value(json_array_get(tags, t)), &L->t.ref))
                    only = t;
            if (only == nt)
                continue;
        }
        struct acc a = { 0 };
        char id[KILN_DIGEST_MAX] = "";
        struct kiln_error we = { 0 };
        bool broken = read_docker_image(L, im, i, &a, id, &norm, &we) < 0;
        if (broken && !entry_failure(&we)) {
            *err = we;
            rc = -1;
        }
        /* one entry per name, as docker images shows them; one unnamed if none */
        for (size_t t = 0; rc == 0 && t < (nt ? nt : 1); t++) {
            if (only < nt && t != only)
                continue;
            struct kiln_image_entry *e;
            const char *name = nt ? json_string_value(json_array_get(tags, t)) : NULL;
            if (broken && (rc = add_broken(&b, L, name, id, &we, err)) < 0)
                break;
            if ((rc = push_entry(v, n, &e, err)) < 0)
                break;
            snprintf(e->config_digest, sizeof(e->config_digest), "%s", id);
            if (broken)
                rc = name && !(e->name = kiln_strdup(name, err)) ? -1 : 0;
            else
                rc = finish_entry(e, name, NULL, &a, err);
        }
        kiln_strlist_free(&a.platforms);
        if (rc < 0)
            break;
    }
    if (rc == 0 && *n == 0 && (L->t.have_ref || L->t.index >= 0))
        rc = L->t.have_ref ? kiln_fail(err, KILN_ERR_INPUT, "%s: no image named %s in the archive",
                                       L->spec, L->t.name)
                           : kiln_fail(err, KILN_ERR_INPUT,
                                       "%s: no image @%ld: the archive holds %zu", L->spec,
                                       L->t.index, json_array_size(m));
    if (rc == 0)
        rc = broken_result(&b, L, *n, err);
    kiln_buf_free(&b.why);
    kiln_buf_free(&norm);
    json_decref(m);
    return rc;
}

void kiln_image_list_free(struct kiln_image_entry *entries, size_t n)
{
    if (!entries)
        return;
    for (size_t i = 0; i < n; i++) {
        free(entries[i].name);
        free(entries[i].media_type);
        free(entries[i].platforms);
        free(entries[i].created);
    }
    free(entries);
}

int kiln_list_images(const char *ref, struct kiln_image_entry **entries, size_t *n,
                     struct kiln_error *err)
{
    *entries = NULL;
    *n = 0;
    struct lister L = { 0 };
    struct kiln_image_entry *v = NULL;
    size_t nv = 0;
    int rc = parse_spec(&L, ref, err);
    if (rc == 0 && L.kind != LIST_OCI)
        rc = read_archive(&L, err);
    if (rc == 0)
        rc = L.kind == LIST_DOCKER_ARCHIVE ? list_docker_archive(&L, &v, &nv, err)
                                           : list_layout(&L, &v, &nv, err);
    lister_free(&L);
    if (rc < 0 && rc != LIST_PARTIAL) {
        kiln_image_list_free(v, nv);
        return -1;
    }
    /* a partial listing fails too, but keeps every entry, broken ones
     * included (platforms NULL): the caller frees them */
    *entries = v;
    *n = nv;
    return rc < 0 ? -1 : 0;
}
