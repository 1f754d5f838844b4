/* Images read from any transport: oci:, oci-archive:, docker-archive:, docker://. */
#ifndef KILN_IMAGE_SOURCE_H
#define KILN_IMAGE_SOURCE_H

#include "../registry/registry.h"
#include "config.h"
#include "image.h"

enum kiln_src_kind { KILN_SRC_LAYOUT, KILN_SRC_DOCKER_ARCHIVE, KILN_SRC_REGISTRY };

struct kiln_src {
    enum kiln_src_kind kind;
    char *spec;
    bool is_index;
    struct kiln_buf index;
    char index_digest[KILN_DIGEST_MAX];
    char index_media_type[128];
    struct kiln_image *images; /* each layer's src is this source */
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
/* Parses "docker://REF" (the prefix is optional when `bare` is true). */
int kiln_parse_docker_ref(const char *spec, bool bare, struct kiln_reference *r,
                          struct kiln_error *err);
char *kiln_reference_repo_path(const struct kiln_reference *r);

#endif
