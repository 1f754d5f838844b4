/*
 * Evaluates a parsed Dockerfile into a kiln_build, as docker's legacy builder
 * would build it, for every instruction that needs no running container.
 *
 * Each stage keeps a materialised tree (its base image unpacked, then every
 * COPY/ADD applied) so that later instructions can see it: whether a
 * destination is a directory, which parents must be created, the users and
 * groups of --chown, and the files of COPY --from. The layers themselves are
 * written by kiln_build_run from explicit entries (kiln_build_layer_add), so
 * owners and modes never depend on what the tree on disk could record.
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "dockerfile.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct item {
    char *src;  /* on disk; NULL: a created directory */
    char *dest; /* absolute path in the image */
    struct kiln_entry_attrs a;
};

struct layer {
    char *created_by;
    struct item *v;
    size_t n;
};

struct stage {
    char *name;     /* FROM ... AS name, lower case; NULL if none */
    int parent;     /* FROM an earlier stage: its index; -1 otherwise */
    char *base_ref; /* image for kiln (with transport); NULL: scratch */
    char *platform;
    char *rootfs;
    json_t *config; /* the container config */
    char *author;
    struct layer *layers;
    size_t nlayers;
    struct kiln_strlist args; /* ARGs of the stage with a value: "K=V" */
    struct kiln_strlist env;  /* config Env, for substitution */
    bool cmd_set;
    bool oom; /* a JSON insertion failed: the instruction fails (exec_instr) */
};

struct kiln_dockerfile {
    const struct kiln_dockerfile_opts *o;
    struct df_file f;
    char *context;
    char *tmp;
    unsigned ntmp;
    struct df_ignore ig;
    struct stage *st;
    size_t nst;
    struct kiln_strlist meta;       /* ARGs before the first FROM with a value */
    struct kiln_strlist build_args; /* "K=V" */
    struct kiln_strlist consumed;   /* build-arg names declared by an ARG */
    struct kiln_strlist images;     /* COPY --from=image: "ref", then its tree */
    const struct df_instr *cur;     /* for messages */
    uint64_t max_bytes, max_entries; /* the build's bounds on tarballs, for ADD */
};

/* ---- messages ---------------------------------------------------------- */

/* The error object is passed around separately; this wraps the one we were
 * given with the file:line: INSTRUCTION prefix. */
static int at(struct kiln_dockerfile *d, struct kiln_error *err)
{
    if (!d->cur || !err)
        return -1;
    char cmd[32];
    size_t i = 0;
    for (; d->cur->cmd[i] && i + 1 < sizeof(cmd); i++)
        cmd[i] = (char)toupper((unsigned char)d->cur->cmd[i]);
    cmd[i] = '\0';
    char where[300];
    int wl = snprintf(where, sizeof(where), "%s:%u: %s: ", d->f.name, d->cur->line, cmd);
    if (wl > 0 && !strncmp(err->message, where, (size_t)wl))
        return -1; /* already said */
    return kiln_error_prefix(err, "%s:%u: %s", d->f.name, d->cur->line, cmd);
}

static void warn(struct kiln_dockerfile *d, const char *fmt, ...) KILN_PRINTF(2, 3);
static void warn(struct kiln_dockerfile *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_logv(d->o->log, d->o->log_userdata, KILN_LOG_WARNING, fmt, ap);
    va_end(ap);
}

/* ---- small helpers ------------------------------------------------------- */

static char *join(const char *a, const char *b, struct kiln_error *err)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la && a[la - 1] == '/')
        la--;
    while (*b == '/') {
        b++;
        lb--;
    }
    char *s = kiln_xmalloc(la + lb + 2, err);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    if (!lb)
        s[la ? la : 1] = '\0';
    return s;
}

static int set_kv(struct kiln_strlist *l, const char *k, const char *v, struct kiln_error *err)
{
    size_t kl = strlen(k);
    char *kv = kiln_xmalloc(kl + strlen(v) + 2, err);
    if (!kv)
        return -1;
    sprintf(kv, "%s=%s", k, v);
    for (size_t i = 0; i < l->n; i++)
        if (!strncmp(l->v[i], k, kl) && l->v[i][kl] == '=') {
            free(l->v[i]);
            l->v[i] = kv;
            return 0;
        }
    int rc = kiln_strlist_push(l, kv, err);
    free(kv);
    return rc;
}

static bool list_has(const struct kiln_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return true;
    return false;
}

static char *new_tmp(struct kiln_dockerfile *d, const char *what, struct kiln_error *err)
{
    char name[64];
    snprintf(name, sizeof(name), "%s-%u", what, d->ntmp++);
    return kiln_path_join(d->tmp, name, err);
}

static int subst(struct kiln_dockerfile *d, const struct stage *s, const char *w, char **out,
                 struct kiln_error *err)
{
    struct df_vars v = { .lists = { s ? &s->env : &d->meta, s ? &s->args : NULL } };
    *out = NULL; /* callers free it on failure too */
    if (df_subst(w, d->f.escape, &v, out, err) < 0) {
        free(*out);
        *out = NULL;
        return at(d, err);
    }
    return 0;
}

/* Whitespace-separated words (buildkit's parseStringsWhitespaceDelimited). */
static int split_ws(const char *s, struct kiln_strlist *out, struct kiln_error *err)
{
    while (*s) {
        while (*s && isspace((unsigned char)*s))
            s++;
        const char *e = s;
        while (*e && !isspace((unsigned char)*e))
            e++;
        if (e > s) {
            char w[4096];
            if ((size_t)(e - s) >= sizeof(w))
                return kiln_fail(err, KILN_ERR_USAGE, "argument too long");
            memcpy(w, s, (size_t)(e - s));
            w[e - s] = '\0';
            if (kiln_strlist_push(out, w, err) < 0)
                return -1;
        }
        s = e;
    }
    return 0;
}

/* "--name=value" flags: fills vals for the names allowed; anything else is an
 * error naming the flag. */
static int get_flags(struct kiln_dockerfile *d, const struct df_instr *in, const char *const *names,
                     const char **vals, size_t n, struct kiln_error *err)
{
    for (size_t i = 0; i < n; i++)
        vals[i] = NULL;
    for (size_t f = 0; f < in->flags.n; f++) {
        const char *fl = in->flags.v[f] + 2;
        const char *eq = strchr(fl, '=');
        size_t nl = eq ? (size_t)(eq - fl) : strlen(fl);
        size_t i = 0;
        while (i < n && !(strlen(names[i]) == nl && !strncmp(names[i], fl, nl)))
            i++;
        if (i == n) {
            kiln_fail(err, KILN_ERR_USAGE, "unknown flag: --%.*s", (int)nl, fl);
            return at(d, err);
        }
        if (!eq && !strcmp(names[i], "link")) { /* a boolean */
            vals[i] = "true";
            continue;
        }
        if (!eq) {
            kiln_fail(err, KILN_ERR_USAGE, "--%s needs a value (--%s=VALUE)", names[i], names[i]);
            return at(d, err);
        }
        vals[i] = eq + 1;
    }
    return 0;
}

/* ---- trees: resolving paths and applying entries ------------------------ */

/* The path `path` (absolute in the image) resolved inside the tree `root` as
 * if root were "/": symlinks followed (the last one only if follow_last),
 * ".." never above root. Returns the cleaned absolute image path. */
static char *scoped(const char *root, const char *path, bool follow_last, struct kiln_error *err)
{
    struct kiln_buf res = { 0 }, rest = { 0 };
    int rc = kiln_buf_append(&rest, path, strlen(path), err);
    if (rc == 0)
        rc = kiln_buf_append(&res, "", 0, err);
    unsigned links = 0;
    while (rc == 0 && rest.len) {
        char *p = rest.data;
        while (*p == '/')
            p++;
        char *e = strchr(p, '/');
        size_t cl = e ? (size_t)(e - p) : strlen(p);
        char comp[4096];
        if (cl >= sizeof(comp)) {
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: path component too long", path);
            break;
        }
        memcpy(comp, p, cl);
        comp[cl] = '\0';
        const char *after = p + cl;
        bool last = !*after || !after[strspn(after, "/")];
        /* drop the component from rest */
        size_t off = (size_t)(after - rest.data);
        memmove(rest.data, rest.data + off, rest.len - off + 1);
        rest.len -= off;
        if (!cl || !strcmp(comp, "."))
            continue;
        if (!strcmp(comp, "..")) {
            char *sl = strrchr(res.data, '/');
            if (sl) {
                *sl = '\0';
                res.len = (size_t)(sl - res.data);
            }
            continue;
        }
        size_t keep = res.len;
        rc = kiln_buf_printf(&res, err, "/%s", comp);
        if (rc < 0)
            break;
        _cleanup_free_ char *abs = kiln_path_join(root, res.data, err);
        if (!abs) {
            rc = -1;
            break;
        }
        struct stat st;
        if (lstat(abs, &st) < 0 || !S_ISLNK(st.st_mode) || (last && !follow_last))
            continue;
        if (++links > 40) {
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: too many levels of symbolic links", path);
            break;
        }
        char target[4096];
        ssize_t tl = readlink(abs, target, sizeof(target) - 1);
        if (tl < 0) {
            rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", abs);
            break;
        }
        target[tl] = '\0';
        res.len = keep;
        res.data[keep] = '\0';
        if (target[0] == '/') {
            res.len = 0;
            res.data[0] = '\0';
        }
        struct kiln_buf nr = { 0 };
        rc = kiln_buf_printf(&nr, err, "%s/%s", target, rest.data);
        if (rc == 0) {
            kiln_buf_free(&rest);
            rest = nr;
        }
    }
    kiln_buf_free(&rest);
    if (rc < 0) {
        kiln_buf_free(&res);
        return NULL;
    }
    if (!res.len) {
        kiln_buf_free(&res);
        return kiln_strdup("/", err);
    }
    return res.data;
}

