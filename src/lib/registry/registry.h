/* The registry client (OCI distribution-spec v1.1 / Docker registry API v2). */
#ifndef KILN_REGISTRY_REGISTRY_H
#define KILN_REGISTRY_REGISTRY_H

#include "auth.h"
#include "http.h"

struct kiln_registry_opts {
    struct kiln_tls tls;
    bool insecure;          /* allow plain http */
    char *creds;            /* "USER[:PASS]" or NULL */
    char *authfile;         /* or NULL */
    unsigned jobs;          /* parallel blob transfers */
    uint64_t chunk_size;    /* 0 = monolithic uploads */
    unsigned retries;
    unsigned retry_base_ms;
    kiln_log_fn log;
    void *log_ud;
    kiln_progress_fn progress;
    void *progress_ud;
    const char *const *mirrors; /* pull mirrors: "[REGISTRY=]MIRROR" (kiln_remote_opts) */
    size_t nmirrors;
    const char *daemon_json; /* docker's daemon.json; NULL: /etc/docker/daemon.json; "": none */
};

/* The mirrors to try, in order, before `domain` itself when pulling: those of
 * o->mirrors for that registry ("MIRROR" alone is for docker.io), then, for
 * docker.io, docker's "registry-mirrors" (daemon.json). Each is a host[:port],
 * with *insecure set for an http:// one. */
struct kiln_mirror {
    char host[256];
    bool insecure;
};
int kiln_registry_mirrors(const struct kiln_registry_opts *o, const char *domain,
                          struct kiln_mirror **out, size_t *n, struct kiln_error *err);

struct kiln_registry;
/* host is the reference's domain ("docker.io" maps to its API host). */
int kiln_registry_open(const char *host, const struct kiln_registry_opts *o,
                       struct kiln_registry **out, struct kiln_error *err);
void kiln_registry_close(struct kiln_registry *r);
const char *kiln_registry_host(const struct kiln_registry *r);

/* Checks the API and the credentials (for login): GET /v2/ with auth. */
int kiln_registry_check_login(struct kiln_registry *r, struct kiln_error *err);

/* Manifests: raw bytes, media type and digest. max 4 MiB. */
int kiln_registry_get_manifest(struct kiln_registry *r, const char *repo, const char *ref,
                               struct kiln_buf *body, char media_type[128],
                               char digest[KILN_DIGEST_MAX], struct kiln_error *err);
/* The same, but returns 1 (and leaves body alone) when the registry answers
 * 404: a tag that may not exist yet, such as a signature tag. */
int kiln_registry_get_manifest_if_exists(struct kiln_registry *r, const char *repo,
                                         const char *ref, struct kiln_buf *body,
                                         char media_type[128], char digest[KILN_DIGEST_MAX],
                                         struct kiln_error *err);
/* The digest (and media type) of a manifest from a HEAD request, which
 * Docker Hub does not count against the pull limit. Returns 1 when the
 * registry sends no Docker-Content-Digest (then GET it and hash the bytes). */
int kiln_registry_head_manifest(struct kiln_registry *r, const char *repo, const char *ref,
                                char digest[KILN_DIGEST_MAX], char media_type[128],
                                struct kiln_error *err);
/* DELETE of a manifest by digest (every tag that points at it goes too). */
int kiln_registry_delete_manifest(struct kiln_registry *r, const char *repo, const char *digest,
                                  struct kiln_error *err);
int kiln_registry_put_manifest(struct kiln_registry *r, const char *repo, const char *ref,
                               const struct kiln_buf *body, const char *media_type,
                               const char *digest, struct kiln_error *err);
/* The same; when the registry answers with an OCI-Subject header (it has
 * indexed the manifest's subject for the referrers API), subject (may be
 * NULL) gets that digest, else "". */
int kiln_registry_put_manifest_subject(struct kiln_registry *r, const char *repo, const char *ref,
                                       const struct kiln_buf *body, const char *media_type,
                                       const char *digest, char subject[KILN_DIGEST_MAX],
                                       struct kiln_error *err);
/* GET /v2/REPO/referrers/DIGEST[?artifactType=T]: the body of the answer
 * (unchecked: see referrers/referrers.h); *filtered when the registry says
 * it applied the artifactType filter. Returns 1 when the registry has no
 * referrers API (404), so that the caller reads the fallback tag. */
int kiln_registry_get_referrers(struct kiln_registry *r, const char *repo, const char *digest,
                                const char *artifact_type, struct kiln_buf *body, bool *filtered,
                                struct kiln_error *err);
/* Downloads a blob into path, verifying its digest (and size if not 0). */
int kiln_registry_get_blob(struct kiln_registry *r, const char *repo, const char *digest,
                           uint64_t size, const char *path, struct kiln_error *err);
/* Same, into memory (configs; capped). */
int kiln_registry_get_blob_buf(struct kiln_registry *r, const char *repo, const char *digest,
                               size_t max, struct kiln_buf *out, struct kiln_error *err);

struct kiln_push_blob {
    char digest[KILN_DIGEST_MAX];
    uint64_t size;
    const char *path;            /* file holding the bytes, or */
    const struct kiln_buf *data; /* bytes in memory, or */
    /* a provider that materialises the blob into a file on demand */
    int (*fetch)(void *ud, const struct kiln_push_blob *b, char **path, struct kiln_error *err);
    void *fetch_ud;
    const char *mount_from; /* repository of the same registry known to have it */
    /* the source of path's bytes when they must be checked as they are sent
     * (kiln_blob_check); NULL when kiln made or already verified them */
    const char *origin;
};
/* Uploads the blobs that the repository lacks, `jobs` at a time. */
int kiln_registry_push_blobs(struct kiln_registry *r, const char *repo, struct kiln_push_blob *blobs,
                             size_t n, struct kiln_error *err);
int kiln_registry_tags(struct kiln_registry *r, const char *repo, struct kiln_strlist *out,
                       struct kiln_error *err);

/* Counters, for --verbose reports and tests. */
struct kiln_registry_stats {
    unsigned blobs_uploaded, blobs_skipped, blobs_mounted;
    uint64_t bytes_uploaded;
};
void kiln_registry_stats(const struct kiln_registry *r, struct kiln_registry_stats *s);

#define KILN_ACCEPT_MANIFESTS                                                                  \
    "Accept: application/vnd.oci.image.manifest.v1+json, "                                     \
    "application/vnd.oci.image.index.v1+json, "                                                \
    "application/vnd.docker.distribution.manifest.v2+json, "                                   \
    "application/vnd.docker.distribution.manifest.list.v2+json"

#endif
