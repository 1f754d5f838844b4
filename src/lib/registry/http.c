/*
 * A thin layer over libcurl. Redirects are followed here, not by curl, so
 * that Authorization is never sent to another host. Logging names the
 * method, URL and status only: header values (credentials, tokens) are never
 * logged.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"

struct kiln_http {
    CURL *curl;
    const struct kiln_tls *tls;
    kiln_log_fn log;
    void *log_ud;
    bool tls_on_plain;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int kiln_http_new(const struct kiln_tls *tls, kiln_log_fn log, void *log_ud, struct kiln_http **out,
                  struct kiln_error *err)
{
    pthread_once(&curl_once, curl_init_once);
    struct kiln_http *h = calloc(1, sizeof(*h));
    if (!h)
        return kiln_oom(err);
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return kiln_oom(err);
    }
    h->tls = tls;
    h->log = log;
    h->log_ud = log_ud;
    *out = h;
    return 0;
}

void kiln_http_free(struct kiln_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    free(h);
}

void kiln_http_resp_free(struct kiln_http_resp *r)
{
    if (!r)
        return;
    kiln_buf_free(&r->body);
    free(r->location);
    free(r->content_type);
    free(r->docker_digest);
    free(r->oci_subject);
    free(r->oci_filters);
    free(r->retry_after);
    free(r->link);
    free(r->range);
    free(r->chunk_min);
    for (size_t i = 0; i < r->n_www_auth; i++)
        free(r->www_auth[i]);
    memset(r, 0, sizeof(*r));
}

bool kiln_http_last_was_tls_on_plain(const struct kiln_http *h)
{
    return h->tls_on_plain;
}

char *kiln_url_resolve(const char *base, const char *ref, struct kiln_error *err)
{
    CURLU *u = curl_url();
    char *out = NULL;
    if (!u) {
        kiln_oom(err);
        return NULL;
    }
    if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
        kiln_fail(err, KILN_ERR_FORMAT, "cannot resolve URL '%s' against '%s'", ref, base);
        out = NULL;
    }
    curl_url_cleanup(u);
    if (!out)
        return NULL;
    char *r = kiln_strdup(out, err);
    curl_free(out);
    return r;
}

char *kiln_url_host(const char *url, struct kiln_error *err)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *r = NULL;
    if (!u) {
        kiln_oom(err);
        return NULL;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        struct kiln_buf b = {0};
        if (kiln_buf_printf(&b, err, "%s%s%s", host, port ? ":" : "", port ? port : "") == 0) {
            for (char *p = b.data; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
            r = b.data;
        }
    } else {
        kiln_fail(err, KILN_ERR_FORMAT, "invalid URL '%s'", url);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return r;
}

char *kiln_url_escape(const char *s, struct kiln_error *err)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e) {
        kiln_oom(err);
        return NULL;
    }
    char *r = kiln_strdup(e, err);
    curl_free(e);
    return r;
}

/* ---- TLS: extra CAs on top of the system store ---- */

struct ssl_ctx_arg {
    const struct kiln_tls *tls;
    const char *host; /* host[:port] for certs.d */
    bool client_cert; /* a client certificate from certs.d was loaded */
    char why[512];    /* what went wrong with one, for the error */
};

/* A client certificate for mutual TLS, as docker and containers take it
 * from certs.d/HOST:PORT: NAME.cert with its key in NAME.key (the first such
 * pair, in name order). Returns 1 when one was loaded, 0 when there is none,
 * -1 (a->why set) when it cannot be used. */
