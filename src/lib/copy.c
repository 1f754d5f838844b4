/*
 * kiln_copy, kiln_inspect, kiln_list_tags, kiln_login: the registry-facing
 * public API, and the push routine kiln_build uses for docker:// outputs.
 */
#include <jansson.h>
#include <stdarg.h>
#include <string.h>

#include "copy.h"
#include "image/layout.h"
#include "internal.h"

void kiln_remote_opts_init_size(struct kiln_remote_opts *o, size_t size)
{
    /* this version's defaults, of which the caller's struct gets its part */
    struct kiln_remote_opts d = {.size = sizeof(d),
                                 .tls_verify = true,
                                 .jobs = 4,
                                 .retries = 5,
                                 .retry_base_ms = 200,
                                 .stall_seconds = 60};
    size_t n = size < sizeof(d) ? size : sizeof(d);
    memcpy(o, &d, n);
    if (n >= sizeof(o->size))
        o->size = n;
}

const struct kiln_remote_opts *kiln_remote_opts_get(const struct kiln_remote_opts *o,
                                                    struct kiln_remote_opts *local)
{
    kiln_remote_opts_init(local);
    if (!o)
        return local;
    /* what the caller's struct holds (an older, smaller one: its fields only) */
    size_t n = o->size && o->size < sizeof(*o) ? o->size : sizeof(*o);
    memcpy(local, o, n);
    local->size = sizeof(*local);
    return local;
}

void kiln_registry_opts_from(const struct kiln_remote_opts *o, const char *creds,
                             struct kiln_registry_opts *ro)
{
    memset(ro, 0, sizeof(*ro));
    ro->tls.verify = o->tls_verify;
    ro->tls.ca_file = (char *)o->ca_file;
    ro->tls.cert_dir = (char *)o->cert_dir;
    ro->tls.stall_seconds = o->stall_seconds;
    ro->insecure = o->insecure;
    ro->creds = (char *)(creds ? creds : o->creds);
    ro->authfile = (char *)o->authfile;
    ro->jobs = o->jobs;
    ro->chunk_size = o->chunk_size;
    ro->retries = o->retries;
    ro->retry_base_ms = o->retry_base_ms;
    ro->log = o->log;
    ro->log_ud = o->log_userdata;
    ro->progress = o->progress;
    ro->progress_ud = o->progress_userdata;
    ro->mirrors = o->mirrors;
    ro->nmirrors = o->nmirrors;
    ro->daemon_json = o->daemon_json;
}

static int fetch_layer(void *ud, const struct kiln_push_blob *b, char **path,
                       struct kiln_error *err)
{
    (void)b;
    struct kiln_layer *l = ud;
    if (kiln_layer_fetch(l, err) < 0)
        return -1;
    *path = kiln_strdup(l->path, err);
    return *path ? 0 : -1;
}

/* The repository of dst's registry that a layer can be mounted from: its
 * source's, when that is another repository there. */
static const char *layer_mount(const struct kiln_layer *l, const struct kiln_reference *dst)
{
    const struct kiln_src *s = l->src;
    if (s && s->kind == KILN_SRC_REGISTRY && !strcmp(s->ref.domain, dst->domain) &&
        strcmp(s->ref.path, dst->path))
        return s->ref.path;
    return NULL;
}

