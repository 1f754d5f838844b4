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

#include "../copy.h"
#include "eval.h"

/* ---- messages ---------------------------------------------------------- */

/* The error object is passed around separately; this wraps the one we were
 * given with the file:line: INSTRUCTION prefix. */
int df_at(struct kiln_dockerfile *d, struct kiln_error *err)
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

void df_warn(struct kiln_dockerfile *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_logv(d->o->log, d->o->log_userdata, KILN_LOG_WARNING, fmt, ap);
    va_end(ap);
}

/* ---- small helpers ------------------------------------------------------- */

char *df_join(const char *a, const char *b, struct kiln_error *err)
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

int df_set_kv(struct kiln_strlist *l, const char *k, const char *v, struct kiln_error *err)
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

bool df_list_has(const struct kiln_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return true;
    return false;
}

char *df_new_tmp(struct kiln_dockerfile *d, const char *what, struct kiln_error *err)
{
    char name[64];
    snprintf(name, sizeof(name), "%s-%u", what, d->ntmp++);
    return kiln_path_join(d->tmp, name, err);
}

int df_expand(struct kiln_dockerfile *d, const struct stage *s, const char *w, char **out,
              struct kiln_error *err)
{
    struct df_vars v = { .lists = { s ? &s->env : &d->meta, s ? &s->args : NULL } };
    *out = NULL; /* callers free it on failure too */
    if (df_subst(w, d->f.escape, &v, out, err) < 0) {
        free(*out);
        *out = NULL;
        return df_at(d, err);
    }
    return 0;
}

/* Whitespace-separated words (buildkit's parseStringsWhitespaceDelimited). */
int df_split_ws(const char *s, struct kiln_strlist *out, struct kiln_error *err)
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
int df_get_flags(struct kiln_dockerfile *d, const struct df_instr *in, const char *const *names,
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
            return df_at(d, err);
        }
        if (!eq && !strcmp(names[i], "link")) { /* a boolean */
            vals[i] = "true";
            continue;
        }
        if (!eq) {
            kiln_fail(err, KILN_ERR_USAGE, "--%s needs a value (--%s=VALUE)", names[i], names[i]);
            return df_at(d, err);
        }
        vals[i] = eq + 1;
    }
    return 0;
}

/* ---- stages ---------------------------------------------------------------- */

void df_layer_free(struct layer *l)
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
    kiln_src_free(s->base);
    free(s->base_platform);
    free(s->platform);
    free(s->rootfs);
    json_decref(s->config);
    free(s->author);
    for (size_t i = 0; i < s->nlayers; i++)
        df_layer_free(&s->layers[i]);
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

int df_layer_add(struct layer *l, const char *src, const char *dest,
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
int df_find_stage(struct kiln_dockerfile *d, const char *name, size_t before)
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
json_t *df_config_member(struct stage *s, const char *key, bool array)
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
void df_jset(struct stage *s, json_t *o, const char *key, json_t *v)
{
    if (json_object_set_new(o, key, v) < 0)
        s->oom = true;
}

void df_jpush(struct stage *s, json_t *a, json_t *v)
{
    if (json_array_append_new(a, v) < 0)
        s->oom = true;
}

int df_update_env_json(struct stage *s)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->env.n; i++)
        if (json_array_append_new(a, json_string(s->env.v[i])) < 0) {
            json_decref(a);
            return -1;
        }
    return a ? json_object_set_new(s->config, "Env", a) : -1;
}

/* An image name as kiln reads it: transports kept, anything else is a
 * registry reference. */
char *df_image_ref(const char *name, struct kiln_error *err)
{
    if (kiln_transport_of(name) != KILN_TRANSPORT_NONE)
        return kiln_strdup(name, err);
    size_t l = strlen(name) + 10;
    char *r = kiln_xmalloc(l, err);
    if (r)
        snprintf(r, l, "docker://%s", name);
    return r;
}

/* Opens a stage's base image once, for `want` (NULL: the image itself, or
 * the host's of a multi-platform index): the stage takes its container
 * config and its files from it, and the build later its layers (emit). */
