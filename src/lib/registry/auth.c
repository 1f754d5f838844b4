/*
 * Credentials (docker config.json, podman auth.json, credential helpers) and
 * WWW-Authenticate challenges. Secrets live only in struct kiln_creds and in
 * Authorization header values; no function here logs or formats them into
 * an error.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"

#define AUTH_FILE_MAX (4 * 1024 * 1024)

void kiln_creds_free(struct kiln_creds *c)
{
    if (!c)
        return;
    if (c->pass)
        explicit_bzero(c->pass, strlen(c->pass));
    if (c->identity_token)
        explicit_bzero(c->identity_token, strlen(c->identity_token));
    free(c->user);
    free(c->pass);
    free(c->identity_token);
    memset(c, 0, sizeof(*c));
}

int kiln_creds_parse(const char *text, struct kiln_creds *c, struct kiln_error *err)
{
    memset(c, 0, sizeof(*c));
    const char *colon = strchr(text, ':');
    size_t ul = colon ? (size_t)(colon - text) : strlen(text);
    if (ul == 0)
        return kiln_fail(err, KILN_ERR_USAGE, "--creds: expected USER[:PASSWORD]");
    c->user = strndup(text, ul);
    c->pass = strdup(colon ? colon + 1 : "");
    if (!c->user || !c->pass) {
        kiln_creds_free(c);
        return kiln_oom(err);
    }
    return 0;
}

char *kiln_base64(const void *p, size_t n, struct kiln_error *err)
{
    char *out = kiln_xmalloc(4 * ((n + 2) / 3) + 1, err);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

char *kiln_creds_basic(const struct kiln_creds *c, bool scheme, struct kiln_error *err)
{
    size_t n = strlen(c->user) + strlen(c->pass) + 2;
    char *up = kiln_xmalloc(n, err);
    if (!up)
        return NULL;
    snprintf(up, n, "%s:%s", c->user, c->pass);
    char *b64 = kiln_base64(up, strlen(up), err);
    explicit_bzero(up, n);
    free(up);
    if (!b64 || !scheme)
        return b64;
    size_t bl = strlen(b64) + 7;
    char *out = kiln_xmalloc(bl, err);
    if (out)
        snprintf(out, bl, "Basic %s", b64);
    explicit_bzero(b64, strlen(b64));
    free(b64);
    return out;
}

int kiln_unbase64(const char *s, struct kiln_buf *out, struct kiln_error *err)
{
    size_t n = strlen(s);
    if (n % 4)
        return kiln_fail(err, KILN_ERR_FORMAT, "invalid base64");
    unsigned char *tmp = kiln_xmalloc(n / 4 * 3 + 1, err);
    if (!tmp)
        return -1;
    int l = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
    if (l < 0) {
        free(tmp);
        return kiln_fail(err, KILN_ERR_FORMAT, "invalid base64");
    }
    if (n >= 1 && s[n - 1] == '=')
        l--;
    if (n >= 2 && s[n - 2] == '=')
        l--;
    kiln_buf_free(out);
    int rc = kiln_buf_append(out, tmp, (size_t)l, err);
    explicit_bzero(tmp, n / 4 * 3 + 1);
    free(tmp);
    return rc;
}

const char *kiln_auth_key(const char *host)
{
    return kiln_is_docker_hub(host) ? KILN_HUB_AUTH_KEY : host;
}

/* "https://host:5000/v1/" -> "host:5000" */
static void key_host(const char *key, char *out, size_t n)
{
    const char *p = key;
    if (!strncmp(p, "https://", 8))
        p += 8;
    else if (!strncmp(p, "http://", 7))
        p += 7;
    size_t l = strcspn(p, "/");
    if (l >= n)
        l = n - 1;
    memcpy(out, p, l);
    out[l] = '\0';
    for (char *q = out; *q; q++)
        *q = (char)tolower((unsigned char)*q);
}

static bool host_matches(const char *key, const char *host)
{
    char kh[512];
    key_host(key, kh, sizeof(kh));
    if (!strcmp(kh, host))
        return true;
    return kiln_is_docker_hub(kh) && kiln_is_docker_hub(host);
}

