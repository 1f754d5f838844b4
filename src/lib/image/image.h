/*
 * The image model: what every transport reads into and every destination
 * writes from.
 *
 * A layer is a blob with its digest, diff_id, size and media type, and a
 * way to its bytes: a local file (a layout's blob, an archive member, a
 * layer the build made), or a source that fetches them (a registry). An
 * image is its manifest and config, exactly as their bytes are, and its
 * layers. A set is what one write hands to its destinations: one image, or
 * an index of several, with the names it goes by.
 *
 * What comes next fits in without reworking these:
 *  - a layer whose bytes come from a cache: the cache fills path (and
 *    origin, when its bytes must be checked as they are read);
 *  - a destination that takes a layer while it is still being produced (a
 *    streamed push): it reads kiln_set_blobs in order, layers first, and the
 *    top document last, so a layer can be handed on as soon as it is done;
 *  - a manifest with a subject (referrers): the manifest is kept as bytes,
 *    so a subject is written into it by whoever makes it, and a destination
 *    needs nothing more than the set to store it.
 */
#ifndef KILN_IMAGE_IMAGE_H
#define KILN_IMAGE_IMAGE_H

#include "platform.h"
#include "reference.h"

struct kiln_src;

struct kiln_layer {
    char digest[KILN_DIGEST_MAX];
    char diff_id[KILN_DIGEST_MAX]; /* "" when the config does not say */
    uint64_t size;
    char media_type[128]; /* "": the build's compression decides */
    char *path;           /* owned: a local file with the bytes; NULL until fetched */
    /* where the bytes come from when path is NULL (kiln_layer_fetch), and
     * whom to mount them from on a push; NULL for layers kiln made */
    struct kiln_src *src;
    /* the source's spec when the bytes are not verified yet and must be
     * checked as they are read (oci:, oci-archive:); NULL when they were
     * (registry downloads, layers kiln made) or are hashed on open
     * (docker-archive:) */
    const char *origin;
    const char *created_by; /* builds: the history entry (not owned) */
};

/* Makes the layer's bytes available as a local file (l->path), downloading
 * them from l->src when needed (image/source.c). */
int kiln_layer_fetch(struct kiln_layer *l, struct kiln_error *err);

struct kiln_image {
    struct kiln_buf manifest; /* exact bytes */
    char manifest_digest[KILN_DIGEST_MAX];
    char media_type[128];   /* the manifest's */
    struct kiln_buf config; /* exact bytes */
    char config_digest[KILN_DIGEST_MAX];
    struct kiln_layer *layers;
    size_t nlayers;
    struct kiln_strlist diff_ids; /* the config's rootfs.diff_ids, as many as it lists */
    struct kiln_platform platform;
    int64_t created;
};

/* Frees what the image owns (its documents, layers and their paths). */
void kiln_image_release(struct kiln_image *im);

struct kiln_image_set {
    struct kiln_image *images; /* not owned */
    size_t nimages;
    /* an index over the images (NULL: one image, whose manifest is the top
     * document) */
    const struct kiln_buf *index;
    char index_digest[KILN_DIGEST_MAX];
    const char *index_media_type;
    const struct kiln_reference *tags; /* the names it goes by */
    size_t ntags;
    int64_t file_mtime; /* mtime of the files in archives */
};

/* The top document: the index, or the one image's manifest. */
const struct kiln_buf *kiln_set_top(const struct kiln_image_set *s, const char **digest,
                                    const char **media_type);
/* The platform of a single image; NULL for an index. */
const struct kiln_platform *kiln_set_platform(const struct kiln_image_set *s);

/* A blob of a set: a layer's bytes, or a document's. */
struct kiln_set_blob {
    const char *digest;
    struct kiln_layer *layer;
    const struct kiln_buf *bytes;
};
/* How many blobs kiln_set_blobs gives at most. */
size_t kiln_set_blob_max(const struct kiln_image_set *s);
/* Fills v (kiln_set_blob_max entries): every layer, then the config (one
 * image) or each image's manifest and config (an index), then the top
 * document, last, so that a reader that finds it finds the rest. Returns
 * the count. */
size_t kiln_set_blobs(const struct kiln_image_set *s, struct kiln_set_blob *v);

#endif