int kiln_push_set(struct kiln_registry *reg, const struct kiln_reference *dst, const char *tag,
                  const struct kiln_image_set *set, const char *mount_from, struct kiln_error *err)
{
    const char *repo = dst->path;
    for (size_t k = 0; k < set->nimages; k++) {
        struct kiln_image *im = &set->images[k];
        size_t n = im->nlayers + 1;
        struct kiln_push_blob *blobs = calloc(n, sizeof(*blobs));
        if (!blobs)
            return kiln_oom(err);
        for (size_t i = 0; i < im->nlayers; i++) {
            struct kiln_layer *l = &im->layers[i];
            memcpy(blobs[i].digest, l->digest, KILN_DIGEST_MAX);
            blobs[i].size = l->size;
            blobs[i].path = l->path;
            blobs[i].origin = l->origin;
            blobs[i].mount_from = mount_from ? mount_from : layer_mount(l, dst);
            if (!l->path && l->src) {
                blobs[i].fetch = fetch_layer;
                blobs[i].fetch_ud = l;
            }
        }
        memcpy(blobs[im->nlayers].digest, im->config_digest, KILN_DIGEST_MAX);
        blobs[im->nlayers].size = im->config.len;
        blobs[im->nlayers].data = &im->config;
        blobs[im->nlayers].mount_from = mount_from;
        int rc = kiln_registry_push_blobs(reg, repo, blobs, n, err);
        free(blobs);
        if (rc < 0)
            return kiln_error_prefix(err, "push %s/%s", kiln_registry_host(reg), repo);
        /* An index's manifests go by digest; a lone manifest by its tag. */
        const char *ref = set->index ? im->manifest_digest : tag;
        if (kiln_registry_put_manifest(reg, repo, ref, &im->manifest, im->media_type,
                                       im->manifest_digest, err) < 0)
            return -1;
    }
    if (set->index && kiln_registry_put_manifest(reg, repo, tag, set->index, set->index_media_type,
                                                 set->index_digest, err) < 0)
        return -1;
    return 0;
}

/* ---- copy ---- */

/* The set a source holds, with the names it goes by: a registry source's
 * reference, a docker archive's RepoTag (parsed into *tagref, which the
 * caller frees when *have_tagref). */
static void src_set(struct kiln_src *s, struct kiln_image_set *set, struct kiln_reference *tagref,
                    bool *have_tagref)
{
    *set = (struct kiln_image_set){.images = s->images, .nimages = s->nimages};
    *have_tagref = false;
    if (s->is_index) {
        set->index = &s->index;
        memcpy(set->index_digest, s->index_digest, KILN_DIGEST_MAX);
        set->index_media_type = s->index_media_type;
    } else if (s->nimages)
        set->file_mtime = s->images[0].created;
    if (s->kind == KILN_SRC_REGISTRY && s->ref.tag) {
        set->tags = &s->ref;
        set->ntags = 1;
    } else if (s->kind == KILN_SRC_DOCKER_ARCHIVE && s->tag &&
               kiln_reference_parse(s->tag, tagref, NULL) == 0) {
        *have_tagref = true;
        set->tags = tagref;
        set->ntags = 1;
    }
}

static int push_set(const struct kiln_image_set *set, const char *mount_from,
                    const struct kiln_reference *dst, const struct kiln_remote_opts *o,
                    const char *creds, char digest[], struct kiln_error *err)
{
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, creds, &ro);
    struct kiln_registry *reg;
    if (kiln_registry_open(dst->domain, &ro, &reg, err) < 0)
        return -1;
    const char *tag = dst->digest ? dst->digest : dst->tag;
    int rc = kiln_push_set(reg, dst, tag, set, mount_from, err);
    const char *top, *mt;
    if (rc == 0 && kiln_set_top(set, &top, &mt))
        memcpy(digest, top, KILN_DIGEST_MAX);
    kiln_registry_close(reg);
    return rc;
}

static void warn(const struct kiln_remote_opts *o, const char *fmt, ...) KILN_PRINTF(2, 3);
static void warn(const struct kiln_remote_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_logv(o->log, o->log_userdata, KILN_LOG_WARNING, fmt, ap);
    va_end(ap);
}

static bool is_docker_type(const char *mt)
{
    return !strcmp(mt, KILN_MT_DOCKER_MANIFEST) ||
           !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json");
}

/* What a consumer of the destination will not read, said before writing it
 * (the bytes are kept: a conversion would change the digests). */
