/*
 * kiln — build Docker/OCI container images without Docker.
 *
 * This header is the whole public API of libkiln and its reference
 * documentation. Conventions:
 *   - Fallible functions return 0 on success and a negative value on failure,
 *     and fill the caller's struct kiln_error (which may be NULL) with a code
 *     and one human-readable line naming the thing that failed and why.
 *   - The library never prints and never exits. Warnings and progress reach
 *     the caller through the log callback set with kiln_build_set_log().
 *   - Free functions accept NULL.
 *   - ABI: objects are opaque (kiln_build) or set through functions; the
 *     option structs a program fills (kiln_remote_opts, kiln_dockerfile_opts)
 *     start with a `size` member and only ever grow at their end, so a
 *     program built against an older header keeps working with a newer
 *     library (the fields it does not know keep their defaults). Structs the
 *     library fills for a callback (kiln_progress) also only grow at the end.
 *     kiln_version_number() tells the library's version at run time.
 *
 *   - The environment the library reads: TMPDIR (temporary files; /tmp when
 *     unset), the auth files' conventional places when no authfile is given
 *     (DOCKER_CONFIG, HOME, REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, as docker and
 *     podman read them), LD_PRELOAD and PSEUDO_DISABLED (to tell that pseudo
 *     is active), and the variables a Dockerfile build arg names without a
 *     value. Nothing else: the CLI passes its own settings as options.
 *
 * A build turns inputs (directory trees, tarballs) into one image layer each,
 * streams every layer once through tar -> sha256 (diff_id) -> compressor ->
 * sha256 (digest), and writes every requested output from that one pass.
 * Outputs appear atomically: on failure nothing is left at any destination
 * and an existing destination is left as it was.
 */
#ifndef KILN_KILN_H
#define KILN_KILN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the public API: libkiln is built with -fvisibility=hidden, so only
 * what is declared here with KILN_API is exported from the shared library. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define KILN_API __attribute__((visibility("default")))
#else
#define KILN_API
#endif

#define KILN_VERSION_MAJOR 0
#define KILN_VERSION_MINOR 1
#define KILN_VERSION_PATCH 0
#define KILN_VERSION_STRING "0.1.0"

/* Error codes carried in struct kiln_error.code. */
enum kiln_error_code {
    KILN_OK = 0,
    KILN_ERR_USAGE,    /* malformed argument or option value (CLI exit 2) */
    KILN_ERR_INPUT,    /* missing, unreadable, changing or corrupt input */
    KILN_ERR_OUTPUT,   /* output location unwritable, full, or not a layout */
    KILN_ERR_NOMEM,    /* out of memory */
    KILN_ERR_FORMAT,   /* a document or archive kiln reads is malformed */
    KILN_ERR_INTERNAL, /* a library kiln uses failed unexpectedly */
    KILN_ERR_INTERRUPTED, /* kiln_interrupt() was called (CLI exit 130) */
};

#define KILN_ERROR_MESSAGE_MAX 1024

/* Fixed-size so that out-of-memory can be reported without allocating. */
struct kiln_error {
    int code;
    char message[KILN_ERROR_MESSAGE_MAX];
};

/* "sha256:" + 64 hex digits + NUL. */
#define KILN_DIGEST_MAX 72

enum kiln_log_level { KILN_LOG_WARNING, KILN_LOG_INFO, KILN_LOG_DEBUG };
typedef void (*kiln_log_fn)(void *userdata, enum kiln_log_level level, const char *message);

enum kiln_compression { KILN_COMPRESSION_GZIP, KILN_COMPRESSION_ZSTD, KILN_COMPRESSION_NONE };

/* Image settings that take one string each; see kiln_build_set(). */
enum kiln_setting {
    KILN_SET_ENTRYPOINT,  /* JSON array, or a string split as a POSIX shell would */
    KILN_SET_CMD,         /* same forms as KILN_SET_ENTRYPOINT */
    KILN_SET_ENV,         /* "KEY=VALUE", repeatable; a later KEY replaces an earlier one */
    KILN_SET_WORKDIR,     /* config WorkingDir */
    KILN_SET_USER,        /* "user", "uid", "user:group", "uid:gid" */
    KILN_SET_PORT,        /* "N" or "N-M", then "/tcp", "/udp" or "/sctp"; repeatable */
    KILN_SET_VOLUME,      /* absolute path, repeatable */
    KILN_SET_LABEL,       /* "KEY=VALUE", repeatable */
    KILN_SET_ANNOTATION,  /* "KEY=VALUE" manifest annotation, repeatable */
    KILN_SET_STOP_SIGNAL, /* "SIGTERM", "term", "15", "SIGRTMIN+3" */
    KILN_SET_AUTHOR,      /* config author */
    KILN_SET_PLATFORM,    /* "OS/ARCH[/VARIANT]"; GNU/Yocto ARCH names accepted */
    KILN_SET_TAG,         /* image reference, repeatable */
    KILN_SET_FROM,        /* base image on any transport: its layers come first, its config
                             is inherited and overridden by the other settings */
    KILN_SET_MANIFEST_FORMAT, /* "oci" (the default), "docker" (Docker's v2 schema 2, which
                                 some registries and tools still want) or "base" (that of the
                                 KILN_SET_FROM image; OCI without one) */
    KILN_SET_CREATED,         /* "base": the KILN_SET_FROM image's created time, unless
                                 kiln_build_set_source_date_epoch() gave one (kiln mutate) */
};

