/* Byte sinks: the one-pass chain every blob goes through (hash, check, limit,
 * compress, write). */
#ifndef KILN_BASE_SINK_H
#define KILN_BASE_SINK_H

#include "../digest/sha256.h"

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

#endif