/* Runs docker-credential-NAME get. */
static int run_helper(const char *name, const char *host, struct kiln_creds *c,
                      struct kiln_error *err)
{
    char prog[256];
    if (!*name || strchr(name, '/'))
        return kiln_fail(err, KILN_ERR_INPUT,
                         "credential helper '%s' for %s: a helper is named, not a path", name,
                         host);
    snprintf(prog, sizeof(prog), "docker-credential-%s", name);
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return kiln_fail_errno(err, KILN_ERR_INTERNAL, errno, "%s: pipe", prog);
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return kiln_fail_errno(err, KILN_ERR_INTERNAL, errno, "%s: pipe", prog);
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        return kiln_fail_errno(err, KILN_ERR_INTERNAL, errno, "%s: fork", prog);
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        char get[] = "get";
        char *argv[] = {prog, get, NULL};
        execvp(prog, argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    const char *server = !strcmp(kiln_auth_key(host), host) ? host : kiln_auth_key(host);
    ssize_t wr = write(in[1], server, strlen(server));
    (void)wr;
    close(in[1]);
    struct kiln_buf b = {.max = 1 << 20};
    char chunk[4096];
    ssize_t r;
    while ((r = read(out[0], chunk, sizeof(chunk))) > 0)
        if (kiln_buf_append(&b, chunk, (size_t)r, NULL) < 0)
            break;
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    int rc = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        /* "credentials not found" is not an error: anonymous access follows. */
        if (b.data && strstr(b.data, "credentials not found"))
            rc = 0;
        else
            rc = kiln_fail(err, KILN_ERR_INPUT,
                           "credential helper %s failed for %s (exit %d)%s", prog, host, code,
                           code == 127 ? ": not found on PATH" : "");
        if (b.data)
            explicit_bzero(b.data, b.len);
        kiln_buf_free(&b);
        return rc;
    }
    json_t *j = b.data ? json_loads(b.data, 0, NULL) : NULL;
    if (b.data)
        explicit_bzero(b.data, b.len);
    kiln_buf_free(&b);
    const char *u = json_string_value(json_object_get(j, "Username"));
    const char *s = json_string_value(json_object_get(j, "Secret"));
    if (!j || !s) {
        json_decref(j);
        return kiln_fail(err, KILN_ERR_INPUT, "credential helper %s returned no Secret for %s",
                         prog, host);
    }
    if (u && !strcmp(u, "<token>")) {
        c->identity_token = strdup(s);
    } else {
        c->user = strdup(u ? u : "");
        c->pass = strdup(s);
    }
    json_decref(j);
    if (!c->identity_token && (!c->user || !c->pass)) {
        kiln_creds_free(c);
        return kiln_oom(err);
    }
    return 1;
}

static int from_entry(json_t *e, const char *file, const char *host, struct kiln_creds *c,
                      struct kiln_error *err)
{
    const char *auth = json_string_value(json_object_get(e, "auth"));
    const char *user = json_string_value(json_object_get(e, "username"));
    const char *pass = json_string_value(json_object_get(e, "password"));
    const char *idt = json_string_value(json_object_get(e, "identitytoken"));
    if (auth && *auth) {
        struct kiln_buf b = {0};
        if (kiln_unbase64(auth, &b, NULL) < 0 || !memchr(b.data, ':', b.len)) {
            kiln_buf_free(&b);
            return kiln_fail(err, KILN_ERR_INPUT,
                             "%s: the auth entry for %s is not base64 of USER:PASSWORD", file,
                             host);
        }
        int rc = kiln_creds_parse(b.data, c, err);
        explicit_bzero(b.data, b.len);
        kiln_buf_free(&b);
        if (rc < 0)
            return -1;
    } else if (user && pass) {
        c->user = strdup(user);
        c->pass = strdup(pass);
    }
    if (idt && *idt) {
        free(c->identity_token);
        c->identity_token = strdup(idt);
    }
    if (!c->user && !c->identity_token)
        return 0;
    return 1;
}

static int lookup_file(const char *file, const char *host, bool must_exist, struct kiln_creds *c,
                       struct kiln_error *err)
{
    struct kiln_buf b = {0};
    struct kiln_error e2 = {0};
    if (kiln_read_file(file, AUTH_FILE_MAX, &b, &e2) < 0) {
        if (!must_exist && errno == ENOENT)
            return 0;
        if (!must_exist && access(file, F_OK) < 0)
            return 0;
        return kiln_fail(err, KILN_ERR_INPUT, "auth file %s", e2.message);
    }
    json_error_t je;
    json_t *j = json_loads(b.data, 0, &je);
    explicit_bzero(b.data, b.len);
    kiln_buf_free(&b);
    if (!j)
        return kiln_fail(err, KILN_ERR_INPUT, "auth file %s: invalid JSON at line %d: %s", file,
                         je.line, je.text);
    int rc = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(j, "credHelpers"), k, v)
    {
        if (host_matches(k, host) && json_string_value(v)) {
            rc = run_helper(json_string_value(v), host, c, err);
            json_decref(j);
            return rc;
        }
    }
    json_object_foreach(json_object_get(j, "auths"), k, v)
    {
        if (host_matches(k, host)) {
            rc = from_entry(v, file, host, c, err);
            if (rc != 0)
                break;
        }
    }
    if (rc == 0 && json_string_value(json_object_get(j, "credsStore")))
        rc = run_helper(json_string_value(json_object_get(j, "credsStore")), host, c, err);
    json_decref(j);
    return rc;
}