typedef struct kiln_build kiln_build;

KILN_API kiln_build *kiln_build_new(void);
KILN_API void kiln_build_free(kiln_build *b);

KILN_API void kiln_build_set_log(kiln_build *b, kiln_log_fn fn, void *userdata);

/* Inputs, one layer each, in the order added. */
KILN_API int kiln_build_add_rootfs(kiln_build *b, const char *dir, struct kiln_error *err);
KILN_API int kiln_build_add_tar(kiln_build *b, const char *file, struct kiln_error *err);
/* A changeset layer: what turns the tree old_dir into new_dir, with
 * whiteouts for what new_dir lacks (see kiln-diff(1)). */
KILN_API int kiln_build_add_diff(kiln_build *b, const char *old_dir, const char *new_dir,
                                 struct kiln_error *err);

/* Writes the changeset between two trees as a tar file (atomically), compressed
 * as asked; epoch < 0: mtimes kept. Writes the DiffID (sha256 of the
 * uncompressed tar) to diff_id_out. */
KILN_API int kiln_write_diff(const char *old_dir, const char *new_dir, const char *file,
                             int64_t epoch, bool xattrs, enum kiln_compression c,
                             char diff_id_out[KILN_DIGEST_MAX], struct kiln_error *err);

/* Adds a file, symlink or directory tree at a path: "SRC:DEST[:MODE[:UID:GID]]"
 * (MODE octal, for every entry but symlinks; UID:GID numeric, for every
 * entry). All of a build's --add items form one layer, where the first is. */
KILN_API int kiln_build_add(kiln_build *b, const char *spec, struct kiln_error *err);
/* Splits the last --rootfs input into the layers a layer map names, plus one
 * for everything the map leaves out (see kiln-build(1), LAYER MAPS). */
KILN_API int kiln_build_set_layer_map(kiln_build *b, const char *file, struct kiln_error *err);

KILN_API int kiln_build_set(kiln_build *b, enum kiln_setting what, const char *value,
                            struct kiln_error *err);

/* Explicit layers, entry by entry (what a Dockerfile COPY or ADD makes).
 * kiln_build_begin_layer() appends a new, empty layer to the inputs;
 * created_by is its history text (NULL: "kiln build"). Entries then go into
 * the layer begun last. They are written sorted by path, parents first; at a
 * path added twice the later entry wins; hardlinked sources stay hardlinked
 * within the layer. Parent directories that are not added are not written:
 * they must exist in the layers below. */
struct kiln_entry_attrs {
    bool set_mode;  /* these permission bits (07777) instead of the source's; */
    uint32_t mode;  /* never applied to symlinks */
    bool set_owner; /* this numeric owner instead of the source's */
    uint64_t uid, gid;
};
KILN_API int kiln_build_begin_layer(kiln_build *b, const char *created_by, struct kiln_error *err);
/* The file, symlink, device, FIFO or directory src (lstat: a symlink is not
 * followed; a directory without its contents) at dest; a NULL a keeps the
 * source's mode and owner. src is read by kiln_build_run(). */
KILN_API int kiln_build_layer_add(kiln_build *b, const char *src, const char *dest,
                                  const struct kiln_entry_attrs *a, struct kiln_error *err);
/* A directory that exists on no disk, with the build's created time. */
KILN_API int kiln_build_layer_add_dir(kiln_build *b, const char *dest, uint32_t mode, uint64_t uid,
                                      uint64_t gid, struct kiln_error *err);
/* The container configuration as a JSON object (the image config's "config":
 * Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels,
 * StopSignal, Healthcheck, Shell, OnBuild, ... as docker writes them). It
 * replaces the base image's; kiln_build_set() settings still apply on top. A
 * build with one may have no layer of its own. */
KILN_API int kiln_build_set_config_json(kiln_build *b, const char *json, struct kiln_error *err);