/* lstat of an image path in a tree (no following). */
static int tree_lstat(const char *root, const char *path, struct stat *st)
{
    char *abs = kiln_path_join(root, path, NULL);
    if (!abs)
        return -1;
    int r = lstat(abs, st);
    free(abs);
    return r;
}

static int copy_file_data(const char *src, const char *dst, mode_t mode, struct kiln_error *err)
{
    _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", src);
    _cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode | 0600);
    if (out < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", src);
        if (!n)
            return 0;
        if (kiln_write_all(out, buf, (size_t)n, dst, err) < 0)
            return -1;
    }
}

/* A directory's mode in a stage's tree: exact for root (who may write into
 * any directory), else with u+rwx so that kiln can fill it. */
static mode_t dir_mode(mode_t m)
{
    return getuid() == 0 ? m : m | 0700;
}

/* Writes one entry into a tree (the stage's view of what a layer does). */
static int apply_entry(const char *root, const struct item *it, struct kiln_error *err)
{
    _cleanup_free_ char *dst = kiln_path_join(root, it->dest, err);
    if (!dst)
        return -1;
    struct stat sst, dstst;
    bool have = lstat(dst, &dstst) == 0;
    if (it->src && lstat(it->src, &sst) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", it->src);
    bool is_dir = !it->src || S_ISDIR(sst.st_mode);
    mode_t mode = it->a.set_mode ? it->a.mode : it->src ? (sst.st_mode & 07777) : 0755;
    if (have && (!is_dir || !S_ISDIR(dstst.st_mode))) {
        if (S_ISDIR(dstst.st_mode))
            kiln_rm_rf(dst);
        else
            unlink(dst);
        have = false;
    }
    if (is_dir) {
        if (!have && mkdir(dst, 0700) < 0)
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
        chmod(dst, dir_mode(mode));
    } else if (S_ISREG(sst.st_mode)) {
        if (copy_file_data(it->src, dst, mode, err) < 0)
            return -1;
        chmod(dst, mode);
    } else if (S_ISLNK(sst.st_mode)) {
        char target[4096];
        ssize_t tl = readlink(it->src, target, sizeof(target) - 1);
        if (tl < 0)
            return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", it->src);
        target[tl] = '\0';
        if (symlink(target, dst) < 0)
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
    } else {
        /* devices and FIFOs: as far as we may (the layer has them anyway) */
        if (mknod(dst, (sst.st_mode & S_IFMT) | mode, sst.st_rdev) < 0)
            return 0;
    }
    if (getuid() == 0) {
        uid_t u = it->a.set_owner ? (uid_t)it->a.uid : it->src ? sst.st_uid : 0;
        gid_t g = it->a.set_owner ? (gid_t)it->a.gid : it->src ? sst.st_gid : 0;
        if (lchown(dst, u, g) == 0 && !S_ISLNK(is_dir ? S_IFDIR : sst.st_mode))
            chmod(dst, is_dir ? dir_mode(mode) : mode); /* chown clears setuid bits */
    }
    if (it->src && !is_dir) {
        /* COPY --from this tree keeps mtimes, as docker does */
        struct timespec ts[2] = { sst.st_atim, sst.st_mtim };
        utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW);
    }
    return 0;
}

/* Copies a whole tree (FROM stage: the new stage starts as a copy). */
static int copy_tree(const char *src, const char *dst, struct kiln_error *err)
{
    if (mkdir(dst, 0755) < 0 && errno != EEXIST)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
    char **names;
    size_t n;
    if (kiln_walk_list_dir(src, &names, &n, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        _cleanup_free_ char *s = kiln_path_join(src, names[i], err);
        _cleanup_free_ char *t = kiln_path_join(dst, names[i], err);
        if (!s || !t) {
            rc = -1;
            break;
        }
        struct stat st;
        if (lstat(s, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc = copy_tree(s, t, err);
            if (rc == 0 && getuid() == 0)
                if (lchown(t, st.st_uid, st.st_gid) < 0) {
                    /* the owner of a stage's directory matters to no layer */
                }
            if (rc == 0)
                chmod(t, dir_mode(st.st_mode & 07777));
        } else {
            struct item it = { .src = s, .dest = names[i] };
            rc = apply_entry(dst, &it, err);
        }
    }
    kiln_walk_names_free(names, n);
    return rc;
}

/* ---- stages ---------------------------------------------------------------- */

static void layer_free(struct layer *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].src);
        free(l->v[i].dest);
    }
    free(l->v);
    free(l->created_by);
}

static void stage_free(struct stage *s)
{
    free(s->name);
    free(s->base_ref);
    free(s->platform);
    free(s->rootfs);
    json_decref(s->config);
    free(s->author);
    for (size_t i = 0; i < s->nlayers; i++)
        layer_free(&s->layers[i]);
    free(s->layers);
    kiln_strlist_free(&s->args);
    kiln_strlist_free(&s->env);
}

void kiln_dockerfile_free(kiln_dockerfile *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nst; i++)
        stage_free(&d->st[i]);
    free(d->st);
    if (d->tmp)
        kiln_rm_rf(d->tmp);
    free(d->tmp);
    free(d->context);
    df_file_free(&d->f);
    df_ignore_free(&d->ig);
    kiln_strlist_free(&d->meta);
    kiln_strlist_free(&d->build_args);
    kiln_strlist_free(&d->consumed);
    kiln_strlist_free(&d->images);
    free(d);
}

static int layer_add(struct layer *l, const char *src, const char *dest,
                     const struct kiln_entry_attrs *a, struct kiln_error *err)
{
    struct item *v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v)
        return kiln_oom(err);
    l->v = v;
    struct item *it = &v[l->n];
    memset(it, 0, sizeof(*it));
    it->a = *a;
    if ((src && !(it->src = kiln_strdup(src, err))) || !(it->dest = kiln_strdup(dest, err))) {
        free(it->src);
        return -1;
    }
    l->n++;
    return 0;
}

/* The tree of a stage, or -1 with the error set. */
static int find_stage(struct kiln_dockerfile *d, const char *name, size_t before)
{
    char *end;
    long idx = strtol(name, &end, 10);
    if (isdigit((unsigned char)name[0]) && !*end)
        return idx >= 0 && (size_t)idx < before ? (int)idx : -2;
    for (size_t i = before; i-- > 0;)
        if (d->st[i].name && !strcasecmp(d->st[i].name, name))
            return (int)i;
    return -1;
}

/* The object (or array) at key in a stage's config, created if missing;
 * NULL when out of memory (json_object_set_new frees what it could not add,
 * so the new value is looked up again rather than kept). */
static json_t *config_member(struct stage *s, const char *key, bool array)
{
    json_t *o = json_object_get(s->config, key);
    if (array ? json_is_array(o) : json_is_object(o))
        return o;
    if (json_object_set_new(s->config, key, array ? json_array() : json_object()) < 0)
        return NULL;
    return json_object_get(s->config, key);
}

/* Config insertions whose failure (out of memory) is noted on the stage and
 * turned into an error when the instruction ends. */
static void jset(struct stage *s, json_t *o, const char *key, json_t *v)
{
    if (json_object_set_new(o, key, v) < 0)
        s->oom = true;
}

static void jpush(struct stage *s, json_t *a, json_t *v)
{
    if (json_array_append_new(a, v) < 0)
        s->oom = true;
}

static int update_env_json(struct stage *s)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->env.n; i++)
        if (json_array_append_new(a, json_string(s->env.v[i])) < 0) {
            json_decref(a);
            return -1;
        }
    return a ? json_object_set_new(s->config, "Env", a) : -1;
}

static void platform_string(const char *want, char out[96])
{
    if (want) {
        snprintf(out, 96, "%s", want);
        return;
    }
    struct kiln_platform p;
    kiln_platform_host(&p);
    snprintf(out, 96, "%s/%s%s%s", p.os, p.arch, p.variant[0] ? "/" : "", p.variant);
}

/* An image name as kiln reads it: transports kept, anything else is a
 * registry reference. */
static char *image_ref(const char *name, struct kiln_error *err)
{
    if (kiln_transport_of(name) != KILN_TRANSPORT_NONE)
        return kiln_strdup(name, err);
    size_t l = strlen(name) + 10;
    char *r = kiln_xmalloc(l, err);
    if (r)
        snprintf(r, l, "docker://%s", name);
    return r;
}

/* The container config of an image: of `plat` if given; else of the image
 * itself, or of the host's platform when it is a multi-platform index. */
static int image_config(struct kiln_dockerfile *d, const char *ref, const char *plat, json_t **out,
                        struct kiln_error *err)
{
    char *txt = NULL;
    size_t len = 0;
    if (kiln_inspect(ref, KILN_INSPECT_CONFIG, plat, d->o->remote, &txt, &len, err) < 0) {
        char host[96];
        platform_string(NULL, host);
        if (plat || kiln_inspect(ref, KILN_INSPECT_CONFIG, host, d->o->remote, &txt, &len, err) < 0)
            return -1;
    }
    json_error_t je;
    json_t *doc = json_loadb(txt, len, 0, &je);
    free(txt);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: the image config is not a JSON object", ref);
    }
    json_t *c = json_object_get(doc, "config");
    *out = json_is_object(c) ? json_deep_copy(c) : json_object();
    json_decref(doc);
    return *out ? 0 : kiln_oom(err);
}

static int exec_instr(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in,
                      bool trigger, struct kiln_error *err);