static char *docker_config_path(struct kiln_error *err)
{
    const char *dc = getenv("DOCKER_CONFIG");
    if (dc && *dc)
        return kiln_path_join(dc, "config.json", err);
    const char *home = getenv("HOME");
    if (!home || !*home)
        home = "/root";
    return kiln_path_join(home, ".docker/config.json", err);
}

int kiln_creds_lookup(const char *host_in, const char *authfile, struct kiln_creds *c,
                      struct kiln_error *err)
{
    memset(c, 0, sizeof(*c));
    char host[256];
    snprintf(host, sizeof(host), "%s", host_in);
    for (char *q = host; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    if (authfile)
        return lookup_file(authfile, host, true, c, err);
    int rc;
    const char *raf = getenv("REGISTRY_AUTH_FILE");
    if (raf && *raf && (rc = lookup_file(raf, host, false, c, err)) != 0)
        return rc;
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg && *xdg) {
        char *p = kiln_path_join(xdg, "containers/auth.json", err);
        if (!p)
            return -1;
        rc = lookup_file(p, host, false, c, err);
        free(p);
        if (rc != 0)
            return rc;
    }
    char *p = docker_config_path(err);
    if (!p)
        return -1;
    rc = lookup_file(p, host, false, c, err);
    free(p);
    return rc;
}

char *kiln_auth_file_default(const char *authfile, struct kiln_error *err)
{
    if (authfile)
        return kiln_strdup(authfile, err);
    const char *raf = getenv("REGISTRY_AUTH_FILE");
    if (raf && *raf)
        return kiln_strdup(raf, err);
    return docker_config_path(err);
}

static int mkdir_parent(const char *file, struct kiln_error *err)
{
    char *dir = kiln_dirname(file, err);
    if (!dir)
        return -1;
    int rc = 0;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        rc = kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", dir);
    free(dir);
    return rc;
}

static int auth_file_update(const char *file, const char *host, const struct kiln_creds *c,
                            struct kiln_error *err)
{
    json_t *j = NULL;
    struct kiln_buf b = {0};
    if (kiln_read_file(file, AUTH_FILE_MAX, &b, NULL) == 0 && b.len) {
        json_error_t je;
        j = json_loads(b.data, 0, &je);
        explicit_bzero(b.data, b.len);
        kiln_buf_free(&b);
        if (!j)
            return kiln_fail(err, KILN_ERR_INPUT, "%s: invalid JSON at line %d: %s", file,
                             je.line, je.text);
    }
    kiln_buf_free(&b);
    if (!j && !(j = json_object()))
        return kiln_oom(err);
    json_t *auths = json_object_get(j, "auths");
    if (!json_is_object(auths)) {
        auths = json_object();
        json_object_set_new(j, "auths", auths);
    }
    int removed = 0;
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(auths, tmp, k, v)
    {
        if (host_matches(k, host)) {
            json_object_del(auths, k);
            removed = 1;
        }
    }
    if (!c && !removed) {
        json_decref(j);
        return 0;
    }
    if (c) {
        char *enc = kiln_creds_basic(c, false, err);
        if (!enc) {
            json_decref(j);
            return -1;
        }
        json_t *e = json_object();
        json_object_set_new(e, "auth", json_string(enc));
        explicit_bzero(enc, strlen(enc));
        free(enc);
        json_object_set_new(auths, kiln_auth_key(host), e);
    }
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(j);
    if (!s)
        return kiln_oom(err);
    int rc = mkdir_parent(file, err);
    if (rc == 0)
        rc = kiln_write_file_atomic(file, s, strlen(s), err);
    if (rc == 0)
        chmod(file, 0600);
    explicit_bzero(s, strlen(s));
    free(s);
    return rc < 0 ? -1 : removed;
}