static int add_client_cert(SSL_CTX *ctx, const char *dir, struct ssl_ctx_arg *a)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        size_t l = strlen(nm);
        if (rc == 0 && l > 5 && !strcmp(nm + l - 5, ".cert")) {
            char cert[4352], key[4352];
            snprintf(cert, sizeof(cert), "%s/%s", dir, nm);
            snprintf(key, sizeof(key), "%s/%.*s.key", dir, (int)(l - 5), nm);
            if (access(key, R_OK) < 0) {
                snprintf(a->why, sizeof(a->why), "%s: no key beside it (%s): %s", cert, key,
                         strerror(errno));
                rc = -1;
            } else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
                snprintf(a->why, sizeof(a->why), "%s: not a PEM certificate", cert);
                rc = -1;
            } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
                       SSL_CTX_check_private_key(ctx) != 1) {
                snprintf(a->why, sizeof(a->why),
                         "%s: not the PEM private key of %s (or it is encrypted)", key, cert);
                rc = -1;
            } else
                rc = 1;
            ERR_clear_error();
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static int add_certs_d(SSL_CTX *ctx, X509_STORE *store, const char *root,
                       struct ssl_ctx_arg *a)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, a->host);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".crt")) {
            char f[4352];
            snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
            X509_STORE_load_locations(store, f, NULL);
        }
    }
    closedir(d);
    if (a->client_cert)
        return 0; /* an earlier directory's */
    int r = add_client_cert(ctx, path, a);
    if (r > 0)
        a->client_cert = true;
    return r < 0 ? -1 : 0;
}

/* The system CA bundle (libcurl's default CAINFO), parsed once per process
 * and copied into each new TLS context: parsing its ~150 certificates takes
 * some 200,000 allocations and milliseconds of CPU, which every handle (each
 * registry, each upload worker) otherwise paid again. Only the bundle is
 * cached; a CA directory (CAPATH) is looked up lazily by OpenSSL anyway. A
 * failed load is not cached, so the next context tries again. */
static pthread_mutex_t ca_mu = PTHREAD_MUTEX_INITIALIZER;
static X509_STORE *ca_cache; /* never changed once set */
static const char *ca_bundle; /* libcurl's default CAINFO, or NULL */

static pthread_once_t ca_bundle_once = PTHREAD_ONCE_INIT;
static void ca_bundle_init(void)
{
    CURL *c = curl_easy_init();
    char *p = NULL;
    if (c && curl_easy_getinfo(c, CURLINFO_CAINFO, &p) == CURLE_OK && p && *p)
        ca_bundle = strdup(p);
    curl_easy_cleanup(c);
}

static int add_system_cas(X509_STORE *dst)
{
    pthread_mutex_lock(&ca_mu);
    if (!ca_cache) {
        X509_STORE *s = X509_STORE_new();
        if (s && X509_STORE_load_file(s, ca_bundle) == 1)
            ca_cache = s;
        else
            X509_STORE_free(s);
    }
    X509_STORE *c = ca_cache;
    pthread_mutex_unlock(&ca_mu);
    if (!c)
        return -1;
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(c);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (x && X509_STORE_add_cert(dst, x) != 1)
            return -1;
    }
    return 0;
}

static CURLcode ssl_ctx_cb(CURL *curl, void *ssl_ctx, void *userdata)
{
    (void)curl;
    struct ssl_ctx_arg *a = userdata;
    X509_STORE *store = SSL_CTX_get_cert_store((SSL_CTX *)ssl_ctx);
    if (ca_bundle && add_system_cas(store) < 0)
        return CURLE_SSL_CACERT_BADFILE;
    if (a->tls->ca_file && X509_STORE_load_locations(store, a->tls->ca_file, NULL) != 1)
        return CURLE_SSL_CACERT_BADFILE;
    const char *dirs = a->tls->cert_dir ? a->tls->cert_dir
                                        : "/etc/docker/certs.d:/etc/containers/certs.d";
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", dirs);
    for (char *save = NULL, *tok = strtok_r(buf, ":", &save); tok;
         tok = strtok_r(NULL, ":", &save))
        if (add_certs_d((SSL_CTX *)ssl_ctx, store, tok, a) < 0)
            return CURLE_SSL_CERTPROBLEM;
    return CURLE_OK;
}

/* ---- request ---- */