/* ---- Dockerfile front end (see docs/dockerfile.md) ----
 * kiln_dockerfile_build() parses a Dockerfile and evaluates it into b: the
 * base image of the target stage (KILN_SET_FROM), one explicit layer per
 * COPY/ADD (and per WORKDIR that creates a directory), the container config
 * (kiln_build_set_config_json) and the author (MAINTAINER). The caller then
 * adds outputs and tags and calls kiln_build_run(). RUN, and any instruction
 * that would need a running container, is refused with file:line.
 * *state keeps the temporary trees the layers are read from: free it with
 * kiln_dockerfile_free() after kiln_build_run(). Unused build args are
 * reported through the log callback as warnings, as docker does. */
struct kiln_dockerfile_opts {
    size_t size; /* sizeof(struct kiln_dockerfile_opts); 0 is taken as this version's */
    const char *file;              /* the Dockerfile; NULL: CONTEXT/Dockerfile; "-": stdin */
    const char *context;           /* the build context directory (.dockerignore applies) */
    const char *const *build_args; /* "NAME=VALUE" or "NAME" (value from the environment) */
    size_t nbuild_args;
    const char *target;   /* the stage to build (FROM ... AS target); NULL: the last */
    const char *platform; /* "os/arch[/variant]" of base images and of the TARGET*
                             ARGs; NULL: the host's (also give it to KILN_SET_PLATFORM) */
    const struct kiln_remote_opts *remote; /* for base images in registries; may be NULL */
    const char *tmpdir;                    /* for the stages' trees; NULL: $TMPDIR or /tmp */
    kiln_log_fn log;
    void *log_userdata;
};
typedef struct kiln_dockerfile kiln_dockerfile;
KILN_API int kiln_dockerfile_build(kiln_build *b, const struct kiln_dockerfile_opts *o,
                                   kiln_dockerfile **state, struct kiln_error *err);
KILN_API void kiln_dockerfile_free(kiln_dockerfile *state);

/* Moves the KILN_SET_FROM image from old_base to new_base (images on any
 * transport, for the image's platform), as crane rebase does: old_base's
 * layers must be the image's first ones (compared by diff_id, else an
 * error saying so); they are replaced by new_base's, and the image's own
 * layers follow as they are (mounted or skipped in a registry). In the
 * container config a setting whose value is old_base's takes new_base's;
 * the image's own settings stay (Env, Labels, ExposedPorts and Volumes
 * entry by entry). The history is new_base's, then the image's own. The
 * image's created time and manifest format are kept as with KILN_SET_CREATED
 * and KILN_SET_MANIFEST_FORMAT "base". */
KILN_API int kiln_build_set_rebase(kiln_build *b, const char *old_base, const char *new_base,
                                   struct kiln_error *err);

/* Squashes the KILN_SET_FROM image's layers into one layer, its merged
 * filesystem as kiln_export() writes it, which comes before the build's own
 * layers; the base's history is replaced by one entry that says what was
 * squashed (kiln flatten). */
KILN_API void kiln_build_set_squash(kiln_build *b, bool squash);

/* Sets "created" and clamps every file mtime to it. Without it, "created" is
 * the time of the build and mtimes are kept. */
KILN_API void kiln_build_set_source_date_epoch(kiln_build *b, int64_t epoch);
/* Parses SOURCE_DATE_EPOCH-style text (decimal seconds). */
KILN_API int kiln_parse_source_date_epoch(const char *text, int64_t *epoch, struct kiln_error *err);

/* level < 0 selects the default level of the compressor. */
KILN_API int kiln_build_set_compression(kiln_build *b, enum kiln_compression c, int level,
                                        struct kiln_error *err);
KILN_API int kiln_parse_compression(const char *name, enum kiln_compression *c,
                                    struct kiln_error *err);
/* Worker threads for compression; 0 = the number of online CPUs. The output
 * bytes are the same for every value. */
KILN_API void kiln_build_set_jobs(kiln_build *b, unsigned jobs);
/* Bounds for --tar inputs against tar bombs: the expanded data and the number
 * of members (0 = no bound; defaults 64 GiB and 10 million). */
KILN_API void kiln_build_set_tar_limits(kiln_build *b, uint64_t max_bytes, uint64_t max_entries);
/* Keep extended attributes (default true). */
KILN_API void kiln_build_set_xattrs(kiln_build *b, bool keep);

/* "oci:DIR[:NAME]", "oci-archive:FILE[:NAME]", "docker-archive:FILE[:REF]"
 * (REF: the image's only RepoTag, in place of the -t tags),
 * "docker://HOST/REPO:TAG" (pushed with the options of kiln_build_set_remote).
 * The path ends at the first ':' (see enum kiln_transport). */
KILN_API int kiln_build_add_output(kiln_build *b, const char *dest, struct kiln_error *err);

/* Transfer progress of a push or pull, reported as it happens (from any
 * thread, serialised by kiln). `done` is true once, at the end. */
struct kiln_progress {
    const char *registry;
    const char *repository;
    unsigned blobs_done, blobs_total;
    uint64_t bytes_done, bytes_total;
    bool done;
};
typedef void (*kiln_progress_fn)(void *userdata, const struct kiln_progress *p);