static void warn_consumers(const struct kiln_image_set *s, const struct kiln_output *out,
                           const struct kiln_remote_opts *o)
{
    const char *digest, *top;
    kiln_set_top(s, &digest, &top);
    if (out->kind != KILN_OUT_DOCKER_ARCHIVE && is_docker_type(top))
        warn(o,
             "-o %s: the %s keeps its Docker media type (%s): kiln and Docker read the entry, "
             "but skopeo, podman and umoci will not find it by its tag (containers/image and "
             "umoci take only OCI types from an OCI layout); to keep a Docker image, copy it "
             "to a registry or a docker-archive:",
             out->spec, s->index ? "index" : "manifest", top);
    if (out->kind != KILN_OUT_DOCKER_ARCHIVE)
        return;
    for (size_t k = 0; k < s->nimages; k++)
        for (size_t i = 0; i < s->images[k].nlayers; i++)
            if (strstr(s->images[k].layers[i].media_type, "zstd")) {
                warn(o,
                     "-o %s: layer %s is zstd-compressed: Docker before 23 cannot load this "
                     "archive",
                     out->spec, s->images[k].layers[i].digest);
                return;
            }
}

/* Writes the set to a local destination; tag names it there when the
 * destination does not. */
static int write_local(const struct kiln_image_set *set, const char *tag, const char *dest,
                       const struct kiln_remote_opts *o, char digest[], struct kiln_error *err)
{
    struct kiln_output out;
    if (kiln_output_parse(dest, &out, err) < 0)
        return -1;
    int rc = kiln_output_check(&out, err);
    if (rc == 0 && set->nimages)
        warn_consumers(set, &out, o);
    for (size_t k = 0; rc == 0 && k < set->nimages; k++)
        for (size_t i = 0; rc == 0 && i < set->images[k].nlayers; i++)
            rc = kiln_layer_fetch(&set->images[k].layers[i], err);
    if (rc == 0 && !out.tag && tag && kiln_tag_valid(tag) && !(out.tag = strdup(tag)))
        rc = kiln_oom(err);
    if (rc == 0)
        rc = kiln_output_prepare(&out, set, err);
    if (rc == 0)
        rc = kiln_output_commit(&out, err);
    if (rc < 0)
        kiln_output_rollback(&out);
    else {
        kiln_output_finish(&out);
        const char *top, *mt;
        kiln_set_top(set, &top, &mt);
        memcpy(digest, top, KILN_DIGEST_MAX);
    }
    kiln_output_free(&out);
    return rc;
}

int kiln_copy(const char *src, const char *dest, const char *platform,
              const struct kiln_remote_opts *o, char digest_out[KILN_DIGEST_MAX],
              struct kiln_error *err)
{
    struct kiln_remote_opts local;
    o = kiln_remote_opts_get(o, &local);
    struct kiln_reference dref = {0};
    bool remote_dest = kiln_transport_of(dest) == KILN_TRANSPORT_DOCKER;
    if (remote_dest && kiln_parse_docker_ref(dest, false, &dref, err) < 0)
        return -1;
    if (!remote_dest) {
        struct kiln_output probe;
        if (kiln_output_parse(dest, &probe, err) < 0)
            return -1;
        kiln_output_free(&probe);
    }
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, o->src_creds, &ro);
    struct kiln_src *s;
    if (kiln_src_open(src, platform, &ro, &s, err) < 0) {
        kiln_reference_free(&dref);
        return -1;
    }
    struct kiln_image_set set;
    struct kiln_reference tagref;
    bool have_tagref;
    src_set(s, &set, &tagref, &have_tagref);
    /* the source's repository has every blob, when it is on dest's registry */
    const char *mount_from = NULL;
    if (remote_dest && s->kind == KILN_SRC_REGISTRY && !strcmp(s->ref.domain, dref.domain) &&
        strcmp(s->ref.path, dref.path))
        mount_from = s->ref.path;
    int rc = remote_dest ? push_set(&set, mount_from, &dref, o, o->dest_creds, digest_out, err)
                         : write_local(&set, s->tag, dest, o, digest_out, err);
    if (have_tagref)
        kiln_reference_free(&tagref);
    kiln_src_free(s);
    kiln_reference_free(&dref);
    return rc;
}

/* ---- inspect ---- */

