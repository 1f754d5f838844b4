/*
 * The JSON documents of an image: config, manifest. Keys are sorted and the
 * output compact, so equal settings give equal bytes (and digests).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "config.h"

int kiln_strlist_push(struct kiln_strlist *l, const char *s, struct kiln_error *err)
{
    char **v = realloc(l->v, (l->n + 2) * sizeof(*v));
    if (!v)
        return kiln_oom(err);
    l->v = v;
    if (!(v[l->n] = kiln_strdup(s, err)))
        return -1;
    v[++l->n] = NULL;
    return 0;
}

void kiln_strlist_free(struct kiln_strlist *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int parse_json_args(const char *text, struct kiln_strlist *out, struct kiln_error *err)
{
    json_error_t je;
    json_t *a = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!a || !json_is_array(a)) {
        json_decref(a);
        return kiln_fail(err, KILN_ERR_USAGE, "'%s': not a JSON array of strings (%s)", text,
                         a ? "not an array" : je.text);
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v)) {
            json_decref(a);
            return kiln_fail(err, KILN_ERR_USAGE, "'%s': element %zu is not a string", text, i);
        }
        if (kiln_strlist_push(out, json_string_value(v), err) < 0) {
            json_decref(a);
            return -1;
        }
    }
    json_decref(a);
    return 0;
}

int kiln_parse_args(const char *text, struct kiln_strlist *out, struct kiln_error *err)
{
    kiln_strlist_free(out);
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    /* A JSON array is the exec form (and a malformed one an error). A
     * leading '[' not followed by JSON is the shell's test command:
     * "[ -f /x ] && run" is split as a shell would. */
    if (*p == '[') {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t' || *q == '\n')
            q++;
        bool json_like = !*q || (*q == '-' ? isdigit((unsigned char)q[1]) != 0
                                           : strchr("\"[]{}0123456789ntf", *q) != NULL);
        if (json_like)
            return parse_json_args(text, out, err);
    }
    struct kiln_buf word = {0};
    bool in_word = false;
    int rc = 0;
    while (rc == 0 && *p) {
        char c = *p++;
        if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word) {
                rc = kiln_strlist_push(out, word.data, err);
                kiln_buf_free(&word);
                in_word = false;
            }
            continue;
        }
        if (c == '\\' && *p == '\n') { /* line continuation: nothing, not even a word */
            p++;
            continue;
        }
        in_word = true;
        if (c == '\'') {
            const char *e = strchr(p, '\'');
            if (!e) {
                rc = kiln_fail(err, KILN_ERR_USAGE, "'%s': unterminated single quote", text);
                break;
            }
            rc = kiln_buf_append(&word, p, (size_t)(e - p), err);
            p = e + 1;
        } else if (c == '"') {
            for (;;) {
                if (!*p) {
                    rc = kiln_fail(err, KILN_ERR_USAGE, "'%s': unterminated double quote", text);
                    break;
                }
                char d = *p++;
                if (d == '"')
                    break;
                if (d == '\\' && (*p == '"' || *p == '\\' || *p == '$' || *p == '`'))
                    d = *p++;
                else if (d == '\\' && *p == '\n') {
                    p++;
                    continue;
                }
                if ((rc = kiln_buf_append(&word, &d, 1, err)) < 0)
                    break;
            }
        } else if (c == '\\') {
            if (!*p) {
                rc = kiln_fail(err, KILN_ERR_USAGE, "'%s': trailing backslash", text);
                break;
            }
            rc = kiln_buf_append(&word, p++, 1, err);
        } else {
            rc = kiln_buf_append(&word, &c, 1, err);
        }
        if (rc == 0 && !word.data)
            rc = kiln_buf_append(&word, "", 0, err);
    }
    if (rc == 0 && in_word)
        rc = kiln_strlist_push(out, word.data ? word.data : "", err);
    kiln_buf_free(&word);
    return rc;
}