/* How kiln talks to registries. Strings are borrowed, not copied: they must
 * outlive the calls that use them. Secrets are never logged. Fill it with
 * kiln_remote_opts_init(), then set fields: later versions add fields at the
 * end, and `size` tells the library how many of them a program knows. */
struct kiln_remote_opts {
    size_t size;            /* sizeof(struct kiln_remote_opts) of the caller's header */
    const char *creds;      /* "USER[:PASSWORD]" for every registry, or NULL */
    const char *src_creds;  /* kiln_copy: for the source only */
    const char *dest_creds; /* kiln_copy: for the destination only */
    const char *authfile;   /* docker config.json / podman auth.json; NULL = the defaults */
    const char *ca_file;    /* extra trusted CA (PEM) */
    const char *cert_dir;   /* docker certs.d layout root(s), ':'-separated; NULL = defaults */
    bool tls_verify;        /* default true */
    bool insecure;          /* allow plain http (loopback registries always may) */
    unsigned jobs;          /* parallel blob transfers (default 4) */
    unsigned retries;       /* retries per request (default 5) */
    unsigned retry_base_ms; /* first backoff (default 200 ms) */
    uint64_t chunk_size;    /* 0 = monolithic uploads */
    kiln_log_fn log;
    void *log_userdata;
    kiln_progress_fn progress; /* may be NULL */
    void *progress_userdata;
    unsigned stall_seconds; /* a transfer under 1 byte/s this long is retried (default 60) */
    /* Mirrors for pulls, tried in order before the registry itself: each
     * "REGISTRY=MIRROR" (MIRROR alone: for docker.io), MIRROR a host[:port] or
     * an http[s]:// URL. Then, for docker.io, the "registry-mirrors" of
     * docker's daemon.json. Pushes never go to a mirror. */
    const char *const *mirrors;
    size_t nmirrors;
    const char *daemon_json; /* NULL: /etc/docker/daemon.json; "": do not read one */
};
/* Fills o with the defaults. A macro, so that the library learns the size of
 * the struct the program was compiled with, and writes no further. */
#define kiln_remote_opts_init(o) kiln_remote_opts_init_size((o), sizeof(*(o)))
KILN_API void kiln_remote_opts_init_size(struct kiln_remote_opts *o, size_t size);
KILN_API void kiln_build_set_remote(kiln_build *b, const struct kiln_remote_opts *o);

/* Copies an image (or a whole multi-platform index) between transports.
 * platform ("linux/arm64") picks one image of an index; NULL keeps all.
 * On success writes the digest of what was written to digest_out. */
KILN_API int kiln_copy(const char *src, const char *dest, const char *platform,
                       const struct kiln_remote_opts *o, char digest_out[KILN_DIGEST_MAX],
                       struct kiln_error *err);

/* Assembles the images named by srcs (each for a different platform; from
 * any transport) into one multi-platform index written to dest: an OCI index,
 * or a Docker manifest list when the manifests are Docker-typed. */
KILN_API int kiln_index(const char *const *srcs, size_t nsrcs, const char *dest,
                        const struct kiln_remote_opts *o, char digest_out[KILN_DIGEST_MAX],
                        struct kiln_error *err);

enum kiln_inspect_what {
    KILN_INSPECT_SUMMARY, /* human-readable summary */
    KILN_INSPECT_JSON,    /* summary as JSON */
    KILN_INSPECT_RAW,     /* the exact manifest (or index) bytes */
    KILN_INSPECT_CONFIG,  /* the config JSON */
    KILN_INSPECT_DIGEST,  /* the manifest digest and a newline */
};
/* Describes an image; *out is malloc'ed (free() it), *len its length. */
KILN_API int kiln_inspect(const char *ref, enum kiln_inspect_what what, const char *platform,
                          const struct kiln_remote_opts *o, char **out, size_t *len,
                          struct kiln_error *err);

/* Applies the layers of an image (the host's platform from an index, or
 * `platform`) to a new directory `dir`, whiteouts included. Entries that
 * would land outside it (".." components, absolute names, through symlinks)
 * are refused with their names. Owners are kept when running as root. */
KILN_API int kiln_unpack(const char *ref, const char *dir, const char *platform,
                         const struct kiln_remote_opts *o, struct kiln_error *err);

/* Writes the merged filesystem of an image (the host's platform from an
 * index, or `platform`) as one uncompressed tar, as `docker export` gives a
 * container's: layers applied in order, whiteouts and opaque directories
 * honoured, hardlinks kept (a link whose target a later layer removed keeps
 * its data), owners, modes, devices and extended attributes as the layers
 * say (whoever runs it), parents before children. Nothing is unpacked to
 * disk. dest: a file (replaced atomically), or "-" or NULL for standard
 * output. The same image gives the same bytes. */
