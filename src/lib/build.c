/*
 * A build: inputs -> one streamed layer each -> config and manifest -> every
 * output, prepared and then committed together.
 */
#include <archive.h>
#include <curl/curlver.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libdeflate.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "cache/cache.h"
#include "copy.h"
#include "tar/layermap.h"
#include "image/flatten.h"
#include "image/layout.h"
#include "image/rebase.h"
#include "image/transport.h"
#include "internal.h"

struct add_item {
    char *src, *dest; /* dest normalised: no leading or trailing '/' */
    bool has_mode, has_owner;
    uint32_t mode;
    uint64_t uid, gid;
    size_t seq; /* INPUT_LAYER: order added (a later entry at one dest wins) */
};

struct input {
    enum { INPUT_TREE, INPUT_TAR, INPUT_ADDS, INPUT_DIFF, INPUT_LAYER, INPUT_SQUASH } kind;
    char *path;
    char *path2; /* INPUT_DIFF: the new tree (path is the old one) */
    struct add_item *adds; /* INPUT_ADDS: every --add, one layer; INPUT_LAYER: its entries */
    size_t nadds;
    char *created_by;           /* INPUT_LAYER: history text */
    char *layer_map;            /* --layer-map FILE, trees only */
    struct kiln_layer_map *map; /* loaded and scanned by kiln_build_run */
};

struct kiln_build {
    struct input *inputs;
    size_t ninputs;
    struct kiln_output *outputs;
    size_t noutputs;
    struct kiln_reference *tags;
    size_t ntags;
    struct kiln_image_config cfg;
    bool have_platform;
    bool have_sde;
    int64_t sde;
    enum kiln_compression comp;
    int level;
    unsigned jobs;
    bool xattrs;
    uint64_t tar_max_bytes, tar_max_entries;
    kiln_log_fn log;
    void *log_userdata;
    char *from;                     /* base image reference */
    struct kiln_src *base;          /* `from`, already opened (kiln_build_set_base) */
    enum { FORMAT_OCI, FORMAT_DOCKER, FORMAT_BASE } format; /* KILN_SET_MANIFEST_FORMAT */
    bool created_from_base;                                /* KILN_SET_CREATED "base" */
    bool squash;                    /* the base's layers as one (kiln_build_set_squash) */
    struct kiln_src *squash_src;    /* the base, while its squashed layer is written */
    char *rebase_old, *rebase_new;  /* kiln_build_set_rebase: `from` moves from old to new */
    struct kiln_src *rebase_image;  /* `from`, opened by kiln_build_run (base is the new) */
    char *rebase_config;            /* its config moved to the new base */
    size_t rebase_nown;             /* its own layers, above the old base's */
    struct kiln_reference *remotes; /* docker:// outputs */
    size_t nremotes;
    struct kiln_remote_opts remote;
    struct kiln_chunk_cache *cache; /* kiln_build_set_cache; NULL: none */
};

kiln_build *kiln_build_new(void)
{
    kiln_build *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->comp = KILN_COMPRESSION_GZIP;
    b->level = -1;
    b->xattrs = true;
    b->tar_max_bytes = 64ULL << 30;
    b->tar_max_entries = 10000000;
    kiln_remote_opts_init(&b->remote);
    return b;
}

void kiln_build_free(kiln_build *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->ninputs; i++) {
        for (size_t k = 0; k < b->inputs[i].nadds; k++) {
            free(b->inputs[i].adds[k].src);
            free(b->inputs[i].adds[k].dest);
        }
        free(b->inputs[i].adds);
        free(b->inputs[i].path);
        free(b->inputs[i].path2);
        free(b->inputs[i].created_by);
        free(b->inputs[i].layer_map);
        kiln_layer_map_free(b->inputs[i].map);
    }
    free(b->inputs);
    for (size_t i = 0; i < b->noutputs; i++)
        kiln_output_free(&b->outputs[i]);
    free(b->outputs);
    for (size_t i = 0; i < b->ntags; i++)
        kiln_reference_free(&b->tags[i]);
    free(b->tags);
    for (size_t i = 0; i < b->nremotes; i++)
        kiln_reference_free(&b->remotes[i]);
    free(b->remotes);
    free(b->from);
    kiln_src_free(b->base);
    free(b->rebase_old);
    free(b->rebase_new);
    kiln_src_free(b->rebase_image);
    kiln_chunk_cache_free(b->cache);
    free(b->rebase_config);
    struct kiln_image_config *c = &b->cfg;
    free(c->author);
    free(c->user);
    free(c->workdir);
    free(c->stop_signal);
    free(c->config_json);
    kiln_strlist_free(&c->env);
    kiln_strlist_free(&c->entrypoint);
    kiln_strlist_free(&c->cmd);
    kiln_strlist_free(&c->ports);
    kiln_strlist_free(&c->volumes);
    kiln_strlist_free(&c->labels);
    kiln_strlist_free(&c->annotations);
    free(b);
}

void kiln_build_set_log(kiln_build *b, kiln_log_fn fn, void *userdata)
{
    b->log = fn;
    b->log_userdata = userdata;
}

static void logf_(kiln_build *b, enum kiln_log_level lvl, const char *fmt, ...) KILN_PRINTF(3, 4);
static void logf_(kiln_build *b, enum kiln_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_logv(b->log, b->log_userdata, lvl, fmt, ap);
    va_end(ap);
}

static int add_input(kiln_build *b, int kind, const char *path, struct kiln_error *err)
{
    if (!path || !*path)
        return kiln_fail(err, KILN_ERR_USAGE, "%s: empty path",
                         kind == INPUT_TREE ? "--rootfs" : "--tar");
    struct input *v = realloc(b->inputs, (b->ninputs + 1) * sizeof(*v));
    if (!v)
        return kiln_oom(err);
    b->inputs = v;
    memset(&v[b->ninputs], 0, sizeof(v[b->ninputs]));
    if (!(v[b->ninputs].path = kiln_strdup(path, err)))
        return -1;
    v[b->ninputs].kind = kind;
    b->ninputs++;
    return 0;
}

int kiln_build_add_rootfs(kiln_build *b, const char *dir, struct kiln_error *err)
{
    return add_input(b, INPUT_TREE, dir, err);
}

int kiln_build_add_tar(kiln_build *b, const char *file, struct kiln_error *err)
{
    return add_input(b, INPUT_TAR, file, err);
}

int kiln_build_add_diff(kiln_build *b, const char *old_dir, const char *new_dir,
                        struct kiln_error *err)
{
    if (!new_dir || !*new_dir)
        return kiln_fail(err, KILN_ERR_USAGE, "--diff %s: expected --diff OLD NEW", old_dir);
    if (add_input(b, INPUT_DIFF, old_dir, err) < 0)
        return -1;
    struct input *in = &b->inputs[b->ninputs - 1];
    in->path2 = kiln_strdup(new_dir, err);
    return in->path2 ? 0 : -1;
}

