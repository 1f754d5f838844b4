/*
 * Internal declarations shared by the modules of libkiln. Not installed.
 *
 * Ownership: locals that own memory or descriptors are declared with the
 * _cleanup_*_ attributes below; TAKE_PTR() hands ownership on. Every free
 * function accepts NULL.
 */
#ifndef KILN_INTERNAL_H
#define KILN_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "kiln/kiln.h"

#define KILN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void *take_ptr_(void **p)
{
    void *v = *p;
    *p = NULL;
    return v;
}
#define TAKE_PTR(p) take_ptr_((void **)&(p))

static inline void freep_(void *p) { free(*(void **)p); }
#define _cleanup_free_ __attribute__((cleanup(freep_)))
void closep_(int *fd);
#define _cleanup_close_ __attribute__((cleanup(closep_)))

/* ---- base/error.c ---------------------------------------------------- */
/* Sets err (if not NULL) and returns -1, so callers can `return kiln_fail(...)`. */
int kiln_fail(struct kiln_error *err, int code, const char *fmt, ...) KILN_PRINTF(3, 4);
/* One formatted message to a log callback (nothing when fn is NULL). */
void kiln_logv(kiln_log_fn fn, void *userdata, enum kiln_log_level level, const char *fmt,
               va_list ap) KILN_PRINTF(4, 0);
/* Same, appending ": strerror(errnum)". */
int kiln_fail_errno(struct kiln_error *err, int code, int errnum, const char *fmt, ...)
    KILN_PRINTF(4, 5);
/* Prepends "context: " to an error already set, as it travels up. */
int kiln_error_prefix(struct kiln_error *err, const char *fmt, ...) KILN_PRINTF(2, 3);
int kiln_oom(struct kiln_error *err);
/* Returns -1 with KILN_ERR_INTERRUPTED once kiln_interrupt() was called, else 0. */
int kiln_check_interrupt(struct kiln_error *err);
bool kiln_is_interrupted(void);

/* ---- base/buf.c: growable byte buffer with a hard size cap ------------ */
struct kiln_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len, cap;
    size_t max; /* 0 = SIZE_MAX/2 */
};
int kiln_buf_append(struct kiln_buf *b, const void *p, size_t n, struct kiln_error *err);
int kiln_buf_printf(struct kiln_buf *b, struct kiln_error *err, const char *fmt, ...)
    KILN_PRINTF(3, 4);
void kiln_buf_free(struct kiln_buf *b);

/* ---- base/util.c ------------------------------------------------------ */
void *kiln_xmalloc(size_t n, struct kiln_error *err);
char *kiln_strdup(const char *s, struct kiln_error *err);
int kiln_write_all(int fd, const void *p, size_t n, const char *what, struct kiln_error *err);
/* Writes data to DIR/NAME atomically: temp file in DIR, fsync, rename. */
int kiln_write_file_atomic(const char *path, const void *p, size_t n, struct kiln_error *err);
int kiln_read_file(const char *path, size_t max, struct kiln_buf *out, struct kiln_error *err);
/* Copies file src to dst (new file): hardlink, else copy_file_range, else read/write. */
int kiln_copy_or_link(const char *src, const char *dst, struct kiln_error *err);
/* The --max-bytes / --max-entries bounds of a build (also for a Dockerfile's
 * ADD of a tarball). */
void kiln_build_tar_limits(const kiln_build *b, uint64_t *max_bytes, uint64_t *max_entries);
/* pseudo (OpenEmbedded's fakeroot) is preloaded and active. */
bool kiln_under_pseudo(void);
struct kiln_blob_check;
/* The same, checking the bytes against c (one read of src, linked or copied);
 * dst is removed on any failure. */
int kiln_copy_or_link_checked(const char *src, const char *dst, struct kiln_blob_check *c,
                              struct kiln_error *err);
int kiln_rm_rf(const char *path);
char *kiln_path_join(const char *a, const char *b, struct kiln_error *err);
char *kiln_dirname(const char *path, struct kiln_error *err);
void kiln_format_time(int64_t t, char out[32]); /* RFC 3339, UTC, seconds */
void kiln_hex(const unsigned char *in, size_t n, char *out);

/* ---- digest/sha256.c -------------------------------------------------- */
struct kiln_sha256 {
    void *ctx; /* EVP_MD_CTX */
};
int kiln_sha256_init(struct kiln_sha256 *h, struct kiln_error *err);
void kiln_sha256_update(struct kiln_sha256 *h, const void *p, size_t n);
/* Writes "sha256:<hex>" into out and releases the context. */
void kiln_sha256_final(struct kiln_sha256 *h, char out[KILN_DIGEST_MAX]);
void kiln_sha256_free(struct kiln_sha256 *h);
int kiln_sha256_buf(const void *p, size_t n, char out[KILN_DIGEST_MAX], struct kiln_error *err);
/* Checks "sha256:<64 lowercase hex>". */
bool kiln_digest_valid(const char *d);