static json_t *describe_image(const struct kiln_image *im)
{
    json_t *j = json_object(), *ls = json_array();
    uint64_t total = 0;
    json_object_set_new(j, "digest", json_string(im->manifest_digest));
    json_object_set_new(j, "mediaType", json_string(im->media_type));
    char plat[KILN_PLATFORM_MAX];
    json_object_set_new(j, "platform", json_string(kiln_platform_format(&im->platform, plat)));
    char created[32];
    kiln_format_time(im->created, created);
    json_object_set_new(j, "created", json_string(created));
    json_t *c = json_object();
    json_object_set_new(c, "digest", json_string(im->config_digest));
    json_object_set_new(c, "size", json_integer((json_int_t)im->config.len));
    json_object_set_new(j, "config", c);
    /* what scripts ask of an image (skopeo inspect's fields), from its config */
    json_object_set_new(j, "os", json_string(im->platform.os));
    json_object_set_new(j, "architecture", json_string(im->platform.arch));
    if (im->platform.variant[0])
        json_object_set_new(j, "variant", json_string(im->platform.variant));
    json_t *cfg = json_loadb(im->config.data, im->config.len, 0, NULL);
    json_t *cc = json_object_get(cfg, "config");
    static const char *const keys[][2] = {
        {"Labels", "labels"}, {"Env", "env"},   {"Entrypoint", "entrypoint"},
        {"Cmd", "cmd"},       {"User", "user"}, {"WorkingDir", "workingDir"},
        {"ExposedPorts", "exposedPorts"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        json_t *v = json_object_get(cc, keys[i][0]);
        if (v && !json_is_null(v))
            json_object_set(j, keys[i][1], v);
    }
    json_t *author = json_object_get(cfg, "author");
    if (json_is_string(author))
        json_object_set(j, "author", author);
    json_decref(cfg);
    for (size_t i = 0; i < im->nlayers; i++) {
        json_t *l = json_object();
        json_object_set_new(l, "digest", json_string(im->layers[i].digest));
        json_object_set_new(l, "size", json_integer((json_int_t)im->layers[i].size));
        json_object_set_new(l, "mediaType", json_string(im->layers[i].media_type));
        json_array_append_new(ls, l);
        total += im->layers[i].size;
    }
    json_object_set_new(j, "layers", ls);
    json_object_set_new(j, "size", json_integer((json_int_t)(total + im->config.len +
                                                             im->manifest.len)));
    return j;
}

static void human_size(uint64_t n, char out[32])
{
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)n;
    int i = 0;
    while (v >= 1000 && i < 4) {
        v /= 1000;
        i++;
    }
    snprintf(out, 32, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static int summary(const struct kiln_src *s, struct kiln_buf *b, struct kiln_error *err)
{
    int rc = kiln_buf_printf(b, err, "Name:       %s\n", s->spec);
    if (rc == 0 && s->is_index)
        rc = kiln_buf_printf(b, err, "Digest:     %s\nMediaType:  %s\nManifests:  %zu\n",
                             s->index_digest, s->index_media_type, s->nimages);
    for (size_t k = 0; rc == 0 && k < s->nimages; k++) {
        const struct kiln_image *im = &s->images[k];
        char created[32], sz[32], plat[KILN_PLATFORM_MAX];
        kiln_format_time(im->created, created);
        uint64_t total = 0;
        for (size_t i = 0; i < im->nlayers; i++)
            total += im->layers[i].size;
        const char *ind = s->is_index ? "  " : "";
        if (s->is_index)
            rc = kiln_buf_printf(b, err, "\n");
        if (rc == 0)
            rc = kiln_buf_printf(b, err,
                                 "%sDigest:     %s\n%sMediaType:  %s\n%sPlatform:   %s\n"
                                 "%sCreated:    %s\n%sConfig:     %s (%zu bytes)\n%sLayers:\n",
                                 ind, im->manifest_digest, ind, im->media_type, ind,
                                 kiln_platform_format(&im->platform, plat), ind, created, ind,
                                 im->config_digest, im->config.len, ind);
        for (size_t i = 0; rc == 0 && i < im->nlayers; i++) {
            human_size(im->layers[i].size, sz);
            rc = kiln_buf_printf(b, err, "%s  %s  %9s  %s\n", ind, im->layers[i].digest, sz,
                                 im->layers[i].media_type);
        }
        human_size(total, sz);
        if (rc == 0)
            rc = kiln_buf_printf(b, err, "%sSize:       %s in %zu layer%s\n", ind, sz,
                                 im->nlayers, im->nlayers == 1 ? "" : "s");
    }
    return rc;
}

/* The digest of a registry's manifest from a HEAD request, which Docker Hub
 * does not count against its pull limit: no manifest or config is read.
 * Returns 1 when the registry gives no digest that way. */
static int head_digest(const char *ref, const struct kiln_registry_opts *ro, char **out,
                       size_t *len, struct kiln_error *err)
{
    struct kiln_reference r;
    if (kiln_parse_docker_ref(ref, false, &r, err) < 0)
        return -1;
    struct kiln_registry *reg = NULL;
    char digest[KILN_DIGEST_MAX], mt[128];
    /* with mirrors, the digest comes from where a pull would take the image */
    struct kiln_mirror *m = NULL;
    size_t nm = 0;
    int rc = kiln_registry_mirrors(ro, r.domain, &m, &nm, err);
    free(m);
    if (rc == 0 && nm)
        rc = 1;
    if (rc == 0)
        rc = kiln_registry_open(r.domain, ro, &reg, err);
    if (rc == 0)
        rc = kiln_registry_head_manifest(reg, r.path, r.digest ? r.digest : r.tag, digest, mt, err);
    kiln_registry_close(reg);
    kiln_reference_free(&r);
    if (rc != 0)
        return rc;
    struct kiln_buf b = {0};
    if (kiln_buf_printf(&b, err, "%s\n", digest) < 0)
        return -1;
    *out = b.data;
    *len = b.len;
    return 0;
}

int kiln_inspect(const char *ref, enum kiln_inspect_what what, const char *platform,
                 const struct kiln_remote_opts *o, char **out, size_t *len, struct kiln_error *err)
{
    struct kiln_remote_opts local;
    o = kiln_remote_opts_get(o, &local);
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, o->src_creds, &ro);
    if (what == KILN_INSPECT_DIGEST && !platform &&
        kiln_transport_of(ref) == KILN_TRANSPORT_DOCKER) {
        int r = head_digest(ref, &ro, out, len, err);
        if (r <= 0)
            return r;
    }
    struct kiln_src *s;
    if (kiln_src_open(ref, platform, &ro, &s, err) < 0)
        return -1;
    struct kiln_buf b = {0};
    int rc = 0;
    switch (what) {
    case KILN_INSPECT_RAW:
        rc = s->is_index ? kiln_buf_append(&b, s->index.data, s->index.len, err)
                         : kiln_buf_append(&b, s->images[0].manifest.data,
                                           s->images[0].manifest.len, err);
        break;
    case KILN_INSPECT_CONFIG:
        if (s->is_index)
            rc = kiln_fail(err, KILN_ERR_USAGE,
                           "%s is a multi-platform index: choose an image with --platform", ref);
        else
            rc = kiln_buf_append(&b, s->images[0].config.data, s->images[0].config.len, err);
        break;
    case KILN_INSPECT_DIGEST:
        rc = kiln_buf_printf(&b, err, "%s\n",
                             s->is_index ? s->index_digest : s->images[0].manifest_digest);
        break;
    case KILN_INSPECT_JSON: {
        json_t *j;
        if (s->is_index) {
            j = json_object();
            json_object_set_new(j, "name", json_string(s->spec));
            json_object_set_new(j, "digest", json_string(s->index_digest));
            json_object_set_new(j, "mediaType", json_string(s->index_media_type));
            json_t *a = json_array();
            for (size_t k = 0; k < s->nimages; k++)
                json_array_append_new(a, describe_image(&s->images[k]));
            json_object_set_new(j, "manifests", a);
        } else {
            j = describe_image(&s->images[0]);
            json_object_set_new(j, "name", json_string(s->spec));
        }
        char *d = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        json_decref(j);
        rc = d ? kiln_buf_printf(&b, err, "%s\n", d) : kiln_oom(err);
        free(d);
        break;
    }
    case KILN_INSPECT_SUMMARY:
        rc = summary(s, &b, err);
        break;
    }
    kiln_src_free(s);
    if (rc < 0) {
        kiln_buf_free(&b);
        return -1;
    }
    if (!b.data && kiln_buf_append(&b, "", 0, err) < 0)
        return -1;
    *out = b.data;
    *len = b.len;
    return 0;
}

int kiln_list_tags(const char *repo, const struct kiln_remote_opts *o, char **out,
                   struct kiln_error *err)
{
    struct kiln_remote_opts local;
    o = kiln_remote_opts_get(o, &local);
    struct kiln_reference r;
    if (kiln_parse_docker_ref(repo, true, &r, err) < 0)
        return -1;
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, NULL, &ro);
    struct kiln_registry *reg = NULL;
    struct kiln_strlist tags = {0};
    int rc = kiln_registry_open(r.domain, &ro, &reg, err);
    if (rc == 0)
        rc = kiln_registry_tags(reg, r.path, &tags, err);
    struct kiln_buf b = {0};
    for (size_t i = 0; rc == 0 && i < tags.n; i++)
        rc = kiln_buf_printf(&b, err, "%s\n", tags.v[i]);
    if (rc == 0 && !b.data)
        rc = kiln_buf_append(&b, "", 0, err);
    kiln_strlist_free(&tags);
    kiln_registry_close(reg);
    kiln_reference_free(&r);
    if (rc < 0) {
        kiln_buf_free(&b);
        return -1;
    }
    *out = b.data;
    return 0;
}