int kiln_write_diff(const char *old_dir, const char *new_dir, const char *file, int64_t epoch,
                    bool xattrs, enum kiln_compression c, char diff_id_out[KILN_DIGEST_MAX],
                    struct kiln_error *err)
{
    size_t l = strlen(file) + 24;
    _cleanup_free_ char *tmp = kiln_xmalloc(l, err);
    if (!tmp)
        return -1;
    snprintf(tmp, l, "%s.kiln-tmp-XXXXXX", file);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "-o %s: cannot create", file);
    fchmod(fd, 0644);
    struct kiln_fd_sink fs;
    kiln_fd_sink_init(&fs, fd, file);
    struct kiln_compressor *comp = NULL;
    struct kiln_hash_sink raw;
    int rc = kiln_compressor_new(c, -1, 0, &fs.sink, &comp, err);
    if (rc == 0)
        rc = kiln_hash_sink_init(&raw, kiln_compressor_sink(comp), err);
    if (rc == 0) {
        struct kiln_tar_writer w;
        kiln_tar_writer_init(&w, &raw.sink);
        struct kiln_layer_opts lo = {.clamp_mtime = epoch >= 0, .clamp_to = epoch,
                                     .xattrs = xattrs};
        rc = kiln_layer_from_diff(old_dir, new_dir, &lo, &w, err);
        if (rc == 0)
            rc = kiln_tar_finish(&w, err);
        if (rc == 0)
            rc = kiln_sink_finish(&raw.sink, err);
        if (rc == 0)
            kiln_sha256_final(&raw.sha, diff_id_out);
        else
            kiln_sha256_free(&raw.sha);
    }
    kiln_compressor_free(comp);
    if (rc == 0 && fsync(fd) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "-o %s: cannot write", file);
    if (close(fd) < 0 && rc == 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "-o %s: cannot write", file);
    if (rc == 0 && rename(tmp, file) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "-o %s: cannot rename into place", file);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static int parse_id(const char *spec, const char *v, uint64_t *out, struct kiln_error *err)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || *end || errno || n > 0xffffffffULL)
        return kiln_fail(err, KILN_ERR_USAGE, "--add %s: '%s' is not a numeric uid/gid", spec, v);
    *out = n;
    return 0;
}

int kiln_build_add(kiln_build *b, const char *spec, struct kiln_error *err)
{
    char *copy = kiln_strdup(spec, err);
    if (!copy)
        return -1;
    char *f[6] = {0};
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(copy, ":", &save); t && n < 6;
         t = strtok_r(NULL, ":", &save))
        f[n++] = t;
    int rc = 0;
    struct add_item it = {0};
    if (n != 2 && n != 3 && n != 5)
        rc = kiln_fail(err, KILN_ERR_USAGE, "--add %s: expected SRC:DEST[:MODE[:UID:GID]]", spec);
    if (rc == 0 && n >= 3) {
        char *end;
        unsigned long m = strtoul(f[2], &end, 8);
        if (!isdigit((unsigned char)f[2][0]) || *end || m > 07777)
            rc = kiln_fail(err, KILN_ERR_USAGE, "--add %s: mode '%s' is not octal 0-7777", spec,
                           f[2]);
        it.has_mode = true;
        it.mode = (uint32_t)m;
    }
    if (rc == 0 && n == 5) {
        it.has_owner = true;
        rc = parse_id(spec, f[3], &it.uid, err);
        if (rc == 0)
            rc = parse_id(spec, f[4], &it.gid, err);
    }
    struct kiln_buf d = {0};
    if (rc == 0 && kiln_normalise_member_path(f[1], &d, err) < 0)
        rc = kiln_fail(err, KILN_ERR_USAGE, "--add %s: DEST has a '..' component", spec);
    if (rc == 0 && !d.len)
        rc = kiln_fail(err, KILN_ERR_USAGE, "--add %s: DEST must name a path below /", spec);
    if (rc == 0 && !(it.src = kiln_strdup(f[0], err)))
        rc = -1;
    it.dest = d.data;
    free(copy);
    /* Every --add goes into one layer, placed where the first --add is. */
    struct input *in = NULL;
    for (size_t i = 0; rc == 0 && i < b->ninputs && !in; i++)
        if (b->inputs[i].kind == INPUT_ADDS)
            in = &b->inputs[i];
    if (rc == 0 && !in) {
        rc = add_input(b, INPUT_ADDS, "--add", err);
        if (rc == 0)
            in = &b->inputs[b->ninputs - 1];
    }
    struct add_item *v = in ? realloc(in->adds, (in->nadds + 1) * sizeof(*v)) : NULL;
    if (rc == 0 && !v)
        rc = kiln_oom(err);
    if (rc < 0) {
        free(it.src);
        free(it.dest);
        return -1;
    }
    in->adds = v;
    v[in->nadds++] = it;
    return 0;
}

static int add_item_cmp(const void *a, const void *b)
{
    return kiln_tar_path_cmp(((const struct add_item *)a)->dest,
                             ((const struct add_item *)b)->dest);
}

/* The --add layer: parent directories (root-owned, 0755), then each item. */
static int layer_from_adds(const struct input *in, const struct kiln_layer_opts *base,
                           int64_t dir_mtime, struct kiln_tar_writer *w, struct kiln_error *err)
{
    struct add_item *items = calloc(in->nadds, sizeof(*items));
    if (!items)
        return kiln_oom(err);
    memcpy(items, in->adds, in->nadds * sizeof(*items));
    if (in->nadds > 1)
        qsort(items, in->nadds, sizeof(*items), add_item_cmp);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i + 1 < in->nadds; i++) {
        size_t l = strlen(items[i].dest);
        if (!strncmp(items[i].dest, items[i + 1].dest, l) &&
            (items[i + 1].dest[l] == '/' || !items[i + 1].dest[l]))
            rc = kiln_fail(err, KILN_ERR_USAGE,
                           "--add: destinations /%s and /%s overlap; add the directory once",
                           items[i].dest, items[i + 1].dest);
    }
    struct kiln_strlist done = {0};
    for (size_t i = 0; rc == 0 && i < in->nadds; i++) {
        const char *d = items[i].dest;
        for (const char *s = strchr(d, '/'); rc == 0 && s; s = strchr(s + 1, '/')) {
            char parent[4096];
            snprintf(parent, sizeof(parent), "%.*s", (int)(s - d), d);
            bool seen = false;
            for (size_t k = 0; k < done.n && !seen; k++)
                seen = !strcmp(done.v[k], parent);
            if (seen)
                continue;
            struct kiln_tar_entry e = {
                .path = parent, .type = KILN_TAR_DIR, .mode = 0755, .mtime = dir_mtime};
            rc = kiln_tar_write_header(w, &e, err);
            if (rc == 0)
                rc = kiln_strlist_push(&done, parent, err);
        }
        struct kiln_layer_opts o = *base;
        o.prefix = d;
        o.force_owner = items[i].has_owner;
        o.uid = items[i].uid;
        o.gid = items[i].gid;
        o.force_mode = items[i].has_mode;
        o.mode = items[i].mode;
        if (rc == 0)
            rc = kiln_layer_from_path(items[i].src, &o, w, err);
    }
    kiln_strlist_free(&done);
    free(items);
    return rc;
}

