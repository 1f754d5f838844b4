/*
 * The registry client: ping and scheme choice, Bearer/Basic authentication
 * with per-scope token caching and refresh, bounded retries with exponential
 * backoff and jitter, blob existence checks, cross-repository mounts with
 * fallback, monolithic and chunked uploads, manifests, tags.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"

#define MANIFEST_MAX (4 * 1024 * 1024)
#define KILN_FALLBACK_CHUNK (16 * 1024 * 1024)
#define ERROR_BODY_MAX (64 * 1024)

struct token {
    char *scope;
    char *value; /* never logged */
    time_t expires;
};

struct kiln_registry {
    char *host;     /* as the user named it */
    char *api_host; /* where the API lives */
    char *base;     /* "https://api_host" once chosen */
    struct kiln_registry_opts o;
    struct kiln_creds creds;
    bool have_creds;
    struct kiln_challenge ch;
    bool have_ch;
    struct token *tokens;
    size_t ntokens;
    pthread_mutex_t mu;
    struct kiln_http *http;
    struct kiln_registry_stats stats;
    /* progress of the current kiln_registry_push_blobs */
    struct kiln_progress prog;
    uint64_t *blob_bytes; /* bytes sent of each blob in flight */
};

/* Reports progress; called with r->mu held. */
static void report(struct kiln_registry *r)
{
    if (r->o.progress)
        r->o.progress(r->o.progress_ud, &r->prog);
}

struct blob_progress {
    struct kiln_registry *r;
    size_t idx;
};

static void on_bytes(void *ud, uint64_t sent)
{
    struct blob_progress *bp = ud;
    struct kiln_registry *r = bp->r;
    pthread_mutex_lock(&r->mu);
    if (r->blob_bytes && sent > r->blob_bytes[bp->idx]) {
        r->prog.bytes_done += sent - r->blob_bytes[bp->idx];
        r->blob_bytes[bp->idx] = sent;
        report(r);
    }
    pthread_mutex_unlock(&r->mu);
}

static void rlog(struct kiln_registry *r, enum kiln_log_level l, const char *fmt, ...)
    KILN_PRINTF(3, 4);
static void rlog(struct kiln_registry *r, enum kiln_log_level l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_logv(r->o.log, r->o.log_ud, l, fmt, ap);
    va_end(ap);
}

static bool is_loopback(const char *host)
{
    char h[256];
    snprintf(h, sizeof(h), "%s", host);
    if (h[0] == '[') {
        char *e = strchr(h, ']');
        if (e)
            *e = '\0';
        return !strcmp(h + 1, "::1");
    }
    char *colon = strchr(h, ':');
    if (colon)
        *colon = '\0';
    return !strcmp(h, "localhost") || !strncmp(h, "127.", 4);
}

const char *kiln_registry_host(const struct kiln_registry *r)
{
    return r->host;
}

int kiln_registry_open(const char *host, const struct kiln_registry_opts *o,
                       struct kiln_registry **out, struct kiln_error *err)
{
    struct kiln_registry *r = calloc(1, sizeof(*r));
    if (!r)
        return kiln_oom(err);
    pthread_mutex_init(&r->mu, NULL);
    r->o = *o;
    if (!r->o.retry_base_ms)
        r->o.retry_base_ms = 200;
    r->host = kiln_strdup(host, err);
    r->api_host = kiln_strdup(kiln_is_docker_hub(host) ? KILN_HUB_API_HOST : host, err);
    if (!r->host || !r->api_host)
        goto fail;
    if (kiln_http_new(&r->o.tls, o->log, o->log_ud, &r->http, err) < 0)
        goto fail;
    int rc = o->creds ? (kiln_creds_parse(o->creds, &r->creds, err) < 0 ? -1 : 1)
                      : kiln_creds_lookup(host, o->authfile, &r->creds, err);
    if (rc < 0)
        goto fail;
    r->have_creds = rc > 0;
    *out = r;
    return 0;
fail:
    kiln_registry_close(r);
    return -1;
}

void kiln_registry_close(struct kiln_registry *r)
{
    if (!r)
        return;
    kiln_http_free(r->http);
    for (size_t i = 0; i < r->ntokens; i++) {
        free(r->tokens[i].scope);
        if (r->tokens[i].value)
            explicit_bzero(r->tokens[i].value, strlen(r->tokens[i].value));
        free(r->tokens[i].value);
    }
    free(r->tokens);
    kiln_creds_free(&r->creds);
    kiln_challenge_free(&r->ch);
    pthread_mutex_destroy(&r->mu);
    free(r->host);
    free(r->api_host);
    free(r->base);
    free(r);
}

void kiln_registry_stats(const struct kiln_registry *r, struct kiln_registry_stats *s)
{
    *s = r->stats;
}

/* "HTTP 401 UNAUTHORIZED: authentication required" from a registry answer. */
static void describe(const struct kiln_http_resp *resp, char *out, size_t n)
{
    int w = snprintf(out, n, "HTTP %ld", resp->status);
    json_t *j = resp->body.data ? json_loads(resp->body.data, 0, NULL) : NULL;
    json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
    const char *code = json_string_value(json_object_get(e0, "code"));
    const char *msg = json_string_value(json_object_get(e0, "message"));
    if (code || msg) {
        snprintf(out + w, n - (size_t)w, " %s%s%s", code ? code : "", msg ? ": " : "",
                 msg ? msg : "");
    } else if (resp->body.len && resp->body.len < 200 && !strchr(resp->body.data, '<')) {
        char line[200];
        snprintf(line, sizeof(line), "%s", resp->body.data);
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            snprintf(out + w, n - (size_t)w, ": %s", line);
    }
    json_decref(j);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !kiln_is_interrupted())
        ;
}

/* Exponential backoff with jitter; Retry-After (seconds) wins, capped at 60 s. */
static void backoff(struct kiln_registry *r, unsigned attempt, const char *retry_after)
{
    unsigned ms;
    uint64_t s;
    if (kiln_header_uint(retry_after, &s) == 0) {
        ms = (unsigned)((s > 60 ? 60 : s) * 1000);
    } else {
        unsigned base = r->o.retry_base_ms << (attempt > 6 ? 6 : attempt);
        ms = base / 2 + (unsigned)(rand() % (int)(base / 2 + 1));
    }
    rlog(r, KILN_LOG_INFO, "%s: retrying in %u ms", r->host, ms);
    sleep_ms(ms);
}

static bool retriable_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* ---- scheme ---- */