/* ---- base/sink.c: a chain of byte sinks ------------------------------- */
struct kiln_sink {
    int (*write)(struct kiln_sink *s, const void *p, size_t n, struct kiln_error *err);
    int (*finish)(struct kiln_sink *s, struct kiln_error *err); /* flush; may be NULL */
};
static inline int kiln_sink_write(struct kiln_sink *s, const void *p, size_t n,
                                  struct kiln_error *err)
{
    return n ? s->write(s, p, n, err) : 0;
}
static inline int kiln_sink_finish(struct kiln_sink *s, struct kiln_error *err)
{
    return s->finish ? s->finish(s, err) : 0;
}

/* Hashes and counts what passes through, then forwards it to next (may be NULL). */
struct kiln_hash_sink {
    struct kiln_sink sink;
    struct kiln_sink *next;
    struct kiln_sha256 sha;
    uint64_t bytes;
};
int kiln_hash_sink_init(struct kiln_hash_sink *h, struct kiln_sink *next, struct kiln_error *err);

/* Writes to a file descriptor; `what` names the file in errors. */
struct kiln_fd_sink {
    struct kiln_sink sink;
    int fd;
    const char *what;
};
void kiln_fd_sink_init(struct kiln_fd_sink *s, int fd, const char *what);

/* Forwards at most `max` bytes; more is an error naming `what` (hostile
 * servers sending endless bodies). */
struct kiln_limit_sink {
    struct kiln_sink sink;
    struct kiln_sink *next;
    uint64_t max, bytes;
    const char *what;
};
void kiln_limit_sink_init(struct kiln_limit_sink *s, struct kiln_sink *next, uint64_t max,
                          const char *what);

/* Appends to a kiln_buf (tests, small documents). */
struct kiln_buf_sink {
    struct kiln_sink sink;
    struct kiln_buf buf;
};
void kiln_buf_sink_init(struct kiln_buf_sink *s);

/* Checks a blob read from a source kiln does not trust on read (a local
 * layout or archive) against its descriptor, as its bytes stream past: the
 * bytes are hashed once, in order, by whatever reads them for their real use.
 * The last bytes are compared before they are handed on, so a damaged blob
 * fails before its end is written anywhere. `origin` ("oci:DIR", …) names the
 * source in errors. */
struct kiln_blob_check {
    struct kiln_sha256 sha;
    char digest[KILN_DIGEST_MAX];
    uint64_t size;   /* from the descriptor */
    uint64_t hashed; /* bytes hashed so far (a high-water mark: rewinds are skipped) */
    const char *origin;
    bool done, ok;
};
int kiln_blob_check_init(struct kiln_blob_check *c, const char *digest, uint64_t size,
                         const char *origin, struct kiln_error *err);
/* The file's size against the descriptor's (before reading it). */
int kiln_blob_check_size(const struct kiln_blob_check *c, uint64_t actual, struct kiln_error *err);
/* Bytes p[0..n) at offset off of the blob; bytes below the mark are not
 * hashed again (a rewound request). Fails on a gap, on more bytes than the
 * descriptor says, or, when the last byte arrives, on a digest mismatch. */
int kiln_blob_check_at(struct kiln_blob_check *c, uint64_t off, const void *p, size_t n,
                       struct kiln_error *err);
/* At the end of the stream: fails unless every byte was seen and matched. */
int kiln_blob_check_end(struct kiln_blob_check *c, struct kiln_error *err);
void kiln_blob_check_free(struct kiln_blob_check *c);
/* Reads what is left of fd (from its offset) into the check: a stream
 * reader (libarchive) may stop before the end of a file. */
int kiln_blob_check_drain(struct kiln_blob_check *c, int fd, struct kiln_error *err);

/* A kiln_blob_check as a sink stage: checks, then forwards to next. */
struct kiln_check_sink {
    struct kiln_sink sink;
    struct kiln_sink *next;
    struct kiln_blob_check *check;
};
void kiln_check_sink_init(struct kiln_check_sink *s, struct kiln_sink *next,
                          struct kiln_blob_check *c);