/* ---- explicit layers: one entry per call (Dockerfile COPY and ADD) ---- */

static int replace_str(char **slot, const char *v, struct kiln_error *err);

int kiln_build_begin_layer(kiln_build *b, const char *created_by, struct kiln_error *err)
{
    if (add_input(b, INPUT_LAYER, "layer", err) < 0)
        return -1;
    struct input *in = &b->inputs[b->ninputs - 1];
    if (created_by && !(in->created_by = kiln_strdup(created_by, err)))
        return -1;
    return 0;
}

static int layer_push(kiln_build *b, const char *src, const char *dest, bool has_mode,
                      uint32_t mode, bool has_owner, uint64_t uid, uint64_t gid,
                      struct kiln_error *err)
{
    if (!b->ninputs || b->inputs[b->ninputs - 1].kind != INPUT_LAYER)
        return kiln_fail(err, KILN_ERR_USAGE, "%s: no layer begun (kiln_build_begin_layer)", dest);
    struct input *in = &b->inputs[b->ninputs - 1];
    struct kiln_buf d = { 0 };
    if (kiln_normalise_member_path(dest, &d, err) < 0)
        return kiln_error_prefix(err, "%s", dest);
    if (!d.len) {
        kiln_buf_free(&d);
        return kiln_fail(err, KILN_ERR_USAGE, "'%s': a layer entry must be below /", dest);
    }
    struct add_item it = { .dest = d.data,
                           .has_mode = has_mode,
                           .mode = mode & 07777,
                           .has_owner = has_owner,
                           .uid = uid,
                           .gid = gid,
                           .seq = in->nadds };
    if (src && !(it.src = kiln_strdup(src, err))) {
        free(it.dest);
        return -1;
    }
    struct add_item *v = realloc(in->adds, (in->nadds + 1) * sizeof(*v));
    if (!v) {
        free(it.src);
        free(it.dest);
        return kiln_oom(err);
    }
    in->adds = v;
    v[in->nadds++] = it;
    return 0;
}

int kiln_build_layer_add(kiln_build *b, const char *src, const char *dest,
                         const struct kiln_entry_attrs *a, struct kiln_error *err)
{
    if (!src || !*src)
        return kiln_fail(err, KILN_ERR_USAGE, "%s: empty source path", dest);
    struct kiln_entry_attrs none = { 0 };
    if (!a)
        a = &none;
    return layer_push(b, src, dest, a->set_mode, a->mode, a->set_owner, a->uid, a->gid, err);
}

int kiln_build_layer_add_dir(kiln_build *b, const char *dest, uint32_t mode, uint64_t uid,
                             uint64_t gid, struct kiln_error *err)
{
    return layer_push(b, NULL, dest, true, mode, true, uid, gid, err);
}

int kiln_build_set_config_json(kiln_build *b, const char *json, struct kiln_error *err)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    bool ok = json_is_object(o);
    json_decref(o);
    if (!ok)
        return kiln_fail(err, KILN_ERR_USAGE, "container config: not a JSON object (%s)",
                         o ? "another JSON value" : je.text);
    return replace_str(&b->cfg.config_json, json, err);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct add_item *x = a, *y = b;
    int c = kiln_tar_path_cmp(x->dest, y->dest);
    return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* An explicit layer: entries sorted, the last one at each path kept; one walk
 * so that hardlinked sources stay hardlinked. */
static int layer_from_entries(const struct input *in, const struct kiln_layer_opts *base,
                              int64_t dir_mtime, struct kiln_tar_writer *w, struct kiln_error *err)
{
    if (!in->nadds)
        return 0;
    struct add_item *items = calloc(in->nadds, sizeof(*items));
    if (!items)
        return kiln_oom(err);
    memcpy(items, in->adds, in->nadds * sizeof(*items));
    qsort(items, in->nadds, sizeof(*items), entry_cmp);
    struct kiln_layer_opts o = *base;
    o.prefix = NULL;
    struct kiln_walk *k = kiln_walk_new(&o, w, err);
    int rc = k ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < in->nadds; i++) {
        const struct add_item *it = &items[i];
        if (i + 1 < in->nadds && !strcmp(it->dest, items[i + 1].dest))
            continue;
        if (!it->src) {
            int64_t mt =
                base->clamp_mtime && dir_mtime > base->clamp_to ? base->clamp_to : dir_mtime;
            struct kiln_tar_entry e = { .path = it->dest,
                                        .type = KILN_TAR_DIR,
                                        .mode = it->mode,
                                        .uid = it->uid,
                                        .gid = it->gid,
                                        .mtime = mt };
            rc = kiln_tar_write_header(w, &e, err);
            continue;
        }
        struct stat st;
        if (lstat(it->src, &st) < 0) {
            rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", it->src);
            break;
        }
        o.force_owner = it->has_owner;
        o.uid = it->uid;
        o.gid = it->gid;
        o.force_mode = it->has_mode;
        o.mode = it->mode;
        rc = kiln_walk_emit(k, it->src, it->dest, &st, err);
    }
    kiln_walk_free(k);
    free(items);
    return rc;
}

int kiln_build_set_layer_map(kiln_build *b, const char *file, struct kiln_error *err)
{
    if (!b->ninputs || b->inputs[b->ninputs - 1].kind != INPUT_TREE)
        return kiln_fail(err, KILN_ERR_USAGE, "--layer-map %s: give it after the --rootfs DIR it "
                                              "splits", file);
    struct input *in = &b->inputs[b->ninputs - 1];
    if (in->layer_map)
        return kiln_fail(err, KILN_ERR_USAGE, "--layer-map %s: --rootfs %s already has a map",
                         file, in->path);
    in->layer_map = kiln_strdup(file, err);
    return in->layer_map ? 0 : -1;
}

static int replace_str(char **slot, const char *v, struct kiln_error *err)
{
    char *n = kiln_strdup(v, err);
    if (!n)
        return -1;
    free(*slot);
    *slot = n;
    return 0;
}

static int check_kv(const char *opt, const char *v, struct kiln_error *err)
{
    const char *eq = strchr(v, '=');
    if (!eq || eq == v)
        return kiln_fail(err, KILN_ERR_USAGE, "%s '%s': expected KEY=VALUE with a non-empty KEY",
                         opt, v);
    return 0;
}

static int set_env(struct kiln_strlist *env, const char *v, struct kiln_error *err)
{
    if (check_kv("--env", v, err) < 0)
        return -1;
    size_t kl = (size_t)(strchr(v, '=') - v);
    for (size_t i = 0; i < env->n; i++) {
        if (!strncmp(env->v[i], v, kl) && env->v[i][kl] == '=')
            return replace_str(&env->v[i], v, err);
    }
    return kiln_strlist_push(env, v, err);
}

