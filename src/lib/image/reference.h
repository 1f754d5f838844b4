/* Registry references (HOST/REPO:TAG@DIGEST) and Docker Hub's names. */
#ifndef KILN_IMAGE_REFERENCE_H
#define KILN_IMAGE_REFERENCE_H

#include "../digest/sha256.h"

/* ---- image/reference.c ------------------------------------------------ */
/* Docker Hub goes by three names: docker.io in references, registry-1.docker.io
 * for its API, and index.docker.io in docker's config.json
 * ("https://index.docker.io/v1/"). */
#define KILN_HUB_DOMAIN "docker.io"
#define KILN_HUB_API_HOST "registry-1.docker.io"
#define KILN_HUB_AUTH_KEY "https://index.docker.io/v1/"
/* Whether host (lower case, no scheme) is one of Docker Hub's names. */
bool kiln_is_docker_hub(const char *host);
/* host, or "docker.io" for any of Docker Hub's names. */
const char *kiln_hub_canonical(const char *host);
struct kiln_reference {
    char *domain; /* "docker.io" when none was given */
    char *path;   /* "library/app" for docker.io one-part names */
    char *tag;    /* NULL when only a digest was given */
    char *digest; /* NULL unless "@sha256:…" was given */
};
int kiln_reference_parse(const char *text, struct kiln_reference *r, struct kiln_error *err);
void kiln_reference_free(struct kiln_reference *r);
/* "docker.io/library/app:1.0" */
char *kiln_reference_full(const struct kiln_reference *r, struct kiln_error *err);
/* The name docker shows: "app:1.0", "team/app:1.0", "host:5000/app:1.0". */
char *kiln_reference_familiar(const struct kiln_reference *r, bool with_tag, struct kiln_error *err);
bool kiln_tag_valid(const char *tag);

#endif
