/* Registry credentials and authentication challenges. */
#ifndef KILN_REGISTRY_AUTH_H
#define KILN_REGISTRY_AUTH_H

#include "../base/sink.h"
#include "../image/reference.h"

struct kiln_creds {
    char *user;
    char *pass;           /* never logged */
    char *identity_token; /* never logged */
};
void kiln_creds_free(struct kiln_creds *c);
/* Parses "USER[:PASS]". */
int kiln_creds_parse(const char *text, struct kiln_creds *c, struct kiln_error *err);

/* Finds credentials for a registry host in the auth files, in order:
 * authfile (if given), $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
 * $DOCKER_CONFIG/config.json or ~/.docker/config.json; credHelpers and
 * credsStore run docker-credential-* helpers. Returns 1 when found, 0 when
 * none, -1 on error. */
int kiln_creds_lookup(const char *host, const char *authfile, struct kiln_creds *c,
                      struct kiln_error *err);
/* The auth file login writes to: authfile, $REGISTRY_AUTH_FILE, else the docker config. */
char *kiln_auth_file_default(const char *authfile, struct kiln_error *err);
/* Key under which docker stores a registry ("https://index.docker.io/v1/" for docker.io). */
const char *kiln_auth_key(const char *host);
int kiln_auth_file_store(const char *file, const char *host, const struct kiln_creds *c,
                         struct kiln_error *err);
/* Returns 1 if an entry was removed, 0 if none. */
int kiln_auth_file_remove(const char *file, const char *host, struct kiln_error *err);

struct kiln_challenge {
    char scheme[16]; /* "bearer" or "basic" */
    char *realm, *service, *scope, *error;
};
void kiln_challenge_free(struct kiln_challenge *c);
/* Picks Bearer over Basic among the challenges of the given headers. */
int kiln_challenge_parse(char *const *headers, size_t n, struct kiln_challenge *out,
                         struct kiln_error *err);

char *kiln_base64(const void *p, size_t n, struct kiln_error *err);
/* base64("USER:PASS") as docker stores it; with `scheme`, the Authorization
 * value "Basic ...". The intermediate copies are wiped; the caller wipes and
 * frees the result. */
char *kiln_creds_basic(const struct kiln_creds *c, bool scheme, struct kiln_error *err);
int kiln_unbase64(const char *s, struct kiln_buf *out, struct kiln_error *err);

#endif