static int set_port(struct kiln_strlist *ports, const char *v, struct kiln_error *err)
{
    long lo, hi;
    char proto[8];
    if (kiln_port_parse(v, &lo, &hi, proto) < 0)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "--port '%s': expected a port number 1-65535 or a range N-M, optionally "
                         "/tcp, /udp or /sctp",
                         v);
    for (long p = lo; p <= hi; p++) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%ld/%s", p, proto);
        bool have = false;
        for (size_t i = 0; i < ports->n && !have; i++)
            have = !strcmp(ports->v[i], buf);
        if (!have && kiln_strlist_push(ports, buf, err) < 0)
            return -1;
    }
    return 0;
}

static int check_signal(const char *v, struct kiln_error *err)
{
    if (kiln_signal_valid(v))
        return 0;
    return kiln_fail(err, KILN_ERR_USAGE,
                     "--stop-signal '%s': not a signal name (e.g. SIGTERM) or number (1-64)", v);
}

int kiln_build_set(kiln_build *b, enum kiln_setting what, const char *v, struct kiln_error *err)
{
    struct kiln_image_config *c = &b->cfg;
    if (!v)
        return kiln_fail(err, KILN_ERR_USAGE, "missing value");
    switch (what) {
    case KILN_SET_ENTRYPOINT:
        c->has_entrypoint = true;
        if (kiln_parse_args(v, &c->entrypoint, err) < 0)
            return kiln_error_prefix(err, "--entrypoint");
        return 0;
    case KILN_SET_CMD:
        c->has_cmd = true;
        if (kiln_parse_args(v, &c->cmd, err) < 0)
            return kiln_error_prefix(err, "--cmd");
        return 0;
    case KILN_SET_ENV:
        return set_env(&c->env, v, err);
    case KILN_SET_WORKDIR:
        if (v[0] != '/')
            return kiln_fail(err, KILN_ERR_USAGE, "--workdir '%s': must be an absolute path", v);
        return replace_str(&c->workdir, v, err);
    case KILN_SET_USER:
        if (!*v || strpbrk(v, " \t\n"))
            return kiln_fail(err, KILN_ERR_USAGE,
                             "--user '%s': expected USER, UID, USER:GROUP or UID:GID", v);
        return replace_str(&c->user, v, err);
    case KILN_SET_PORT:
        return set_port(&c->ports, v, err);
    case KILN_SET_VOLUME:
        if (v[0] != '/')
            return kiln_fail(err, KILN_ERR_USAGE, "--volume '%s': must be an absolute path", v);
        return kiln_strlist_push(&c->volumes, v, err);
    case KILN_SET_LABEL:
        return check_kv("--label", v, err) < 0 ? -1 : kiln_strlist_push(&c->labels, v, err);
    case KILN_SET_ANNOTATION:
        return check_kv("--annotation", v, err) < 0 ? -1
                                                    : kiln_strlist_push(&c->annotations, v, err);
    case KILN_SET_STOP_SIGNAL:
        return check_signal(v, err) < 0 ? -1 : replace_str(&c->stop_signal, v, err);
    case KILN_SET_AUTHOR:
        return replace_str(&c->author, v, err);
    case KILN_SET_PLATFORM:
        if (kiln_platform_parse(v, &c->platform, err) < 0)
            return -1;
        b->have_platform = true;
        return 0;
    case KILN_SET_MANIFEST_FORMAT:
        if (!strcmp(v, "oci") || !strcmp(v, "docker") || !strcmp(v, "base")) {
            b->format = v[0] == 'o' ? FORMAT_OCI : v[0] == 'd' ? FORMAT_DOCKER : FORMAT_BASE;
            return 0;
        }
        return kiln_fail(err, KILN_ERR_USAGE,
                         "--manifest-format '%s': expected oci, docker (v2 schema 2) or base", v);
    case KILN_SET_CREATED:
        if (strcmp(v, "base"))
            return kiln_fail(err, KILN_ERR_USAGE,
                             "created '%s': expected base (or set SOURCE_DATE_EPOCH)", v);
        b->created_from_base = true;
        return 0;
    case KILN_SET_FROM:
        if (!*v)
            return kiln_fail(err, KILN_ERR_USAGE, "--from: empty reference");
        kiln_src_free(b->base);
        b->base = NULL;
        return replace_str(&b->from, v, err);
    case KILN_SET_TAG: {
        struct kiln_reference r;
        if (kiln_reference_parse(v, &r, err) < 0)
            return kiln_error_prefix(err, "--tag");
        if (r.digest) {
            kiln_reference_free(&r);
            return kiln_fail(err, KILN_ERR_USAGE, "--tag '%s': a tag cannot carry a digest", v);
        }
        struct kiln_reference *t = realloc(b->tags, (b->ntags + 1) * sizeof(*t));
        if (!t) {
            kiln_reference_free(&r);
            return kiln_oom(err);
        }
        b->tags = t;
        t[b->ntags++] = r;
        return 0;
    }
    }
    return kiln_fail(err, KILN_ERR_USAGE, "unknown setting %d", (int)what);
}

int kiln_build_set_rebase(kiln_build *b, const char *old_base, const char *new_base,
                          struct kiln_error *err)
{
    if (!old_base || !*old_base || !new_base || !*new_base)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "rebase: give both the old base (--old-base) and the new (--new-base)");
    if (replace_str(&b->rebase_old, old_base, err) < 0)
        return -1;
    return replace_str(&b->rebase_new, new_base, err);
}

void kiln_build_set_squash(kiln_build *b, bool squash)
{
    b->squash = squash;
}

void kiln_build_set_source_date_epoch(kiln_build *b, int64_t epoch)
{
    b->have_sde = true;
    b->sde = epoch;
}

int kiln_parse_source_date_epoch(const char *text, int64_t *epoch, struct kiln_error *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!isdigit((unsigned char)text[0]) || *end || errno || v < 0 || v > 253402300799LL)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "SOURCE_DATE_EPOCH '%s': expected whole seconds since 1970 (e.g. %s)",
                         text, "1700000000");
    *epoch = v;
    return 0;
}

int kiln_build_set_compression(kiln_build *b, enum kiln_compression c, int level,
                               struct kiln_error *err)
{
    if (level >= 0 && kiln_compression_check_level(c, level, err) < 0)
        return -1;
    b->comp = c;
    b->level = level;
    return 0;
}

void kiln_build_set_tar_limits(kiln_build *b, uint64_t max_bytes, uint64_t max_entries)
{
    b->tar_max_bytes = max_bytes;
    b->tar_max_entries = max_entries;
}

void kiln_build_tar_limits(const kiln_build *b, uint64_t *max_bytes, uint64_t *max_entries)
{
    *max_bytes = b->tar_max_bytes;
    *max_entries = b->tar_max_entries;
}