/* ---- compress/compress.c ---------------------------------------------- */
struct kiln_compressor;
/* A sink that compresses into next. level < 0 = default. */
int kiln_compressor_new(enum kiln_compression c, int level, unsigned jobs, struct kiln_sink *next,
                        struct kiln_compressor **out, struct kiln_error *err);
struct kiln_sink *kiln_compressor_sink(struct kiln_compressor *c);
void kiln_compressor_free(struct kiln_compressor *c);
int kiln_compression_default_level(enum kiln_compression c);
int kiln_compression_check_level(enum kiln_compression c, int level, struct kiln_error *err);
const char *kiln_compression_name(enum kiln_compression c);
#define KILN_GZIP_BLOCK_SIZE (4 * 1024 * 1024) /* docs/layer-format.md, "Blocks" */

/* ---- tar/tarwriter.c -------------------------------------------------- */
enum kiln_tar_type {
    KILN_TAR_REG = '0',
    KILN_TAR_HARDLINK = '1',
    KILN_TAR_SYMLINK = '2',
    KILN_TAR_CHR = '3',
    KILN_TAR_BLK = '4',
    KILN_TAR_DIR = '5',
    KILN_TAR_FIFO = '6',
};
struct kiln_xattr {
    char *name;
    unsigned char *value;
    size_t len;
};
struct kiln_tar_entry {
    const char *path;     /* relative, no leading "./" or "/", no trailing "/" */
    const char *linkname; /* symlink target or hardlink path; NULL otherwise */
    enum kiln_tar_type type;
    uint32_t mode; /* permission bits incl. setuid/setgid/sticky (07777) */
    uint64_t uid, gid;
    int64_t mtime;
    uint64_t size; /* regular files only */
    uint32_t devmajor, devminor;
    const struct kiln_xattr *xattrs; /* sorted by name */
    size_t nxattrs;
};
struct kiln_tar_writer {
    struct kiln_sink *out;
    uint64_t remaining; /* data bytes still owed to the current entry */
    uint64_t written;   /* data bytes written to the current entry */
};
void kiln_tar_writer_init(struct kiln_tar_writer *w, struct kiln_sink *out);
int kiln_tar_write_header(struct kiln_tar_writer *w, const struct kiln_tar_entry *e,
                          struct kiln_error *err);
int kiln_tar_write_data(struct kiln_tar_writer *w, const void *p, size_t n, struct kiln_error *err);
/* Pads the current entry's data to a 512-byte boundary. */
int kiln_tar_end_entry(struct kiln_tar_writer *w, struct kiln_error *err);
/* The two zero blocks that end an archive. */
int kiln_tar_finish(struct kiln_tar_writer *w, struct kiln_error *err);
/* Orders paths depth-first with siblings bytewise, parents before children. */
int kiln_tar_path_cmp(const char *a, const char *b);
void kiln_xattrs_free(struct kiln_xattr *x, size_t n);

/* ---- tar/walk.c, tar/tarinput.c: layer sources ------------------------ */
struct kiln_layer_map;
struct kiln_layer_opts {
    struct kiln_layer_map *map; /* split the tree: emit only layer map_layer */
    unsigned map_layer;
    bool clamp_mtime;
    int64_t clamp_to;
    bool xattrs;
    const char *prefix; /* trees: write entries below this path (--add) */
    bool force_owner;   /* --add: every entry owned by uid:gid */
    uint64_t uid, gid;
    bool force_mode;    /* --add: these permission bits for every non-symlink */
    uint32_t mode;
    uint64_t max_bytes;   /* --tar: bound on the expanded data (tar bombs); 0 = none */
    uint64_t max_entries; /* --tar: bound on the number of members; 0 = none */
    bool tar_stream;      /* --tar: stream members already in canonical order (see below) */
    kiln_log_fn log;
    void *log_userdata;
};
int kiln_layer_from_tree(const char *dir, const struct kiln_layer_opts *o, struct kiln_tar_writer *w,
                         struct kiln_error *err);
/* A changeset: what turns OLD into NEW, with whiteouts (.wh.NAME) for what
 * NEW lacks and opaque markers (.wh..wh..opq), sorted like a tree walk. */
int kiln_layer_from_diff(const char *old_dir, const char *new_dir, const struct kiln_layer_opts *o,
                         struct kiln_tar_writer *w, struct kiln_error *err);
/* The tree walk's building blocks, shared with tar/diff.c. A kiln_walk
 * writes entries to w as kiln_layer_from_tree does (same options, one
 * hardlink table: a later member of an inode becomes a link to the first). */
struct stat;
struct kiln_walk;
struct kiln_walk *kiln_walk_new(const struct kiln_layer_opts *o, struct kiln_tar_writer *w,
                                struct kiln_error *err);
