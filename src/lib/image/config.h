/* Image documents: the config, the manifest, their media types and the
 * values build and the Dockerfile share. */
#ifndef KILN_IMAGE_CONFIG_H
#define KILN_IMAGE_CONFIG_H

#include "image.h"
#include "platform.h"

/* ---- image/config.c: JSON documents ----------------------------------- */
/* One validator per value that kiln build's settings and a Dockerfile both
 * take, as Docker reads them. A port: "N" or "N-M" (1-65535), optionally
 * "/tcp", "/udp" or "/sctp" in any case; proto is written lowercased. */
int kiln_port_parse(const char *v, long *lo, long *hi, char proto[8]);
/* A signal: a number 1-64, or a name with or without SIG in any case,
 * RTMIN+N and RTMAX-N included. */
bool kiln_signal_valid(const char *v);
/* Splits a string as a POSIX shell would (quotes, backslashes), or parses a JSON array. */
int kiln_parse_args(const char *text, struct kiln_strlist *out, struct kiln_error *err);

struct kiln_image_config {
    struct kiln_platform platform;
    int64_t created;
    char *author;
    char *user, *workdir, *stop_signal;
    struct kiln_strlist env, entrypoint, cmd, ports, volumes;
    bool has_entrypoint, has_cmd;
    struct kiln_strlist labels;      /* "K=V" */
    struct kiln_strlist annotations; /* "K=V" */
    char *config_json; /* the whole "config" object (Dockerfile builds), replacing the base's */
};
enum kiln_manifest_kind { KILN_MANIFEST_OCI, KILN_MANIFEST_DOCKER };
/* The config of an image with these layers. base_config (JSON text, or NULL)
 * is the config of a base image whose nbase layers come first: its settings
 * are inherited, then overridden by c, and its history is kept. */
int kiln_config_json(const struct kiln_image_config *c, const char *base_config, size_t nbase,
                     const struct kiln_layer *layers, size_t nlayers, struct kiln_buf *out,
                     struct kiln_error *err);
/* OCI media type for a layer media type of either family (same bytes). */
const char *kiln_layer_media_type_oci(const char *mt);
/* Docker's media type for a layer media type of either family (zstd has
 * none: it keeps the OCI one, as docker itself writes it). */
const char *kiln_layer_media_type_docker(const char *mt);
int kiln_manifest_json(enum kiln_manifest_kind kind, enum kiln_compression comp,
                       const char *config_digest, size_t config_size,
                       const struct kiln_layer *layers, size_t nlayers,
                       const struct kiln_strlist *annotations, struct kiln_buf *out,
                       struct kiln_error *err);
const char *kiln_layer_media_type(enum kiln_manifest_kind kind, enum kiln_compression comp);
#define KILN_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define KILN_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define KILN_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define KILN_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define KILN_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define KILN_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define KILN_ANNOT_REF_NAME "org.opencontainers.image.ref.name"
#define KILN_ANNOT_CONTAINERD_NAME "io.containerd.image.name"
/* An image index or a Docker manifest list. */
bool kiln_media_type_is_index(const char *mt);

#endif