KILN_API int kiln_export(const char *ref, const char *dest, const char *platform,
                         const struct kiln_remote_opts *o, struct kiln_error *err);

/* Lists all tags of a repository ("docker://HOST/REPO" or "HOST/REPO"),
 * newline-separated in *out (malloc'ed). */
KILN_API int kiln_list_tags(const char *repo, const struct kiln_remote_opts *o, char **out,
                            struct kiln_error *err);

/* The transport a REF names by its prefix: oci:DIR[:NAME|:@INDEX],
 * oci-archive:FILE[:NAME|:@INDEX], docker-archive:FILE[:REF|:@INDEX],
 * docker://[HOST/]REPO[:TAG][@DIGEST]. The path ends at the first ':' after
 * the prefix (as skopeo reads it); a ':' in the path is written "\:". */
enum kiln_transport {
    KILN_TRANSPORT_NONE, /* none of the four prefixes */
    KILN_TRANSPORT_OCI,
    KILN_TRANSPORT_OCI_ARCHIVE,
    KILN_TRANSPORT_DOCKER_ARCHIVE,
    KILN_TRANSPORT_DOCKER,
};
KILN_API enum kiln_transport kiln_transport_of(const char *ref);

/* One image, or multi-platform index, of a local layout or archive. */
struct kiln_image_entry {
    char *name; /* org.opencontainers.image.ref.name, or a docker-archive RepoTag; NULL: none */
    char digest[KILN_DIGEST_MAX];        /* of the manifest or index; "" in a docker-archive */
    char config_digest[KILN_DIGEST_MAX]; /* the image ID; "" for an index */
    char *media_type;                    /* of the manifest or index; NULL in a docker-archive */
    char *platforms; /* "linux/amd64"; of an index, its images' ("linux/amd64,linux/arm64") */
    uint64_t size;   /* config and compressed layers (of every image of an index), in bytes */
    char *created;   /* the config's "created" (RFC 3339); of an index the latest; NULL: none */
    /* A referrer (an artifact kiln_attach put into a layout: an untagged entry
     * with an artifactType) has platforms "" (it runs nowhere), the size of
     * its blobs, and created from its org.opencontainers.image.created. */
};
/* Lists the images that "oci:DIR", "oci-archive:FILE" or "docker-archive:FILE"
 * holds, in their order: one entry per manifest of index.json, or per RepoTag
 * (one if none) of each image of manifest.json (every image: docker save and
 * podman save --multi-image-archive write several, a shared layer once). With
 * oci:DIR:TAG, only the entries named TAG; with docker-archive:FILE:REF, the
 * entry of that name; with :@INDEX, those of the image at that position. Reads only the JSON documents, each checked against its digest. Free
 * *entries with kiln_image_list_free(), also when it returns -1: an entry
 * whose documents cannot be read is listed with platforms == NULL, the
 * others as usual, and the call returns -1 with err naming the broken
 * entries (*entries is NULL only when nothing could be listed). */
KILN_API int kiln_list_images(const char *ref, struct kiln_image_entry **entries, size_t *n,
                              struct kiln_error *err);
KILN_API void kiln_image_list_free(struct kiln_image_entry *entries, size_t n);

/* Removes an image. "oci:DIR:TAG": the entries of that tag leave index.json,
 * under the layout's lock (other writers lose nothing); their blobs stay until
 * kiln_gc. "docker://HOST/REPO:TAG" or "@DIGEST": the manifest is deleted from
 * the registry, which removes every tag that points at it, where the registry
 * allows deletes. digest_out (may be NULL) gets the digest removed from a
 * registry, or "" for a layout. */
KILN_API int kiln_remove(const char *ref, const struct kiln_remote_opts *o,
                         char digest_out[KILN_DIGEST_MAX], struct kiln_error *err);

/* What kiln_gc found in blobs/sha256: the blobs kept (referenced) and those it
 * removed (with dry_run, that it would remove). Filled by the library up to
 * the caller's size, given by the kiln_gc macro. */
struct kiln_gc_stats {
    size_t size;
    uint64_t kept, kept_bytes;
    uint64_t removed, removed_bytes;
};
/* Removes the blobs of "oci:DIR" that no entry of its index.json references,
 * and what killed kiln processes left there, under the layout's lock; kiln
 * writers may go on meanwhile (a blob a running build relies on is written
 * again at its commit). skopeo and umoci take no lock: they must not write to
 * the layout while it runs. Refuses, removing nothing, when a document the
 * index references cannot be read. */
#define kiln_gc(layout, dry_run, st, err) kiln_gc_size((layout), (dry_run), (st), sizeof(*(st)), (err))
KILN_API int kiln_gc_size(const char *layout, bool dry_run, struct kiln_gc_stats *st, size_t size,
                          struct kiln_error *err);