void kiln_walk_free(struct kiln_walk *k);
/* One entry (abs on disk, rel in the layer; a socket is skipped with a warning). */
int kiln_walk_emit(struct kiln_walk *k, const char *abs, const char *rel, const struct stat *st,
                   struct kiln_error *err);
/* Everything below the directory abs (not abs itself), depth-first, sorted. */
int kiln_walk_tree(struct kiln_walk *k, const char *abs, const char *rel, struct kiln_error *err);
/* The names in a directory but "." and "..", sorted bytewise. */
int kiln_walk_list_dir(const char *abs, char ***names, size_t *n, struct kiln_error *err);
void kiln_walk_names_free(char **names, size_t n);
/* Extended attributes sorted by name, security.selinux left out. */
int kiln_walk_read_xattrs(const char *path, struct kiln_xattr **out, size_t *nout,
                          struct kiln_error *err);
/* A symlink's target (st from lstat), NUL-terminated; NULL on error. */
char *kiln_walk_readlink(const char *abs, const struct stat *st, struct kiln_error *err);
/* One path (file, symlink, or a directory and its tree) written at o->prefix. */
int kiln_layer_from_path(const char *src, const struct kiln_layer_opts *o,
                         struct kiln_tar_writer *w, struct kiln_error *err);
/* Walks the tree once to learn which layer of the map each entry goes to. */
int kiln_layer_map_scan(const char *dir, struct kiln_layer_map *map, struct kiln_error *err);
/* A tarball as one layer. With o->tar_stream, members are written as they
 * are read, with no spool, as long as the archive is already in canonical
 * order (sorted like a tree walk, no duplicates, hardlinks after their
 * targets): at the first member that is not, it stops and returns
 * KILN_TAR_UNSORTED, and the caller starts the layer again without
 * tar_stream (spooled and sorted). Both ways give the same bytes. */
#define KILN_TAR_UNSORTED 1
int kiln_layer_from_tarball(const char *file, const struct kiln_layer_opts *o,
                            struct kiln_tar_writer *w, struct kiln_error *err);
/* Strips "./" and "/" prefixes and "." components; rejects ".." components.
 * Returns the normalised path in out (empty for the root). */
int kiln_normalise_member_path(const char *in, struct kiln_buf *out, struct kiln_error *err);

/* ---- image/platform.c ------------------------------------------------- */
struct kiln_platform {
    char os[32];
    char arch[32];
    char variant[16];
};
int kiln_platform_parse(const char *text, struct kiln_platform *p, struct kiln_error *err);
void kiln_platform_host(struct kiln_platform *p);
/* Maps GNU/Yocto architecture names to Go's; returns false if unknown. */
bool kiln_arch_canonical(const char *in, char arch[32], char variant[16]);

/* ---- image/reference.c ------------------------------------------------ */
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

/* ---- image/config.c: JSON documents ----------------------------------- */
/* One validator per value that kiln build's settings and a Dockerfile both
 * take, as Docker reads them. A port: "N" or "N-M" (1-65535), optionally
 * "/tcp", "/udp" or "/sctp" in any case; proto is written lowercased. */
int kiln_port_parse(const char *v, long *lo, long *hi, char proto[8]);
/* A signal: a number 1-64, or a name with or without SIG in any case,
 * RTMIN+N and RTMAX-N included. */
bool kiln_signal_valid(const char *v);
struct kiln_strlist {
    char **v;
    size_t n;
};
int kiln_strlist_push(struct kiln_strlist *l, const char *s, struct kiln_error *err);
void kiln_strlist_free(struct kiln_strlist *l);
/* Splits a string as a POSIX shell would (quotes, backslashes), or parses a JSON array. */
int kiln_parse_args(const char *text, struct kiln_strlist *out, struct kiln_error *err);

struct kiln_layer_desc {
    char diff_id[KILN_DIGEST_MAX];
    char digest[KILN_DIGEST_MAX];
    uint64_t size;
    const char *created_by;
    const char *media_type; /* NULL: the build's compression decides */
};
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
                     const struct kiln_layer_desc *layers, size_t nlayers, struct kiln_buf *out,
                     struct kiln_error *err);
/* OCI media type for a layer media type of either family (same bytes). */
const char *kiln_layer_media_type_oci(const char *mt);
int kiln_manifest_json(enum kiln_manifest_kind kind, enum kiln_compression comp,
                       const char *config_digest, size_t config_size,
                       const struct kiln_layer_desc *layers, size_t nlayers,
                       const struct kiln_strlist *annotations, struct kiln_buf *out,
                       struct kiln_error *err);