static int ensure_base(struct kiln_registry *r, struct kiln_error *err)
{
    pthread_mutex_lock(&r->mu);
    if (r->base) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    bool http_ok = r->o.insecure || !r->o.tls.verify || is_loopback(r->api_host);
    const char *schemes[] = {"https", "http"};
    struct kiln_error first = {0};
    int rc = -1;
    for (size_t i = 0; i < (http_ok ? 2u : 1u) && rc < 0; i++) {
        char url[600];
        snprintf(url, sizeof(url), "%s://%s/v2/", schemes[i], r->api_host);
        struct kiln_http_req req = {.method = "GET", .url = url, .max_body = ERROR_BODY_MAX};
        struct kiln_http_resp resp;
        bool transient;
        struct kiln_error e = {0};
        for (unsigned attempt = 0;; attempt++) {
            int x = kiln_http_do(r->http, &req, &resp, &transient, &e);
            if (x == 0 && (resp.status == 200 || resp.status == 401)) {
                char base[600];
                snprintf(base, sizeof(base), "%s://%s", schemes[i], r->api_host);
                r->base = strdup(base);
                if (resp.status == 401 && resp.n_www_auth) {
                    kiln_challenge_free(&r->ch);
                    r->have_ch = kiln_challenge_parse(resp.www_auth, resp.n_www_auth, &r->ch,
                                                      &e) == 0;
                }
                /* into e: err is overwritten with the attempt's error below */
                rc = r->base ? 0 : kiln_oom(&e);
            } else if (x == 0 && retriable_status(resp.status) && attempt < r->o.retries) {
                kiln_http_resp_free(&resp);
                backoff(r, attempt, NULL);
                continue;
            } else if (x == 0) {
                char d[512];
                describe(&resp, d, sizeof(d));
                kiln_fail(&e, KILN_ERR_INPUT, "GET %s: %s (not a registry API endpoint?)", url,
                          d);
            } else if (transient && attempt < r->o.retries &&
                       !kiln_http_last_was_tls_on_plain(r->http)) {
                backoff(r, attempt, NULL);
                continue;
            }
            kiln_http_resp_free(&resp);
            break;
        }
        if (rc < 0 && (i == 0 || kiln_http_last_was_tls_on_plain(r->http) ||
                       strstr(first.message, "wrong version number")))
            first = e;
    }
    pthread_mutex_unlock(&r->mu);
    if (rc < 0 && err) {
        *err = first;
        kiln_error_prefix(err, "registry %s", r->host);
    }
    return rc;
}

/* ---- tokens ---- */

static int fetch_token(struct kiln_registry *r, struct kiln_http *http, const char *scope,
                       char **out, time_t *expires, struct kiln_error *err)
{
    struct kiln_buf url = {0};
    int rc = kiln_buf_printf(&url, err, "%s%s", r->ch.realm, strchr(r->ch.realm, '?') ? "&" : "?");
    char *svc = r->ch.service ? kiln_url_escape(r->ch.service, err) : NULL;
    if (rc == 0 && svc)
        rc = kiln_buf_printf(&url, err, "service=%s", svc);
    free(svc);
    /* several scopes are space-separated */
    char sc[2048];
    snprintf(sc, sizeof(sc), "%s", scope ? scope : "");
    for (char *save = NULL, *t = strtok_r(sc, " ", &save); rc == 0 && t;
         t = strtok_r(NULL, " ", &save)) {
        char *e = kiln_url_escape(t, err);
        rc = e ? kiln_buf_printf(&url, err, "&scope=%s", e) : -1;
        free(e);
    }
    if (rc < 0) {
        kiln_buf_free(&url);
        return -1;
    }
    if (r->have_creds && !strncmp(r->ch.realm, "http://", 7) && r->base &&
        !strncmp(r->base, "https://", 8)) {
        kiln_buf_free(&url);
        return kiln_fail(err, KILN_ERR_INPUT,
                         "registry %s: its token server %s is plain http: refusing to send "
                         "credentials in clear text",
                         r->host, r->ch.realm);
    }
    char *authz = NULL;
    struct kiln_buf form = {0};
    struct kiln_http_body body = {.fd = -1};
    struct kiln_http_req req = {.method = "GET", .url = url.data, .max_body = 1 << 20,
                                .follow_redirects = true};
    if (r->have_creds && r->creds.identity_token) {
        /* OAuth2 refresh-token grant for identity tokens. */
        char *rt = kiln_url_escape(r->creds.identity_token, err);
        char *sv = kiln_url_escape(r->ch.service ? r->ch.service : "", err);
        char *scp = kiln_url_escape(scope ? scope : "", err);
        if (rt && sv && scp)
            rc = kiln_buf_printf(&form, err,
                                 "grant_type=refresh_token&client_id=kiln&refresh_token=%s"
                                 "&service=%s&scope=%s",
                                 rt, sv, scp);
        else
            rc = -1;
        if (rt)
            explicit_bzero(rt, strlen(rt));
        free(rt);
        free(sv);
        free(scp);
        req.method = "POST";
        req.url = r->ch.realm;
        req.content_type = "application/x-www-form-urlencoded";
        body.data = form.data;
        body.len = form.len;
        req.body = &body;
    } else if (r->have_creds && r->creds.user) {
        if (!(authz = kiln_creds_basic(&r->creds, true, err)))
            rc = -1;
        req.authorization = authz;
    }
    struct kiln_http_resp resp = {0};
    bool transient = false;
    for (unsigned attempt = 0; rc == 0; attempt++) {
        rc = kiln_http_do(http, &req, &resp, &transient, err);
        if (rc == 0 && retriable_status(resp.status) && attempt < r->o.retries) {
            backoff(r, attempt, resp.retry_after);
            kiln_http_resp_free(&resp);
            continue;
        }
        if (rc < 0 && transient && attempt < r->o.retries) {
            rc = 0;
            backoff(r, attempt, NULL);
            continue;
        }
        break;
    }
    if (authz) {
        explicit_bzero(authz, strlen(authz));
        free(authz);
    }
    if (form.data)
        explicit_bzero(form.data, form.len);
    kiln_buf_free(&form);
    if (rc == 0 && resp.status != 200) {
        char d[512];
        describe(&resp, d, sizeof(d));
        rc = kiln_fail(err, KILN_ERR_INPUT, "registry %s: token server refused %s: %s%s", r->host,
                       r->have_creds ? "the credentials" : "anonymous access", d,
                       resp.status == 401 && !r->have_creds
                           ? " (log in with 'kiln login', or pass --creds)"
                           : "");
    }
    if (rc == 0) {
        json_t *j = json_loads(resp.body.data ? resp.body.data : "", 0, NULL);
        const char *tok = json_string_value(json_object_get(j, "token"));
        if (!tok)
            tok = json_string_value(json_object_get(j, "access_token"));
        json_int_t exp = json_integer_value(json_object_get(j, "expires_in"));
        if (!tok)
            rc = kiln_fail(err, KILN_ERR_FORMAT,
                           "registry %s: the token server's reply has no token", r->host);
        else {
            *out = strdup(tok);
            *expires = time(NULL) + (exp > 0 ? exp : 60) - 5;
            if (!*out)
                rc = kiln_oom(err);
        }
        json_decref(j);
    }
    if (resp.body.data)
        explicit_bzero(resp.body.data, resp.body.len);
    kiln_http_resp_free(&resp);
    kiln_buf_free(&url);
    return rc;
}