/* ---- The chunk cache (docs/cache.md) ----
 * A build with a cache reuses the compressed gzip blocks (4 MiB of the layer
 * tar each) it or another kiln compressed before, keyed by sha256 of the
 * block and of everything else that decides its bytes (algorithm, level,
 * block size, layer format version, libdeflate and libzstd versions): the
 * output is byte for byte the one of a build without it. Every entry is
 * checked when it is read; a damaged one is compressed again and replaced.
 * Many processes may share one cache directory; a process killed at any
 * point leaves it usable. zstd and uncompressed layers are not cached. */
struct kiln_cache_opts {
    size_t size;       /* sizeof(struct kiln_cache_opts) of the caller's header */
    const char *dir;   /* the cache's root, created when missing; NULL or "": no cache */
    uint64_t max_size; /* bytes; 0 = 10 GiB. Trimmed (least recently used first) to 90 %
                          of it at the end of a build that stored entries */
};
#define kiln_cache_opts_init(o) kiln_cache_opts_init_size((o), sizeof(*(o)))
KILN_API void kiln_cache_opts_init_size(struct kiln_cache_opts *o, size_t size);
/* Uses the cache o describes for this build (o->dir NULL: none, the default).
 * Fails (KILN_ERR_OUTPUT) when the directory cannot be created. */
KILN_API int kiln_build_set_cache(kiln_build *b, const struct kiln_cache_opts *o,
                                  struct kiln_error *err);
/* What a cache holds, and what kiln_cache_prune or kiln_cache_wipe removed.
 * Filled up to the caller's size, given by the macros. */
struct kiln_cache_stats {
    size_t size;
    uint64_t entries, bytes;       /* left in the cache */
    uint64_t temp_files;           /* of writers running, or killed */
    uint64_t removed, removed_bytes; /* entries and temporary files removed */
};
/* Counts the entries of the cache at dir (a missing cache is empty). */
#define kiln_cache_usage(dir, st, err) kiln_cache_usage_size((dir), (st), sizeof(*(st)), (err))
KILN_API int kiln_cache_usage_size(const char *dir, struct kiln_cache_stats *st, size_t size,
                                   struct kiln_error *err);
/* Removes the least recently used entries until at most o->max_size bytes
 * are left (0 = the default), and temporary files older than ten minutes
 * (left by killed processes), under the cache's lock. */
#define kiln_cache_prune(o, st, err) kiln_cache_prune_size((o), (st), sizeof(*(st)), (err))
KILN_API int kiln_cache_prune_size(const struct kiln_cache_opts *o, struct kiln_cache_stats *st,
                                   size_t size, struct kiln_error *err);
/* Removes every entry (and old temporary file) of the cache at dir, under
 * its lock; builds running meanwhile go on and store what they compress. */
#define kiln_cache_wipe(dir, st, err) kiln_cache_wipe_size((dir), (st), sizeof(*(st)), (err))
KILN_API int kiln_cache_wipe_size(const char *dir, struct kiln_cache_stats *st, size_t size,
                                  struct kiln_error *err);

/* ---- Signatures (sigstore, as skopeo, podman and cosign read them) ----
 * A signature is a cosign "simple signing" payload naming a manifest digest
 * and the docker reference it was signed for, signed with an ECDSA (or RSA,
 * Ed25519) key and stored in the image's repository at the tag
 * "sha256-<hex>.sig": what containers/image reads with
 * `use-sigstore-attachments: true` and checks with a `sigstoreSigned` policy
 * (docs/signing.md). Keys and passphrases are never logged. */

/* Writes a new ECDSA P-256 key pair: private_path gets the private key
 * encrypted with the passphrase (scrypt + NaCl secretbox, PEM "ENCRYPTED
 * COSIGN PRIVATE KEY", which skopeo --sign-by-sigstore-private-key and cosign
 * read), mode 0600; public_path the public key (PEM "PUBLIC KEY", for a
 * policy's keyPath). Refuses to replace either file. */
KILN_API int kiln_sign_generate_key(const char *private_path, const char *public_path,
                                    const char *passphrase, size_t passphrase_len,
                                    struct kiln_error *err);

/* How kiln_sign signs. Fill with kiln_sign_opts_init(), then set fields;
 * strings are borrowed. */
struct kiln_sign_opts {
    size_t size;            /* sizeof(struct kiln_sign_opts) of the caller's header */
    const char *key_file;   /* the encrypted private key (PEM) */
    const char *passphrase; /* its passphrase; may hold any bytes */
    size_t passphrase_len;
    const char *identity;   /* the docker reference to sign for; NULL: the one signed,
                             * normalised (docker.io/library/app:1.0; HOST/REPO for @DIGEST) */
    bool recursive;         /* an index: sign each of its images too (default true) */
    const char *digest;     /* sign this manifest of REF's repository ("sha256:…"), not
                             * what REF's tag names now; the tag still gives the identity.
                             * What a program that has just pushed passes, so that a tag
                             * moved meanwhile by someone else is not signed */
};
#define kiln_sign_opts_init(o) kiln_sign_opts_init_size((o), sizeof(*(o)))
KILN_API void kiln_sign_opts_init_size(struct kiln_sign_opts *o, size_t size);

