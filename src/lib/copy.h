/* Pushing images and the glue between the public API and the registry client. */
#ifndef KILN_COPY_H
#define KILN_COPY_H

#include "image/source.h"

struct kiln_push_image {
    const struct kiln_buf *manifest;
    char manifest_digest[KILN_DIGEST_MAX];
    const char *media_type;
    const struct kiln_buf *config;
    char config_digest[KILN_DIGEST_MAX];
    const struct kiln_blob *layers; /* path NULL: fetched from src on demand */
    size_t nlayers;
    struct kiln_src *src;
    struct kiln_layer *src_layers;
    /* layers [0, nbase) come from a base image that base_mount_from (a
     * repository of the destination registry) holds */
    size_t nbase;
    const char *base_mount_from;
    /* the layers above them (a rebased image's own), from this repository */
    const char *own_mount_from;
};

/* The caller's options (NULL: the defaults) as a struct of this version's
 * size in *local: fields an older caller's smaller struct lacks keep their
 * defaults. Returns local. */
const struct kiln_remote_opts *kiln_remote_opts_get(const struct kiln_remote_opts *o,
                                                    struct kiln_remote_opts *local);
void kiln_registry_opts_from(const struct kiln_remote_opts *o, const char *creds,
                             struct kiln_registry_opts *ro);
/* Uploads every image's blobs (skipping what the repository has, mounting
 * from mount_from when set) and manifests, then the index if any, tagged. */
int kiln_push_image(struct kiln_registry *reg, const char *repo, const char *tag,
                    const struct kiln_push_image *im, size_t nimages, const struct kiln_buf *index,
                    const char *index_mt, const char *index_digest, const char *mount_from,
                    struct kiln_error *err);

#endif
