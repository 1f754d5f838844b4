/* The configuration instructions (ENV, LABEL, CMD, ENTRYPOINT, SHELL, USER,
 * STOPSIGNAL, EXPOSE, VOLUME, ONBUILD, MAINTAINER, HEALTHCHECK, WORKDIR,
 * ARG) and the table of every instruction. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval.h"

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
                rc = df_expand(d, s, p, &v, err);
            if (rc == 0)
                rc = kiln_strlist_push(out, k, err);
            if (rc == 0)
                rc = kiln_strlist_push(out, v, err);
            free(k);
            free(v);
        }
        kiln_strlist_free(&w);
        return rc < 0 ? df_at(d, err) : rc;
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
        rc = df_expand(d, s, w.v[i], &k, err);
        if (rc == 0)
            rc = df_expand(d, s, eq + 1, &v, err);
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
    return rc < 0 ? df_at(d, err) : rc;
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
    if (df_get_flags(d, in, names, vals, 4, err) < 0)
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
            df_jpush(s, t, json_string("NONE"));
            df_jset(s, hc, "Test", t);
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
            df_jpush(s, t, json_string(is_json ? "CMD" : "CMD-SHELL"));
            if (is_json)
                for (size_t i = 0; i < j.n; i++)
                    df_jpush(s, t, json_string(j.v[i]));
            else
                df_jpush(s, t, json_string(rest));
            df_jset(s, hc, "Test", t);
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
                df_jset(s, hc, keys[i], json_integer(ns));
        }
        if (rc == 0 && vals[3]) {
            char *end;
            long n = strtol(vals[3], &end, 10);
            if (!*vals[3] || *end || n < 0 || n > 1000000000)
                rc =
                    kiln_fail(err, KILN_ERR_USAGE, "--retries=%s: expected a number >= 0", vals[3]);
            else if (n)
                df_jset(s, hc, "Retries", json_integer(n));
        }
    } else {
        rc = kiln_fail(err, KILN_ERR_USAGE, "Unknown type \"%.*s\" in HEALTHCHECK (try CMD)",
                       (int)wl, p);
    }
    if (rc < 0) {
        json_decref(hc);
        return df_at(d, err);
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
    df_jset(s, s->config, "Healthcheck", hc);
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
    if (df_expand(d, s, in->args, &v, err) < 0)
        return -1;
    if (!*v) {
        free(v);
        kiln_fail(err, KILN_ERR_USAGE, "WORKDIR requires exactly one argument");
        return df_at(d, err);
    }
    const char *prev = json_string_value(json_object_get(s->config, "WorkingDir"));
    char *full = v[0] == '/' ? kiln_strdup(v, err) : df_join(prev && *prev ? prev : "/", v, err);
    free(v);
    char *clean = full ? df_clean_path(full, err) : NULL;
    free(full);
    if (!clean)
        return -1;
    df_jset(s, s->config, "WorkingDir", json_string(clean));
    _cleanup_free_ char *real = df_scoped(s->rootfs, clean, true, err);
    free(clean);
    if (!real)
        return -1;
    struct copy_ctx c = { .d = d, .s = s };
    c.a.set_owner = true;
    int rc = 0;
    if (!df_is_dir_in_tree(&c, real))
        rc = df_make_dirs(&c, real, err);
    kiln_strlist_free(&c.made);
    if (rc == 0 && c.l.n) {
        for (size_t i = 0; rc == 0 && i < c.l.n; i++)
            rc = df_apply_entry(s->rootfs, &c.l.v[i], err);
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
    df_layer_free(&c.l);
    return rc;
}

int df_do_arg(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in,
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
        if (eq && (rc = df_expand(d, s, eq + 1, &def, err)) < 0)
            break;
        const char *val = def;
        size_t nl = strlen(name);
        struct df_vars ba = { .lists = { &d->build_args, NULL } };
        const char *given = df_var_get(&ba, name, nl);
        if (given) {
            val = given;
            if (!df_list_has(&d->consumed, name))
                rc = kiln_strlist_push(&d->consumed, name, err);
        } else if (!eq && s) {
            struct df_vars mv = { .lists = { &d->meta, NULL } };
            val = df_var_get(&mv, name, nl);
        }
        if (rc == 0 && val)
            rc = df_set_kv(s ? &s->args : &d->meta, name, val, err);
        free(def);
    }
    kiln_strlist_free(&w);
    return rc < 0 ? df_at(d, err) : rc;
}

/* ---- one handler per instruction ------------------------------------------ */

