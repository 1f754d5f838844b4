/* Images read from any transport: oci:, oci-archive:, docker-archive:, docker://. */
#ifndef KILN_IMAGE_SOURCE_H
#define KILN_IMAGE_SOURCE_H

#include "../registry/registry.h"
#include "config.h"

struct kiln_src_layer {
    char digest[KILN_DIGEST_MAX];
    uint64_t size;
    char media_type[128];
    char *path; /* local file with the bytes; NULL until fetched (registries) */
    /* the source's spec when the bytes are not verified yet and must be
     * checked as they are read (oci:, oci-archive:); NULL when they were
     * (registry downloads) or are hashed on open (docker-archive:) */
    const char *origin;
};

struct kiln_src_image {
    struct kiln_buf manifest;
    char manifest_digest[KILN_DIGEST_MAX];
    char media_type[128];
    struct kiln_buf config;
    char config_digest[KILN_DIGEST_MAX];
    struct kiln_src_layer *layers;
    size_t nlayers;
    struct kiln_strlist diff_ids;
    struct kiln_platform platform;
    int64_t created;
};

enum kiln_src_kind { KILN_SRC_LAYOUT, KILN_SRC_DOCKER_ARCHIVE, KILN_SRC_REGISTRY };

struct kiln_src {
    enum kiln_src_kind kind;
    char *spec;
    bool is_index;
    struct kiln_buf index;
    char index_digest[KILN_DIGEST_MAX];
    char index_media_type[128];
    struct kiln_src_image *images;
    size_t nimages;
    char *layout; /* directory holding blobs/sha256 (oci:, extracted oci-archive:) */
    char *tmpdir; /* removed by kiln_src_free */
    struct kiln_registry *reg;
    struct kiln_reference ref; /* registry sources */
    char *tag;                 /* the tag the source was named by, if any */
    bool host_default;         /* KILN_SRC_HOST_DEFAULT was given */
};

/* Opens SPEC; platform ("os/arch[/variant]") keeps one image of an index. */
int kiln_src_open(const char *spec, const char *platform, const struct kiln_registry_opts *ro,
                  struct kiln_src **out, struct kiln_error *err);
/* With no platform asked for, an index gives the host's image (an error
 * naming the platforms it has when there is none); a single image is taken
 * whatever its platform. For consumers of one image: a base, an unpack. */
#define KILN_SRC_HOST_DEFAULT 1u
int kiln_src_open_ex(const char *spec, const char *platform, unsigned flags,
                     const struct kiln_registry_opts *ro, struct kiln_src **out,
                     struct kiln_error *err);
void kiln_src_free(struct kiln_src *s);
/* kiln_unpack of an image already opened (its first one); s stays open, and
 * layers it downloaded stay for later readers. */
int kiln_unpack_src(struct kiln_src *s, const char *dir, kiln_log_fn log, void *log_userdata,
                    struct kiln_error *err);
/* Makes the layer's bytes available as a local file (downloads if needed). */
int kiln_src_layer_path(struct kiln_src *s, struct kiln_src_layer *l, struct kiln_error *err);
/* Parses "docker://REF" (the prefix is optional when `bare` is true). */
int kiln_parse_docker_ref(const char *spec, bool bare, struct kiln_reference *r,
                          struct kiln_error *err);
char *kiln_reference_repo_path(const struct kiln_reference *r);

#endif
