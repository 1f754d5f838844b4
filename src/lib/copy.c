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

struct fetch_ctx {
    struct kiln_src *src;
    struct kiln_layer *layer;
};

static int fetch_layer(void *ud, const struct kiln_push_blob *b, char **path,
                       struct kiln_error *err)
{
    (void)b;
    struct fetch_ctx *f = ud;
    if (kiln_layer_fetch(f->layer, err) < 0)
        return -1;
    *path = kiln_strdup(f->layer->path, err);
    return *path ? 0 : -1;
}

int kiln_push_image(struct kiln_registry *reg, const char *repo, const char *tag,
                    const struct kiln_push_image *im, size_t nimages, const struct kiln_buf *index,
                    const char *index_mt, const char *index_digest, const char *mount_from,
                    struct kiln_error *err)
{
    for (size_t k = 0; k < nimages; k++) {
        const struct kiln_push_image *p = &im[k];
        size_t n = p->nlayers + 1;
        struct kiln_push_blob *blobs = calloc(n, sizeof(*blobs));
        struct fetch_ctx *fc = calloc(n, sizeof(*fc));
        if (!blobs || !fc) {
            free(blobs);
            free(fc);
            return kiln_oom(err);
        }
        for (size_t i = 0; i < p->nlayers; i++) {
            memcpy(blobs[i].digest, p->layers[i].digest, KILN_DIGEST_MAX);
            blobs[i].size = p->layers[i].size;
            blobs[i].path = p->layers[i].path;
            blobs[i].origin = p->layers[i].origin;
            blobs[i].mount_from = mount_from ? mount_from
                                  : i < p->nbase ? p->base_mount_from
                                                 : p->own_mount_from;
            if (!blobs[i].path && p->src) {
                fc[i].src = p->src;
                fc[i].layer = p->src_layers ? &p->src_layers[i] : NULL;
                blobs[i].fetch = fetch_layer;
                blobs[i].fetch_ud = &fc[i];
                if (fc[i].layer)
                    blobs[i].origin = fc[i].layer->origin;
            }
        }
        memcpy(blobs[p->nlayers].digest, p->config_digest, KILN_DIGEST_MAX);
        blobs[p->nlayers].size = p->config->len;
        blobs[p->nlayers].data = p->config;
        blobs[p->nlayers].mount_from = mount_from;
        int rc = kiln_registry_push_blobs(reg, repo, blobs, n, err);
        free(blobs);
        free(fc);
        if (rc < 0)
            return kiln_error_prefix(err, "push %s/%s", kiln_registry_host(reg), repo);
        /* An index's manifests go by digest; a lone manifest by its tag. */
        const char *ref = index ? p->manifest_digest : tag;
        if (kiln_registry_put_manifest(reg, repo, ref, p->manifest, p->media_type,
                                       p->manifest_digest, err) < 0)
            return -1;
    }
    if (index && kiln_registry_put_manifest(reg, repo, tag, index, index_mt, index_digest, err) < 0)
        return -1;
    return 0;
}

/* ---- copy ---- */