static int do_from(struct kiln_dockerfile *d, const struct df_instr *in, struct kiln_error *err)
{
    static const char *const names[] = { "platform" };
    const char *vals[1];
    if (get_flags(d, in, names, vals, 1, err) < 0)
        return -1;
    struct kiln_strlist w = { 0 };
    if (split_ws(in->args, &w, err) < 0) {
        kiln_strlist_free(&w);
        return at(d, err);
    }
    if (!(w.n == 1 || (w.n == 3 && !strcasecmp(w.v[1], "as")))) {
        kiln_strlist_free(&w);
        kiln_fail(err, KILN_ERR_USAGE,
                  "FROM requires either one or three arguments (IMAGE [AS NAME])");
        return at(d, err);
    }
    struct stage *v = realloc(d->st, (d->nst + 1) * sizeof(*v));
    if (!v) {
        kiln_strlist_free(&w);
        return kiln_oom(err);
    }
    d->st = v;
    struct stage *s = &v[d->nst];
    memset(s, 0, sizeof(*s));
    s->parent = -1;
    d->nst++;
    int rc = 0;
    if (w.n == 3) {
        for (char *c = w.v[2]; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        const char *n = w.v[2];
        bool ok = isalpha((unsigned char)n[0]);
        for (const char *c = n; ok && *c; c++)
            ok = isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.';
        if (!ok)
            rc = kiln_fail(err, KILN_ERR_USAGE,
                           "invalid name for build stage: '%s', name can't start with a number "
                           "or contain symbols",
                           n);
        else if (find_stage(d, n, d->nst - 1) >= 0)
            rc = kiln_fail(err, KILN_ERR_USAGE, "duplicate name '%s' for build stage", n);
        else if (!(s->name = kiln_strdup(n, err)))
            rc = -1;
    }
    char *image = NULL;
    if (rc == 0)
        rc = subst(d, NULL, w.v[0], &image, err);
    char *plat = NULL;
    if (rc == 0 && vals[0] && *vals[0])
        rc = subst(d, NULL, vals[0], &plat, err);
    if (plat && !*plat) { /* e.g. $BUILDPLATFORM, which kiln does not define */
        free(plat);
        plat = NULL;
    }
    s->platform = plat;
    kiln_strlist_free(&w);
    if (rc == 0 && !*image)
        rc = kiln_fail(err, KILN_ERR_USAGE, "base name (%s) should not be blank", in->args);
    int parent = rc == 0 ? find_stage(d, image, d->nst - 1) : -1;
    if (rc == 0 && !(s->rootfs = new_tmp(d, "stage", err)))
        rc = -1;
    const char *want = s->platform ? s->platform : d->o->platform; /* NULL: the host's */
    if (rc == 0 && parent >= 0 && !isdigit((unsigned char)image[0])) {
        struct stage *p = &d->st[parent];
        s->parent = parent;
        if ((p->base_ref && !(s->base_ref = kiln_strdup(p->base_ref, err))) ||
            (p->author && !(s->author = kiln_strdup(p->author, err))))
            rc = -1;
        if (rc == 0 && !s->platform && p->platform &&
            !(s->platform = kiln_strdup(p->platform, err)))
            rc = -1;
        if (rc == 0 && !(s->config = json_deep_copy(p->config)))
            rc = kiln_oom(err);
        if (rc == 0)
            rc = copy_tree(p->rootfs, s->rootfs, err);
    } else if (rc == 0 && !strcmp(image, "scratch")) {
        if (!(s->config = json_object()))
            rc = kiln_oom(err);
        else if (mkdir(s->rootfs, 0755) < 0)
            rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", s->rootfs);
    } else if (rc == 0) {
        if (!(s->base_ref = image_ref(image, err)))
            rc = -1;
        if (rc == 0)
            rc = image_config(d, s->base_ref, want, &s->config, err);
        if (rc == 0)
            rc = kiln_unpack(s->base_ref, s->rootfs, want, d->o->remote, err);
        if (rc < 0)
            kiln_error_prefix(err, "%s", image);
    }
    free(image);
    if (rc < 0)
        return at(d, err);
    /* Env for substitution, and docker's default PATH */
    json_t *env = json_object_get(s->config, "Env");
    size_t i;
    json_t *e;
    bool have_path = false;
    json_array_foreach(env, i, e)
    {
        const char *t = json_string_value(e);
        if (!t)
            continue;
        have_path |= !strncmp(t, "PATH=", 5);
        if (kiln_strlist_push(&s->env, t, err) < 0)
            return -1;
    }
    if (!have_path &&
        (kiln_strlist_push(&s->env, "PATH=" DEFAULT_PATH, err) < 0 || update_env_json(s) < 0))
        return kiln_oom(err);
    json_object_del(s->config, "OpenStdin");
    json_object_del(s->config, "StdinOnce");
    /* the base's ONBUILD triggers run now, and are not inherited */
    json_t *ob = json_object_get(s->config, "OnBuild");
    if (json_is_array(ob) && json_array_size(ob)) {
        json_incref(ob);
        jset(s, s->config, "OnBuild", json_null());
        for (i = 0; i < json_array_size(ob); i++) {
            const char *t = json_string_value(json_array_get(ob, i));
            struct df_file tf;
            if (!t)
                continue;
            if (df_parse(t, strlen(t), "ONBUILD", &tf, err) < 0) {
                df_file_free(&tf);
                json_decref(ob);
                return at(d, err);
            }
            const struct df_instr *saved = d->cur;
            for (size_t k = 0; rc == 0 && k < tf.n; k++) {
                tf.v[k].line = in->line;
                d->cur = &tf.v[k];
                rc = exec_instr(d, s, &tf.v[k], true, err);
                if (rc == 0 && s->oom)
                    rc = kiln_oom(err);
                if (rc < 0)
                    kiln_error_prefix(err,
                                      "ONBUILD trigger of the base image, run by FROM at %s:%u",
                                      d->f.name, in->line);
            }
            d->cur = saved;
            df_file_free(&tf);
            if (rc < 0)
                break;
        }
        json_decref(ob);
    } else if (ob) {
        jset(s, s->config, "OnBuild", json_null());
    }
    return rc == 0 && s->oom ? kiln_oom(err) : rc;
}

/* ---- --chown --------------------------------------------------------------- */

/* Looks NAME up in the stage's /etc/passwd or /etc/group (field 3). */
static int lookup_id(const char *root, const char *file, const char *name, uint64_t *id,
                     struct kiln_error *err)
{
    _cleanup_free_ char *p = scoped(root, file, true, err);
    if (!p)
        return -1;
    _cleanup_free_ char *abs = kiln_path_join(root, p, err);
    if (!abs)
        return -1;
    struct kiln_buf b = { 0 };
    if (kiln_read_file(abs, 16u << 20, &b, err) < 0)
        return -1;
    int rc = 1;
    size_t nl = strlen(name);
    for (char *line = b.data, *next; line && rc == 1; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, name, nl) || line[nl] != ':')
            continue;
        char *f = strchr(line + nl + 1, ':'); /* after the password field */
        if (!f)
            continue;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(f + 1, &end, 10);
        if (!errno && end != f + 1 && (*end == ':' || !*end) && v <= 0xffffffffULL) {
            *id = v;
            rc = 0;
        }
    }
    kiln_buf_free(&b);
    return rc;
}

static int resolve_id(struct kiln_dockerfile *d, const struct stage *s, const char *spec,
                      const char *what, const char *file, uint64_t *id, struct kiln_error *err)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(spec, &end, 10);
    if (isdigit((unsigned char)spec[0]) && !*end && !errno && v <= 0xffffffffULL) {
        *id = v;
        return 0;
    }
    struct kiln_error e2 = { 0 };
    int r = lookup_id(s->rootfs, file, spec, id, &e2);
    if (r == 0)
        return 0;
    if (r < 0)
        kiln_fail(err, KILN_ERR_INPUT, "can't find %s for %s %s: %s", what,
                  strcmp(what, "uid") ? "group" : "user", spec, e2.message);
    else
        kiln_fail(err, KILN_ERR_INPUT, "can't find %s for %s %s: no such %s in the stage's %s",
                  what, strcmp(what, "uid") ? "group" : "user", spec,
                  strcmp(what, "uid") ? "group" : "user", file);
    return at(d, err);
}

static int parse_chown(struct kiln_dockerfile *d, const struct stage *s, const char *v,
                       struct kiln_entry_attrs *a, struct kiln_error *err)
{
    char u[256], g[256];
    const char *colon = strchr(v, ':');
    if (strchr(colon ? colon + 1 : v, ':') || !*v || strlen(v) >= sizeof(u)) {
        kiln_fail(err, KILN_ERR_USAGE, "invalid chown string format: %s", v);
        return at(d, err);
    }
    if (colon) {
        snprintf(u, sizeof(u), "%.*s", (int)(colon - v), v);
        snprintf(g, sizeof(g), "%s", colon + 1);
    } else {
        /* as docker: no group given, the user's name is taken as the group's */
        snprintf(u, sizeof(u), "%s", v);
        snprintf(g, sizeof(g), "%s", v);
    }
    a->set_owner = true;
    if (resolve_id(d, s, u, "uid", "/etc/passwd", &a->uid, err) < 0 ||
        resolve_id(d, s, g, "gid", "/etc/group", &a->gid, err) < 0)
        return -1;
    return 0;
}

/* ---- COPY and ADD ------------------------------------------------------------ */

struct copy_ctx {
    struct kiln_dockerfile *d;
    struct stage *s;
    const char *root;           /* where sources are read: the context or a tree */
    const struct df_ignore *ig; /* the context's .dockerignore, or NULL */
    struct kiln_entry_attrs a;  /* owner (always) and mode (--chmod) */
    struct layer l;
    struct kiln_strlist made; /* directories this layer creates */
};

static bool ignored(const struct copy_ctx *c, const char *rel)
{
    return c->ig && *rel && df_ignore_match(c->ig, rel);
}

/* Creates dir (an image path) and its missing parents in this layer, owned
 * by the copy's owner, 0755 (docker's MkdirAllAndChownNew); with
 * parents_root, the parents are root's (a directory copy: docker makes them
 * with MkdirAll and chowns only the destination). */