const char *kiln_layer_media_type(enum kiln_manifest_kind kind, enum kiln_compression comp);
#define KILN_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define KILN_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define KILN_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define KILN_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define KILN_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define KILN_ANNOT_REF_NAME "org.opencontainers.image.ref.name"
#define KILN_ANNOT_CONTAINERD_NAME "io.containerd.image.name"

/* ---- image/outputs: what a build hands to each output ----------------- */
struct kiln_blob {
    char digest[KILN_DIGEST_MAX];
    uint64_t size;
    char *path; /* staged file holding the bytes */
    /* the source the file was read from, when its bytes must be checked
     * against digest and size as they are copied (kiln_blob_check);
     * NULL for blobs kiln made or already verified */
    const char *origin;
};
struct kiln_mem_blob {
    char digest[KILN_DIGEST_MAX];
    const struct kiln_buf *data;
};
struct kiln_image_out {
    const struct kiln_platform *platform; /* NULL for an index */
    int64_t created;
    const char *manifest_media_type; /* the top document: a manifest or an index */
    const struct kiln_buf *manifest; /* exact bytes */
    char manifest_digest[KILN_DIGEST_MAX];
    const struct kiln_buf *config_json; /* NULL for an index */
    char config_digest[KILN_DIGEST_MAX];
    const struct kiln_blob *layer_blobs; /* every layer (of every image of an index) */
    size_t nlayers;
    const char *const *diff_ids; /* docker-archive: one per layer */
    const struct kiln_mem_blob *extra; /* an index's manifests and configs */
    size_t nextra;
    const struct kiln_reference *tags;
    size_t ntags;
    int64_t file_mtime; /* mtime of the files in archives */
};

/* A temporary file or directory at a destination, held open and flocked by
 * this process for as long as it exists (image/layout.h). fd < 0: none. */
struct kiln_held {
    char *path;
    int fd;
};
#define KILN_HELD_INIT {NULL, -1}

/* An output prepared in a temporary place and then committed by rename
 * (archives), or merged under the layout's lock (oci:, image/layout.c). */
struct kiln_output {
    enum { KILN_OUT_OCI, KILN_OUT_OCI_ARCHIVE, KILN_OUT_DOCKER_ARCHIVE } kind;
    char *spec;   /* as the user wrote it */
    char *path;   /* DIR or FILE */
    char *tag;    /* oci: ref name, NULL = default */
    struct kiln_reference repo_tag; /* docker-archive:FILE:REF, the image's RepoTag */
    bool have_repo_tag;
    struct kiln_held tmp;   /* the new file or layout beside path */
    struct kiln_held stage; /* oci, existing layout: its blobs staged inside it */
    bool existed; /* oci: adding to an existing layout */
    bool committed;         /* in place (rollback must undo it) */
    bool removed_empty_dir; /* an empty directory was replaced by the layout */
    bool fresh_commit;      /* oci: the commit renamed a new layout into place */
    bool now_empty;         /* oci rollback: no entry is left in the index */
    struct kiln_held backup; /* the file the commit replaced, kept until finish */
    const struct kiln_image_out *img; /* from prepare to finish: the blobs' sources */
    char *entry;            /* oci: our index.json entry (JSON) */
    char *displaced;        /* oci: the entry of our tag that the commit replaced */
    struct kiln_strlist added_blobs; /* oci: digests the commit added (rollback list) */
};
int kiln_output_parse(const char *spec, struct kiln_output *o, struct kiln_error *err);
int kiln_output_check(struct kiln_output *o, struct kiln_error *err);
int kiln_output_prepare(struct kiln_output *o, const struct kiln_image_out *img,
                        struct kiln_error *err);
int kiln_output_commit(struct kiln_output *o, struct kiln_error *err);
/* Undoes a prepared or committed output, restoring what it replaced. */
void kiln_output_rollback(struct kiln_output *o);
/* After every output committed: drops the backups. */
void kiln_output_finish(struct kiln_output *o);
void kiln_output_free(struct kiln_output *o);

int kiln_tar_add_file_from_path(struct kiln_tar_writer *w, const char *name, const char *src,
                                uint64_t size, int64_t mtime, struct kiln_blob_check *check,
                                struct kiln_error *err);
int kiln_tar_add_bytes(struct kiln_tar_writer *w, const char *name, const void *p, size_t n,
                       int64_t mtime, struct kiln_error *err);
int kiln_tar_add_dir(struct kiln_tar_writer *w, const char *name, int64_t mtime,
                     struct kiln_error *err);

#endif