struct io {
    const struct kiln_http_req *req;
    struct kiln_http_resp *resp;
    uint64_t sent;
    struct kiln_error *err;
    bool sink_failed;
    bool to_sink;
    bool check_failed; /* the body failed its kiln_blob_check; err is set */
};

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct io *io = ud;
    const struct kiln_http_body *b = io->req->body;
    size_t want = size * nmemb;
    uint64_t left = b->len - io->sent;
    if (want > left)
        want = (size_t)left;
    if (!want)
        return 0;
    if (b->fd >= 0) {
        ssize_t r = pread(b->fd, buf, want, (off_t)(b->offset + io->sent));
        if (r == 0 && b->check) {
            kiln_blob_check_end(b->check, io->err); /* the file shrank */
            io->check_failed = true;
        }
        if (r <= 0)
            return CURL_READFUNC_ABORT;
        want = (size_t)r;
        if (b->check && kiln_blob_check_at(b->check, b->offset + io->sent, buf, want, io->err) < 0) {
            io->check_failed = true;
            return CURL_READFUNC_ABORT;
        }
    } else {
        memcpy(buf, (const char *)b->data + b->offset + io->sent, want);
    }
    io->sent += want;
    return want;
}

static int seek_cb(void *ud, curl_off_t off, int origin)
{
    struct io *io = ud;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > io->req->body->len)
        return CURL_SEEKFUNC_CANTSEEK;
    io->sent = (uint64_t)off;
    return CURL_SEEKFUNC_OK;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    struct io *io = ud;
    size_t n = size * nmemb;
    long status = 0;
    (void)status;
    if (io->to_sink) {
        if (kiln_sink_write(io->req->sink, data, n, io->err) < 0) {
            io->sink_failed = true;
            return 0;
        }
        return n;
    }
    struct kiln_buf *b = &io->resp->body;
    b->max = io->req->max_body ? io->req->max_body : 1 << 20;
    if (kiln_buf_append(b, data, n, io->err) < 0) {
        io->sink_failed = true;
        return 0;
    }
    return n;
}

static int xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    struct io *io = ud;
    if (kiln_is_interrupted())
        return 1; /* aborts the transfer */
    if (io->req->progress)
        io->req->progress(io->req->progress_ud, (uint64_t)(io->req->body ? ulnow : dlnow));
    return 0;
}

static char *trim_dup(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, v, n);
        r[n] = '\0';
    }
    return r;
}

/* ---- header values ---- */

int kiln_header_uint(const char *v, uint64_t *out)
{
    if (!v)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v < '0' || *v > '9')
        return -1;
    uint64_t n = 0;
    for (; *v >= '0' && *v <= '9'; v++) {
        unsigned d = (unsigned)(*v - '0');
        n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
    }
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v)
        return -1;
    *out = n;
    return 0;
}

static bool link_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 tchar */
static bool link_tchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Feeds one character of a rel value to a matcher of the relation type
 * "next" among whitespace-separated types (case-insensitive). state: index
 * in "next" while matching, -1 after a mismatch in the current type. */
static void rel_feed(int *state, bool *found, char c)
{
    if (c == ' ' || c == '\t' || c == '\0') {
        if (*state == 4)
            *found = true;
        *state = 0;
    } else if (*state >= 0 && *state < 4 && (c | 0x20) == "next"[*state]) {
        (*state)++;
    } else {
        *state = -1;
    }
}