static int make_dirs_(struct copy_ctx *c, const char *dir, bool parents_root,
                      struct kiln_error *err)
{
    _cleanup_free_ char *p = kiln_strdup(dir, err);
    if (!p)
        return -1;
    for (char *s = p + 1;; s++) {
        bool end = !*s;
        if (*s == '/' || end) {
            char keep = *s;
            *s = '\0';
            struct stat st;
            if (strlen(p) > 1 && !list_has(&c->made, p) && tree_lstat(c->s->rootfs, p, &st) < 0) {
                bool root = parents_root && !end;
                struct kiln_entry_attrs a = { .set_mode = true,
                                              .mode = 0755,
                                              .set_owner = true,
                                              .uid = root ? 0 : c->a.uid,
                                              .gid = root ? 0 : c->a.gid };
                if (layer_add(&c->l, NULL, p, &a, err) < 0 ||
                    kiln_strlist_push(&c->made, p, err) < 0)
                    return -1;
            }
            *s = keep;
        }
        if (end)
            break;
    }
    return 0;
}

static int make_dirs(struct copy_ctx *c, const char *dir, struct kiln_error *err)
{
    return make_dirs_(c, dir, false, err);
}

static bool is_dir_in_tree(struct copy_ctx *c, const char *path)
{
    if (list_has(&c->made, path))
        return true;
    struct stat st;
    return tree_lstat(c->s->rootfs, path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The tree below the directory abs (context-relative rel) into dest. */
static int copy_dir_contents(struct copy_ctx *c, const char *abs, const char *rel, const char *dest,
                             struct kiln_error *err)
{
    char **names;
    size_t n;
    if (kiln_walk_list_dir(abs, &names, &n, err) < 0)
        return -1;
    int rc = kiln_check_interrupt(err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        _cleanup_free_ char *a = kiln_path_join(abs, names[i], err);
        _cleanup_free_ char *r =
            *rel ? kiln_path_join(rel, names[i], err) : kiln_strdup(names[i], err);
        _cleanup_free_ char *t = join(dest, names[i], err);
        if (!a || !r || !t) {
            rc = -1;
            break;
        }
        struct stat st;
        if (lstat(a, &st) < 0) {
            rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", a);
            break;
        }
        bool skip = ignored(c, r);
        if (skip && !(S_ISDIR(st.st_mode) && c->ig->has_exceptions &&
                      df_ignore_may_include_below(c->ig, r)))
            continue;
        size_t before = c->l.n;
        if (!skip) {
            rc = layer_add(&c->l, a, t, &c->a, err);
        } else {
            /* an excluded directory entered for an exception: docker's context
             * has it only as an implicit parent, 0755 */
            struct kiln_entry_attrs da = {
                .set_mode = true, .mode = 0755, .set_owner = true, .uid = c->a.uid, .gid = c->a.gid
            };
            rc = layer_add(&c->l, NULL, t, &da, err);
        }
        if (rc == 0 && S_ISDIR(st.st_mode))
            rc = kiln_strlist_push(&c->made, t, err);
        if (rc == 0 && S_ISDIR(st.st_mode))
            rc = copy_dir_contents(c, a, r, t, err);
        if (rc == 0 && skip && c->l.n == before + 1) {
            /* nothing below was included: no directory either */
            c->l.n--;
            free(c->l.v[c->l.n].src);
            free(c->l.v[c->l.n].dest);
        }
    }
    kiln_walk_names_free(names, n);
    return rc;
}

/* A local tarball for ADD: true if libarchive reads it as a tar, plain or
 * compressed with any filter it knows. */
static bool is_tarball(const char *path)
{
    struct archive *a = archive_read_new();
    if (!a)
        return false;
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    struct archive_entry *e;
    bool ok = archive_read_open_filename(a, path, 65536) == ARCHIVE_OK &&
              archive_read_next_header(a, &e) == ARCHIVE_OK;
    archive_read_free(a);
    return ok;
}

/* ADD of a local tarball: extracted into dest with the archive's owners and
 * modes (docker does not apply --chown to it). */
static int add_tarball(struct copy_ctx *c, const char *path, const char *dest,
                       struct kiln_error *err)
{
    _cleanup_free_ char *x = new_tmp(c->d, "tar", err);
    if (!x)
        return -1;
    if (mkdir(x, 0700) < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", x);
    struct kiln_entry_attrs root = { .set_owner = true };
    struct kiln_entry_attrs saved = c->a;
    c->a = root;
    int rc = make_dirs(c, dest, err);
    c->a = saved;
    if (rc < 0)
        return -1;
    struct archive *a = archive_read_new();
    struct archive *w = archive_write_disk_new();
    if (!a || !w) {
        archive_read_free(a);
        archive_write_free(w);
        return kiln_oom(err);
    }
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_write_disk_set_options(w, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK)
        rc = kiln_fail(err, KILN_ERR_INPUT, "%s: %s", path, archive_error_string(a));
    struct archive_entry *e;
    int r;
    uint64_t entries = 0, bytes = 0;
    while (rc == 0 && (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) {
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: %s", path, archive_error_string(a));
            break;
        }
        /* the bounds of --tar inputs apply: an ADDed tarball is as untrusted */
        bytes += archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0;
        if (c->d->max_entries && ++entries > c->d->max_entries) {
            rc = kiln_fail(err, KILN_ERR_INPUT,
                           "%s: more than %llu members (--max-entries): refusing a possible "
                           "tar bomb",
                           path, (unsigned long long)c->d->max_entries);
            break;
        }
        if (c->d->max_bytes && bytes > c->d->max_bytes) {
            rc = kiln_fail(err, KILN_ERR_INPUT,
                           "%s: expands beyond %llu bytes (--max-bytes): refusing a possible "
                           "tar bomb",
                           path, (unsigned long long)c->d->max_bytes);
            break;
        }
        struct kiln_buf norm = { 0 };
        if (kiln_normalise_member_path(archive_entry_pathname(e), &norm, err) < 0) {
            rc = kiln_error_prefix(err, "%s", path);
            break;
        }
        if (!norm.len) {
            kiln_buf_free(&norm);
            continue;
        }
        _cleanup_free_ char *on_disk = kiln_path_join(x, norm.data, err);
        _cleanup_free_ char *t = join(dest, norm.data, err);
        if (!on_disk || !t) {
            kiln_buf_free(&norm);
            rc = -1;
            break;
        }
        struct kiln_entry_attrs ea = { .set_owner = true,
                                       .uid = (uint64_t)archive_entry_uid(e),
                                       .gid = (uint64_t)archive_entry_gid(e),
                                       .set_mode = archive_entry_filetype(e) != AE_IFLNK,
                                       .mode = (uint32_t)archive_entry_perm(e) };
        archive_entry_set_pathname(e, on_disk);
        const char *hl = archive_entry_hardlink(e);
        _cleanup_free_ char *hl_disk = NULL;
        if (hl) {
            struct kiln_buf hn = { 0 };
            if (kiln_normalise_member_path(hl, &hn, err) < 0) {
                kiln_buf_free(&norm);
                rc = kiln_error_prefix(err, "%s", path);
                break;
            }
            hl_disk = kiln_path_join(x, hn.data ? hn.data : "", err);
            kiln_buf_free(&hn);
            if (hl_disk)
                archive_entry_set_hardlink(e, hl_disk);
        }
        kiln_buf_free(&norm);
        r = archive_write_header(w, e);
        if (r == ARCHIVE_OK && archive_entry_size(e) > 0) {
            const void *buf;
            size_t sz;
            la_int64_t off;
            while ((r = archive_read_data_block(a, &buf, &sz, &off)) == ARCHIVE_OK)
                if (archive_write_data_block(w, buf, sz, off) < ARCHIVE_OK)
                    break;
            r = r == ARCHIVE_EOF ? ARCHIVE_OK : r;
        }
        if (r == ARCHIVE_OK)
            r = archive_write_finish_entry(w);
        if (r < ARCHIVE_WARN) {
            unsigned ft = archive_entry_filetype(e);
            if (ft == AE_IFCHR || ft == AE_IFBLK) {
                warn(c->d, "ADD %s: %s: cannot create a device node here (not root); left out",
                     path, t);
                continue;
            }
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: %s", path, archive_error_string(w));
            break;
        }
        rc = layer_add(&c->l, on_disk, t, &ea, err);
    }
    archive_read_free(a);
    archive_write_free(w);
    return rc;
}

/* One source path (in c->root) to dest. A symlink named as a source is
 * followed, scoped to the source tree as docker does. */
static int copy_one(struct copy_ctx *c, const char *img_path, const char *rel, const char *dest,
                    bool dest_is_dir, bool add, struct kiln_error *err)
{
    _cleanup_free_ char *real = scoped(c->root, img_path, true, err);
    if (!real)
        return -1;
    _cleanup_free_ char *abs = kiln_path_join(c->root, real + 1, err);
    if (!abs)
        return -1;
    struct stat st;
    if (lstat(abs, &st) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", rel);
    if (S_ISDIR(st.st_mode)) {
        if (!is_dir_in_tree(c, dest)) {
            if (make_dirs_(c, dest, true, err) < 0)
                return -1;
        }
        return copy_dir_contents(c, abs, c->ig ? real + 1 : "", dest, err);
    }
    if (add && S_ISREG(st.st_mode) && is_tarball(abs))
        return add_tarball(c, abs, dest, err);
    _cleanup_free_ char *target = NULL;
    if (dest_is_dir || is_dir_in_tree(c, dest)) {
        const char *base = strrchr(img_path, '/');
        target = join(dest, base ? base + 1 : img_path, err);
    } else {
        target = kiln_strdup(dest, err);
    }
    if (!target)
        return -1;
    _cleanup_free_ char *parent = kiln_dirname(target, err);
    if (!parent || make_dirs(c, parent, err) < 0)
        return -1;
    return layer_add(&c->l, abs, target, &c->a, err);
}

struct glob_ctx {
    struct copy_ctx *c;
    const char *pattern;
    struct kiln_strlist *out;
};

/* Context-relative paths (and dirs, not entered once matched) matching pattern. */
static int glob_walk(struct glob_ctx *g, const char *abs, const char *rel, struct kiln_error *err)
{
    char **names;
    size_t n;
    if (kiln_walk_list_dir(abs, &names, &n, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        _cleanup_free_ char *a = kiln_path_join(abs, names[i], err);
        _cleanup_free_ char *r =
            *rel ? kiln_path_join(rel, names[i], err) : kiln_strdup(names[i], err);
        if (!a || !r) {
            rc = -1;
            break;
        }
        bool ign = ignored(g->c, r);
        struct stat st;
        if (lstat(a, &st) < 0)
            continue;
        if (!ign && df_glob_match(g->pattern, r)) {
            rc = kiln_strlist_push(g->out, r, err);
            continue;
        }
        if (S_ISDIR(st.st_mode) &&
            (!ign || (g->c->ig->has_exceptions && df_ignore_may_include_below(g->c->ig, r))))
            rc = glob_walk(g, a, r, err);
    }
    kiln_walk_names_free(names, n);
    return rc;
}

static int source_tree(struct kiln_dockerfile *d, const char *from, size_t cur, const char **root,
                       struct kiln_error *err)
{
    int idx = find_stage(d, from, cur);
    if (idx >= 0) {
        *root = d->st[idx].rootfs;
        return 0;
    }
    if (idx == -2 || isdigit((unsigned char)from[0])) {
        kiln_fail(err, KILN_ERR_USAGE, "invalid from flag value %s: no earlier stage of that index",
                  from);
        return at(d, err);
    }
    for (size_t i = 0; i + 1 < d->images.n; i += 2)
        if (!strcmp(d->images.v[i], from)) {
            *root = d->images.v[i + 1];
            return 0;
        }
    _cleanup_free_ char *ref = image_ref(from, err);
    _cleanup_free_ char *dir = ref ? new_tmp(d, "image", err) : NULL;
    if (!dir)
        return -1;
    if (kiln_unpack(ref, dir, d->o->platform, d->o->remote, err) < 0) {
        kiln_error_prefix(err, "--from=%s", from);
        return at(d, err);
    }
    if (kiln_strlist_push(&d->images, from, err) < 0 || kiln_strlist_push(&d->images, dir, err) < 0)
        return -1;
    *root = d->images.v[d->images.n - 1];
    return 0;
}

static bool is_url(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) || !strncmp(s, "git@", 4) ||
           !strncmp(s, "git://", 6);
}

static int do_copy(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in, bool add,
                   struct kiln_error *err)
{
    /* --link changes how BuildKit stores the layer, not what it holds */
    static const char *const names[] = { "chown", "chmod", "link", "from" };
    const char *vals[4];
    if (get_flags(d, in, names, vals, add ? 3 : 4, err) < 0)
        return -1;
    struct kiln_strlist raw = { 0 }, args = { 0 };
    int rc = 0;
    if (in->json) {
        for (size_t i = 0; rc == 0 && i < in->jargs.n; i++)
            rc = kiln_strlist_push(&raw, in->jargs.v[i], err);
    } else {
        rc = split_ws(in->args, &raw, err);
    }
    for (size_t i = 0; rc == 0 && i < raw.n; i++) {
        char *v;
        rc = subst(d, s, raw.v[i], &v, err);
        if (rc == 0) {
            rc = kiln_strlist_push(&args, v, err);
            free(v);
        }
    }
    kiln_strlist_free(&raw);
    if (rc == 0 && args.n < 2) {
        rc = kiln_fail(err, KILN_ERR_USAGE,
                       "%s requires at least two arguments, but only one was provided. "
                       "Destination could not be determined.",
                       add ? "ADD" : "COPY");
        at(d, err);
    }
    struct copy_ctx c = { .d = d, .s = s, .root = d->context, .ig = &d->ig };
    c.a.set_owner = true; /* 0:0 unless --chown */
    if (rc == 0 && vals[0] && *vals[0]) {
        char *v;
        rc = subst(d, s, vals[0], &v, err);
        if (rc == 0)
            rc = parse_chown(d, s, v, &c.a, err);
        free(v);
    }
    if (rc == 0 && vals[1]) {
        char *end;
        unsigned long m = strtoul(vals[1], &end, 8);
        if (!*vals[1] || *end || m > 07777 || !isdigit((unsigned char)vals[1][0])) {
            rc = kiln_fail(err, KILN_ERR_USAGE,
                           "invalid --chmod=%s: kiln takes an octal mode "
                           "(e.g. 0755)",
                           vals[1]);
            at(d, err);
        }
        c.a.set_mode = true;
        c.a.mode = (uint32_t)m;
    }
    if (rc == 0 && !add && vals[3]) {
        char *v;
        rc = subst(d, s, vals[3], &v, err);
        if (rc == 0) {
            rc = source_tree(d, v, (size_t)(s - d->st), &c.root, err);
            c.ig = NULL;
        }
        free(v);
    }
    /* the destination: relative to WORKDIR; a trailing '/' makes it a directory */
    const char *dest_raw = rc == 0 ? args.v[args.n - 1] : "";
    _cleanup_free_ char *dest = NULL;
    if (rc == 0) {
        json_t *wd = json_object_get(s->config, "WorkingDir");
        const char *w = json_string_value(wd);
        _cleanup_free_ char *full = dest_raw[0] == '/' ? kiln_strdup(dest_raw, err)
                                                       : join(w && *w ? w : "/", dest_raw, err);
        _cleanup_free_ char *clean = full ? df_clean_path(full, err) : NULL;
        dest = clean ? scoped(s->rootfs, clean, true, err) : NULL;
        if (!dest)
            rc = -1;
    }
    size_t dl = strlen(dest_raw);
    bool dest_slash =
        dl && (dest_raw[dl - 1] == '/' || (dl >= 2 && !strcmp(dest_raw + dl - 2, "/.")) ||
               !strcmp(dest_raw, "."));
    /* sources: globs expanded; .dockerignore'd files are not there */
    struct kiln_strlist srcs = { 0 };
    for (size_t i = 0; rc == 0 && i + 1 < args.n; i++) {
        const char *sarg = args.v[i];
        if (add && is_url(sarg)) {
            rc = kiln_fail(err, KILN_ERR_USAGE,
                           "%s: kiln does not download: builds have no network. Fetch the file "
                           "first, then COPY (or ADD) it from the context",
                           sarg);
            at(d, err);
            break;
        }
        _cleanup_free_ char *rooted = join("/", sarg, err);
        _cleanup_free_ char *clean = rooted ? df_clean_path(rooted, err) : NULL;
        if (!clean) {
            rc = -1;
            break;
        }
        _cleanup_free_ char *rel_chk = df_clean_path(sarg, err);
        if (!rel_chk || !strcmp(rel_chk, "..") || !strncmp(rel_chk, "../", 3)) {
            if (rel_chk)
                rc = kiln_fail(err, KILN_ERR_USAGE, "forbidden path outside the build context: %s",
                               sarg);
            else
                rc = -1;
            at(d, err);
            break;
        }
        const char *rel = clean + 1;
        if (df_has_glob(rel)) {
            struct kiln_strlist m = { 0 };
            struct copy_ctx *cp = &c;
            struct glob_ctx g = { .c = cp, .pattern = rel, .out = &m };
            rc = glob_walk(&g, c.root, "", err);
            for (size_t k = 0; rc == 0 && k < m.n; k++)
                rc = kiln_strlist_push(&srcs, m.v[k], err);
            kiln_strlist_free(&m);
            continue;
        }
        _cleanup_free_ char *abs = kiln_path_join(c.root, clean, err);
        struct stat st;
        if (!abs) {
            rc = -1;
        } else if (lstat(abs, &st) < 0 || ignored(&c, rel)) {
            rc =
                kiln_fail(err, KILN_ERR_INPUT,
                          "file not found in build context or excluded by .dockerignore: %s", sarg);
            at(d, err);
        } else {
            rc = kiln_strlist_push(&srcs, rel, err);
        }
    }
    if (rc == 0 && !srcs.n) {
        rc = kiln_fail(err, KILN_ERR_INPUT, "no source files were specified (no file matches)");
        at(d, err);
    }
    if (rc == 0 && srcs.n > 1 && !dest_slash) {
        rc = kiln_fail(err, KILN_ERR_USAGE,
                       "When using %s with more than one source file, the destination must be a "
                       "directory and end with a /",
                       add ? "ADD" : "COPY");
        at(d, err);
    }
    for (size_t i = 0; rc == 0 && i < srcs.n; i++) {
        _cleanup_free_ char *ip = join("/", srcs.v[i], err);
        rc = ip ? copy_one(&c, ip, srcs.v[i], dest, dest_slash, add, err) : -1;
        if (rc < 0)
            at(d, err);
    }
    kiln_strlist_free(&srcs);
    kiln_strlist_free(&args);
    kiln_strlist_free(&c.made);
    /* the stage's tree sees what the layer does */
    for (size_t i = 0; rc == 0 && i < c.l.n; i++)
        rc = apply_entry(s->rootfs, &c.l.v[i], err);
    if (rc == 0 && !(c.l.created_by = kiln_strdup(in->original, err)))
        rc = -1;
    struct layer *lv = rc == 0 ? realloc(s->layers, (s->nlayers + 1) * sizeof(*lv)) : NULL;
    if (rc == 0 && !lv)
        rc = kiln_oom(err);
    if (rc < 0) {
        layer_free(&c.l);
        return -1;
    }
    s->layers = lv;
    s->layers[s->nlayers++] = c.l;
    return 0;
}

/* ---- configuration instructions ---------------------------------------------- */

/* ENV and LABEL: "K=V K2=V2" or the legacy "K V". Values substituted with
 * the variables from before the instruction. */
static int name_values(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in,
                       struct kiln_strlist *out, struct kiln_error *err)
{
    struct kiln_strlist w = { 0 };
    int rc = df_words(in->args, d->f.escape, &w, err);
    if (rc == 0 && !w.n)
        rc = kiln_fail(err, KILN_ERR_USAGE, "%s must have two arguments",
                       !strcmp(in->cmd, "env") ? "ENV" : "LABEL");
    if (rc == 0 && !strchr(w.v[0], '=')) {
        const char *p = in->args;
        while (*p && !isspace((unsigned char)*p))
            p++;
        size_t kl = (size_t)(p - in->args);
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p) {
            rc = kiln_fail(err, KILN_ERR_USAGE, "%s must have two arguments",
                           !strcmp(in->cmd, "env") ? "ENV" : "LABEL");
        } else {
            char *k = strndup(in->args, kl), *v = NULL;
            if (!k)
                rc = kiln_oom(err);
            if (rc == 0)
                rc = subst(d, s, p, &v, err);
            if (rc == 0)
                rc = kiln_strlist_push(out, k, err);
            if (rc == 0)
                rc = kiln_strlist_push(out, v, err);
            free(k);
            free(v);
        }
        kiln_strlist_free(&w);
        return rc < 0 ? at(d, err) : rc;
    }
    for (size_t i = 0; rc == 0 && i < w.n; i++) {
        char *eq = strchr(w.v[i], '=');
        if (!eq) {
            rc = kiln_fail(err, KILN_ERR_USAGE,
                           "Syntax error - can't find = in \"%s\". Must be of the form: name=value",
                           w.v[i]);
            break;
        }
        *eq = '\0';
        char *k = NULL, *v = NULL;
        rc = subst(d, s, w.v[i], &k, err);
        if (rc == 0)
            rc = subst(d, s, eq + 1, &v, err);
        if (rc == 0 && !*k)
            rc = kiln_fail(err, KILN_ERR_USAGE, "a name cannot be empty (=%s)", v);
        if (rc == 0)
            rc = kiln_strlist_push(out, k, err);
        if (rc == 0)
            rc = kiln_strlist_push(out, v, err);
        free(k);
        free(v);
    }
    kiln_strlist_free(&w);
    return rc < 0 ? at(d, err) : rc;
}

static json_t *strlist_json(const struct kiln_strlist *l, size_t from)
{
    json_t *a = json_array();
    for (size_t i = from; a && i < l->n; i++)
        if (json_array_append_new(a, json_string(l->v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* CMD, ENTRYPOINT, HEALTHCHECK CMD: the exec form, or the shell form wrapped
 * in the stage's SHELL. */
static json_t *command(const struct stage *s, bool is_json, const struct kiln_strlist *jargs,
                       const char *text)
{
    if (is_json)
        return strlist_json(jargs, 0);
    json_t *sh = json_object_get(s->config, "Shell");
    json_t *a = json_is_array(sh) && json_array_size(sh) ? json_deep_copy(sh) : NULL;
    if (!a && (a = json_array()) &&
        (json_array_append_new(a, json_string("/bin/sh")) < 0 ||
         json_array_append_new(a, json_string("-c")) < 0)) {
        json_decref(a);
        return NULL;
    }
    if (a && json_array_append_new(a, json_string(text)) < 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* Go durations: "1h2m3.5s", "300ms". */
static int parse_duration(const char *s, int64_t *ns)
{
    static const struct {
        const char *u;
        double mul;
    } units[] = { { "ns", 1 },  { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "ms", 1e6 },
                  { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 } };
    double total = 0;
    if (!strcmp(s, "0")) {
        *ns = 0;
        return 0;
    }
    if (!*s)
        return -1;
    while (*s) {
        char *end;
        if (!isdigit((unsigned char)*s) && *s != '.')
            return -1;
        double v = strtod(s, &end);
        if (end == s)
            return -1;
        s = end;
        size_t best = ARRAY_SIZE(units);
        size_t bl = 0;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
            size_t l = strlen(units[i].u);
            if (!strncmp(s, units[i].u, l) && l > bl) {
                best = i;
                bl = l;
            }
        }
        if (best == ARRAY_SIZE(units))
            return -1;
        total += v * units[best].mul;
        s += bl;
    }
    if (total > 9.2e18)
        return -1;
    *ns = (int64_t)(total + 0.5);
    return 0;
}

static int do_healthcheck(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in,
                          struct kiln_error *err)
{
    static const char *const names[] = { "interval", "timeout", "start-period", "retries" };
    const char *vals[4];
    if (get_flags(d, in, names, vals, 4, err) < 0)
        return -1;
    const char *p = in->args;
    size_t wl = 0;
    while (p[wl] && !isspace((unsigned char)p[wl]))
        wl++;
    const char *rest = p + wl;
    while (*rest && isspace((unsigned char)*rest))
        rest++;
    json_t *hc = json_object();
    if (!hc)
        return kiln_oom(err);
    int rc = 0;
    if (wl == 4 && !strncasecmp(p, "NONE", 4)) {
        if (*rest || in->flags.n)
            rc = kiln_fail(err, KILN_ERR_USAGE, "HEALTHCHECK NONE takes no arguments");
        else {
            json_t *t = json_array();
            jpush(s, t, json_string("NONE"));
            jset(s, hc, "Test", t);
        }
    } else if (wl == 3 && !strncasecmp(p, "CMD", 3)) {
        struct kiln_strlist j = { 0 };
        bool is_json = false;
        if (*rest == '[') {
            json_error_t je;
            json_t *a = json_loads(rest, 0, &je);
            if (json_is_array(a)) {
                is_json = true;
                size_t i;
                json_t *v;
                json_array_foreach(a, i, v)
                {
                    if (!json_is_string(v) ||
                        kiln_strlist_push(&j, json_string_value(v), err) < 0) {
                        rc = json_is_string(v)
                                 ? -1
                                 : kiln_fail(err, KILN_ERR_USAGE,
                                             "the JSON array has a non-string element");
                        break;
                    }
                }
            }
            json_decref(a);
        }
        if (rc == 0 && !is_json && !*rest)
            rc = kiln_fail(err, KILN_ERR_USAGE, "HEALTHCHECK CMD needs a command");
        if (rc == 0) {
            json_t *t = json_array();
            jpush(s, t, json_string(is_json ? "CMD" : "CMD-SHELL"));
            if (is_json)
                for (size_t i = 0; i < j.n; i++)
                    jpush(s, t, json_string(j.v[i]));
            else
                jpush(s, t, json_string(rest));
            jset(s, hc, "Test", t);
        }
        kiln_strlist_free(&j);
        static const char *const keys[] = { "Interval", "Timeout", "StartPeriod" };
        for (size_t i = 0; rc == 0 && i < 3; i++) {
            if (!vals[i])
                continue;
            int64_t ns;
            if (parse_duration(vals[i], &ns) < 0)
                rc = kiln_fail(err, KILN_ERR_USAGE, "--%s=%s: not a duration (e.g. 30s, 1m30s)",
                               names[i], vals[i]);
            else if (ns && ns < 1000000)
                rc = kiln_fail(err, KILN_ERR_USAGE, "%s \"%s\" cannot be less than 1ms", keys[i],
                               vals[i]);
            else if (ns)
                jset(s, hc, keys[i], json_integer(ns));
        }
        if (rc == 0 && vals[3]) {
            char *end;
            long n = strtol(vals[3], &end, 10);
            if (!*vals[3] || *end || n < 0 || n > 1000000000)
                rc =
                    kiln_fail(err, KILN_ERR_USAGE, "--retries=%s: expected a number >= 0", vals[3]);
            else if (n)
                jset(s, hc, "Retries", json_integer(n));
        }
    } else {
        rc = kiln_fail(err, KILN_ERR_USAGE, "Unknown type \"%.*s\" in HEALTHCHECK (try CMD)",
                       (int)wl, p);
    }
    if (rc < 0) {
        json_decref(hc);
        return at(d, err);
    }
    /* as the legacy builder (the daemon's commit merges configs): what the
     * new health check leaves at zero is kept from the previous one */
    json_t *old = json_object_get(s->config, "Healthcheck");
    static const char *const keep[] = { "Interval", "Timeout", "StartPeriod", "Retries" };
    for (size_t i = 0; json_is_object(old) && i < ARRAY_SIZE(keep); i++)
        if (!json_object_get(hc, keep[i]) && json_is_integer(json_object_get(old, keep[i])) &&
            json_integer_value(json_object_get(old, keep[i])))
            if (json_object_set(hc, keep[i], json_object_get(old, keep[i])) < 0)
                s->oom = true;
    jset(s, s->config, "Healthcheck", hc);
    return 0;
}

static int parse_port(const char *w, json_t *ports, struct kiln_error *err)
{
    long lo, hi;
    char proto[8];
    if (kiln_port_parse(w, &lo, &hi, proto) < 0) {
        const char *slash = strchr(w, '/');
        if (slash && (strlen(slash + 1) < 3 || strlen(slash + 1) > 4 ||
                      (strncasecmp(slash + 1, "tcp", 4) && strncasecmp(slash + 1, "udp", 4) &&
                       strncasecmp(slash + 1, "sctp", 5))))
            return kiln_fail(err, KILN_ERR_USAGE, "invalid proto: %s", slash + 1);
        return kiln_fail(err, KILN_ERR_USAGE, "invalid containerPort: %s", w);
    }
    for (long p = lo; p <= hi; p++) {
        char k[32];
        snprintf(k, sizeof(k), "%ld/%s", p, proto);
        if (json_object_set_new(ports, k, json_object()) < 0)
            return kiln_oom(err);
    }
    return 0;
}

/* WORKDIR: relative to the previous one; the directory is created (root,
 * 0755, as docker's legacy builder does) in a layer of its own when the
 * stage does not have it yet. */
static int do_workdir(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in,
                      struct kiln_error *err)
{
    char *v;
    if (subst(d, s, in->args, &v, err) < 0)
        return -1;
    if (!*v) {
        free(v);
        kiln_fail(err, KILN_ERR_USAGE, "WORKDIR requires exactly one argument");
        return at(d, err);
    }
    const char *prev = json_string_value(json_object_get(s->config, "WorkingDir"));
    char *full = v[0] == '/' ? kiln_strdup(v, err) : join(prev && *prev ? prev : "/", v, err);
    free(v);
    char *clean = full ? df_clean_path(full, err) : NULL;
    free(full);
    if (!clean)
        return -1;
    jset(s, s->config, "WorkingDir", json_string(clean));
    _cleanup_free_ char *real = scoped(s->rootfs, clean, true, err);
    free(clean);
    if (!real)
        return -1;
    struct copy_ctx c = { .d = d, .s = s };
    c.a.set_owner = true;
    int rc = 0;
    if (!is_dir_in_tree(&c, real))
        rc = make_dirs(&c, real, err);
    kiln_strlist_free(&c.made);
    if (rc == 0 && c.l.n) {
        for (size_t i = 0; rc == 0 && i < c.l.n; i++)
            rc = apply_entry(s->rootfs, &c.l.v[i], err);
        if (rc == 0 && !(c.l.created_by = kiln_strdup(in->original, err)))
            rc = -1;
        struct layer *lv = rc == 0 ? realloc(s->layers, (s->nlayers + 1) * sizeof(*lv)) : NULL;
        if (rc == 0 && !lv)
            rc = kiln_oom(err);
        if (rc == 0) {
            s->layers = lv;
            s->layers[s->nlayers++] = c.l;
            return 0;
        }
    }
    layer_free(&c.l);
    return rc;
}

static int do_arg(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in,
                  struct kiln_error *err)
{
    struct kiln_strlist w = { 0 };
    int rc = df_words(in->args, d->f.escape, &w, err);
    if (rc == 0 && !w.n)
        rc = kiln_fail(err, KILN_ERR_USAGE, "ARG requires at least one argument");
    for (size_t i = 0; rc == 0 && i < w.n; i++) {
        char *eq = strchr(w.v[i], '=');
        if (eq)
            *eq = '\0';
        const char *name = w.v[i];
        if (!*name) {
            rc = kiln_fail(err, KILN_ERR_USAGE, "ARG names can not be blank");
            break;
        }
        char *def = NULL;
        if (eq && (rc = subst(d, s, eq + 1, &def, err)) < 0)
            break;
        const char *val = def;
        size_t nl = strlen(name);
        struct df_vars ba = { .lists = { &d->build_args, NULL } };
        const char *given = df_var_get(&ba, name, nl);
        if (given) {
            val = given;
            if (!list_has(&d->consumed, name))
                rc = kiln_strlist_push(&d->consumed, name, err);
        } else if (!eq && s) {
            struct df_vars mv = { .lists = { &d->meta, NULL } };
            val = df_var_get(&mv, name, nl);
        }
        if (rc == 0 && val)
            rc = set_kv(s ? &s->args : &d->meta, name, val, err);
        free(def);
    }
    kiln_strlist_free(&w);
    return rc < 0 ? at(d, err) : rc;
}

static int exec_instr(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in,
                      bool trigger, struct kiln_error *err)
{
    const char *c = in->cmd;
    int rc = 0;
    if (!strcmp(c, "run")) {
        kiln_fail(err, KILN_ERR_USAGE,
                  "kiln runs no commands: build the artifact first and COPY it");
        return at(d, err);
    }
    if (!strcmp(c, "copy") || !strcmp(c, "add"))
        return do_copy(d, s, in, c[0] == 'a', err);
    if (!strcmp(c, "arg"))
        return do_arg(d, s, in, err);
    if (!strcmp(c, "workdir"))
        return do_workdir(d, s, in, err);
    if (!strcmp(c, "healthcheck"))
        return do_healthcheck(d, s, in, err);
    if (!strcmp(c, "env") || !strcmp(c, "label")) {
        struct kiln_strlist kv = { 0 };
        rc = name_values(d, s, in, &kv, err);
        json_t *labels = NULL;
        if (rc == 0 && c[0] == 'l' && !(labels = config_member(s, "Labels", false)))
            rc = kiln_oom(err);
        for (size_t i = 0; rc == 0 && i + 1 < kv.n; i += 2) {
            if (labels) {
                if (json_object_set_new(labels, kv.v[i], json_string(kv.v[i + 1])) < 0)
                    rc = kiln_oom(err);
            } else
                rc = set_kv(&s->env, kv.v[i], kv.v[i + 1], err);
        }
        if (rc == 0 && !labels && update_env_json(s) < 0)
            rc = kiln_oom(err);
        kiln_strlist_free(&kv);
        return rc;
    }
    if (!strcmp(c, "cmd") || !strcmp(c, "entrypoint")) {
        if (!in->json && !*in->args) {
            kiln_fail(err, KILN_ERR_USAGE, "%s requires at least one argument",
                      c[0] == 'c' ? "CMD" : "ENTRYPOINT");
            return at(d, err);
        }
        json_t *a = command(s, in->json, &in->jargs, in->args);
        if (!a)
            return kiln_oom(err);
        if (c[0] == 'c') {
            jset(s, s->config, "Cmd", a);
            s->cmd_set = true;
        } else {
            jset(s, s->config, "Entrypoint", a);
            /* as docker: ENTRYPOINT drops a CMD not set in this stage */
            if (!s->cmd_set)
                jset(s, s->config, "Cmd", json_null());
        }
        return 0;
    }
    if (!strcmp(c, "shell")) {
        if (!in->json || !in->jargs.n) {
            kiln_fail(err, KILN_ERR_USAGE,
                      "SHELL requires the arguments to be in JSON form "
                      "(SHELL [\"executable\", \"parameters\"])");
            return at(d, err);
        }
        jset(s, s->config, "Shell", strlist_json(&in->jargs, 0));
        return 0;
    }
    if (!strcmp(c, "user") || !strcmp(c, "stopsignal")) {
        char *v;
        if (subst(d, s, in->args, &v, err) < 0)
            return -1;
        if (!*v || (c[0] == 's' && !kiln_signal_valid(v))) {
            kiln_fail(err, KILN_ERR_USAGE,
                      c[0] == 'u' ? "USER requires exactly one argument" : "invalid signal: '%s'",
                      v);
            free(v);
            return at(d, err);
        }
        jset(s, s->config, c[0] == 'u' ? "User" : "StopSignal", json_string(v));
        free(v);
        return 0;
    }
    if (!strcmp(c, "expose") || !strcmp(c, "volume")) {
        struct kiln_strlist w = { 0 };
        if (in->json)
            for (size_t i = 0; rc == 0 && i < in->jargs.n; i++)
                rc = kiln_strlist_push(&w, in->jargs.v[i], err);
        else
            rc = split_ws(in->args, &w, err);
        const char *key = c[0] == 'e' ? "ExposedPorts" : "Volumes";
        json_t *o = rc == 0 ? config_member(s, key, false) : NULL;
        if (rc == 0 && !o)
            rc = kiln_oom(err);
        if (rc == 0 && !w.n)
            rc = kiln_fail(err, KILN_ERR_USAGE, "%s requires at least one argument",
                           c[0] == 'e' ? "EXPOSE" : "VOLUME");
        for (size_t i = 0; rc == 0 && i < w.n; i++) {
            char *v;
            if ((rc = subst(d, s, w.v[i], &v, err)) < 0)
                break;
            if (c[0] == 'e') {
                rc = parse_port(v, o, err);
            } else {
                size_t vl = strlen(v);
                while (vl && isspace((unsigned char)v[vl - 1]))
                    v[--vl] = '\0';
                if (!vl)
                    rc = kiln_fail(err, KILN_ERR_USAGE,
                                   "VOLUME specified can not be an empty string");
                else if (json_object_set_new(o, v, json_object()) < 0)
                    rc = kiln_oom(err);
            }
            free(v);
        }
        kiln_strlist_free(&w);
        return rc < 0 ? at(d, err) : rc;
    }
    if (!strcmp(c, "onbuild")) {
        const char *t = in->args;
        size_t wl = 0;
        while (t[wl] && !isspace((unsigned char)t[wl]))
            wl++;
        if (!wl) {
            kiln_fail(err, KILN_ERR_USAGE, "ONBUILD requires at least one argument");
            return at(d, err);
        }
        if ((wl == 7 && !strncasecmp(t, "ONBUILD", 7)))
            kiln_fail(err, KILN_ERR_USAGE, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        else if ((wl == 4 && !strncasecmp(t, "FROM", 4)) ||
                 (wl == 10 && !strncasecmp(t, "MAINTAINER", 10)))
            kiln_fail(err, KILN_ERR_USAGE, "%.*s isn't allowed as an ONBUILD trigger", (int)wl, t);
        else
            wl = 0;
        if (wl)
            return at(d, err);
        json_t *ob = config_member(s, "OnBuild", true);
        if (!ob || json_array_append_new(ob, json_string(t)) < 0)
            return kiln_oom(err);
        return 0;
    }
    if (!strcmp(c, "maintainer")) {
        char *a = trigger ? NULL : kiln_strdup(in->args, err);
        if (!trigger && !a)
            return -1;
        if (a) {
            free(s->author);
            s->author = a;
        }
        return 0;
    }
    kiln_fail(err, KILN_ERR_USAGE, "unknown instruction: %s", c);
    return at(d, err);
}

/* ---- driving the build --------------------------------------------------------- */

static bool known(const char *c)
{
    static const char *const k[] = { "from",    "copy",       "add",        "env",         "arg",
                                     "label",   "entrypoint", "cmd",        "workdir",     "user",
                                     "expose",  "volume",     "stopsignal", "healthcheck", "shell",
                                     "onbuild", "maintainer", "run" };
    for (size_t i = 0; i < ARRAY_SIZE(k); i++)
        if (!strcmp(c, k[i]))
            return true;
    return false;
}

static bool predefined_arg(const char *n)
{
    static const char *const k[] = { "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                                     "FTP_PROXY",  "ftp_proxy",  "NO_PROXY",    "no_proxy",
                                     "ALL_PROXY",  "all_proxy" };
    for (size_t i = 0; i < ARRAY_SIZE(k); i++)
        if (!strcmp(n, k[i]))
            return true;
    return false;
}

static int load(struct kiln_dockerfile *d, struct kiln_error *err)
{
    const struct kiln_dockerfile_opts *o = d->o;
    if (!o->context || !*o->context)
        return kiln_fail(err, KILN_ERR_USAGE, "no build context directory given");
    struct stat st;
    if (stat(o->context, &st) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "build context %s", o->context);
    if (!S_ISDIR(st.st_mode))
        return kiln_fail(err, KILN_ERR_INPUT, "build context %s: not a directory", o->context);
    if (!(d->context = kiln_strdup(o->context, err)))
        return -1;
    bool from_stdin = o->file && !strcmp(o->file, "-");
    _cleanup_free_ char *file = from_stdin ? kiln_strdup("/dev/stdin", err)
                                : o->file  ? kiln_strdup(o->file, err)
                                           : kiln_path_join(o->context, "Dockerfile", err);
    if (!file)
        return -1;
    struct kiln_buf text = { 0 };
    if (kiln_read_file(file, 16u << 20, &text, err) < 0)
        return -1;
    const char *slash = strrchr(file, '/');
    const char *shown = from_stdin ? "Dockerfile" : slash ? slash + 1 : file;
    int rc = df_parse(text.data ? text.data : "", text.len, shown, &d->f, err);
    kiln_buf_free(&text);
    if (rc < 0)
        return -1;
    if (d->f.syntax && !strstr(d->f.syntax, "docker/dockerfile"))
        warn(d, "%s: # syntax=%s: kiln has its own front end and ignores the directive", d->f.name,
             d->f.syntax);
    _cleanup_free_ char *ign = kiln_path_join(o->context, ".dockerignore", err);
    if (!ign)
        return -1;
    if (access(ign, F_OK) == 0) {
        struct kiln_buf t = { 0 };
        if (kiln_read_file(ign, 16u << 20, &t, err) < 0)
            return -1;
        rc = df_ignore_parse(t.data ? t.data : "", t.len, &d->ig, err);
        kiln_buf_free(&t);
        if (rc < 0)
            return -1;
    }
    for (size_t i = 0; i < o->nbuild_args; i++) {
        const char *a = o->build_args[i];
        const char *eq = strchr(a, '=');
        if (eq == a || !*a)
            return kiln_fail(err, KILN_ERR_USAGE, "--build-arg '%s': expected NAME=VALUE or NAME",
                             a);
        if (eq) {
            _cleanup_free_ char *k = strndup(a, (size_t)(eq - a));
            if (!k)
                return kiln_oom(err);
            if (set_kv(&d->build_args, k, eq + 1, err) < 0)
                return -1;
        } else if (getenv(a) && set_kv(&d->build_args, a, getenv(a), err) < 0) {
            return -1;
        }
    }
    /* BuildKit's automatic platform ARGs, in the global scope (a stage sees
     * them after "ARG TARGETARCH", as any global ARG) */
    struct kiln_platform tp, bp;
    kiln_platform_host(&bp);
    tp = bp;
    if (o->platform && kiln_platform_parse(o->platform, &tp, err) < 0)
        return -1;
    const struct kiln_platform *pl[2] = { &tp, &bp };
    for (int k = 0; k < 2; k++) {
        const char *pre = k ? "BUILD" : "TARGET";
        char name[32], val[128];
        snprintf(val, sizeof(val), "%s/%s%s%s", pl[k]->os, pl[k]->arch,
                 pl[k]->variant[0] ? "/" : "", pl[k]->variant);
        snprintf(name, sizeof(name), "%sPLATFORM", pre);
        if (set_kv(&d->meta, name, val, err) < 0)
            return -1;
        snprintf(name, sizeof(name), "%sOS", pre);
        if (set_kv(&d->meta, name, pl[k]->os, err) < 0)
            return -1;
        snprintf(name, sizeof(name), "%sARCH", pre);
        if (set_kv(&d->meta, name, pl[k]->arch, err) < 0)
            return -1;
        snprintf(name, sizeof(name), "%sVARIANT", pre);
        if (set_kv(&d->meta, name, pl[k]->variant, err) < 0)
            return -1;
    }
    /* the whole file is checked before anything is done */
    for (size_t i = 0; i < d->f.n; i++) {
        d->cur = &d->f.v[i];
        if (!known(d->f.v[i].cmd)) {
            kiln_fail(err, KILN_ERR_USAGE, "unknown instruction: %s", d->f.v[i].cmd);
            return at(d, err);
        }
    }
    d->cur = NULL;
    if (!d->f.n)
        return kiln_fail(err, KILN_ERR_USAGE, "%s: the Dockerfile is empty", d->f.name);
    const char *tmp = o->tmpdir ? o->tmpdir : getenv("TMPDIR");
    _cleanup_free_ char *t =
        kiln_path_join(tmp && *tmp ? tmp : "/tmp", "kiln-dockerfile-XXXXXX", err);
    if (!t)
        return -1;
    if (!mkdtemp(t))
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", t);
    d->tmp = TAKE_PTR(t);
    return 0;
}

static int emit(struct kiln_dockerfile *d, kiln_build *b, size_t target, struct kiln_error *err)
{
    /* the chain of stages from the image's root to the target */
    size_t chain[256], n = 0;
    for (int i = (int)target; i >= 0 && n < ARRAY_SIZE(chain); i = d->st[i].parent)
        chain[n++] = (size_t)i;
    const struct stage *root = &d->st[chain[n - 1]], *s = &d->st[target];
    if (root->base_ref && kiln_build_set(b, KILN_SET_FROM, root->base_ref, err) < 0)
        return -1;
    if (!d->o->platform && s->platform &&
        kiln_build_set(b, KILN_SET_PLATFORM, s->platform, err) < 0)
        return -1;
    for (size_t k = n; k-- > 0;) {
        const struct stage *st = &d->st[chain[k]];
        for (size_t l = 0; l < st->nlayers; l++) {
            const struct layer *ly = &st->layers[l];
            if (kiln_build_begin_layer(b, ly->created_by, err) < 0)
                return -1;
            for (size_t i = 0; i < ly->n; i++) {
                const struct item *it = &ly->v[i];
                int rc = it->src ? kiln_build_layer_add(b, it->src, it->dest, &it->a, err)
                                 : kiln_build_layer_add_dir(b, it->dest, it->a.mode, it->a.uid,
                                                            it->a.gid, err);
                if (rc < 0)
                    return -1;
            }
        }
    }
    char *cfg = json_dumps(s->config, JSON_COMPACT | JSON_SORT_KEYS);
    if (!cfg)
        return kiln_oom(err);
    int rc = kiln_build_set_config_json(b, cfg, err);
    free(cfg);
    if (rc == 0 && s->author)
        rc = kiln_build_set(b, KILN_SET_AUTHOR, s->author, err);
    return rc;
}

int kiln_dockerfile_build(kiln_build *b, const struct kiln_dockerfile_opts *o,
                          kiln_dockerfile **state, struct kiln_error *err)
{
    *state = NULL;
    kiln_dockerfile *d = calloc(1, sizeof(*d));
    if (!d)
        return kiln_oom(err);
    d->o = o;
    kiln_build_tar_limits(b, &d->max_bytes, &d->max_entries);
    int rc = load(d, err);
    /* ARGs before the first FROM, then the stages up to the target */
    size_t i = 0;
    for (; rc == 0 && i < d->f.n && strcmp(d->f.v[i].cmd, "from"); i++) {
        d->cur = &d->f.v[i];
        if (strcmp(d->f.v[i].cmd, "arg")) {
            kiln_fail(err, KILN_ERR_USAGE,
                      "no build stage yet: only ARG may come before the "
                      "first FROM");
            rc = at(d, err);
        } else
            rc = do_arg(d, NULL, &d->f.v[i], err);
    }
    if (rc == 0 && i == d->f.n)
        rc = kiln_fail(err, KILN_ERR_USAGE, "%s: no FROM instruction", d->f.name);
    bool found = !o->target;
    for (; rc == 0 && i < d->f.n; i++) {
        const struct df_instr *in = &d->f.v[i];
        d->cur = in;
        if (!strcmp(in->cmd, "from")) {
            if (found && o->target)
                break; /* the stage after the target */
            rc = do_from(d, in, err);
            if (rc == 0 && o->target && d->st[d->nst - 1].name &&
                !strcasecmp(d->st[d->nst - 1].name, o->target))
                found = true;
            continue;
        }
        rc = exec_instr(d, &d->st[d->nst - 1], in, false, err);
        if (rc == 0 && d->st[d->nst - 1].oom)
            rc = kiln_oom(err);
    }
    d->cur = NULL;
    if (rc == 0 && !found)
        rc = kiln_fail(err, KILN_ERR_USAGE, "--target %s: no stage of that name in %s", o->target,
                       d->f.name);
    if (rc == 0)
        rc = emit(d, b, d->nst - 1, err);
    if (rc == 0) {
        char unused[512] = "";
        size_t ul = 0;
        for (size_t k = 0; k < d->build_args.n; k++) {
            const char *a = d->build_args.v[k];
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)strcspn(a, "="), a);
            if (list_has(&d->consumed, name) || predefined_arg(name))
                continue;
            ul += (size_t)snprintf(unused + ul, ul < sizeof(unused) ? sizeof(unused) - ul : 0,
                                   "%s%s", ul ? " " : "", name);
            if (ul >= sizeof(unused))
                ul = sizeof(unused) - 1;
        }
        if (ul)
            warn(d, "one or more build-args [%s] were not consumed", unused);
    }
    if (rc < 0) {
        kiln_dockerfile_free(d);
        return -1;
    }
    *state = d;
    return 0;
}