/* "docker://host/x", "https://host/", "host" -> "host" */
static int registry_host(const char *in, char *out, size_t n, struct kiln_error *err)
{
    const char *p = in;
    if (kiln_transport_of(p) == KILN_TRANSPORT_DOCKER)
        p += strlen("docker://");
    else if (!strncmp(p, "https://", 8))
        p += 8;
    else if (!strncmp(p, "http://", 7))
        p += 7;
    size_t l = strcspn(p, "/");
    if (l == 0 || l >= n)
        return kiln_fail(err, KILN_ERR_USAGE, "'%s': expected a registry host, e.g. "
                                              "registry.example.com:5000", in);
    memcpy(out, p, l);
    out[l] = '\0';
    for (char *q = out; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    if (kiln_is_docker_hub(out))
        snprintf(out, n, "%s", KILN_HUB_DOMAIN);
    return 0;
}

int kiln_login(const char *registry, const char *user, const char *password,
               const struct kiln_remote_opts *o, struct kiln_error *err)
{
    char host[256];
    if (registry_host(registry, host, sizeof(host), err) < 0)
        return -1;
    if (!user || !*user)
        return kiln_fail(err, KILN_ERR_USAGE, "login %s: a user name is required", host);
    struct kiln_remote_opts local;
    o = kiln_remote_opts_get(o, &local);
    size_t n = strlen(user) + strlen(password ? password : "") + 2;
    char *creds = kiln_xmalloc(n, err);
    if (!creds)
        return -1;
    snprintf(creds, n, "%s:%s", user, password ? password : "");
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, creds, &ro);
    struct kiln_registry *reg = NULL;
    int rc = kiln_registry_open(host, &ro, &reg, err);
    if (rc == 0)
        rc = kiln_registry_check_login(reg, err);
    kiln_registry_close(reg);
    explicit_bzero(creds, n);
    free(creds);
    if (rc < 0)
        return kiln_error_prefix(err, "login %s", host);
    char *file = kiln_auth_file_default(o->authfile, err);
    if (!file)
        return -1;
    struct kiln_creds c = {.user = (char *)user, .pass = (char *)(password ? password : "")};
    rc = kiln_auth_file_store(file, host, &c, err);
    free(file);
    return rc;
}