/* ---- values both kiln build's settings and a Dockerfile take ---- */

int kiln_port_parse(const char *v, long *lo, long *hi, char proto[8])
{
    const char *p = v;
    char *end;
    if (!isdigit((unsigned char)*p))
        return -1;
    errno = 0;
    *lo = strtol(p, &end, 10);
    *hi = *lo;
    if (errno)
        return -1;
    if (*end == '-') {
        p = end + 1;
        if (!isdigit((unsigned char)*p))
            return -1;
        *hi = strtol(p, &end, 10);
        if (errno)
            return -1;
    }
    if (*lo < 1 || *hi > 65535 || *hi < *lo)
        return -1;
    snprintf(proto, 8, "tcp");
    if (*end == '/') {
        size_t n = strlen(end + 1);
        if (n < 3 || n > 4)
            return -1;
        for (size_t i = 0; i <= n; i++)
            proto[i] = (char)tolower((unsigned char)end[1 + i]);
        if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
            return -1;
    } else if (*end) {
        return -1;
    }
    return 0;
}

bool kiln_signal_valid(const char *v)
{
    static const char *const names[] = {
        "HUP",  "INT",  "QUIT", "ILL",  "TRAP",  "ABRT",   "IOT",  "BUS",  "FPE",   "KILL", "USR1",
        "SEGV", "USR2", "PIPE", "ALRM", "TERM",  "STKFLT", "CHLD", "CONT", "STOP",  "TSTP", "TTIN",
        "TTOU", "URG",  "XCPU", "XFSZ", "VTALRM", "PROF",  "WINCH", "IO",  "POLL",  "PWR",  "SYS"};
    char *end;
    if (isdigit((unsigned char)v[0])) {
        errno = 0;
        long n = strtol(v, &end, 10);
        return !errno && !*end && n >= 1 && n <= 64;
    }
    const char *s = strncasecmp(v, "SIG", 3) ? v : v + 3;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (!strcasecmp(s, names[i]))
            return true;
    /* RTMIN, RTMAX, RTMIN+N, RTMAX-N */
    if (strncasecmp(s, "RTMIN", 5) && strncasecmp(s, "RTMAX", 5))
        return false;
    s += 5;
    if (!*s)
        return true;
    if ((*s != '+' && *s != '-') || !isdigit((unsigned char)s[1]))
        return false;
    strtol(s + 1, &end, 10);
    return !*end;
}

static json_t *string_array(const struct kiln_strlist *l)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->n; i++)
        json_array_append_new(a, json_string(l->v[i]));
    return a;
}

/* "K=V" list -> object; a later K replaces an earlier one. */
static json_t *kv_object(const struct kiln_strlist *l)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < l->n; i++) {
        const char *eq = strchr(l->v[i], '=');
        char key[1024];
        size_t kl = eq ? (size_t)(eq - l->v[i]) : strlen(l->v[i]);
        if (kl >= sizeof(key))
            kl = sizeof(key) - 1;
        memcpy(key, l->v[i], kl);
        key[kl] = '\0';
        json_object_set_new(o, key, json_string(eq ? eq + 1 : ""));
    }
    return o;
}


static int dump(json_t *doc, struct kiln_buf *out, struct kiln_error *err)
{
    if (!doc)
        return kiln_oom(err);
    char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(doc);
    if (!s)
        return kiln_oom(err);
    kiln_buf_free(out);
    int rc = kiln_buf_append(out, s, strlen(s), err);
    free(s);
    return rc;
}

static json_t *object_member(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(parent, key, o);
    }
    return o;
}