/* Signs the image (or index) "docker://HOST/REPO:TAG" or "…@DIGEST" names,
 * adding a signature to those already at its sha256-<hex>.sig tag. On success
 * writes the digest signed to digest_out (may be NULL). Two signers of one
 * image at once can lose one signature: distribution has no conditional PUT. */
KILN_API int kiln_sign(const char *ref, const struct kiln_sign_opts *so,
                       const struct kiln_remote_opts *o, char digest_out[KILN_DIGEST_MAX],
                       struct kiln_error *err);

/* How kiln_verify checks. */
struct kiln_verify_opts {
    size_t size;
    const char *key_file; /* the public key (PEM) */
    const char *identity; /* the reference signatures must name: with a tag, exactly that;
                           * without one, any tag of the repository. NULL: as skopeo's default
                           * (matchRepoDigestOrExact): the reference given when it has a tag,
                           * else its repository */
    bool recursive;       /* an index: its images need a valid signature too (default true) */
};
#define kiln_verify_opts_init(o) kiln_verify_opts_init_size((o), sizeof(*(o)))
KILN_API void kiln_verify_opts_init_size(struct kiln_verify_opts *o, size_t size);

/* Succeeds when the image (and, for an index, each of its images) has at
 * least one signature made with the key, for its digest and an accepted
 * reference. *report (may be NULL; malloc'ed) gets one line per manifest:
 * "DIGEST REFERENCE-SIGNED". On failure err says why each signature was
 * refused. */
KILN_API int kiln_verify(const char *ref, const struct kiln_verify_opts *vo,
                         const struct kiln_remote_opts *o, char **report,
                         struct kiln_error *err);

/* Copies the sigstore signatures of a manifest (and, of an index, of each of
 * its images) from the sha256-<hex>.sig tags of docker:// src's repository
 * to those of docker:// dest's, adding them to the signatures already there.
 * digest names the manifest (NULL: what src names). The signatures still name
 * the reference they were made for: a policy for dest's name needs a
 * signedIdentity that accepts it (remapIdentity, matchRepository of the
 * source), or sign again at dest. *copied (may be NULL) counts the new ones. */
KILN_API int kiln_copy_signatures(const char *src, const char *dest, const char *digest,
                                  const struct kiln_remote_opts *o, unsigned *copied,
                                  struct kiln_error *err);
/* ---- referrers (OCI 1.1): files attached to an image ------------------------
 * docs/referrers.md. An artifact manifest (an OCI image manifest with an
 * artifactType, the empty config and the file as its one layer) whose
 * subject is the image. In an oci: layout it is an untagged entry of
 * index.json (never a platform of an index); an oci-archive: is rewritten
 * atomically; in a registry it is pushed by digest, and listed by the
 * referrers API when the registry has one (it answers OCI-Subject), else in
 * the index at the fallback tag sha256-<hex>, which kiln processes update
 * one at a time (a lock file per registry, repository and subject in
 * $XDG_RUNTIME_DIR/kiln-locks, else $TMPDIR/kiln-locks-UID). */

/* How kiln_attach attaches. Fill with kiln_attach_opts_init(); strings are
 * borrowed. */
struct kiln_attach_opts {
    size_t size;                    /* sizeof(struct kiln_attach_opts) of the caller's header */
    const char *artifact_type;      /* a media type, or spdx (application/spdx+json), spdx3
                                     * (application/spdx3+json), cyclonedx
                                     * (application/vnd.cyclonedx+json), in-toto
                                     * (application/vnd.in-toto+json); required */
    const char *media_type;         /* the file's; NULL: the artifact type */
    const char *const *annotations; /* "KEY=VALUE" for the manifest (and its descriptor) */
    size_t nannotations;
};
#define kiln_attach_opts_init(o) kiln_attach_opts_init_size((o), sizeof(*(o)))
KILN_API void kiln_attach_opts_init_size(struct kiln_attach_opts *o, size_t size);

/* Attaches file to the image (or index) ref names (oci:, oci-archive:,
 * docker://; not docker-archive:). The manifest's
 * org.opencontainers.image.created is SOURCE_DATE_EPOCH, else now; the
 * layer's org.opencontainers.image.title is the file's name. Attaching the
 * same bytes again adds nothing. digest_out (may be NULL) gets the artifact
 * manifest's digest. */
