/*
 * Referrers (OCI image-spec 1.1, distribution-spec 1.1): artifacts attached
 * to an image by a manifest whose `subject` names it (docs/referrers.md).
 *
 *   artifact manifest: an OCI image manifest with an artifactType, the empty
 *       config (application/vnd.oci.empty.v1+json, the 2 bytes "{}"), one
 *       layer (the attached file, with its media type and its file name as
 *       org.opencontainers.image.title), the subject's descriptor, and
 *       annotations (org.opencontainers.image.created, the user's);
 *   referrers list: an OCI image index whose manifests are the referrers'
 *       descriptors, each with the artifactType and the annotations of its
 *       manifest: what GET /v2/NAME/referrers/DIGEST answers, and what a
 *       registry without that API holds at the fallback tag sha256-<hex>.
 *
 * These are the pure JSON parts (the unit tests' and the fuzz target's
 * entries); referrers.c also holds the stores (layouts, archives, registries).
 */
#ifndef KILN_REFERRERS_REFERRERS_H
#define KILN_REFERRERS_REFERRERS_H

#include <jansson.h>

#include "../base/base.h"

#define KILN_MT_EMPTY      "application/vnd.oci.empty.v1+json"
#define KILN_EMPTY_DIGEST  "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define KILN_ANNOT_CREATED "org.opencontainers.image.created"
#define KILN_ANNOT_TITLE   "org.opencontainers.image.title"
/* Descriptors kiln reads from one referrers list (a hostile one could hold
 * millions); the documents themselves are capped at 4 MiB. */
#define KILN_REFERRERS_MAX    4096
#define KILN_REFERRER_DOC_MAX (4u * 1024 * 1024)

/* What an artifact manifest says; strings borrowed. */
struct kiln_artifact {
    const char *artifact_type;
    const char *media_type; /* the file's (the layer's) */
    char digest[KILN_DIGEST_MAX];
    uint64_t size;
    const char *title; /* the layer's org.opencontainers.image.title, or NULL */
    const char *subject_media_type;
    const char *subject_digest;
    uint64_t subject_size;
    const char *const *annotations; /* "KEY=VALUE" */
    size_t nannotations;
    int64_t created; /* org.opencontainers.image.created; < 0: none */
};

/* The artifact manifest's bytes (compact JSON, keys sorted: the same
 * artifact gives the same digest). Fails naming the bad field. */
int kiln_artifact_manifest_build(const struct kiln_artifact *a, struct kiln_buf *out,
                                 struct kiln_error *err);
/* A short name (spdx, spdx3, cyclonedx, in-toto) as its media type; any
 * other valid media type as itself; NULL when name is neither. */
const char *kiln_artifact_type_resolve(const char *name);
/* type/subtype as RFC 6838 restricts them (no parameters). */
bool kiln_media_type_valid(const char *mt);
/* The descriptor of a referrer in a referrers list, from its manifest's
 * bytes: mediaType, digest (computed), size, artifactType (the manifest's,
 * else its config's media type, as the distribution spec says), and its
 * annotations. subject (may be NULL) gets the digest its subject names;
 * a manifest without a subject fails. */
int kiln_referrer_descriptor(const void *m, size_t n, json_t **desc, char subject[KILN_DIGEST_MAX],
                             struct kiln_error *err);
/* An empty referrers list. */
json_t *kiln_referrers_index_new(void);
/* Checks that what a registry returned (by the API or at the fallback tag)
 * is a referrers list: an OCI index of at most KILN_REFERRERS_MAX
 * descriptors with sha256 digests and sizes, and not the subject itself
 * (some registries resolve the tag sha256-<hex> to the manifest sha256:<hex>).
 * `what` names it in messages. */
int kiln_referrers_index_parse(const void *p, size_t n, const char *subject, const char *what,
                               json_t **out, struct kiln_error *err);
/* Adds desc to the list unless a descriptor of that digest is there:
 * returns 1 then (and keeps the list), 0 when added, -1 on error. */
int kiln_referrers_index_add(json_t *idx, json_t *desc, struct kiln_error *err);
/* Keeps the descriptors of that artifactType only (NULL keeps all). */
void kiln_referrers_index_filter(json_t *idx, const char *artifact_type);
/* A list (or any document) as kiln writes JSON: compact, keys sorted. */
int kiln_json_bytes(json_t *j, struct kiln_buf *out, struct kiln_error *err);
/* The fallback tag of digest: "sha256-<hex>". */
int kiln_referrers_tag(const char *digest, char out[80], struct kiln_error *err);

#endif