int kiln_logout(const char *registry, const struct kiln_remote_opts *o, struct kiln_error *err)
{
    char host[256];
    if (registry_host(registry, host, sizeof(host), err) < 0)
        return -1;
    char *file = kiln_auth_file_default(o ? o->authfile : NULL, err);
    if (!file)
        return -1;
    int rc = kiln_auth_file_remove(file, host, err);
    free(file);
    return rc;
}

/* ---- index ---- */

static bool docker_manifest_type(const char *mt)
{
    return !strcmp(mt, KILN_MT_DOCKER_MANIFEST);
}

int kiln_index(const char *const *srcs, size_t nsrcs, const char *dest,
               const struct kiln_remote_opts *o, char digest_out[KILN_DIGEST_MAX],
               struct kiln_error *err)
{
    struct kiln_remote_opts local;
    o = kiln_remote_opts_get(o, &local);
    if (!nsrcs)
        return kiln_fail(err, KILN_ERR_USAGE, "index: name at least one image");
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, o->src_creds, &ro);
    struct kiln_src **src = calloc(nsrcs, sizeof(*src));
    struct kiln_image *imgs = NULL;
    size_t nimgs = 0;
    json_t *idx = json_object(), *ms = json_array();
    int rc = src && idx && ms ? 0 : kiln_oom(err);
    int oci = 0, docker = 0;
    for (size_t i = 0; rc == 0 && i < nsrcs; i++) {
        if ((rc = kiln_src_open(srcs[i], NULL, &ro, &src[i], err)) < 0)
            break;
        for (size_t k = 0; rc == 0 && k < src[i]->nimages; k++) {
            struct kiln_image *im = &src[i]->images[k];
            for (size_t j = 0; j < nimgs; j++)
                if (kiln_platform_equal(&imgs[j].platform, &im->platform)) {
                    char ps[KILN_PLATFORM_MAX];
                    rc = kiln_fail(err, KILN_ERR_INPUT,
                                   "index: %s and an earlier image are both %s", srcs[i],
                                   kiln_platform_format(&im->platform, ps));
                }
            for (size_t l = 0; rc == 0 && l < im->nlayers; l++)
                rc = kiln_layer_fetch(&im->layers[l], err);
            if (rc < 0)
                break;
            struct kiln_image *v = realloc(imgs, (nimgs + 1) * sizeof(*v));
            if (!v) {
                rc = kiln_oom(err);
                break;
            }
            imgs = v;
            imgs[nimgs++] = *im; /* shallow: the source keeps ownership */
            docker_manifest_type(im->media_type) ? docker++ : oci++;
            json_t *d = json_object(), *p = json_object();
            json_object_set_new(d, "mediaType", json_string(im->media_type));
            json_object_set_new(d, "digest", json_string(im->manifest_digest));
            json_object_set_new(d, "size", json_integer((json_int_t)im->manifest.len));
            json_object_set_new(p, "architecture", json_string(im->platform.arch));
            json_object_set_new(p, "os", json_string(im->platform.os));
            if (im->platform.variant[0])
                json_object_set_new(p, "variant", json_string(im->platform.variant));
            json_object_set_new(d, "platform", p);
            json_array_append_new(ms, d);
        }
    }
    if (rc == 0 && oci && docker)
        rc = kiln_fail(err, KILN_ERR_INPUT,
                       "index: the images mix OCI and Docker manifests; registries such as "
                       "Quay refuse such lists: convert them to one family first");
    /* An OCI index, or a Docker manifest list for Docker-typed manifests. */
    const char *mt = docker ? KILN_MT_DOCKER_LIST
                            : KILN_MT_OCI_INDEX;
    struct kiln_buf index = {0};
    struct kiln_image_set set = {
        .images = imgs, .nimages = nimgs, .index = &index, .index_media_type = mt};
    if (rc == 0) {
        json_object_set_new(idx, "schemaVersion", json_integer(2));
        json_object_set_new(idx, "mediaType", json_string(mt));
        json_object_set_new(idx, "manifests", ms);
        ms = NULL;
        char *s = json_dumps(idx, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        rc = s ? kiln_buf_append(&index, s, strlen(s), err) : kiln_oom(err);
        free(s);
    }
    if (rc == 0)
        rc = kiln_sha256_buf(index.data, index.len, set.index_digest, err);
    if (rc == 0) {
        if (kiln_transport_of(dest) == KILN_TRANSPORT_DOCKER) {
            struct kiln_reference dref;
            rc = kiln_parse_docker_ref(dest, false, &dref, err);
            if (rc == 0)
                rc = push_set(&set, NULL, &dref, o, o->dest_creds, digest_out, err);
            kiln_reference_free(&dref);
        } else
            rc = write_local(&set, NULL, dest, o, digest_out, err);
    }
    kiln_buf_free(&index);
    json_decref(ms);
    json_decref(idx);
    free(imgs);
    for (size_t i = 0; src && i < nsrcs; i++)
        kiln_src_free(src[i]);
    free(src);
    return rc;
}