KILN_API int kiln_attach(const char *ref, const char *file, const struct kiln_attach_opts *ao,
                         const struct kiln_remote_opts *o, char digest_out[KILN_DIGEST_MAX],
                         struct kiln_error *err);

/* The referrers of the manifest ref names, as a referrers list (an OCI
 * image index of their descriptors, each with artifactType and
 * annotations: what the distribution spec's referrers API answers), in
 * *list_json (malloc'ed). artifact_type (NULL: all; a short name as for
 * kiln_attach) keeps one type. What a registry returns is checked to be
 * such a list, and not the subject itself. */
KILN_API int kiln_referrers(const char *ref, const char *artifact_type,
                            const struct kiln_remote_opts *o, char **list_json,
                            struct kiln_error *err);

/* After kiln_copy(src, dest) wrote digest: copies the referrers of the
 * image, and of each image of an index, from src to dest (any transports;
 * a docker-archive: dest holds none: they are dropped with a warning).
 * *copied (may be NULL) counts those new at dest. */
KILN_API int kiln_copy_referrers(const char *src, const char *dest, const char *digest,
                                 const struct kiln_remote_opts *o, unsigned *copied,
                                 struct kiln_error *err);

/* ---- kiln validate: will docker, podman and containerd take this image? ----
 * Checks an image on any transport (every image of an index, or the one of
 * `platform`): its manifest, index and config against the specs (required
 * fields and their types; media types of one family, OCI or Docker), every
 * layer blob against its digest and size, every layer's tar against its
 * diff_id, the layer count against the diff_ids and the consumers' limits,
 * every tar entry (".." names, whiteouts, hardlinks to nowhere), and, in
 * the merged filesystem, the entrypoint (or cmd[0]), the user and the
 * working directory as a container runtime looks them up.
 * Returns 0 when the image could be checked, whatever was found, with the
 * findings in *findings (free them with kiln_findings_free()); an image the
 * reader refuses outright (a damaged document) gives one error finding.
 * Returns -1 only when nothing could be checked (a malformed REF, a
 * registry that cannot be reached, out of memory, an interrupt). */
enum kiln_severity {
    KILN_SEVERITY_ERROR,   /* a consumer refuses the image, or the specs forbid it */
    KILN_SEVERITY_WARNING, /* accepted, but some consumers or containers fail on it */
};
struct kiln_finding {
    enum kiln_severity severity;
    char *check;   /* a short name: "diff-id", "blob-digest", "media-type", "hardlink", ... */
    char *where;   /* "layer 1 (sha256:…): etc/x", "config User"; an index's images
                      begin with their platform: "linux/arm64: …" */
    char *message; /* what is wrong, who refuses it, and what to do */
};
KILN_API int kiln_validate(const char *ref, const char *platform,
                           const struct kiln_remote_opts *o, struct kiln_finding **findings,
                           size_t *n, struct kiln_error *err);
KILN_API void kiln_findings_free(struct kiln_finding *findings, size_t n);

/* Verifies credentials against a registry, then stores them in the auth
 * file (o->authfile, $REGISTRY_AUTH_FILE, or the docker config) as `docker
 * login` does. kiln_logout removes them; returns 1 if there were any. */
KILN_API int kiln_login(const char *registry, const char *user, const char *password,
                        const struct kiln_remote_opts *o, struct kiln_error *err);
KILN_API int kiln_logout(const char *registry, const struct kiln_remote_opts *o,
                         struct kiln_error *err);

/* Runs the build; on success writes the manifest digest to digest_out. A
 * build with KILN_SET_FROM may have no input of its own: the base image with
 * the settings changed (kiln mutate). */
KILN_API int kiln_build_run(kiln_build *b, char digest_out[KILN_DIGEST_MAX],
                            struct kiln_error *err);

/* Asks every running build, copy or push to stop: they fail with
 * KILN_ERR_INTERRUPTED after removing what they had started to write.
 * Async-signal-safe: call it from a SIGINT/SIGTERM handler. */
KILN_API void kiln_interrupt(void);
/* Clears the request, so that a long-lived program (a build service) can run
 * the next operation after an interrupted one. Call it when no operation runs. */
KILN_API void kiln_interrupt_reset(void);

/* Versions of kiln and the libraries it was built with, one per line. */
KILN_API const char *kiln_version_string(void);
/* The version of the library actually loaded, as
 * KILN_VERSION_MAJOR * 10000 + KILN_VERSION_MINOR * 100 + KILN_VERSION_PATCH:
 * compare it with KILN_VERSION_NUMBER, the header's, to tell the two apart. */
#define KILN_VERSION_NUMBER \
    (KILN_VERSION_MAJOR * 10000 + KILN_VERSION_MINOR * 100 + KILN_VERSION_PATCH)
KILN_API int kiln_version_number(void);

#ifdef __cplusplus
}
#endif
#endif