int kiln_link_next(const char *link, char **next, struct kiln_error *err)
{
    *next = NULL;
    if (!link)
        return 0;
    const char *p = link;
    for (;;) {
        while (link_ows(*p) || *p == ',')
            p++;
        if (!*p)
            return 0;
        if (*p != '<')
            return kiln_fail(err, KILN_ERR_FORMAT, "malformed Link header: expected '<'");
        const char *uri = ++p;
        while (*p && *p != '>') {
            if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '<')
                return kiln_fail(err, KILN_ERR_FORMAT,
                                 "malformed Link header: bad character in a target");
            p++;
        }
        if (*p != '>')
            return kiln_fail(err, KILN_ERR_FORMAT, "malformed Link header: unterminated target");
        size_t uri_len = (size_t)(p - uri);
        p++;
        bool seen_rel = false, is_next = false;
        for (;;) {
            while (link_ows(*p))
                p++;
            if (!*p || *p == ',')
                break;
            if (*p != ';')
                return kiln_fail(err, KILN_ERR_FORMAT, "malformed Link header: expected ';'");
            p++;
            while (link_ows(*p))
                p++;
            const char *name = p;
            while (link_tchar(*p))
                p++;
            size_t name_len = (size_t)(p - name);
            if (!name_len)
                return kiln_fail(err, KILN_ERR_FORMAT,
                                 "malformed Link header: empty parameter name");
            /* only the first rel counts (RFC 8288, 3.3) */
            bool rel = name_len == 3 && !strncasecmp(name, "rel", 3) && !seen_rel;
            if (name_len == 3 && !strncasecmp(name, "rel", 3))
                seen_rel = true;
            while (link_ows(*p))
                p++;
            if (*p != '=')
                continue; /* a parameter without a value */
            p++;
            while (link_ows(*p))
                p++;
            int state = 0;
            bool found = false;
            if (*p == '"') {
                for (p++; *p != '"'; p++) {
                    if (*p == '\\' && p[1])
                        p++;
                    if (!*p)
                        return kiln_fail(err, KILN_ERR_FORMAT,
                                         "malformed Link header: unterminated quoted string");
                    if (rel)
                        rel_feed(&state, &found, *p);
                }
                p++;
            } else {
                const char *val = p;
                while (link_tchar(*p)) {
                    if (rel)
                        rel_feed(&state, &found, *p);
                    p++;
                }
                if (p == val)
                    return kiln_fail(err, KILN_ERR_FORMAT,
                                     "malformed Link header: empty parameter value");
            }
            if (rel) {
                rel_feed(&state, &found, '\0');
                is_next = found;
            }
        }
        if (is_next) {
            *next = strndup(uri, uri_len);
            return *next ? 0 : kiln_oom(err);
        }
    }
}

long kiln_http_parse_header(struct kiln_http_resp *r, const char *data, size_t n)
{
    char line[8192];
    size_t l = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
    memcpy(line, data, l);
    line[l] = '\0';
    if (!strncmp(line, "HTTP/", 5)) {
        struct kiln_buf keep = r->body;
        r->body = (struct kiln_buf){0};
        kiln_http_resp_free(r);
        r->body = keep;
        long code = 0;
        const char *sp = strchr(line, ' ');
        if (sp) {
            code = strtol(sp + 1, NULL, 10);
            if (code < 0 || code > 999)
                code = 0;
        }
        r->status = code;
        return code;
    }
    char *colon = strchr(line, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    const char *v = colon + 1;
    char **slot = NULL;
    if (!strcasecmp(line, "Location"))
        slot = &r->location;
    else if (!strcasecmp(line, "Content-Type"))
        slot = &r->content_type;
    else if (!strcasecmp(line, "Docker-Content-Digest"))
        slot = &r->docker_digest;
    else if (!strcasecmp(line, "Retry-After"))
        slot = &r->retry_after;
    else if (!strcasecmp(line, "Link"))
        slot = &r->link;
    else if (!strcasecmp(line, "Range"))
        slot = &r->range;
    else if (!strcasecmp(line, "OCI-Chunk-Min-Length"))
        slot = &r->chunk_min;
    else if (!strcasecmp(line, "OCI-Subject"))
        slot = &r->oci_subject;
    else if (!strcasecmp(line, "OCI-Filters-Applied"))
        slot = &r->oci_filters;
    else if (!strcasecmp(line, "Content-Length")) {
        uint64_t cl;
        char *t = trim_dup(v);
        r->content_length = t && kiln_header_uint(t, &cl) == 0 ? cl : 0;
        free(t);
    } else if (!strcasecmp(line, "WWW-Authenticate") && r->n_www_auth < ARRAY_SIZE(r->www_auth))
        slot = &r->www_auth[r->n_www_auth++];
    if (slot == &r->link && *slot) {
        /* several Link headers are one list (RFC 9110, 5.3) */
        char *more = trim_dup(v), *joined = NULL;
        if (more && asprintf(&joined, "%s, %s", *slot, more) < 0)
            joined = NULL;
        free(more);
        free(*slot);
        *slot = joined;
    } else if (slot) {
        free(*slot);
        *slot = trim_dup(v);
    }
    return -1;
}

/* Collects the headers kiln needs; resets at each new response (redirects,
 * 100 Continue). */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    struct io *io = ud;
    size_t n = size * nmemb;
    long code = kiln_http_parse_header(io->resp, data, n);
    /* Bodies of non-2xx answers go to the buffer, never to the sink. */
    if (code >= 0)
        io->to_sink = io->req->sink && code >= 200 && code < 300;
    return n;
}