int kiln_remove(const char *ref, const struct kiln_remote_opts *o,
                char digest_out[KILN_DIGEST_MAX], struct kiln_error *err)
{
    struct kiln_remote_opts local;
    o = kiln_remote_opts_get(o, &local);
    if (digest_out)
        digest_out[0] = '\0';
    if (kiln_transport_of(ref) == KILN_TRANSPORT_DOCKER) {
        struct kiln_reference r;
        if (kiln_parse_docker_ref(ref, false, &r, err) < 0)
            return -1;
        struct kiln_registry_opts ro;
        kiln_registry_opts_from(o, o->dest_creds, &ro);
        struct kiln_registry *reg = NULL;
        char digest[KILN_DIGEST_MAX], mt[128];
        int rc = kiln_registry_open(r.domain, &ro, &reg, err);
        /* a tag names a manifest, which is what a registry deletes */
        if (rc == 0 && r.digest)
            snprintf(digest, sizeof(digest), "%s", r.digest);
        else if (rc == 0) {
            rc = kiln_registry_head_manifest(reg, r.path, r.tag, digest, mt, err);
            if (rc == 1) { /* no digest in the answer: read the manifest */
                struct kiln_buf doc = {0};
                rc = kiln_registry_get_manifest(reg, r.path, r.tag, &doc, mt, digest, err);
                kiln_buf_free(&doc);
            }
        }
        if (rc == 0)
            rc = kiln_registry_delete_manifest(reg, r.path, digest, err);
        if (rc == 0 && digest_out)
            snprintf(digest_out, KILN_DIGEST_MAX, "%s", digest);
        kiln_registry_close(reg);
        kiln_reference_free(&r);
        return rc;
    }
    struct kiln_output out;
    if (kiln_output_parse(ref, &out, err) < 0)
        return -1;
    int rc = 0;
    if (out.kind != KILN_OUT_OCI)
        rc = kiln_fail(err, KILN_ERR_USAGE,
                       "%s: kiln removes images from oci:DIR layouts and registries; an archive "
                       "is written whole (copy the images to keep into a new one)",
                       ref);
    else if (!out.tag)
        rc = kiln_fail(err, KILN_ERR_USAGE, "%s: name the tag to remove (oci:DIR:TAG)", ref);
    else
        rc = kiln_layout_untag(out.path, ref, out.tag, err);
    kiln_output_free(&out);
    return rc;
}

int kiln_gc_size(const char *layout, bool dry_run, struct kiln_gc_stats *st, size_t size,
                 struct kiln_error *err)
{
    struct kiln_gc_stats mine;
    struct kiln_output out;
    if (kiln_output_parse(layout, &out, err) < 0)
        return -1;
    int rc = 0;
    if (out.kind != KILN_OUT_OCI || out.tag)
        rc = kiln_fail(err, KILN_ERR_USAGE,
                       "%s: kiln gc takes an OCI layout, oci:DIR (no tag: it looks at all of it)",
                       layout);
    else
        rc = kiln_layout_gc(out.path, layout, dry_run, &mine, err);
    kiln_output_free(&out);
    if (rc == 0 && st) {
        /* as much as the caller's struct holds */
        mine.size = size < sizeof(mine) ? size : sizeof(mine);
        memcpy(st, &mine, mine.size);
    }
    return rc;
}