void kiln_build_set_jobs(kiln_build *b, unsigned jobs)
{
    b->jobs = jobs;
}

void kiln_build_set_xattrs(kiln_build *b, bool keep)
{
    b->xattrs = keep;
}

void kiln_build_set_remote(kiln_build *b, const struct kiln_remote_opts *o)
{
    kiln_remote_opts_get(o, &b->remote);
}

int kiln_build_add_output(kiln_build *b, const char *dest, struct kiln_error *err)
{
    if (kiln_transport_of(dest) == KILN_TRANSPORT_DOCKER) {
        struct kiln_spec t;
        if (kiln_spec_parse(dest, "-o", &t, err) < 0)
            return -1;
        struct kiln_reference r = t.ref;
        memset(&t.ref, 0, sizeof(t.ref));
        kiln_spec_free(&t);
        if (r.digest) {
            kiln_reference_free(&r);
            return kiln_fail(err, KILN_ERR_USAGE, "-o %s: push to a tag, not a digest", dest);
        }
        struct kiln_reference *v = realloc(b->remotes, (b->nremotes + 1) * sizeof(*v));
        if (!v) {
            kiln_reference_free(&r);
            return kiln_oom(err);
        }
        b->remotes = v;
        v[b->nremotes++] = r;
        return 0;
    }
    struct kiln_output o;
    if (kiln_output_parse(dest, &o, err) < 0)
        return -1;
    for (size_t i = 0; i < b->noutputs; i++) {
        if (!strcmp(b->outputs[i].path, o.path) && (b->outputs[i].kind != KILN_OUT_OCI ||
                                                     o.kind != KILN_OUT_OCI)) {
            kiln_output_free(&o);
            return kiln_fail(err, KILN_ERR_USAGE, "-o %s: the same path is named twice", dest);
        }
    }
    struct kiln_output *v = realloc(b->outputs, (b->noutputs + 1) * sizeof(*v));
    if (!v) {
        kiln_output_free(&o);
        return kiln_oom(err);
    }
    b->outputs = v;
    v[b->noutputs++] = o;
    return 0;
}

static unsigned effective_jobs(const kiln_build *b)
{
    if (b->jobs)
        return b->jobs;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)(n > 64 ? 64 : n) : 1;
}

/* Streams one input through tar -> sha256 -> compressor -> sha256 -> file. */
static int build_layer(kiln_build *b, const struct input *in, unsigned map_layer,
                       const char *stage_dir, size_t idx, struct kiln_layer *l,
                       struct kiln_error *err)
{
    char name[64];
    snprintf(name, sizeof(name), "layer-%zu", idx);
    _cleanup_free_ char *path = kiln_path_join(stage_dir, name, err);
    if (!path)
        return -1;
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", path);
    struct kiln_layer_opts lo = {.map = in->map,
                                 .map_layer = map_layer,
                                 .max_bytes = b->tar_max_bytes,
                                 .max_entries = b->tar_max_entries,
                                 .clamp_mtime = b->have_sde,
                                 .clamp_to = b->sde,
                                 .xattrs = b->xattrs,
                                 .tar_stream = true,
                                 .log = b->log,
                                 .log_userdata = b->log_userdata};
    struct kiln_fd_sink file;
    struct kiln_hash_sink compressed, raw;
    int rc;
again:
    kiln_fd_sink_init(&file, fd, path);
    struct kiln_compressor *comp = NULL;
    if (kiln_hash_sink_init(&compressed, &file.sink, err) < 0)
        return -1;
    rc = kiln_compressor_new(b->comp, b->level, effective_jobs(b), &compressed.sink, &comp, err);
    if (rc == 0)
        kiln_compressor_set_cache(comp, b->cache);
    if (rc == 0)
        rc = kiln_hash_sink_init(&raw, kiln_compressor_sink(comp), err);
    if (rc < 0) {
        kiln_sha256_free(&compressed.sha);
        kiln_compressor_free(comp);
        return -1;
    }
    struct kiln_tar_writer w;
    kiln_tar_writer_init(&w, &raw.sink);
    if (in->kind == INPUT_TREE)
        rc = kiln_layer_from_tree(in->path, &lo, &w, err);
    else if (in->kind == INPUT_TAR)
        rc = kiln_layer_from_tarball(in->path, &lo, &w, err);
    else if (in->kind == INPUT_DIFF)
        rc = kiln_layer_from_diff(in->path, in->path2, &lo, &w, err);
    else if (in->kind == INPUT_LAYER)
        rc = layer_from_entries(in, &lo, b->cfg.created, &w, err);
    else if (in->kind == INPUT_SQUASH)
        rc = kiln_flatten_write(b->squash_src, &w, err);
    else
        rc = layer_from_adds(in, &lo, b->cfg.created, &w, err);
    if (rc == KILN_TAR_UNSORTED) {
        /* Not in canonical order: start the layer again, spooled and sorted. */
        kiln_compressor_free(comp);
        kiln_sha256_free(&raw.sha);
        kiln_sha256_free(&compressed.sha);
        if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot truncate", path);
        logf_(b, KILN_LOG_INFO, "--tar %s: members not in canonical order: sorting them", in->path);
        lo.tar_stream = false;
        goto again;
    }
    if (rc == 0)
        rc = kiln_tar_finish(&w, err);
    if (rc == 0)
        rc = kiln_sink_finish(&raw.sink, err);
    if (rc == 0 && fsync(fd) < 0)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot write", path);
    kiln_compressor_free(comp);
    if (rc < 0) {
        kiln_sha256_free(&raw.sha);
        kiln_sha256_free(&compressed.sha);
        return -1;
    }
    kiln_sha256_final(&raw.sha, l->diff_id);
    kiln_sha256_final(&compressed.sha, l->digest);
    l->size = compressed.bytes;
    l->path = TAKE_PTR(path);
    logf_(b, KILN_LOG_INFO, "layer %zu (%s %s): %llu bytes tar, %llu bytes %s, %s", idx + 1,
          in->kind == INPUT_TREE   ? "--rootfs"
          : in->kind == INPUT_TAR  ? "--tar"
          : in->kind == INPUT_DIFF  ? "--diff"
          : in->kind == INPUT_LAYER ? "layer"
          : in->kind == INPUT_SQUASH ? "squashed"
                                    : "--add",
          in->path,
          (unsigned long long)raw.bytes, (unsigned long long)compressed.bytes,
          kiln_compression_name(b->comp), l->digest);
    return 0;
}

/* Pushes to every docker:// output; later repositories of a registry mount
 * the blobs from the first one, and a layer of a base (or of a rebased
 * image) is mounted from its repository when that is on the same registry. */