/* Builds the Authorization value for a scope; NULL when anonymous. */
static int authorization(struct kiln_registry *r, struct kiln_http *http, const char *scope,
                         bool refresh, char **out, struct kiln_error *err)
{
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    if (!r->have_ch) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    if (!strcmp(r->ch.scheme, "basic")) {
        if (r->have_creds && r->creds.user && !(*out = kiln_creds_basic(&r->creds, true, err)))
            rc = -1;
        pthread_mutex_unlock(&r->mu);
        return rc;
    }
    const char *sc = scope ? scope : "";
    struct token *t = NULL;
    for (size_t i = 0; i < r->ntokens; i++)
        if (!strcmp(r->tokens[i].scope, sc))
            t = &r->tokens[i];
    if (!t || refresh || time(NULL) >= t->expires) {
        char *val = NULL;
        time_t exp = 0;
        rc = fetch_token(r, http, scope, &val, &exp, err);
        if (rc == 0 && !t) {
            struct token *nt = realloc(r->tokens, (r->ntokens + 1) * sizeof(*nt));
            char *s = strdup(sc);
            if (!nt || !s) {
                free(s);
                if (nt)
                    r->tokens = nt;
                free(val);
                rc = kiln_oom(err);
            } else {
                r->tokens = nt;
                t = &nt[r->ntokens++];
                t->scope = s;
                t->value = NULL;
            }
        }
        if (rc == 0) {
            if (t->value)
                explicit_bzero(t->value, strlen(t->value));
            free(t->value);
            t->value = val;
            t->expires = exp;
        }
    }
    if (rc == 0) {
        *out = kiln_xmalloc(strlen(t->value) + 8, err);
        if (*out)
            sprintf(*out, "Bearer %s", t->value);
        else
            rc = -1;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/*
 * One registry request with authentication and retries. `what` names the
 * operation in errors. When `retry` is false (streamed bodies the caller
 * must restart), transient failures are returned with *transient set.
 */
static int reg_do(struct kiln_registry *r, struct kiln_http *http, struct kiln_http_req *req,
                  const char *scope, bool retry, struct kiln_http_resp *resp, bool *transient_out,
                  struct kiln_error *err)
{
    unsigned attempt = 0, auth_tries = 0;
    bool refresh = false;
    if (transient_out)
        *transient_out = false;
    for (;;) {
        char *authz = NULL;
        if (authorization(r, http, scope, refresh, &authz, err) < 0) {
            memset(resp, 0, sizeof(*resp)); /* nothing to free on failure */
            return -1;
        }
        refresh = false;
        req->authorization = authz;
        bool transient = false;
        int rc = kiln_http_do(http, req, resp, &transient, err);
        req->authorization = NULL;
        free_secret(authz);
        if (rc < 0) {
            if (transient && retry && attempt < r->o.retries) {
                backoff(r, attempt++, NULL);
                continue;
            }
            if (transient_out)
                *transient_out = transient;
            return kiln_error_prefix(err, "registry %s", r->host);
        }
        if (resp->status == 401 && auth_tries < 2) {
            struct kiln_challenge ch;
            struct kiln_error e2 = {0};
            if (resp->n_www_auth && kiln_challenge_parse(resp->www_auth, resp->n_www_auth, &ch,
                                                          &e2) == 0) {
                pthread_mutex_lock(&r->mu);
                bool had = r->have_ch;
                kiln_challenge_free(&r->ch);
                r->ch = ch;
                r->have_ch = true;
                pthread_mutex_unlock(&r->mu);
                /* Basic with no credentials, or Basic already sent: give up. */
                if (!strcmp(ch.scheme, "basic") && (!r->have_creds || (had && auth_tries)))
                    return 0;
                refresh = true;
                auth_tries++;
                kiln_http_resp_free(resp);
                continue;
            }
            return 0;
        }
        if (retriable_status(resp->status) && attempt < r->o.retries && retry) {
            backoff(r, attempt++, resp->retry_after);
            kiln_http_resp_free(resp);
            continue;
        }
        if (retriable_status(resp->status) && transient_out)
            *transient_out = true;
        return 0;
    }
}

static char *url_of(struct kiln_registry *r, struct kiln_error *err, const char *fmt, ...)
    KILN_PRINTF(3, 4);
static char *url_of(struct kiln_registry *r, struct kiln_error *err, const char *fmt, ...)
{
    if (ensure_base(r, err) < 0)
        return NULL;
    char path[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    struct kiln_buf b = {0};
    if (kiln_buf_printf(&b, err, "%s%s", r->base, path) < 0)
        return NULL;
    return b.data;
}

static char *scope_of(const char *repo, const char *actions, const char *from)
{
    struct kiln_buf b = {0};
    if (kiln_buf_printf(&b, NULL, "repository:%s:%s", repo, actions) < 0 ||
        (from && kiln_buf_printf(&b, NULL, " repository:%s:pull", from) < 0)) {
        kiln_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static int status_error(struct kiln_registry *r, const struct kiln_http_resp *resp,
                        struct kiln_error *err, const char *fmt, ...) KILN_PRINTF(4, 5);
static int status_error(struct kiln_registry *r, const struct kiln_http_resp *resp,
                        struct kiln_error *err, const char *fmt, ...)
{
    char what[512], d[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    describe(resp, d, sizeof(d));
    const char *hint = "";
    if (resp->status == 401)
        hint = r->have_creds ? " (check the user name and password)"
                             : " (log in with 'kiln login', or pass --creds)";
    else if (resp->status == 403)
        hint = " (the credentials lack permission for this repository)";
    return kiln_fail(err, KILN_ERR_INPUT, "registry %s: %s: %s%s", r->host, what, d, hint);
}

int kiln_registry_check_login(struct kiln_registry *r, struct kiln_error *err)
{
    _cleanup_free_ char *url = url_of(r, err, "/v2/");
    if (!url)
        return -1;
    if (r->have_ch && !strcmp(r->ch.scheme, "bearer")) {
        /* A token for no particular scope proves the credentials. */
        char *authz = NULL;
        if (authorization(r, r->http, NULL, true, &authz, err) < 0)
            return -1;
        free_secret(authz);
    }
    struct kiln_http_req req = {.method = "GET", .url = url, .max_body = ERROR_BODY_MAX};
    struct kiln_http_resp resp;
    if (reg_do(r, r->http, &req, NULL, true, &resp, NULL, err) < 0)
        return -1;
    int rc = resp.status == 200 ? 0 : status_error(r, &resp, err, "login");
    kiln_http_resp_free(&resp);
    return rc;
}

/* ---- manifests ---- */

static bool is_digest_ref(const char *ref)
{
    return !strncmp(ref, "sha256:", 7);
}

static int get_manifest(struct kiln_registry *r, const char *repo, const char *ref,
                        struct kiln_buf *body, char media_type[128], char digest[KILN_DIGEST_MAX],
                        bool missing_ok, struct kiln_error *err)
{
    _cleanup_free_ char *url = url_of(r, err, "/v2/%s/manifests/%s", repo, ref);
    _cleanup_free_ char *scope = scope_of(repo, "pull", NULL);
    if (!url)
        return -1;
    const char *hdrs[] = {KILN_ACCEPT_MANIFESTS, NULL};
    struct kiln_http_req req = {.method = "GET", .url = url, .headers = hdrs,
                                .max_body = MANIFEST_MAX, .follow_redirects = true};
    struct kiln_http_resp resp;
    if (reg_do(r, r->http, &req, scope, true, &resp, NULL, err) < 0)
        return kiln_error_prefix(err, "manifest %s:%s", repo, ref);
    int rc = 0;
    if (missing_ok && resp.status == 404) {
        kiln_http_resp_free(&resp);
        return 1;
    }
    if (resp.status != 200)
        rc = status_error(r, &resp, err, "manifest %s%s%s", repo, is_digest_ref(ref) ? "@" : ":",
                          ref);
    if (rc == 0 && !resp.body.data)
        rc = kiln_fail(err, KILN_ERR_FORMAT, "registry %s: manifest %s:%s: empty body", r->host,
                       repo, ref);
    if (rc == 0)
        rc = kiln_sha256_buf(resp.body.data, resp.body.len, digest, err);
    if (rc == 0 && is_digest_ref(ref) && strcmp(ref, digest))
        rc = kiln_fail(err, KILN_ERR_FORMAT,
                       "registry %s: manifest %s@%s: the bytes received hash to %s; refusing them",
                       r->host, repo, ref, digest);
    if (rc == 0 && resp.docker_digest && kiln_digest_valid(resp.docker_digest) &&
        strcmp(resp.docker_digest, digest))
        rc = kiln_fail(err, KILN_ERR_FORMAT,
                       "registry %s: manifest %s:%s: Docker-Content-Digest %s does not match the "
                       "bytes received (%s); refusing them",
                       r->host, repo, ref, resp.docker_digest, digest);
    if (rc == 0) {
        media_type[0] = '\0';
        json_t *j = json_loads(resp.body.data, 0, NULL);
        const char *mt = json_string_value(json_object_get(j, "mediaType"));
        if (mt)
            snprintf(media_type, 128, "%s", mt);
        else if (resp.content_type) {
            snprintf(media_type, 128, "%s", resp.content_type);
            media_type[strcspn(media_type, "; ")] = '\0';
        }
        json_decref(j);
        kiln_buf_free(body);
        *body = resp.body;
        resp.body = (struct kiln_buf){0};
    }
    kiln_http_resp_free(&resp);
    return rc;
}

int kiln_registry_get_manifest(struct kiln_registry *r, const char *repo, const char *ref,
                               struct kiln_buf *body, char media_type[128],
                               char digest[KILN_DIGEST_MAX], struct kiln_error *err)
{
    return get_manifest(r, repo, ref, body, media_type, digest, false, err);
}

int kiln_registry_get_manifest_if_exists(struct kiln_registry *r, const char *repo,
                                         const char *ref, struct kiln_buf *body,
                                         char media_type[128], char digest[KILN_DIGEST_MAX],
                                         struct kiln_error *err)
{
    return get_manifest(r, repo, ref, body, media_type, digest, true, err);
}

int kiln_registry_head_manifest(struct kiln_registry *r, const char *repo, const char *ref,
                                char digest[KILN_DIGEST_MAX], char media_type[128],
                                struct kiln_error *err)
{
    _cleanup_free_ char *url = url_of(r, err, "/v2/%s/manifests/%s", repo, ref);
    _cleanup_free_ char *scope = scope_of(repo, "pull", NULL);
    if (!url)
        return -1;
    const char *hdrs[] = {KILN_ACCEPT_MANIFESTS, NULL};
    struct kiln_http_req req = {.method = "HEAD", .url = url, .headers = hdrs,
                                .follow_redirects = true};
    struct kiln_http_resp resp;
    if (reg_do(r, r->http, &req, scope, true, &resp, NULL, err) < 0)
        return kiln_error_prefix(err, "manifest %s:%s", repo, ref);
    int rc = 0;
    if (resp.status != 200)
        rc = status_error(r, &resp, err, "manifest %s%s%s", repo, is_digest_ref(ref) ? "@" : ":",
                          ref);
    else if (!resp.docker_digest || !kiln_digest_valid(resp.docker_digest))
        rc = 1; /* no usable digest: the caller reads the manifest and hashes it */
    else if (is_digest_ref(ref) && strcmp(ref, resp.docker_digest))
        rc = kiln_fail(err, KILN_ERR_FORMAT,
                       "registry %s: manifest %s@%s: the registry answers with digest %s", r->host,
                       repo, ref, resp.docker_digest);
    if (rc == 0) {
        snprintf(digest, KILN_DIGEST_MAX, "%s", resp.docker_digest);
        media_type[0] = '\0';
        if (resp.content_type) {
            snprintf(media_type, 128, "%s", resp.content_type);
            media_type[strcspn(media_type, "; ")] = '\0';
        }
    }
    kiln_http_resp_free(&resp);
    return rc;
}

int kiln_registry_delete_manifest(struct kiln_registry *r, const char *repo, const char *digest,
                                  struct kiln_error *err)
{
    _cleanup_free_ char *url = url_of(r, err, "/v2/%s/manifests/%s", repo, digest);
    _cleanup_free_ char *scope = scope_of(repo, "delete", NULL);
    if (!url)
        return -1;
    struct kiln_http_req req = {.method = "DELETE", .url = url, .max_body = ERROR_BODY_MAX};
    struct kiln_http_resp resp;
    if (reg_do(r, r->http, &req, scope, true, &resp, NULL, err) < 0)
        return kiln_error_prefix(err, "delete manifest %s@%s", repo, digest);
    int rc = 0;
    if (resp.status == 405)
        rc = kiln_fail(err, KILN_ERR_INPUT,
                       "registry %s: delete manifest %s@%s: the registry does not allow deletes "
                       "(distribution: set storage.delete.enabled; other registries delete "
                       "through their own interface)",
                       r->host, repo, digest);
    else if (resp.status != 202 && resp.status != 200 && resp.status != 204)
        rc = status_error(r, &resp, err, "delete manifest %s@%s", repo, digest);
    kiln_http_resp_free(&resp);
    return rc;
}

int kiln_registry_put_manifest(struct kiln_registry *r, const char *repo, const char *ref,
                               const struct kiln_buf *body, const char *media_type,
                               const char *digest, struct kiln_error *err)
{
    return kiln_registry_put_manifest_subject(r, repo, ref, body, media_type, digest, NULL, err);
}

int kiln_registry_put_manifest_subject(struct kiln_registry *r, const char *repo, const char *ref,
                                       const struct kiln_buf *body, const char *media_type,
                                       const char *digest, char subject[KILN_DIGEST_MAX],
                                       struct kiln_error *err)
{
    if (subject)
        subject[0] = '\0';
    _cleanup_free_ char *url = url_of(r, err, "/v2/%s/manifests/%s", repo, ref);
    _cleanup_free_ char *scope = scope_of(repo, "pull,push", NULL);
    if (!url)
        return -1;
    struct kiln_http_body b = {.data = body->data, .fd = -1, .len = body->len};
    struct kiln_http_req req = {.method = "PUT", .url = url, .body = &b,
                                .content_type = media_type, .max_body = ERROR_BODY_MAX};
    struct kiln_http_resp resp;
    if (reg_do(r, r->http, &req, scope, true, &resp, NULL, err) < 0)
        return kiln_error_prefix(err, "push manifest %s:%s", repo, ref);
    int rc = 0;
    if (resp.status != 201 && resp.status != 200)
        rc = status_error(r, &resp, err, "push manifest %s:%s", repo, ref);
    else if (resp.docker_digest && kiln_digest_valid(resp.docker_digest) &&
             strcmp(resp.docker_digest, digest))
        rc = kiln_fail(err, KILN_ERR_FORMAT,
                       "registry %s: push manifest %s:%s: the registry stored %s, not %s", r->host,
                       repo, ref, resp.docker_digest, digest);
    if (rc == 0 && subject && resp.oci_subject) {
        /* trimmed of spaces; anything but a digest is no answer */
        const char *v = resp.oci_subject + strspn(resp.oci_subject, " \t");
        char d[KILN_DIGEST_MAX];
        snprintf(d, sizeof(d), "%.*s", (int)strcspn(v, " \t\r\n"), v);
        if (kiln_digest_valid(d))
            snprintf(subject, KILN_DIGEST_MAX, "%s", d);
    }
    kiln_http_resp_free(&resp);
    return rc;
}

int kiln_registry_get_referrers(struct kiln_registry *r, const char *repo, const char *digest,
                                const char *artifact_type, struct kiln_buf *body, bool *filtered,
                                struct kiln_error *err)
{
    *filtered = false;
    _cleanup_free_ char *q = artifact_type ? kiln_url_escape(artifact_type, err) : NULL;
    if (artifact_type && !q)
        return -1;
    _cleanup_free_ char *url = url_of(r, err, "/v2/%s/referrers/%s%s%s", repo, digest,
                                      q ? "?artifactType=" : "", q ? q : "");
    _cleanup_free_ char *scope = scope_of(repo, "pull", NULL);
    if (!url)
        return -1;
    const char *hdrs[] = {"Accept: application/vnd.oci.image.index.v1+json", NULL};
    struct kiln_http_req req = {.method = "GET", .url = url, .headers = hdrs,
                                .max_body = MANIFEST_MAX, .follow_redirects = true};
    struct kiln_http_resp resp;
    if (reg_do(r, r->http, &req, scope, true, &resp, NULL, err) < 0)
        return kiln_error_prefix(err, "referrers of %s@%s", repo, digest);
    int rc = 0;
    if (resp.status == 404 || resp.status == 405 || resp.status == 400)
        rc = 1; /* no referrers API: the caller reads the fallback tag */
    else if (resp.status != 200)
        rc = status_error(r, &resp, err, "referrers of %s@%s", repo, digest);
    else if (!resp.body.data)
        rc = kiln_fail(err, KILN_ERR_FORMAT, "registry %s: referrers of %s@%s: empty body",
                       r->host, repo, digest);
    if (rc == 0) {
        *filtered = resp.oci_filters && strstr(resp.oci_filters, "artifactType");
        kiln_buf_free(body);
        *body = resp.body;
        resp.body = (struct kiln_buf){0};
    }
    kiln_http_resp_free(&resp);
    return rc;
}

/* ---- blob downloads ---- */

static int get_blob_with(struct kiln_registry *r, struct kiln_http *http, const char *repo,
                         const char *digest, uint64_t size, const char *path, const char *url,
                         const char *scope, struct kiln_error *err);

int kiln_registry_get_blob(struct kiln_registry *r, const char *repo, const char *digest,
                           uint64_t size, const char *path, struct kiln_error *err)
{
    _cleanup_free_ char *url = url_of(r, err, "/v2/%s/blobs/%s", repo, digest);
    _cleanup_free_ char *scope = scope_of(repo, "pull", NULL);
    if (!url)
        return -1;
    /* Downloads may run on several threads: each gets its own connection. */
    struct kiln_http *http;
    if (kiln_http_new(&r->o.tls, r->o.log, r->o.log_ud, &http, err) < 0)
        return -1;
    int rc = get_blob_with(r, http, repo, digest, size, path, url, scope, err);
    kiln_http_free(http);
    return rc;
}

static int get_blob_with(struct kiln_registry *r, struct kiln_http *http, const char *repo,
                         const char *digest, uint64_t size, const char *path, const char *url,
                         const char *scope, struct kiln_error *err)
{
    for (unsigned attempt = 0;; attempt++) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s: cannot create", path);
        struct kiln_fd_sink fs;
        kiln_fd_sink_init(&fs, fd, path);
        struct kiln_hash_sink hs;
        if (kiln_hash_sink_init(&hs, &fs.sink, err) < 0)
            return -1;
        /* Never more than the descriptor's size (or 64 GiB when unknown). */
        char what[160];
        snprintf(what, sizeof(what), "registry %s: blob %s@%.19s…", r->host, repo, digest);
        struct kiln_limit_sink lim;
        kiln_limit_sink_init(&lim, &hs.sink, size ? size : (64ULL << 30), what);
        struct kiln_http_req req = {.method = "GET", .url = url, .sink = &lim.sink,
                                    .max_body = ERROR_BODY_MAX, .follow_redirects = true};
        struct kiln_http_resp resp;
        bool transient = false;
        int rc = reg_do(r, http, &req, scope, false, &resp, &transient, err);
        char got[KILN_DIGEST_MAX];
        kiln_sha256_final(&hs.sha, got);
        if (rc < 0 || resp.status != 200) {
            bool again = (rc < 0 ? transient : retriable_status(resp.status)) &&
                         attempt < r->o.retries;
            if (!again && rc == 0)
                rc = status_error(r, &resp, err, "blob %s@%s", repo, digest);
            const char *ra = rc == 0 ? resp.retry_after : NULL;
            char ra_copy[32] = "";
            if (ra)
                snprintf(ra_copy, sizeof(ra_copy), "%s", ra);
            kiln_http_resp_free(&resp);
            if (again) {
                backoff(r, attempt, ra_copy[0] ? ra_copy : NULL);
                continue;
            }
            return rc < 0 ? rc : -1;
        }
        kiln_http_resp_free(&resp);
        if (strcmp(got, digest) || (size && hs.bytes != size)) {
            unlink(path);
            return kiln_fail(err, KILN_ERR_FORMAT,
                             "registry %s: blob %s@%s: received %llu bytes hashing to %s; "
                             "refusing them",
                             r->host, repo, digest, (unsigned long long)hs.bytes, got);
        }
        return 0;
    }
}

int kiln_registry_get_blob_buf(struct kiln_registry *r, const char *repo, const char *digest,
                               size_t max, struct kiln_buf *out, struct kiln_error *err)
{
    _cleanup_free_ char *url = url_of(r, err, "/v2/%s/blobs/%s", repo, digest);
    _cleanup_free_ char *scope = scope_of(repo, "pull", NULL);
    if (!url)
        return -1;
    struct kiln_http_req req = {
        .method = "GET", .url = url, .max_body = max, .follow_redirects = true};
    struct kiln_http_resp resp;
    if (reg_do(r, r->http, &req, scope, true, &resp, NULL, err) < 0)
        return kiln_error_prefix(err, "blob %s@%s", repo, digest);
    int rc = 0;
    char got[KILN_DIGEST_MAX];
    if (resp.status != 200)
        rc = status_error(r, &resp, err, "blob %s@%s", repo, digest);
    else if (kiln_sha256_buf(resp.body.data ? resp.body.data : "", resp.body.len, got, err) < 0)
        rc = -1;
    else if (strcmp(got, digest))
        rc = kiln_fail(err, KILN_ERR_FORMAT,
                       "registry %s: blob %s@%s: the bytes received hash to %s; refusing them",
                       r->host, repo, digest, got);
    if (rc == 0) {
        kiln_buf_free(out);
        *out = resp.body;
        resp.body = (struct kiln_buf){0};
        if (!out->data && kiln_buf_append(out, "", 0, err) < 0)
            rc = -1;
    }
    kiln_http_resp_free(&resp);
    return rc;
}

/* ---- blob uploads ---- */

static bool blob_exists(struct kiln_registry *r, struct kiln_http *http, const char *repo,
                        const char *digest, const char *scope)
{
    char *url = url_of(r, NULL, "/v2/%s/blobs/%s", repo, digest);
    if (!url)
        return false;
    struct kiln_http_req req = {.method = "HEAD", .url = url, .follow_redirects = true};
    struct kiln_http_resp resp;
    struct kiln_error e = {0};
    bool yes = reg_do(r, http, &req, scope, true, &resp, NULL, &e) == 0 && resp.status == 200;
    kiln_http_resp_free(&resp);
    free(url);
    return yes;
}

static char *with_digest(const char *location, const char *digest, struct kiln_error *err)
{
    struct kiln_buf b = {0};
    if (kiln_buf_printf(&b, err, "%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?",
                        digest) < 0)
        return NULL;
    return b.data;
}

static char *resolve_location(const char *req_url, const struct kiln_http_resp *resp,
                              struct kiln_error *err)
{
    if (!resp->location || !*resp->location) {
        kiln_fail(err, KILN_ERR_FORMAT, "the registry's answer has no Location header");
        return NULL;
    }
    return kiln_url_resolve(req_url, resp->location, err);
}

/* An upload session a registry opened (its Location) that an upload is to
 * go on with. */
struct upload_session {
    char *location;
    uint64_t min_chunk; /* OCI-Chunk-Min-Length, 0 if none */
};

/* POST (or a mount): *mounted (201), or an open session in *open (202). */
static int start_upload(struct kiln_registry *r, struct kiln_http *http, const char *repo,
                        const struct kiln_push_blob *b, const char *scope, bool try_mount,
                        struct upload_session *sess, bool *mounted, bool *transient,
                        struct kiln_error *err)
{
    for (;;) {
        char *url = try_mount ? url_of(r, err, "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo,
                                       b->digest, b->mount_from)
                              : url_of(r, err, "/v2/%s/blobs/uploads/", repo);
        if (!url)
            return -1;
        struct kiln_http_req req = {.method = "POST", .url = url, .max_body = ERROR_BODY_MAX};
        struct kiln_http_resp resp;
        int rc = reg_do(r, http, &req, scope, true, &resp, transient, err);
        if (rc < 0) {
            free(url);
            return -1;
        }
        if (try_mount && resp.status == 201) {
            *mounted = true;
        } else if (resp.status == 202) {
            sess->location = resolve_location(url, &resp, err);
            if (!resp.chunk_min || kiln_header_uint(resp.chunk_min, &sess->min_chunk) < 0)
                sess->min_chunk = 0; /* not a number: ignored, as an absent header */
            rc = sess->location ? 0 : -1;
        } else if (try_mount) {
            /* Any mount failure falls back to a plain upload. */
            kiln_http_resp_free(&resp);
            free(url);
            try_mount = false;
            continue;
        } else {
            *transient = retriable_status(resp.status);
            rc = status_error(r, &resp, err, "blob %s@%s: start upload", repo, b->digest);
        }
        kiln_http_resp_free(&resp);
        free(url);
        return rc;
    }
}

/* One attempt at uploading a blob: POST (or mount), then PUT or PATCH…PUT;
 * with an open session (a mount answered 202), straight to PUT or PATCH…PUT
 * on it (the session is taken). */
static int upload_once(struct kiln_registry *r, struct kiln_http *http, const char *repo,
                       const struct kiln_push_blob *b, const char *path, const char *scope,
                       bool try_mount, struct blob_progress *bp, uint64_t chunk,
                       struct upload_session *session, bool *mounted, bool *transient, long *status,
                       struct kiln_error *err)
{
    *status = 0;
    *mounted = false;
    *transient = false;
    struct upload_session s = {0};
    if (session && session->location) {
        s = *session;
        session->location = NULL;
    } else if (start_upload(r, http, repo, b, scope, try_mount, &s, mounted, transient, err) < 0)
        return -1;
    if (*mounted)
        return 0;
    char *loc = s.location;
    uint64_t min_chunk = s.min_chunk;
    int rc;
    struct kiln_http_resp resp;

    _cleanup_close_ int fd = -1;
    /* a blob from a local source is checked as it is sent: a damaged one
     * aborts its request before the last byte, so the registry never
     * completes it (and the manifest, which goes last, is never pushed) */
    struct kiln_blob_check check;
    bool checked = !b->data && b->origin;
    if (checked && kiln_blob_check_init(&check, b->digest, b->size, b->origin, err) < 0) {
        free(loc);
        return -1;
    }
    if (!b->data) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || (checked && fstat(fd, &st) < 0)) {
            int e = errno;
            free(loc);
            if (checked)
                kiln_blob_check_free(&check);
            return kiln_fail_errno(err, KILN_ERR_INTERNAL, e, "%s", path);
        }
        if (checked && kiln_blob_check_size(&check, (uint64_t)st.st_size, err) < 0) {
            free(loc);
            kiln_blob_check_free(&check);
            return -1;
        }
    }
    if (chunk && chunk < min_chunk)
        chunk = min_chunk;
    uint64_t off = 0;
    if (chunk && b->size > 0) {
        while (off < b->size) {
            uint64_t n = b->size - off < chunk ? b->size - off : chunk;
            struct kiln_http_body body = {.data = b->data ? b->data->data : NULL,
                                          .fd = fd, .offset = off, .len = n,
                                          .check = checked ? &check : NULL};
            char range[64];
            snprintf(range, sizeof(range), "Content-Range: %llu-%llu", (unsigned long long)off,
                     (unsigned long long)(off + n - 1));
            const char *hdrs[] = {range, NULL};
            struct kiln_http_req pr = {.method = "PATCH", .url = loc, .headers = hdrs,
                                       .body = &body, .content_type = "application/octet-stream",
                                       .max_body = ERROR_BODY_MAX};
            rc = reg_do(r, http, &pr, scope, false, &resp, transient, err);
            if (rc < 0) {
                free(loc);
                if (checked)
                    kiln_blob_check_free(&check);
                return -1;
            }
            if (resp.status != 202 && resp.status != 201 && resp.status != 204) {
                *transient = retriable_status(resp.status) || resp.status == 416;
                rc = status_error(r, &resp, err, "blob %s@%s: upload chunk at %llu", repo,
                                  b->digest, (unsigned long long)off);
                kiln_http_resp_free(&resp);
                free(loc);
                if (checked)
                    kiln_blob_check_free(&check);
                return rc;
            }
            char *next = resp.location ? resolve_location(loc, &resp, err) : strdup(loc);
            kiln_http_resp_free(&resp);
            free(loc);
            if (!next) {
                if (checked)
                    kiln_blob_check_free(&check);
                return -1;
            }
            loc = next;
            off += n;
        }
    }
    /* chunks sent every byte (or there are none): the check is complete */
    if (checked && off >= b->size && kiln_blob_check_end(&check, err) < 0) {
        free(loc);
        kiln_blob_check_free(&check);
        return -1;
    }
    char *put = with_digest(loc, b->digest, err);
    free(loc);
    if (!put) {
        if (checked)
            kiln_blob_check_free(&check);
        return -1;
    }
    struct kiln_http_body body = {.data = b->data ? b->data->data : NULL, .fd = fd,
                                  .offset = 0, .len = off < b->size ? b->size : 0,
                                  .check = checked ? &check : NULL};
    struct kiln_http_req pr = {.method = "PUT", .url = put, .body = body.len ? &body : NULL,
                               .content_type = "application/octet-stream",
                               .max_body = ERROR_BODY_MAX};
    if (body.len && bp) {
        pr.progress = on_bytes;
        pr.progress_ud = bp;
    }
    rc = reg_do(r, http, &pr, scope, false, &resp, transient, err);
    free(put);
    if (checked)
        kiln_blob_check_free(&check);
    if (rc < 0)
        return -1;
    if (resp.status != 201 && resp.status != 204) {
        *transient = *transient || retriable_status(resp.status);
        *status = resp.status;
        rc = status_error(r, &resp, err, "blob %s@%s: upload", repo, b->digest);
    } else if (resp.docker_digest && kiln_digest_valid(resp.docker_digest) &&
               strcmp(resp.docker_digest, b->digest)) {
        rc = kiln_fail(err, KILN_ERR_FORMAT, "registry %s: blob %s@%s: the registry stored %s",
                       r->host, repo, b->digest, resp.docker_digest);
    }
    kiln_http_resp_free(&resp);
    return rc;
}

/* POST …?mount=&from=: 201 means mounted. A 202 opens an upload session
 * instead (ECR does this whenever no manifest of the source repository
 * references the blob yet, aws/containers-roadmap#2860; Harbor too,
 * goharbor/harbor#17097): it goes into *open, for the upload to go on with,
 * rather than be left open and a second one started. Anything else leaves it
 * to an upload of its own. */
static int mount_only(struct kiln_registry *r, struct kiln_http *http, const char *repo,
                      const struct kiln_push_blob *b, const char *scope, bool *mounted,
                      struct upload_session *sess, bool *transient, struct kiln_error *err)
{
    *mounted = false;
    char *url = url_of(r, err, "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, b->digest,
                       b->mount_from);
    if (!url)
        return -1;
    struct kiln_http_req req = {.method = "POST", .url = url, .max_body = ERROR_BODY_MAX};
    struct kiln_http_resp resp;
    int rc = reg_do(r, http, &req, scope, true, &resp, transient, err);
    if (rc == 0)
        *mounted = resp.status == 201;
    if (rc == 0 && resp.status == 202 && resp.location) {
        struct kiln_error le = {0};
        sess->location = resolve_location(url, &resp, &le); /* NULL: a fresh upload then */
        if (!resp.chunk_min || kiln_header_uint(resp.chunk_min, &sess->min_chunk) < 0)
            sess->min_chunk = 0;
    }
    free(url);
    kiln_http_resp_free(&resp);
    return rc;
}

static void blob_finished(struct kiln_registry *r, size_t idx, uint64_t size)
{
    pthread_mutex_lock(&r->mu);
    if (r->blob_bytes) {
        r->prog.bytes_done += size - (r->blob_bytes[idx] < size ? r->blob_bytes[idx] : size);
        r->blob_bytes[idx] = size;
    }
    r->prog.blobs_done++;
    report(r);
    pthread_mutex_unlock(&r->mu);
}

static int push_one(struct kiln_registry *r, struct kiln_http *http, const char *repo,
                    struct kiln_push_blob *b, size_t idx, struct kiln_error *err)
{
    _cleanup_free_ char *scope = scope_of(repo, "pull,push", b->mount_from);
    if (!scope)
        return kiln_oom(err);
    if (blob_exists(r, http, repo, b->digest, scope)) {
        pthread_mutex_lock(&r->mu);
        r->stats.blobs_skipped++;
        pthread_mutex_unlock(&r->mu);
        rlog(r, KILN_LOG_INFO, "%s/%s: blob %.19s… already present", r->host, repo, b->digest);
        blob_finished(r, idx, b->size);
        return 0;
    }
    _cleanup_free_ char *fetched = NULL;
    struct upload_session session = {0};
    const char *path = b->path;
    bool try_mount = b->mount_from != NULL;
    if (try_mount && !b->data && !path) {
        /* Mount before downloading what the registry may already hold. */
        bool mounted = false, transient = false;
        struct kiln_error e2 = {0};
        if (mount_only(r, http, repo, b, scope, &mounted, &session, &transient, &e2) == 0 &&
            mounted) {
            pthread_mutex_lock(&r->mu);
            r->stats.blobs_mounted++;
            pthread_mutex_unlock(&r->mu);
            rlog(r, KILN_LOG_INFO, "%s/%s: blob %.19s… mounted from %s", r->host, repo,
                 b->digest, b->mount_from);
            blob_finished(r, idx, b->size);
            return 0;
        }
        try_mount = false;
    }
    if (!b->data && !path) {
        if (!b->fetch || b->fetch(b->fetch_ud, b, &fetched, err) < 0) {
            free(session.location);
            return b->fetch ? -1 : kiln_fail(err, KILN_ERR_INTERNAL, "blob %s has no source",
                                             b->digest);
        }
        path = fetched;
    }
    if (session.location)
        rlog(r, KILN_LOG_INFO, "%s/%s: blob %.19s…: the mount opened an upload (202); going on "
             "with it", r->host, repo, b->digest);
    struct blob_progress bp = {r, idx};
    uint64_t chunk = r->o.chunk_size;
    for (unsigned attempt = 0;; attempt++) {
        long status = 0;
        bool mounted = false, transient = false;
        pthread_mutex_lock(&r->mu);
        if (r->blob_bytes) { /* a restarted upload sends everything again */
            r->prog.bytes_done -= r->blob_bytes[idx];
            r->blob_bytes[idx] = 0;
        }
        pthread_mutex_unlock(&r->mu);
        int rc = upload_once(r, http, repo, b, path, scope, try_mount, &bp, chunk, &session,
                             &mounted, &transient, &status, err);
        free(session.location); /* taken by the first attempt, unless it failed before */
        session.location = NULL;
        if (rc == 0) {
            pthread_mutex_lock(&r->mu);
            if (mounted)
                r->stats.blobs_mounted++;
            else {
                r->stats.blobs_uploaded++;
                r->stats.bytes_uploaded += b->size;
            }
            pthread_mutex_unlock(&r->mu);
            rlog(r, KILN_LOG_INFO, "%s/%s: blob %.19s… %s (%llu bytes)", r->host, repo,
                 b->digest, mounted ? "mounted" : "uploaded", (unsigned long long)b->size);
            blob_finished(r, idx, b->size);
            return 0;
        }
        if (status == 413 && !chunk) {
            /* Too large for one request: this registry needs chunks. */
            chunk = KILN_FALLBACK_CHUNK;
            rlog(r, KILN_LOG_INFO, "%s/%s: blob %.19s…: too large for one request; uploading "
                 "in chunks of %llu bytes", r->host, repo, b->digest,
                 (unsigned long long)chunk);
            continue;
        }
        if (!transient || attempt >= r->o.retries)
            return rc;
        rlog(r, KILN_LOG_INFO, "%s/%s: blob %.19s…: %s; restarting the upload", r->host, repo,
             b->digest, err ? err->message : "failed");
        backoff(r, attempt, NULL);
    }
}

struct pool {
    struct kiln_registry *r;
    const char *repo;
    struct kiln_push_blob *blobs;
    size_t n, next;
    bool failed;
    struct kiln_error err;
    pthread_mutex_t mu;
};

static void *pool_worker(void *arg)
{
    struct pool *p = arg;
    struct kiln_http *http = NULL;
    struct kiln_error e = {0};
    if (kiln_http_new(&p->r->o.tls, p->r->o.log, p->r->o.log_ud, &http, &e) < 0) {
        pthread_mutex_lock(&p->mu);
        if (!p->failed) {
            p->failed = true;
            p->err = e;
        }
        pthread_mutex_unlock(&p->mu);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&p->mu);
        if (p->failed || p->next >= p->n) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        if (push_one(p->r, http, p->repo, &p->blobs[i], i, &e) < 0) {
            pthread_mutex_lock(&p->mu);
            if (!p->failed) {
                p->failed = true;
                p->err = e;
            }
            pthread_mutex_unlock(&p->mu);
            break;
        }
    }
    kiln_http_free(http);
    return NULL;
}

static int push_blobs(struct kiln_registry *r, const char *repo, struct kiln_push_blob *blobs,
                      size_t n, struct kiln_error *err);

int kiln_registry_push_blobs(struct kiln_registry *r, const char *repo, struct kiln_push_blob *blobs,
                             size_t n, struct kiln_error *err)
{
    if (ensure_base(r, err) < 0)
        return -1;
    uint64_t *bb = calloc(n ? n : 1, sizeof(*bb));
    if (!bb)
        return kiln_oom(err);
    pthread_mutex_lock(&r->mu);
    r->blob_bytes = bb;
    r->prog = (struct kiln_progress){.registry = r->host, .repository = repo,
                                     .blobs_total = (unsigned)n};
    for (size_t i = 0; i < n; i++)
        r->prog.bytes_total += blobs[i].size;
    report(r);
    pthread_mutex_unlock(&r->mu);
    int rc = push_blobs(r, repo, blobs, n, err);
    pthread_mutex_lock(&r->mu);
    r->prog.done = rc == 0;
    if (rc == 0)
        report(r);
    r->blob_bytes = NULL;
    pthread_mutex_unlock(&r->mu);
    free(bb);
    return rc;
}

static int push_blobs(struct kiln_registry *r, const char *repo, struct kiln_push_blob *blobs,
                      size_t n, struct kiln_error *err)
{
    unsigned jobs = r->o.jobs ? r->o.jobs : 4;
    if (jobs > n)
        jobs = (unsigned)n;
    if (jobs <= 1) {
        for (size_t i = 0; i < n; i++)
            if (push_one(r, r->http, repo, &blobs[i], i, err) < 0)
                return -1;
        return 0;
    }
    struct pool p = {.r = r, .repo = repo, .blobs = blobs, .n = n};
    pthread_mutex_init(&p.mu, NULL);
    pthread_t th[64];
    unsigned started = 0;
    for (; started < jobs && started < 64; started++)
        if (pthread_create(&th[started], NULL, pool_worker, &p) != 0)
            break;
    if (started == 0)
        pool_worker(&p);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
    if (p.failed) {
        if (err)
            *err = p.err;
        return -1;
    }
    return 0;
}

/* ---- tags ---- */

int kiln_registry_tags(struct kiln_registry *r, const char *repo, struct kiln_strlist *out,
                       struct kiln_error *err)
{
    char *url = url_of(r, err, "/v2/%s/tags/list?n=100", repo);
    _cleanup_free_ char *scope = scope_of(repo, "pull", NULL);
    if (!url)
        return -1;
    int rc = 0;
    for (int page = 0; url && rc == 0; page++) {
        if (page > 100000) {
            rc = kiln_fail(err, KILN_ERR_FORMAT, "registry %s: tags of %s: too many pages",
                           r->host, repo);
            break;
        }
        struct kiln_http_req req = {
            .method = "GET", .url = url, .max_body = 16 << 20, .follow_redirects = true};
        struct kiln_http_resp resp;
        if (reg_do(r, r->http, &req, scope, true, &resp, NULL, err) < 0) {
            rc = -1;
            break;
        }
        if (resp.status != 200) {
            rc = status_error(r, &resp, err, "tags of %s", repo);
            kiln_http_resp_free(&resp);
            break;
        }
        json_t *j = json_loads(resp.body.data ? resp.body.data : "", 0, NULL);
        json_t *tags = json_object_get(j, "tags");
        if (!j || (!json_is_array(tags) && !json_is_null(tags) && tags))
            rc = kiln_fail(err, KILN_ERR_FORMAT, "registry %s: tags of %s: malformed reply",
                           r->host, repo);
        size_t i;
        json_t *v;
        json_array_foreach(tags, i, v)
        {
            if (rc == 0 && json_string_value(v))
                rc = kiln_strlist_push(out, json_string_value(v), err);
        }
        json_decref(j);
        char *next = NULL;
        if (rc == 0 && kiln_link_next(resp.link, &next, err) < 0)
            rc = kiln_error_prefix(err, "registry %s: tags of %s", r->host, repo);
        char *abs = next ? kiln_url_resolve(url, next, err) : NULL;
        if (next && !abs)
            rc = -1;
        if (abs && !strcmp(abs, url)) {
            /* `<>` or a link to the same page would loop until the page limit */
            rc = kiln_fail(err, KILN_ERR_FORMAT,
                           "registry %s: tags of %s: the next page is the same page", r->host,
                           repo);
            free(abs);
            abs = NULL;
        }
        free(next);
        kiln_http_resp_free(&resp);
        free(url);
        url = abs;
    }
    free(url);
    return rc;
}

/* ---- pull mirrors ---- */

/* "https://host:port/", "host:port" -> host:port; *insecure for http://. */
static int mirror_host(const char *in, struct kiln_mirror *m, const char *from,
                       struct kiln_error *err)
{
    const char *p = in;
    m->insecure = false;
    if (!strncasecmp(p, "https://", 8))
        p += 8;
    else if (!strncasecmp(p, "http://", 7)) {
        p += 7;
        m->insecure = true;
    }
    size_t l = strcspn(p, "/");
    if (!l || l >= sizeof(m->host) || (p[l] && strcmp(p + l, "/")))
        return kiln_fail(err, KILN_ERR_USAGE,
                         "%s: mirror '%s': expected a host[:port] or an http[s]://host[:port] "
                         "URL (a mirror serves /v2/ at its root)",
                         from, in);
    for (size_t i = 0; i < l; i++)
        m->host[i] = (char)tolower((unsigned char)p[i]);
    m->host[l] = '\0';
    return 0;
}

static int add_mirror(struct kiln_mirror **v, size_t *n, const struct kiln_mirror *m,
                      struct kiln_error *err)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i].host, m->host))
            return 0;
    struct kiln_mirror *nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv)
        return kiln_oom(err);
    nv[(*n)++] = *m;
    *v = nv;
    return 0;
}