static int push_src(struct kiln_src *s, const struct kiln_reference *dst,
                    const struct kiln_remote_opts *o, const char *creds, char digest[],
                    struct kiln_error *err)
{
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, creds, &ro);
    struct kiln_registry *reg;
    if (kiln_registry_open(dst->domain, &ro, &reg, err) < 0)
        return -1;
    struct kiln_push_image *pi = calloc(s->nimages ? s->nimages : 1, sizeof(*pi));
    struct kiln_blob **lb = calloc(s->nimages ? s->nimages : 1, sizeof(*lb));
    int rc = pi && lb ? 0 : kiln_oom(err);
    for (size_t k = 0; rc == 0 && k < s->nimages; k++) {
        struct kiln_image *im = &s->images[k];
        lb[k] = calloc(im->nlayers ? im->nlayers : 1, sizeof(**lb));
        if (!lb[k]) {
            rc = kiln_oom(err);
            break;
        }
        for (size_t i = 0; i < im->nlayers; i++) {
            memcpy(lb[k][i].digest, im->layers[i].digest, KILN_DIGEST_MAX);
            lb[k][i].size = im->layers[i].size;
            lb[k][i].path = im->layers[i].path;
            lb[k][i].origin = im->layers[i].origin;
        }
        pi[k] = (struct kiln_push_image){.manifest = &im->manifest,
                                         .media_type = im->media_type,
                                         .config = &im->config,
                                         .layers = lb[k],
                                         .nlayers = im->nlayers,
                                         .src = s,
                                         .src_layers = im->layers};
        memcpy(pi[k].manifest_digest, im->manifest_digest, KILN_DIGEST_MAX);
        memcpy(pi[k].config_digest, im->config_digest, KILN_DIGEST_MAX);
    }
    const char *mount_from = NULL;
    if (s->kind == KILN_SRC_REGISTRY && !strcmp(s->ref.domain, dst->domain) &&
        strcmp(s->ref.path, dst->path))
        mount_from = s->ref.path;
    const char *tag = dst->digest ? dst->digest : dst->tag;
    if (rc == 0)
        rc = kiln_push_image(reg, dst->path, tag, pi, s->nimages, s->is_index ? &s->index : NULL,
                             s->index_media_type, s->index_digest, mount_from, err);
    if (rc == 0)
        memcpy(digest, s->is_index ? s->index_digest : s->images[0].manifest_digest,
               KILN_DIGEST_MAX);
    for (size_t k = 0; lb && k < s->nimages; k++)
        free(lb[k]);
    free(lb);
    free(pi);
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
static void warn_consumers(const struct kiln_src *s, const struct kiln_output *out,
                           const struct kiln_remote_opts *o)
{
    const char *top = s->is_index ? s->index_media_type : s->images[0].media_type;
    if (out->kind != KILN_OUT_DOCKER_ARCHIVE && is_docker_type(top))
        warn(o,
             "-o %s: the %s keeps its Docker media type (%s): kiln and Docker read the entry, "
             "but skopeo, podman and umoci will not find it by its tag (containers/image and "
             "umoci take only OCI types from an OCI layout); to keep a Docker image, copy it "
             "to a registry or a docker-archive:",
             out->spec, s->is_index ? "index" : "manifest", top);
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

static int write_local(struct kiln_src *s, const char *dest, const struct kiln_remote_opts *o,
                       char digest[], struct kiln_error *err)
{
    struct kiln_output out;
    if (kiln_output_parse(dest, &out, err) < 0)
        return -1;
    int rc = kiln_output_check(&out, err);
    if (rc == 0 && s->nimages)
        warn_consumers(s, &out, o);
    size_t total = 0;
    for (size_t k = 0; k < s->nimages; k++)
        total += s->images[k].nlayers;
    struct kiln_blob *blobs = calloc(total ? total : 1, sizeof(*blobs));
    struct kiln_mem_blob *extra = calloc(2 * s->nimages + 1, sizeof(*extra));
    const char **diff_ids = NULL;
    struct kiln_reference tagref = {0};
    bool have_tagref = false;
    if (rc == 0 && (!blobs || !extra))
        rc = kiln_oom(err);
    size_t n = 0;
    for (size_t k = 0; rc == 0 && k < s->nimages; k++) {
        struct kiln_image *im = &s->images[k];
        for (size_t i = 0; rc == 0 && i < im->nlayers; i++) {
            rc = kiln_layer_fetch(&im->layers[i], err);
            memcpy(blobs[n].digest, im->layers[i].digest, KILN_DIGEST_MAX);
            blobs[n].size = im->layers[i].size;
            blobs[n].path = im->layers[i].path;
            blobs[n].origin = im->layers[i].origin;
            n++;
        }
    }
    struct kiln_image_out img = {0};
    if (rc == 0) {
        img.layer_blobs = blobs;
        img.nlayers = n;
        if (s->is_index) {
            img.manifest = &s->index;
            img.manifest_media_type = s->index_media_type;
            memcpy(img.manifest_digest, s->index_digest, KILN_DIGEST_MAX);
            for (size_t k = 0; k < s->nimages; k++) {
                memcpy(extra[img.nextra].digest, s->images[k].manifest_digest, KILN_DIGEST_MAX);
                extra[img.nextra++].data = &s->images[k].manifest;
                memcpy(extra[img.nextra].digest, s->images[k].config_digest, KILN_DIGEST_MAX);
                extra[img.nextra++].data = &s->images[k].config;
            }
            img.extra = extra;
        } else {
            struct kiln_image *im = &s->images[0];
            img.platform = &im->platform;
            img.created = im->created;
            img.file_mtime = im->created;
            img.manifest = &im->manifest;
            img.manifest_media_type = im->media_type;
            memcpy(img.manifest_digest, im->manifest_digest, KILN_DIGEST_MAX);
            img.config_json = &im->config;
            memcpy(img.config_digest, im->config_digest, KILN_DIGEST_MAX);
            if (im->diff_ids.n != im->nlayers)
                rc = out.kind == KILN_OUT_DOCKER_ARCHIVE
                         ? kiln_fail(err, KILN_ERR_FORMAT,
                                     "%s: the config lists %zu diff_ids for %zu layers", s->spec,
                                     im->diff_ids.n, im->nlayers)
                         : 0;
            else
                img.diff_ids = (const char *const *)im->diff_ids.v;
        }
        /* Names: the source's tag for layouts; a registry name for docker archives. */
        if (!out.tag && s->tag && kiln_tag_valid(s->tag) && !(out.tag = strdup(s->tag)))
            rc = kiln_oom(err);
        if (rc == 0 && s->kind == KILN_SRC_REGISTRY && s->ref.tag) {
            img.tags = &s->ref;
            img.ntags = 1;
        } else if (rc == 0 && s->kind == KILN_SRC_DOCKER_ARCHIVE && s->tag &&
                   kiln_reference_parse(s->tag, &tagref, NULL) == 0) {
            have_tagref = true;
            img.tags = &tagref;
            img.ntags = 1;
        }
    }
    if (rc == 0)
        rc = kiln_output_prepare(&out, &img, err);
    if (rc == 0)
        rc = kiln_output_commit(&out, err);
    if (rc < 0)
        kiln_output_rollback(&out);
    else {
        kiln_output_finish(&out);
        memcpy(digest, img.manifest_digest, KILN_DIGEST_MAX);
    }
    if (have_tagref)
        kiln_reference_free(&tagref);
    free(diff_ids);
    free(blobs);
    free(extra);
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
    int rc = remote_dest ? push_src(s, &dref, o, o->dest_creds, digest_out, err)
                         : write_local(s, dest, o, digest_out, err);
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
    struct kiln_src comb = {.kind = KILN_SRC_LAYOUT, .spec = (char *)"index", .is_index = true,
                            .images = imgs, .nimages = nimgs};
    if (rc == 0) {
        json_object_set_new(idx, "schemaVersion", json_integer(2));
        json_object_set_new(idx, "mediaType", json_string(mt));
        json_object_set_new(idx, "manifests", ms);
        ms = NULL;
        char *s = json_dumps(idx, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        rc = s ? kiln_buf_append(&comb.index, s, strlen(s), err) : kiln_oom(err);
        free(s);
    }
    if (rc == 0)
        rc = kiln_sha256_buf(comb.index.data, comb.index.len, comb.index_digest, err);
    snprintf(comb.index_media_type, sizeof(comb.index_media_type), "%s", mt);
    if (rc == 0) {
        if (kiln_transport_of(dest) == KILN_TRANSPORT_DOCKER) {
            struct kiln_reference dref;
            rc = kiln_parse_docker_ref(dest, false, &dref, err);
            if (rc == 0)
                rc = push_src(&comb, &dref, o, o->dest_creds, digest_out, err);
            kiln_reference_free(&dref);
        } else
            rc = write_local(&comb, dest, o, digest_out, err);
    }
    kiln_buf_free(&comb.index);
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