static int push_remotes(kiln_build *b, const struct kiln_image_set *set, struct kiln_error *err)
{
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(&b->remote, NULL, &ro);
    for (size_t i = 0; i < b->nremotes; i++) {
        const struct kiln_reference *r = &b->remotes[i];
        const char *mount_from = NULL;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(b->remotes[k].domain, r->domain) && strcmp(b->remotes[k].path, r->path)) {
                mount_from = b->remotes[k].path;
                break;
            }
        struct kiln_registry *reg;
        if (kiln_registry_open(r->domain, &ro, &reg, err) < 0)
            return kiln_error_prefix(err, "push %s/%s:%s", r->domain, r->path, r->tag);
        int rc = kiln_push_set(reg, r, r->tag, set, mount_from, err);
        if (rc == 0) {
            struct kiln_registry_stats st;
            kiln_registry_stats(reg, &st);
            logf_(b, KILN_LOG_INFO,
                  "pushed %s/%s:%s: %u blobs uploaded (%llu bytes), %u already there, %u mounted",
                  r->domain, r->path, r->tag, st.blobs_uploaded,
                  (unsigned long long)st.bytes_uploaded, st.blobs_skipped, st.blobs_mounted);
        }
        kiln_registry_close(reg);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int kiln_build_set_base(kiln_build *b, const char *ref, struct kiln_src *s, struct kiln_error *err)
{
    if (kiln_build_set(b, KILN_SET_FROM, ref, err) < 0) {
        kiln_src_free(s);
        return -1;
    }
    b->base = s;
    return 0;
}

/* An image whose layers go into this one: one diff_id per layer, and
 * every layer distributable. what/name say which image it is. */
static int check_base(const struct kiln_image *im, const char *what, const char *name, bool layers,
                      struct kiln_error *err)
{
    if (im->diff_ids.n != im->nlayers)
        return kiln_fail(err, KILN_ERR_FORMAT,
                         "%s %s: the config lists %zu diff_ids for %zu layers", what, name,
                         im->diff_ids.n, im->nlayers);
    for (size_t i = 0; layers && i < im->nlayers; i++) {
        const char *mt = im->layers[i].media_type;
        if (strstr(mt, "nondistributable") || strstr(mt, "foreign"))
            return kiln_fail(err, KILN_ERR_INPUT,
                             "%s %s: layer %s is non-distributable (%s); kiln does not copy such "
                             "layers",
                             what, name, im->layers[i].digest, mt);
    }
    return 0;
}

/* Opens the base image: the platform asked for, else the host's from an
 * index, else whatever single image the reference names. One given by
 * kiln_build_set_base is used once, as it is. */
static int open_base(kiln_build *b, struct kiln_src **out, struct kiln_error *err)
{
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(&b->remote, NULL, &ro);
    char plat[KILN_PLATFORM_MAX];
    struct kiln_src *s = TAKE_PTR(b->base);
    /* A single image of another platform is fine without --platform: the
     * image takes the base's platform. */
    if (!s && kiln_src_open_ex(b->from,
                         b->have_platform ? kiln_platform_format(&b->cfg.platform, plat) : NULL,
                         KILN_SRC_HOST_DEFAULT, &ro, &s, err) < 0)
        return kiln_error_prefix(err, "--from");
    struct kiln_image *bi = &s->images[0];
    if (check_base(bi, "--from", b->from, true, err) < 0) {
        kiln_src_free(s);
        return -1;
    }
    if (!b->have_platform)
        b->cfg.platform = bi->platform;
    *out = s;
    return 0;
}

/* kiln rebase: opens the image (`from`, as a base is opened), then the old and
 * the new base for its platform; checks that the old base's layers are the
 * image's first ones (by diff_id), and moves the config. *out is the new
 * base, whose layers come first; b keeps the image and its config. */
static int open_rebase(kiln_build *b, struct kiln_src **out, struct kiln_error *err)
{
    struct kiln_src *image = NULL, *old = NULL, *nw = NULL;
    if (open_base(b, &image, err) < 0)
        return kiln_error_prefix(err, "rebase");
    b->rebase_image = image;
    struct kiln_image *im = &image->images[0];
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(&b->remote, NULL, &ro);
    char plat[KILN_PLATFORM_MAX];
    kiln_platform_format(&im->platform, plat);
    if (kiln_src_open_ex(b->rebase_old, plat, KILN_SRC_HOST_DEFAULT, &ro, &old, err) < 0)
        return kiln_error_prefix(err, "--old-base %s", b->rebase_old);
    struct kiln_image *oi = &old->images[0];
    int rc = check_base(oi, "--old-base", b->rebase_old, false, err);
    if (rc == 0 && oi->nlayers > im->nlayers)
        rc = kiln_fail(err, KILN_ERR_USAGE,
                       "--old-base %s is not the base of %s: it has %zu layers, the image only "
                       "%zu",
                       b->rebase_old, b->from, oi->nlayers, im->nlayers);
    for (size_t i = 0; rc == 0 && i < oi->nlayers; i++)
        if (strcmp(oi->diff_ids.v[i], im->diff_ids.v[i]))
            rc = kiln_fail(err, KILN_ERR_USAGE,
                           "--old-base %s is not the base of %s: its layer %zu (diff_id %s) "
                           "is not the image's (%s); give as --old-base the image it was built on",
                           b->rebase_old, b->from, i + 1, oi->diff_ids.v[i], im->diff_ids.v[i]);
    if (rc == 0 && kiln_src_open_ex(b->rebase_new, plat, KILN_SRC_HOST_DEFAULT, &ro, &nw, err) < 0)
        rc = kiln_error_prefix(err, "--new-base %s", b->rebase_new);
    struct kiln_image *ni = rc == 0 ? &nw->images[0] : NULL;
    if (rc == 0)
        rc = check_base(ni, "--new-base", b->rebase_new, true, err);
    if (rc == 0)
        rc = kiln_rebase_config(im->config.data, oi->config.data, ni->config.data,
                                &b->rebase_config, err);
    if (rc == 0)
        b->rebase_nown = im->nlayers - oi->nlayers;
    kiln_src_free(old);
    if (rc < 0) {
        kiln_src_free(nw);
        return -1;
    }
    *out = nw;
    return 0;
}

int kiln_build_set_cache(kiln_build *b, const struct kiln_cache_opts *o, struct kiln_error *err)
{
    struct kiln_cache_opts c;
    kiln_cache_opts_copy(&c, o);
    struct kiln_chunk_cache *cache = NULL;
    if (c.dir && *c.dir && kiln_chunk_cache_open(c.dir, c.max_size, &cache, err) < 0)
        return -1;
    kiln_chunk_cache_free(b->cache);
    b->cache = cache;
    return 0;
}

/* A layer of another image, as this image's: its bytes where they are (the
 * local file, when there is one, or its source), its media type in the
 * manifest's family. */
static int take_layer(struct kiln_layer *to, const struct kiln_layer *from, bool docker,
                      struct kiln_error *err)
{
    *to = *from;
    to->path = NULL;
    to->created_by = NULL;
    snprintf(to->media_type, sizeof(to->media_type), "%s",
             docker ? kiln_layer_media_type_docker(from->media_type)
                    : kiln_layer_media_type_oci(from->media_type));
    if (from->path && !(to->path = kiln_strdup(from->path, err)))
        return -1;
    return 0;
}

int kiln_build_run(kiln_build *b, char digest_out[KILN_DIGEST_MAX], struct kiln_error *err)
{
    /* An image of configuration only (a Dockerfile without COPY) has no
     * layer of its own. */
    if (!b->ninputs && !b->cfg.config_json && !b->from)
        return kiln_fail(err, KILN_ERR_USAGE, "no input: give --rootfs DIR, --tar FILE or --add SRC:DEST");
    if (!b->noutputs && !b->nremotes)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "no output: give -o oci:DIR, -o oci-archive:FILE, "
                         "-o docker-archive:FILE or -o docker://HOST/REPO:TAG");
    for (size_t i = 0; i < b->noutputs; i++)
        if (kiln_output_check(&b->outputs[i], err) < 0)
            return -1;
    if (!b->have_platform)
        kiln_platform_host(&b->cfg.platform);
    struct kiln_src *base = NULL;
    if (b->rebase_new && (!b->from || b->squash))
        return kiln_fail(err, KILN_ERR_USAGE, b->squash ? "rebase: cannot also squash"
                                                        : "rebase: there is no image (KILN_SET_FROM) to rebase");
    if (b->from && b->rebase_new && open_rebase(b, &base, err) < 0)
        return -1;
    if (b->from && !b->rebase_new && open_base(b, &base, err) < 0)
        return -1;
    /* rebase: the image, whose own layers come after the new base's */
    struct kiln_image *ri = b->rebase_image ? &b->rebase_image->images[0] : NULL;
    size_t nown = ri ? b->rebase_nown : 0;
    if (b->squash && !base)
        return kiln_fail(err, KILN_ERR_USAGE, "squash: there is no base image (KILN_SET_FROM) to squash");
    struct kiln_image *bi = base ? &base->images[0] : NULL;
    /* squashed, the base's layers become one layer of the build's own */
    size_t nsquashed = b->squash ? bi->nlayers : 0;
    size_t nbase = bi && !b->squash ? bi->nlayers : 0,
           nlayers = nbase + nown + (b->squash ? 1 : 0);
    /* Layer maps are read and the trees they split scanned before any output. */
    for (size_t i = 0; i < b->ninputs; i++) {
        struct input *in = &b->inputs[i];
        if (in->layer_map && !in->map &&
            (kiln_layer_map_load(in->layer_map, &in->map, err) < 0 ||
             kiln_layer_map_scan(in->path, in->map, err) < 0)) {
            kiln_src_free(base);
            return -1;
        }
        nlayers += in->map ? kiln_layer_map_count(in->map) : 1;
    }
    /* a rebased image keeps its own time and format, not the new base's */
    struct kiln_image *ci = ri ? ri : bi;
    b->cfg.created = b->have_sde                  ? b->sde
                     : b->created_from_base && ci ? ci->created
                                                  : (int64_t)time(NULL);
    /* Docker's v2 schema 2, asked for or kept from the base */
    bool docker = b->format == FORMAT_DOCKER ||
                  (b->format == FORMAT_BASE && ci && !strcmp(ci->media_type, KILN_MT_DOCKER_MANIFEST));
    if (docker && b->cfg.annotations.n) {
        kiln_src_free(base);
        return kiln_fail(err, KILN_ERR_USAGE,
                         "--annotation: a Docker v2 schema 2 manifest has no annotations; drop "
                         "them or write an OCI manifest (--manifest-format oci)");
    }
    /* Docker's v2 schema 2 has no zstd layer type: a zstd layer there
     * (built, the base's or a rebased image's own) is refused, as kiln copy
     * --manifest-format docker refuses it */
    if (docker) {
        const char *z = NULL, *whose = NULL;
        for (size_t i = 0; i < nbase && !z; i++)
            if (strstr(bi->layers[i].media_type, "zstd"))
                z = bi->layers[i].digest, whose = "the base's layer";
        for (size_t k = 0; ri && k < nown && !z; k++)
            if (strstr(ri->layers[ri->nlayers - nown + k].media_type, "zstd"))
                z = ri->layers[ri->nlayers - nown + k].digest, whose = "the image's layer";
        if (z || (b->comp == KILN_COMPRESSION_ZSTD && nlayers > nbase + nown)) {
            if (z)
                kiln_fail(err, KILN_ERR_USAGE,
                          "%s %s is zstd-compressed, and Docker's v2 schema 2 has no zstd layer "
                          "type (Docker before 23 cannot read zstd): write an OCI manifest "
                          "(--manifest-format oci)",
                          whose, z);
            kiln_src_free(base);
            if (z)
                return -1;
            return kiln_fail(err, KILN_ERR_USAGE,
                             "--compression zstd: Docker's v2 schema 2 has no zstd layer type "
                             "(Docker before 23 cannot read zstd): write an OCI manifest "
                             "(--manifest-format oci), or compress with gzip");
        }
    }
    /* the base's layers go in as they are: a zstd one too */
    const char *zbase = NULL;
    for (size_t i = 0; i < nbase && !zbase; i++)
        if (strstr(bi->layers[i].media_type, "zstd"))
            zbase = bi->layers[i].digest;
    for (size_t i = 0; i < b->noutputs; i++) {
        if (b->outputs[i].kind != KILN_OUT_DOCKER_ARCHIVE)
            continue;
        if (b->comp == KILN_COMPRESSION_ZSTD)
            logf_(b, KILN_LOG_WARNING,
                  "-o %s: zstd layers: Docker before 23 cannot load this archive; use "
                  "--compression gzip for older engines",
                  b->outputs[i].spec);
        else if (zbase)
            logf_(b, KILN_LOG_WARNING,
                  "-o %s: layer %s of --from %s is zstd-compressed: Docker before 23 cannot "
                  "load this archive",
                  b->outputs[i].spec, zbase, b->from);
    }

    /* Layers are staged on the first output's file system so that they can
     * be hard-linked into a layout: inside it when it exists (which needs no
     * write permission on its parent), else beside it. The staging
     * directory is held, so that a later writer can tell it from one that a
     * killed build left, and reclaim that. */
    const struct kiln_output *first = b->noutputs ? &b->outputs[0] : NULL;
    _cleanup_free_ char *parent =
        !first ? kiln_strdup(kiln_tmpdir(), err)
        : first->kind == KILN_OUT_OCI && first->existed ? kiln_strdup(first->path, err)
                                                        : kiln_dirname(first->path, err);
    _cleanup_free_ char *stage_name = parent ? kiln_path_join(parent, KILN_STAGE_PREFIX, err) : NULL;
    struct kiln_held held_stage = KILN_HELD_INIT;
    if (!stage_name || kiln_held_create(stage_name, true, &held_stage, err) < 0) {
        kiln_src_free(base);
        return kiln_error_prefix(err, "staging the layers");
    }
    const char *stage = held_stage.path;

    int rc = 0;
    struct kiln_image im = {.layers = calloc(nlayers + 1, sizeof(*im.layers)),
                            .nlayers = nlayers,
                            .platform = b->cfg.platform,
                            .created = b->cfg.created};
    snprintf(im.media_type, sizeof(im.media_type), "%s",
             docker ? KILN_MT_DOCKER_MANIFEST : KILN_MT_OCI_MANIFEST);
    if (!im.layers) {
        im.nlayers = 0;
        rc = kiln_oom(err);
    }
    for (size_t i = 0; rc == 0 && i < nbase; i++) {
        rc = take_layer(&im.layers[i], &bi->layers[i], docker, err);
        /* Local outputs need the bytes; a push fetches only what it must. */
        if (rc == 0 && b->noutputs)
            rc = kiln_layer_fetch(&im.layers[i], err);
    }
    /* rebase: the image's own layers, as they are (the bytes are needed
     * for a local output, and for a push to a repository that lacks them) */
    for (size_t k = 0; rc == 0 && k < nown; k++) {
        size_t i = nbase + k, from = ri->nlayers - nown + k;
        rc = take_layer(&im.layers[i], &ri->layers[from], docker, err);
        if (rc == 0)
            rc = kiln_layer_fetch(&im.layers[i], err);
    }
    struct kiln_strlist created_by = {0};
    size_t li = nbase + nown;
    if (rc == 0 && b->squash) {
        struct input sq = {.kind = INPUT_SQUASH, .path = b->from};
        char what[300];
        snprintf(what, sizeof(what), "kiln flatten: the %zu layer%s of %s squashed into one",
                 nsquashed, nsquashed == 1 ? "" : "s", b->from);
        b->squash_src = base;
        rc = build_layer(b, &sq, 0, stage, li, &im.layers[li], err);
        b->squash_src = NULL;
        if (rc < 0)
            kiln_error_prefix(err, "flatten %s", b->from);
        if (rc == 0)
            rc = kiln_strlist_push(&created_by, what, err);
        if (rc == 0)
            im.layers[li].created_by = created_by.v[created_by.n - 1];
        li++;
    }
    for (size_t i = 0; rc == 0 && i < b->ninputs; i++) {
        const struct input *in = &b->inputs[i];
        size_t parts = in->map ? kiln_layer_map_count(in->map) : 1;
        for (size_t k = 0; rc == 0 && k < parts; k++, li++) {
            rc = build_layer(b, in, (unsigned)k, stage, li, &im.layers[li], err);
            char what[160];
            if (in->map)
                snprintf(what, sizeof(what), "kiln build --rootfs --layer-map [%s]",
                         kiln_layer_map_name(in->map, k));
            else if (in->kind == INPUT_LAYER && in->created_by)
                snprintf(what, sizeof(what), "%s", in->created_by);
            else
                snprintf(what, sizeof(what), "%s",
                         in->kind == INPUT_TREE   ? "kiln build --rootfs"
                         : in->kind == INPUT_TAR  ? "kiln build --tar"
                         : in->kind == INPUT_DIFF ? "kiln build --diff"
                                                  : "kiln build --add");
            if (rc == 0)
                rc = kiln_strlist_push(&created_by, what, err);
            if (rc == 0)
                im.layers[li].created_by = created_by.v[created_by.n - 1];
        }
    }
    if (rc == 0)
        kiln_chunk_cache_end(b->cache, b->log, b->log_userdata);
    /* squashed, the base's history goes: one entry says what was squashed */
    _cleanup_free_ char *base_config = NULL;
    if (rc == 0 && bi && b->squash) {
        json_error_t je;
        json_t *doc = json_loadb(bi->config.data, bi->config.len, 0, &je);
        if (json_is_object(doc)) {
            json_object_del(doc, "history");
            base_config = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        }
        json_decref(doc);
        if (!base_config)
            rc = kiln_fail(err, KILN_ERR_FORMAT, "--from %s: the config is not a JSON object",
                           b->from);
    } else if (rc == 0 && ri && !(base_config = kiln_strdup(b->rebase_config, err)))
        rc = -1;
    else if (rc == 0 && bi && !ri && !(base_config = kiln_strdup(bi->config.data, err)))
        rc = -1;
    if (rc == 0)
        rc = kiln_config_json(&b->cfg, base_config, nbase + nown, im.layers, nlayers, &im.config,
                              err);
    if (rc == 0)
        rc = kiln_sha256_buf(im.config.data, im.config.len, im.config_digest, err);
    if (rc == 0)
        rc = kiln_manifest_json(docker ? KILN_MANIFEST_DOCKER : KILN_MANIFEST_OCI, b->comp,
                                im.config_digest, im.config.len, im.layers, nlayers,
                                &b->cfg.annotations, &im.manifest, err);
    if (rc == 0)
        rc = kiln_sha256_buf(im.manifest.data, im.manifest.len, im.manifest_digest, err);
    for (size_t i = 0; rc == 0 && i < nlayers; i++)
        rc = kiln_strlist_push(&im.diff_ids, im.layers[i].diff_id, err);
    struct kiln_image_set set = {.images = &im,
                                 .nimages = 1,
                                 .tags = b->tags,
                                 .ntags = b->ntags,
                                 .file_mtime = b->cfg.created};
    for (size_t i = 0; rc == 0 && i < b->noutputs; i++)
        rc = kiln_output_prepare(&b->outputs[i], &set, err);
    if (rc == 0 && b->nremotes)
        rc = push_remotes(b, &set, err);
    for (size_t i = 0; rc == 0 && i < b->noutputs; i++)
        rc = kiln_output_commit(&b->outputs[i], err);
    for (size_t i = 0; i < b->noutputs; i++) {
        if (rc < 0)
            kiln_output_rollback(&b->outputs[i]);
        else
            kiln_output_finish(&b->outputs[i]);
    }
    if (rc == 0)
        memcpy(digest_out, im.manifest_digest, KILN_DIGEST_MAX);

    kiln_held_release(&held_stage, true);
    kiln_image_release(&im);
    kiln_strlist_free(&created_by);
    kiln_src_free(base);
    kiln_src_free(TAKE_PTR(b->rebase_image));
    free(TAKE_PTR(b->rebase_config));
    return rc;
}

int kiln_version_number(void)
{
    return KILN_VERSION_NUMBER;
}

const char *kiln_version_string(void)
{
    static char buf[512];
    if (!buf[0])
        snprintf(buf, sizeof(buf),
                 "kiln %s\n%s\nlibcurl %s\nOpenSSL %s\njansson %s\nlibdeflate %s\n"
                 "libzstd %s",
                 KILN_VERSION_STRING, archive_version_string(), LIBCURL_VERSION,
                 OpenSSL_version(OPENSSL_VERSION_STRING), JANSSON_VERSION, LIBDEFLATE_VERSION_STRING,
                 ZSTD_versionString());
    return buf;
}