#define HANDLER(name)                                                                      \
    static int name(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in, \
                    bool trigger, struct kiln_error *err)

HANDLER(run_run)
{
    (void)s, (void)in, (void)trigger;
    kiln_fail(err, KILN_ERR_USAGE, "kiln runs no commands: build the artifact first and COPY it");
    return df_at(d, err);
}

HANDLER(run_copy)
{
    (void)trigger;
    return df_do_copy(d, s, in, in->cmd[0] == 'a', err);
}

HANDLER(run_arg)
{
    (void)trigger;
    return df_do_arg(d, s, in, err);
}

HANDLER(run_workdir)
{
    (void)trigger;
    return do_workdir(d, s, in, err);
}

HANDLER(run_healthcheck)
{
    (void)trigger;
    return do_healthcheck(d, s, in, err);
}

/* ENV and LABEL: KEY=VALUE pairs (or the legacy "KEY VALUE"). */
HANDLER(run_env_label)
{
    (void)trigger;
    bool label = in->cmd[0] == 'l';
    struct kiln_strlist kv = { 0 };
    int rc = name_values(d, s, in, &kv, err);
    json_t *labels = NULL;
    if (rc == 0 && label && !(labels = df_config_member(s, "Labels", false)))
        rc = kiln_oom(err);
    for (size_t i = 0; rc == 0 && i + 1 < kv.n; i += 2) {
        if (labels) {
            if (json_object_set_new(labels, kv.v[i], json_string(kv.v[i + 1])) < 0)
                rc = kiln_oom(err);
        } else
            rc = df_set_kv(&s->env, kv.v[i], kv.v[i + 1], err);
    }
    if (rc == 0 && !labels && df_update_env_json(s) < 0)
        rc = kiln_oom(err);
    kiln_strlist_free(&kv);
    return rc;
}

HANDLER(run_cmd_entrypoint)
{
    (void)trigger;
    bool cmd = in->cmd[0] == 'c';
    if (!in->json && !*in->args) {
        kiln_fail(err, KILN_ERR_USAGE, "%s requires at least one argument",
                  cmd ? "CMD" : "ENTRYPOINT");
        return df_at(d, err);
    }
    json_t *a = command(s, in->json, &in->jargs, in->args);
    if (!a)
        return kiln_oom(err);
    if (cmd) {
        df_jset(s, s->config, "Cmd", a);
        s->cmd_set = true;
    } else {
        df_jset(s, s->config, "Entrypoint", a);
        /* as docker: ENTRYPOINT drops a CMD not set in this stage */
        if (!s->cmd_set)
            df_jset(s, s->config, "Cmd", json_null());
    }
    return 0;
}

HANDLER(run_shell)
{
    (void)trigger;
    if (!in->json || !in->jargs.n) {
        kiln_fail(err, KILN_ERR_USAGE,
                  "SHELL requires the arguments to be in JSON form "
                  "(SHELL [\"executable\", \"parameters\"])");
        return df_at(d, err);
    }
    df_jset(s, s->config, "Shell", strlist_json(&in->jargs, 0));
    return 0;
}

/* USER and STOPSIGNAL: one word (the signal checked as build --stop-signal checks it). */
HANDLER(run_user_stopsignal)
{
    (void)trigger;
    bool user = in->cmd[0] == 'u';
    char *v;
    if (df_expand(d, s, in->args, &v, err) < 0)
        return -1;
    if (!*v || (!user && !kiln_signal_valid(v))) {
        kiln_fail(err, KILN_ERR_USAGE,
                  user ? "USER requires exactly one argument" : "invalid signal: '%s'", v);
        free(v);
        return df_at(d, err);
    }
    df_jset(s, s->config, user ? "User" : "StopSignal", json_string(v));
    free(v);
    return 0;
}