static void log_line(struct kiln_http *h, const char *fmt, ...) KILN_PRINTF(2, 3);
static void log_line(struct kiln_http *h, const char *fmt, ...)
{
    if (!h->log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    h->log(h->log_ud, KILN_LOG_DEBUG, msg);
}

/* URLs kiln logs never carry secrets: registries' upload URLs may carry
 * opaque state but no credentials; the query is cut to keep logs short. */
static void log_url(char *out, size_t n, const char *url)
{
    snprintf(out, n, "%s", url);
    char *q = strchr(out, '?');
    if (q && strlen(q) > 1)
        snprintf(q, n - (size_t)(q - out), "?…");
}

static int do_once(struct kiln_http *h, const struct kiln_http_req *req, const char *url,
                   bool send_auth, struct kiln_http_resp *resp, bool *transient,
                   struct kiln_error *err)
{
    CURL *c = h->curl;
    curl_easy_reset(c);
    struct io io = {.req = req, .resp = resp, .err = err};
    char *host = kiln_url_host(url, err);
    if (!host)
        return -1;
    struct ssl_ctx_arg sa = {.tls = h->tls, .host = host};
    struct curl_slist *hdrs = NULL;
    char authz[8192];
    char ct[256];
    if (send_auth && req->authorization)
        snprintf(authz, sizeof(authz), "Authorization: %s", req->authorization);
    if (req->content_type)
        snprintf(ct, sizeof(ct), "Content-Type: %s", req->content_type);
    /* a header that could not be added must fail the request, not be dropped
     * (curl_slist_append returns NULL and keeps the list) */
    bool hdr_oom = false;
    for (size_t i = 0;; i++) {
        const char *v = req->headers && req->headers[i] ? req->headers[i] : NULL;
        if (!v)
            break;
        struct curl_slist *n = curl_slist_append(hdrs, v);
        hdr_oom = hdr_oom || !n;
        hdrs = n ? n : hdrs;
    }
    const char *more[] = {send_auth && req->authorization ? authz : NULL,
                          req->content_type ? ct : NULL, "User-Agent: kiln/" KILN_VERSION_STRING};
    for (size_t i = 0; i < ARRAY_SIZE(more); i++) {
        if (!more[i])
            continue;
        struct curl_slist *n = curl_slist_append(hdrs, more[i]);
        hdr_oom = hdr_oom || !n;
        hdrs = n ? n : hdrs;
    }
    if (hdr_oom) {
        curl_slist_free_all(hdrs);
        memset(authz, 0, sizeof(authz));
        free(host);
        return kiln_oom(err);
    }

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    /* A stalled transfer (under 1 byte/s for stall_seconds) is a transient
     * failure. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     h->tls->stall_seconds ? (long)h->tls->stall_seconds : 60L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &io);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &io);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->tls->verify ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->tls->verify ? 2L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
    curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, &sa);
    /* the default bundle comes from the cache (ssl_ctx_cb), not from libcurl */
    pthread_once(&ca_bundle_once, ca_bundle_init);
    if (ca_bundle)
        curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &io);
    if (!strcmp(req->method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(req->method, "GET"))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(c, CURLOPT_READDATA, &io);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_cb);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, &io);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body->len);
    } else if (!strcmp(req->method, "POST") || !strcmp(req->method, "PUT") ||
               !strcmp(req->method, "PATCH")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    char lu[512];
    log_url(lu, sizeof(lu), url);
    h->errbuf[0] = '\0';
    h->tls_on_plain = false;
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    memset(authz, 0, sizeof(authz));
    int rc = 0;
    if (kiln_is_interrupted()) {
        rc = kiln_check_interrupt(err);
        *transient = false;
    } else if (io.sink_failed || io.check_failed) {
        rc = -1; /* err already set by the sink or the check */
        *transient = false;
    } else if (cc != CURLE_OK && sa.why[0]) { /* our client certificate cannot be used */
        rc = kiln_fail(err, KILN_ERR_INPUT, "%s %s: client certificate: %s", req->method, lu,
                       sa.why);
        *transient = false;
    } else if (cc != CURLE_OK) {
        const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
        /* the server asks for a client certificate (TLS 1.3 says so; 1.2 only fails) */
        bool wants_cert = strstr(why, "certificate required") || strstr(why, "bad certificate") ||
                          (!sa.client_cert && strstr(why, "handshake failure"));
        *transient = cc != CURLE_SSL_CACERT_BADFILE && cc != CURLE_PEER_FAILED_VERIFICATION &&
                     cc != CURLE_COULDNT_RESOLVE_HOST && cc != CURLE_UNSUPPORTED_PROTOCOL &&
                     cc != CURLE_URL_MALFORMAT && cc != CURLE_SSL_CONNECT_ERROR &&
                     cc != CURLE_ABORTED_BY_CALLBACK && !wants_cert;
        h->tls_on_plain = cc == CURLE_SSL_CONNECT_ERROR &&
                          (strstr(why, "wrong version number") || strstr(why, "packet length"));
        char certs[600];
        snprintf(certs, sizeof(certs),
                 sa.client_cert ? " (the registry refused the client certificate from certs.d)"
                                : " (the registry asks for a client certificate: put NAME.cert "
                                  "and NAME.key into certs.d/%s, e.g. /etc/docker/certs.d/%s, or "
                                  "pass --cert-dir)",
                 host, host);
        const char *hint = cc == CURLE_PEER_FAILED_VERIFICATION
                               ? " (the server's certificate is not trusted: pass --ca-file, put "
                                 "the CA in certs.d, or use --tls-verify=false)"
                           : cc == CURLE_COULDNT_RESOLVE_HOST ? " (unknown host)"
                           : wants_cert                       ? certs
                                                              : "";
        rc = kiln_fail(err, KILN_ERR_INPUT, "%s %s: %s%s", req->method, lu, why, hint);
        log_line(h, "%s %s -> error: %s", req->method, lu, why);
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
        log_line(h, "%s %s -> %ld", req->method, lu, resp->status);
    }
    free(host);
    return rc;
}

