/* Layer tars: the writer, the tree walk and the tarball reader. */
#ifndef KILN_TAR_H
#define KILN_TAR_H

#include "../base/sink.h"

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

int kiln_tar_add_file_from_path(struct kiln_tar_writer *w, const char *name, const char *src,
                                uint64_t size, int64_t mtime, struct kiln_blob_check *check,
                                struct kiln_error *err);
int kiln_tar_add_bytes(struct kiln_tar_writer *w, const char *name, const void *p, size_t n,
                       int64_t mtime, struct kiln_error *err);
int kiln_tar_add_dir(struct kiln_tar_writer *w, const char *name, int64_t mtime,
                     struct kiln_error *err);


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
/* A libarchive read callback (archive_read_open's) that feeds the archive
 * from fd, hashing and counting the bytes as they pass (a blob's digest and
 * size, while libarchive decompresses it). buf: 64 KiB the caller owns. */
struct archive;
struct kiln_hash_reader {
    int fd;
    unsigned char *buf;
    struct kiln_sha256 sha;
    uint64_t n;
};
ssize_t kiln_hash_reader_read(struct archive *a, void *ud, const void **out);
/* Strips "./" and "/" prefixes and "." components; rejects ".." components.
 * Returns the normalised path in out (empty for the root). */
int kiln_normalise_member_path(const char *in, struct kiln_buf *out, struct kiln_error *err);

#endif