/* EXPOSE and VOLUME: words, or a JSON array. */
HANDLER(run_expose_volume)
{
    (void)trigger;
    bool expose = in->cmd[0] == 'e';
    struct kiln_strlist w = { 0 };
    int rc = 0;
    if (in->json)
        for (size_t i = 0; rc == 0 && i < in->jargs.n; i++)
            rc = kiln_strlist_push(&w, in->jargs.v[i], err);
    else
        rc = df_split_ws(in->args, &w, err);
    json_t *o = rc == 0 ? df_config_member(s, expose ? "ExposedPorts" : "Volumes", false) : NULL;
    if (rc == 0 && !o)
        rc = kiln_oom(err);
    if (rc == 0 && !w.n)
        rc = kiln_fail(err, KILN_ERR_USAGE, "%s requires at least one argument",
                       expose ? "EXPOSE" : "VOLUME");
    for (size_t i = 0; rc == 0 && i < w.n; i++) {
        char *v;
        if ((rc = df_expand(d, s, w.v[i], &v, err)) < 0)
            break;
        if (expose) {
            rc = parse_port(v, o, err);
        } else {
            size_t vl = strlen(v);
            while (vl && isspace((unsigned char)v[vl - 1]))
                v[--vl] = '\0';
            if (!vl)
                rc = kiln_fail(err, KILN_ERR_USAGE, "VOLUME specified can not be an empty string");
            else if (json_object_set_new(o, v, json_object()) < 0)
                rc = kiln_oom(err);
        }
        free(v);
    }
    kiln_strlist_free(&w);
    return rc < 0 ? df_at(d, err) : rc;
}

HANDLER(run_onbuild)
{
    (void)trigger;
    const char *t = in->args;
    size_t wl = 0;
    while (t[wl] && !isspace((unsigned char)t[wl]))
        wl++;
    if (!wl) {
        kiln_fail(err, KILN_ERR_USAGE, "ONBUILD requires at least one argument");
        return df_at(d, err);
    }
    if ((wl == 7 && !strncasecmp(t, "ONBUILD", 7)))
        kiln_fail(err, KILN_ERR_USAGE, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    else if ((wl == 4 && !strncasecmp(t, "FROM", 4)) ||
             (wl == 10 && !strncasecmp(t, "MAINTAINER", 10)))
        kiln_fail(err, KILN_ERR_USAGE, "%.*s isn't allowed as an ONBUILD trigger", (int)wl, t);
    else
        wl = 0;
    if (wl)
        return df_at(d, err);
    json_t *ob = df_config_member(s, "OnBuild", true);
    if (!ob || json_array_append_new(ob, json_string(t)) < 0)
        return kiln_oom(err);
    return 0;
}

/* MAINTAINER sets the author, except as a base image's trigger. */
HANDLER(run_maintainer)
{
    (void)d;
    if (trigger)
        return 0;
    char *a = kiln_strdup(in->args, err);
    if (!a)
        return -1;
    free(s->author);
    s->author = a;
    return 0;
}

/* ---- the table ----------------------------------------------------------------- */

static const struct df_instr_def instrs[] = {
    { "from", NULL },
    { "copy", run_copy },
    { "add", run_copy },
    { "env", run_env_label },
    { "label", run_env_label },
    { "arg", run_arg },
    { "entrypoint", run_cmd_entrypoint },
    { "cmd", run_cmd_entrypoint },
    { "workdir", run_workdir },
    { "user", run_user_stopsignal },
    { "stopsignal", run_user_stopsignal },
    { "expose", run_expose_volume },
    { "volume", run_expose_volume },
    { "healthcheck", run_healthcheck },
    { "shell", run_shell },
    { "onbuild", run_onbuild },
    { "maintainer", run_maintainer },
    { "run", run_run },
};

const struct df_instr_def *df_instr_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(instrs); i++)
        if (!strcmp(name, instrs[i].name))
            return &instrs[i];
    return NULL;
}

int df_exec_instr(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in,
                  bool trigger, struct kiln_error *err)
{
    const struct df_instr_def *def = df_instr_find(in->cmd);
    if (!def || !def->run) { /* FROM is the driver's; the file was checked before */
        kiln_fail(err, KILN_ERR_USAGE, "unknown instruction: %s", in->cmd);
        return df_at(d, err);
    }
    return def->run(d, s, in, trigger, err);
}