static int open_base(struct kiln_dockerfile *d, struct stage *s, const char *want,
                     struct kiln_error *err)
{
    struct kiln_remote_opts local;
    const struct kiln_remote_opts *o = kiln_remote_opts_get(d->o->remote, &local);
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, o->src_creds, &ro);
    if (want && !(s->base_platform = kiln_strdup(want, err)))
        return -1;
    if (kiln_src_open_ex(s->base_ref, want, KILN_SRC_HOST_DEFAULT, &ro, &s->base, err) < 0)
        return -1;
    const struct kiln_buf *cb = &s->base->images[0].config;
    json_t *doc = json_loadb(cb->data, cb->len, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return kiln_fail(err, KILN_ERR_FORMAT, "%s: the image config is not a JSON object",
                         s->base_ref);
    }
    json_t *c = json_object_get(doc, "config");
    s->config = json_is_object(c) ? json_deep_copy(c) : json_object();
    json_decref(doc);
    if (!s->config)
        return kiln_oom(err);
    return kiln_unpack_src(s->base, s->rootfs, o->log, o->log_userdata, err);
}

static int do_from(struct kiln_dockerfile *d, const struct df_instr *in, struct kiln_error *err)
{
    static const char *const names[] = { "platform" };
    const char *vals[1];
    if (df_get_flags(d, in, names, vals, 1, err) < 0)
        return -1;
    struct kiln_strlist w = { 0 };
    if (df_split_ws(in->args, &w, err) < 0) {
        kiln_strlist_free(&w);
        return df_at(d, err);
    }
    if (!(w.n == 1 || (w.n == 3 && !strcasecmp(w.v[1], "as")))) {
        kiln_strlist_free(&w);
        kiln_fail(err, KILN_ERR_USAGE,
                  "FROM requires either one or three arguments (IMAGE [AS NAME])");
        return df_at(d, err);
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
        else if (df_find_stage(d, n, d->nst - 1) >= 0)
            rc = kiln_fail(err, KILN_ERR_USAGE, "duplicate name '%s' for build stage", n);
        else if (!(s->name = kiln_strdup(n, err)))
            rc = -1;
    }
    char *image = NULL;
    if (rc == 0)
        rc = df_expand(d, NULL, w.v[0], &image, err);
    char *plat = NULL;
    if (rc == 0 && vals[0] && *vals[0])
        rc = df_expand(d, NULL, vals[0], &plat, err);
    if (plat && !*plat) { /* e.g. $BUILDPLATFORM, which kiln does not define */
        free(plat);
        plat = NULL;
    }
    s->platform = plat;
    kiln_strlist_free(&w);
    if (rc == 0 && !*image)
        rc = kiln_fail(err, KILN_ERR_USAGE, "base name (%s) should not be blank", in->args);
    int parent = rc == 0 ? df_find_stage(d, image, d->nst - 1) : -1;
    if (rc == 0 && !(s->rootfs = df_new_tmp(d, "stage", err)))
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
            rc = df_copy_tree(p->rootfs, s->rootfs, err);
    } else if (rc == 0 && !strcmp(image, "scratch")) {
        if (!(s->config = json_object()))
            rc = kiln_oom(err);
        else if (mkdir(s->rootfs, 0755) < 0)
            rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", s->rootfs);
    } else if (rc == 0) {
        if (!(s->base_ref = df_image_ref(image, err)))
            rc = -1;
        if (rc == 0)
            rc = open_base(d, s, want, err);
        if (rc < 0)
            kiln_error_prefix(err, "%s", image);
    }
    free(image);
    if (rc < 0)
        return df_at(d, err);
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
        (kiln_strlist_push(&s->env, "PATH=" DEFAULT_PATH, err) < 0 || df_update_env_json(s) < 0))
        return kiln_oom(err);
    json_object_del(s->config, "OpenStdin");
    json_object_del(s->config, "StdinOnce");
    /* the base's ONBUILD triggers run now, and are not inherited */
    json_t *ob = json_object_get(s->config, "OnBuild");
    if (json_is_array(ob) && json_array_size(ob)) {
        json_incref(ob);
        df_jset(s, s->config, "OnBuild", json_null());
        for (i = 0; i < json_array_size(ob); i++) {
            const char *t = json_string_value(json_array_get(ob, i));
            struct df_file tf;
            if (!t)
                continue;
            if (df_parse(t, strlen(t), "ONBUILD", &tf, err) < 0) {
                df_file_free(&tf);
                json_decref(ob);
                return df_at(d, err);
            }
            const struct df_instr *saved = d->cur;
            for (size_t k = 0; rc == 0 && k < tf.n; k++) {
                tf.v[k].line = in->line;
                d->cur = &tf.v[k];
                rc = df_exec_instr(d, s, &tf.v[k], true, err);
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
        df_jset(s, s->config, "OnBuild", json_null());
    }
    return rc == 0 && s->oom ? kiln_oom(err) : rc;
}

/* ---- driving the build --------------------------------------------------------- */

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
        df_warn(d, "%s: # syntax=%s: kiln has its own front end and ignores the directive",
                d->f.name, d->f.syntax);
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
            if (df_set_kv(&d->build_args, k, eq + 1, err) < 0)
                return -1;
        } else if (getenv(a) && df_set_kv(&d->build_args, a, getenv(a), err) < 0) {
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
        char name[32], val[KILN_PLATFORM_MAX];
        kiln_platform_format(pl[k], val);
        snprintf(name, sizeof(name), "%sPLATFORM", pre);
        if (df_set_kv(&d->meta, name, val, err) < 0)
            return -1;
        snprintf(name, sizeof(name), "%sOS", pre);
        if (df_set_kv(&d->meta, name, pl[k]->os, err) < 0)
            return -1;
        snprintf(name, sizeof(name), "%sARCH", pre);
        if (df_set_kv(&d->meta, name, pl[k]->arch, err) < 0)
            return -1;
        snprintf(name, sizeof(name), "%sVARIANT", pre);
        if (df_set_kv(&d->meta, name, pl[k]->variant, err) < 0)
            return -1;
    }
    /* the whole file is checked before anything is done */
    for (size_t i = 0; i < d->f.n; i++) {
        d->cur = &d->f.v[i];
        if (!df_instr_find(d->f.v[i].cmd)) {
            kiln_fail(err, KILN_ERR_USAGE, "unknown instruction: %s", d->f.v[i].cmd);
            return df_at(d, err);
        }
    }
    d->cur = NULL;
    if (!d->f.n)
        return kiln_fail(err, KILN_ERR_USAGE, "%s: the Dockerfile is empty", d->f.name);
    _cleanup_free_ char *t = kiln_path_join(o->tmpdir && *o->tmpdir ? o->tmpdir : kiln_tmpdir(),
                                            "kiln-dockerfile-XXXXXX", err);
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
    struct stage *root = &d->st[chain[n - 1]];
    const struct stage *s = &d->st[target];
    /* The root's base goes to the build as it was opened, when the build
     * asks for the same platform; else the build opens it for its own. */
    const char *bp = d->o->platform ? d->o->platform : s->platform;
    bool same = root->base && (bp && root->base_platform ? !strcmp(bp, root->base_platform)
                                                         : !bp && !root->base_platform);
    if (same && kiln_build_set_base(b, root->base_ref, TAKE_PTR(root->base), err) < 0)
        return -1;
    if (!same && root->base_ref && kiln_build_set(b, KILN_SET_FROM, root->base_ref, err) < 0)
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
    /* the caller's options, as many fields as its struct has */
    size_t n = o->size && o->size < sizeof(d->opts) ? o->size : sizeof(d->opts);
    memcpy(&d->opts, o, n);
    d->opts.size = sizeof(d->opts);
    d->o = &d->opts;
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
            rc = df_at(d, err);
        } else
            rc = df_do_arg(d, NULL, &d->f.v[i], err);
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
        rc = df_exec_instr(d, &d->st[d->nst - 1], in, false, err);
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
            if (df_list_has(&d->consumed, name) || predefined_arg(name))
                continue;
            ul += (size_t)snprintf(unused + ul, ul < sizeof(unused) ? sizeof(unused) - ul : 0,
                                   "%s%s", ul ? " " : "", name);
            if (ul >= sizeof(unused))
                ul = sizeof(unused) - 1;
        }
        if (ul)
            df_warn(d, "one or more build-args [%s] were not consumed", unused);
    }
    if (rc < 0) {
        kiln_dockerfile_free(d);
        return -1;
    }
    *state = d;
    return 0;
}
