/* HTTP for the registry client: one libcurl handle per connection user. */
#ifndef KILN_REGISTRY_HTTP_H
#define KILN_REGISTRY_HTTP_H

#include "../base/sink.h"

struct kiln_tls {
    bool verify;          /* verify certificates and host names */
    char *ca_file;        /* extra CA bundle (PEM), added to the system CAs */
    char *cert_dir;       /* docker certs.d layout root(s), ':'-separated */
    /* a transfer under 1 byte/s for this long fails (a transient error); 0: 60 */
    unsigned stall_seconds;
};

struct kiln_http_body {
    const void *data; /* in-memory body, or */
    int fd;           /* a file range (fd >= 0) */
    uint64_t offset, len;
    /* file bodies: checked as they are read (offset is the blob's); a
     * mismatch aborts the request before its last bytes are sent */
    struct kiln_blob_check *check;
};

struct kiln_http_resp {
    long status;
    struct kiln_buf body; /* small bodies (documents, errors) */
    char *location;       /* Location header, as sent */
    char *content_type;
    char *docker_digest;  /* Docker-Content-Digest */
    char *retry_after;
    char *link;           /* Link header */
    char *range;          /* Range header */
    char *chunk_min;      /* OCI-Chunk-Min-Length */
    char *oci_subject;    /* OCI-Subject (a manifest PUT the referrers API indexed) */
    char *oci_filters;    /* OCI-Filters-Applied (a filtered referrers list) */
    char *www_auth[4];    /* WWW-Authenticate headers */
    size_t n_www_auth;
    uint64_t content_length;
};

struct kiln_http;
int kiln_http_new(const struct kiln_tls *tls, kiln_log_fn log, void *log_ud, struct kiln_http **out,
                  struct kiln_error *err);
void kiln_http_free(struct kiln_http *h);

struct kiln_http_req {
    const char *method;
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" */
    const char *authorization;  /* full header value, never logged */
    const struct kiln_http_body *body;
    const char *content_type;
    struct kiln_sink *sink; /* receives a 2xx body instead of resp.body */
    size_t max_body;        /* cap for resp.body */
    bool follow_redirects;  /* GET/HEAD: follow, dropping Authorization across hosts */
    /* bytes sent (uploads) or received (downloads) so far */
    void (*progress)(void *ud, uint64_t bytes);
    void *progress_ud;
};

/* Performs one request. A transport failure returns -1 with err set, resp
 * empty (nothing to free) and *transient telling whether a retry may help. */
int kiln_http_do(struct kiln_http *h, const struct kiln_http_req *req, struct kiln_http_resp *resp,
                 bool *transient, struct kiln_error *err);
void kiln_http_resp_free(struct kiln_http_resp *r);

/* Resolves a (possibly relative) reference against a base URL. */
char *kiln_url_resolve(const char *base, const char *ref, struct kiln_error *err);
/* "host[:port]" of a URL, lowercased. */
char *kiln_url_host(const char *url, struct kiln_error *err);
/* Percent-encodes a query value. */
char *kiln_url_escape(const char *s, struct kiln_error *err);
/* The target of the first link with relation type "next" in a Link header
 * value (RFC 8288: `<url>; rel="next"`, rel lists, unquoted tokens, several
 * links separated by commas), as written (unresolved) into *next, or NULL
 * when there is none. A malformed value fails with KILN_ERR_FORMAT, so that
 * a pagination the client cannot follow is not taken for the last page. */
int kiln_link_next(const char *link, char **next, struct kiln_error *err);
/* A header value that is a decimal integer (OWS allowed around it), saturated
 * at UINT64_MAX; -1 for anything else. */
int kiln_header_uint(const char *v, uint64_t *out);
/* One header line of a response as libcurl hands it (CRLF included) into r:
 * a status line ("HTTP/…") empties r (redirects, 100 Continue) and returns
 * the status (0 if unreadable); a header kiln uses is stored (Link headers
 * joined with ", "); anything else returns -1. */
long kiln_http_parse_header(struct kiln_http_resp *r, const char *data, size_t n);
/* Did the last failure look like plain HTTP answering a TLS hello? */
bool kiln_http_last_was_tls_on_plain(const struct kiln_http *h);

#endif