int kiln_auth_file_store(const char *file, const char *host, const struct kiln_creds *c,
                         struct kiln_error *err)
{
    return auth_file_update(file, host, c, err) < 0 ? -1 : 0;
}

int kiln_auth_file_remove(const char *file, const char *host, struct kiln_error *err)
{
    if (access(file, F_OK) < 0)
        return 0;
    return auth_file_update(file, host, NULL, err);
}

/* ---- WWW-Authenticate ---- */

void kiln_challenge_free(struct kiln_challenge *c)
{
    if (!c)
        return;
    free(c->realm);
    free(c->service);
    free(c->scope);
    free(c->error);
    memset(c, 0, sizeof(*c));
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool tchar(char ch)
{
    return ch && (isalnum((unsigned char)ch) || strchr("!#$%&'*+-.^_`|~", ch));
}

/* Parses one header of challenges, keeping the best (bearer > basic). */
static int parse_header(const char *h, struct kiln_challenge *best, struct kiln_error *err)
{
    const char *p = skip_ws(h);
    struct kiln_challenge cur = {0};
    bool have = false;
    int rc = 0;
    while (*p && rc == 0) {
        p = skip_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        const char *ts = p;
        while (tchar(*p))
            p++;
        size_t tl = (size_t)(p - ts);
        if (!tl) {
            kiln_challenge_free(&cur);
            return kiln_fail(err, KILN_ERR_FORMAT, "malformed WWW-Authenticate header");
        }
        const char *after = skip_ws(p);
        if (*after != '=') {
            /* a new scheme */
            if (have && (!best->scheme[0] || (!strcmp(cur.scheme, "bearer") &&
                                              strcmp(best->scheme, "bearer")))) {
                kiln_challenge_free(best);
                *best = cur;
            } else
                kiln_challenge_free(&cur);
            memset(&cur, 0, sizeof(cur));
            snprintf(cur.scheme, sizeof(cur.scheme), "%.*s", (int)(tl < 15 ? tl : 15), ts);
            for (char *q = cur.scheme; *q; q++)
                *q = (char)tolower((unsigned char)*q);
            have = true;
            p = after;
            continue;
        }
        p = skip_ws(after + 1);
        struct kiln_buf val = {.max = 8192};
        if (*p == '"') {
            p++;
            while (*p && *p != '"' && rc == 0) {
                if (*p == '\\' && p[1])
                    p++;
                rc = kiln_buf_append(&val, p++, 1, err);
            }
            if (*p != '"')
                rc = kiln_fail(err, KILN_ERR_FORMAT, "WWW-Authenticate: unterminated quote");
            else
                p++;
        } else {
            const char *vs = p;
            while (*p && *p != ',' && *p != ' ')
                p++;
            rc = kiln_buf_append(&val, vs, (size_t)(p - vs), err);
        }
        if (rc == 0 && !val.data)
            rc = kiln_buf_append(&val, "", 0, err);
        if (rc < 0) {
            kiln_buf_free(&val);
            break;
        }
        char **slot = NULL;
        if (tl == 5 && !strncasecmp(ts, "realm", 5))
            slot = &cur.realm;
        else if (tl == 7 && !strncasecmp(ts, "service", 7))
            slot = &cur.service;
        else if (tl == 5 && !strncasecmp(ts, "scope", 5))
            slot = &cur.scope;
        else if (tl == 5 && !strncasecmp(ts, "error", 5))
            slot = &cur.error;
        if (slot && have) {
            free(*slot);
            *slot = val.data;
        } else
            kiln_buf_free(&val);
    }
    if (rc == 0 && have &&
        (!best->scheme[0] || (!strcmp(cur.scheme, "bearer") && strcmp(best->scheme, "bearer")))) {
        kiln_challenge_free(best);
        *best = cur;
    } else
        kiln_challenge_free(&cur);
    return rc;
}

int kiln_challenge_parse(char *const *headers, size_t n, struct kiln_challenge *out,
                         struct kiln_error *err)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        if (parse_header(headers[i], out, err) < 0) {
            kiln_challenge_free(out);
            return -1;
        }
    if (strcmp(out->scheme, "bearer") && strcmp(out->scheme, "basic")) {
        kiln_challenge_free(out);
        return kiln_fail(err, KILN_ERR_INPUT,
                         "the registry asks for an authentication scheme kiln does not support");
    }
    if (!strcmp(out->scheme, "bearer") && !out->realm) {
        kiln_challenge_free(out);
        return kiln_fail(err, KILN_ERR_FORMAT, "Bearer challenge without a realm");
    }
    return 0;
}