int kiln_registry_mirrors(const struct kiln_registry_opts *o, const char *domain,
                          struct kiln_mirror **out, size_t *n, struct kiln_error *err)
{
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < o->nmirrors; i++) {
        const char *spec = o->mirrors[i], *eq = strchr(spec, '=');
        char reg[256] = KILN_HUB_DOMAIN;
        const char *url = spec;
        if (eq) {
            size_t l = (size_t)(eq - spec);
            if (!l || l >= sizeof(reg))
                return kiln_fail(err, KILN_ERR_USAGE,
                                 "registry mirror '%s': expected [REGISTRY=]MIRROR", spec);
            for (size_t k = 0; k < l; k++)
                reg[k] = (char)tolower((unsigned char)spec[k]);
            reg[l] = '\0';
            url = eq + 1;
        }
        struct kiln_mirror m;
        if (mirror_host(url, &m, "registry mirror", err) < 0) {
            free(*out);
            *out = NULL;
            return -1;
        }
        if (!strcmp(kiln_hub_canonical(reg), domain) && add_mirror(out, n, &m, err) < 0)
            return -1;
    }
    if (strcmp(domain, KILN_HUB_DOMAIN) || (o->daemon_json && !*o->daemon_json))
        return 0;
    /* docker's own mirrors, for Docker Hub only (as dockerd uses them) */
    const char *path = o->daemon_json ? o->daemon_json : "/etc/docker/daemon.json";
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        if (access(path, F_OK) == 0 && o->log)
            kiln_log(o->log, o->log_ud, KILN_LOG_WARNING, "%s: not JSON (%s); its registry-mirrors "
                     "are not used", path, je.text);
        return 0;
    }
    size_t i;
    json_t *x;
    int rc = 0;
    json_array_foreach(json_object_get(j, "registry-mirrors"), i, x)
    {
        struct kiln_mirror m;
        struct kiln_error e = {0};
        if (!json_is_string(x) || mirror_host(json_string_value(x), &m, path, &e) < 0) {
            if (o->log)
                kiln_log(o->log, o->log_ud, KILN_LOG_WARNING, "%s: registry-mirrors[%zu]: %s",
                         path, i, e.code ? e.message : "not a string");
            continue;
        }
        if ((rc = add_mirror(out, n, &m, err)) < 0)
            break;
    }
    json_decref(j);
    return rc;
}