int kiln_http_do(struct kiln_http *h, const struct kiln_http_req *req, struct kiln_http_resp *resp,
                 bool *transient, struct kiln_error *err)
{
    *transient = false;
    memset(resp, 0, sizeof(*resp));
    char *url = kiln_strdup(req->url, err);
    char *first_host = kiln_url_host(req->url, err);
    if (!url || !first_host) {
        free(url);
        free(first_host);
        return -1;
    }
    bool send_auth = true;
    int rc = -1;
    for (int hop = 0; hop < 10; hop++) {
        kiln_http_resp_free(resp);
        rc = do_once(h, req, url, send_auth, resp, transient, err);
        if (rc < 0)
            break;
        bool redirect = resp->status == 301 || resp->status == 302 || resp->status == 303 ||
                        resp->status == 307 || resp->status == 308;
        if (!redirect || !req->follow_redirects || !resp->location)
            break;
        char *next = kiln_url_resolve(url, resp->location, err);
        if (!next) {
            rc = -1;
            break;
        }
        char *nh = kiln_url_host(next, err);
        if (!nh) {
            free(next);
            rc = -1;
            break;
        }
        if (strcmp(nh, first_host))
            send_auth = false; /* never hand credentials to another host */
        free(nh);
        free(url);
        url = next;
        if (hop == 9) {
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s %s: too many redirects", req->method,
                           req->url);
            break;
        }
    }
    free(url);
    free(first_host);
    /* a failed request leaves nothing in resp (headers read before the
     * failure would otherwise leak: callers free resp only on success) */
    if (rc < 0)
        kiln_http_resp_free(resp);
    return rc;
}