/* Env: a later KEY replaces an earlier one, in place. */
static void env_set(json_t *env, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t kl = eq ? (size_t)(eq - kv) : strlen(kv);
    size_t i;
    json_t *v;
    json_array_foreach(env, i, v)
    {
        const char *s = json_string_value(v);
        if (s && !strncmp(s, kv, kl) && (s[kl] == '=' || s[kl] == '\0')) {
            json_array_set_new(env, i, json_string(kv));
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
}

int kiln_config_json(const struct kiln_image_config *c, const char *base_config, size_t nbase,
                     const struct kiln_layer *layers, size_t nlayers, struct kiln_buf *out,
                     struct kiln_error *err)
{
    char created[32];
    kiln_format_time(c->created, created);
    json_t *doc;
    if (base_config) {
        json_error_t je;
        doc = json_loads(base_config, 0, &je);
        if (!json_is_object(doc)) {
            json_decref(doc);
            return kiln_fail(err, KILN_ERR_FORMAT, "the base image's config is not a JSON object");
        }
    } else if (!(doc = json_object()))
        return kiln_oom(err);
    json_object_set_new(doc, "created", json_string(created));
    if (c->author)
        json_object_set_new(doc, "author", json_string(c->author));
    json_object_set_new(doc, "architecture", json_string(c->platform.arch));
    if (c->platform.variant[0])
        json_object_set_new(doc, "variant", json_string(c->platform.variant));
    else
        json_object_del(doc, "variant");
    json_object_set_new(doc, "os", json_string(c->platform.os));

    if (c->config_json) {
        json_error_t je;
        json_t *o = json_loads(c->config_json, 0, &je);
        if (!json_is_object(o)) {
            json_decref(o);
            json_decref(doc);
            return kiln_fail(err, KILN_ERR_USAGE, "container config: not a JSON object");
        }
        json_object_set_new(doc, "config", o);
        json_object_del(doc, "container_config"); /* the base's, stale now */
    }
    json_t *cfg = object_member(doc, "config");
    if (c->user)
        json_object_set_new(cfg, "User", json_string(c->user));
    if (c->ports.n) {
        json_t *p = object_member(cfg, "ExposedPorts");
        for (size_t i = 0; i < c->ports.n; i++)
            json_object_set_new(p, c->ports.v[i], json_object());
    }
    if (c->env.n) {
        json_t *env = json_object_get(cfg, "Env");
        if (!json_is_array(env)) {
            env = json_array();
            json_object_set_new(cfg, "Env", env);
        }
        for (size_t i = 0; i < c->env.n; i++)
            env_set(env, c->env.v[i]);
    }
    if (c->has_entrypoint) {
        json_object_set_new(cfg, "Entrypoint", string_array(&c->entrypoint));
        /* As in docker build: a new entrypoint drops the inherited command. */
        if (!c->has_cmd)
            json_object_del(cfg, "Cmd");
    }
    if (c->has_cmd)
        json_object_set_new(cfg, "Cmd", string_array(&c->cmd));
    if (c->volumes.n) {
        json_t *v = object_member(cfg, "Volumes");
        for (size_t i = 0; i < c->volumes.n; i++)
            json_object_set_new(v, c->volumes.v[i], json_object());
    }
    if (c->workdir)
        json_object_set_new(cfg, "WorkingDir", json_string(c->workdir));
    if (c->labels.n) {
        json_t *l = object_member(cfg, "Labels");
        json_t *add = kv_object(&c->labels);
        json_object_update(l, add);
        json_decref(add);
    }
    if (c->stop_signal)
        json_object_set_new(cfg, "StopSignal", json_string(c->stop_signal));

    json_t *rootfs = json_object(), *diff_ids = json_array();
    json_t *history = base_config ? json_object_get(doc, "history") : NULL;
    if (!json_is_array(history)) {
        history = json_array();
        json_object_set_new(doc, "history", history);
    }
    json_object_set_new(rootfs, "type", json_string("layers"));
    for (size_t i = 0; i < nlayers; i++) {
        json_array_append_new(diff_ids, json_string(layers[i].diff_id));
        if (i < nbase)
            continue;
        json_t *h = json_object();
        json_object_set_new(h, "created", json_string(created));
        json_object_set_new(h, "created_by",
                            json_string(layers[i].created_by ? layers[i].created_by : "kiln"));
        if (c->author)
            json_object_set_new(h, "author", json_string(c->author));
        json_array_append_new(history, h);
    }
    json_object_set_new(rootfs, "diff_ids", diff_ids);
    json_object_set_new(doc, "rootfs", rootfs);
    return dump(doc, out, err);
}

const char *kiln_layer_media_type_oci(const char *mt)
{
    if (!strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar.gzip"))
        return "application/vnd.oci.image.layer.v1.tar+gzip";
    if (!strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar"))
        return "application/vnd.oci.image.layer.v1.tar";
    return mt;
}

const char *kiln_layer_media_type_docker(const char *mt)
{
    if (!strcmp(mt, "application/vnd.oci.image.layer.v1.tar+gzip"))
        return "application/vnd.docker.image.rootfs.diff.tar.gzip";
    if (!strcmp(mt, "application/vnd.oci.image.layer.v1.tar"))
        return "application/vnd.docker.image.rootfs.diff.tar";
    return mt;
}

const char *kiln_layer_media_type(enum kiln_manifest_kind kind, enum kiln_compression comp)
{
    if (kind == KILN_MANIFEST_DOCKER)
        return comp == KILN_COMPRESSION_NONE ? "application/vnd.docker.image.rootfs.diff.tar"
               : comp == KILN_COMPRESSION_ZSTD
                   ? "application/vnd.oci.image.layer.v1.tar+zstd"
                   : "application/vnd.docker.image.rootfs.diff.tar.gzip";
    return comp == KILN_COMPRESSION_NONE   ? "application/vnd.oci.image.layer.v1.tar"
           : comp == KILN_COMPRESSION_ZSTD ? "application/vnd.oci.image.layer.v1.tar+zstd"
                                           : "application/vnd.oci.image.layer.v1.tar+gzip";
}

static json_t *descriptor(const char *mt, const char *digest, uint64_t size)
{
    json_t *d = json_object();
    if (!d)
        return NULL;
    json_object_set_new(d, "mediaType", json_string(mt));
    json_object_set_new(d, "digest", json_string(digest));
    json_object_set_new(d, "size", json_integer((json_int_t)size));
    return d;
}

int kiln_manifest_json(enum kiln_manifest_kind kind, enum kiln_compression comp,
                       const char *config_digest, size_t config_size,
                       const struct kiln_layer *layers, size_t nlayers,
                       const struct kiln_strlist *annotations, struct kiln_buf *out,
                       struct kiln_error *err)
{
    json_t *doc = json_object();
    json_t *ls = json_array();
    if (!doc || !ls) {
        json_decref(doc);
        json_decref(ls);
        return kiln_oom(err);
    }
    bool oci = kind == KILN_MANIFEST_OCI;
    json_object_set_new(doc, "schemaVersion", json_integer(2));
    json_object_set_new(doc, "mediaType",
                        json_string(oci ? KILN_MT_OCI_MANIFEST : KILN_MT_DOCKER_MANIFEST));
    json_object_set_new(
        doc, "config",
        descriptor(oci ? KILN_MT_OCI_CONFIG : KILN_MT_DOCKER_CONFIG, config_digest, config_size));
    for (size_t i = 0; i < nlayers; i++)
        json_array_append_new(ls, descriptor(layers[i].media_type[0]
                                                 ? layers[i].media_type
                                                 : kiln_layer_media_type(kind, comp),
                                             layers[i].digest, layers[i].size));
    json_object_set_new(doc, "layers", ls);
    if (oci && annotations && annotations->n)
        json_object_set_new(doc, "annotations", kv_object(annotations));
    return dump(doc, out, err);
}

bool kiln_media_type_is_index(const char *mt)
{
    return mt && (!strcmp(mt, KILN_MT_OCI_INDEX) || !strcmp(mt, KILN_MT_DOCKER_LIST));
}
