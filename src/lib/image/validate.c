/*
 * kiln validate: will docker, podman and containerd accept this image, and
 * run it as its config says?
 *
 * The image is opened with the ordinary source reader (kiln_src_open), which
 * already refuses what no reader can use (a document that does not hash to
 * its digest, a docker-archive layer whose tar does not match its diff_id):
 * such a refusal becomes one error finding. Then every image is checked:
 * its manifest and config against the specs (fields, types, media types of
 * one family), every layer blob against its descriptor (digest, size) and
 * its tar against the config's diff_id, in one read through libarchive, and
 * every tar entry (paths, whiteouts, hardlinks). The entries build a model
 * of the merged filesystem, in which the entrypoint, the user and the
 * working directory are looked up as a container runtime would.
 *
 * Findings are data, not errors: the call fails only when it could not
 * check at all (a usage error, out of memory, an interrupt).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "../copy.h"
#include "../internal.h"

/* Beyond this many layers Docker's overlay2 driver cannot mount an image:
 * moby daemon/graphdriver/overlay2/overlay.go, maxDepth = 128 (line 76),
 * "max depth exceeded" (line 456), at moby b985e23. */
#define OVERLAY2_MAX_LAYERS 128
/* /etc/passwd and /etc/group are read into memory up to this size. */
#define ACCOUNT_FILE_MAX (1 << 20)
#define MAX_SYMLINKS     40
#define DEFAULT_PATH     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct findings {
    struct kiln_finding *v;
    size_t n, cap;
    bool oom;
};

/* A path of the merged filesystem. */
struct node {
    struct node *next; /* hash chain */
    char *path;        /* normalised, "" never stored */
    char type;         /* 'f' file, 'd' dir, 'l' symlink, 'o' other */
    uint32_t mode;
    char *link; /* symlink target */
    size_t layer;
};

struct fs {
    struct node **buckets;
    size_t nbuckets, n;
    struct kiln_buf passwd, group;
    bool have_passwd, have_group;
};

struct vctx {
    struct findings *f;
    const char *prefix; /* "linux/arm64: " for an image of an index, else "" */
    struct kiln_error *err;
};

static void add_finding(struct vctx *c, enum kiln_severity sev, const char *check,
                        const char *where, const char *fmt, ...) KILN_PRINTF(5, 6);
static void add_finding(struct vctx *c, enum kiln_severity sev, const char *check,
                        const char *where, const char *fmt, ...)
{
    struct findings *f = c->f;
    if (f->oom)
        return;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct kiln_finding *v = realloc(f->v, cap * sizeof(*v));
        if (!v) {
            f->oom = true;
            return;
        }
        f->v = v;
        f->cap = cap;
    }
    char msg[2048], w[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(w, sizeof(w), "%s%s", c->prefix, where);
    struct kiln_finding *x = &f->v[f->n];
    x->severity = sev;
    x->check = strdup(check);
    x->where = strdup(w);
    x->message = strdup(msg);
    if (!x->check || !x->where || !x->message) {
        free(x->check);
        free(x->where);
        free(x->message);
        f->oom = true;
        return;
    }
    f->n++;
}

#define ERROR_(c, check, where, ...) add_finding(c, KILN_SEVERITY_ERROR, check, where, __VA_ARGS__)
#define WARN_(c, check, where, ...)  add_finding(c, KILN_SEVERITY_WARNING, check, where, __VA_ARGS__)

void kiln_findings_free(struct kiln_finding *f, size_t n)
{
    if (!f)
        return;
    for (size_t i = 0; i < n; i++) {
        free(f[i].check);
        free(f[i].where);
        free(f[i].message);
    }
    free(f);
}

/* ---- the merged filesystem ---- */

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void fs_free(struct fs *fs)
{
    for (size_t i = 0; i < fs->nbuckets; i++) {
        struct node *n = fs->buckets[i];
        while (n) {
            struct node *next = n->next;
            free(n->path);
            free(n->link);
            free(n);
            n = next;
        }
    }
    free(fs->buckets);
    kiln_buf_free(&fs->passwd);
    kiln_buf_free(&fs->group);
}

static int fs_init(struct fs *fs, struct kiln_error *err)
{
    memset(fs, 0, sizeof(*fs));
    fs->passwd.max = fs->group.max = ACCOUNT_FILE_MAX;
    if (!(fs->buckets = calloc(1 << 14, sizeof(*fs->buckets))))
        return kiln_oom(err);
    fs->nbuckets = 1 << 14;
    return 0;
}

static struct node *fs_get(const struct fs *fs, const char *path)
{
    for (struct node *n = fs->buckets[hash_str(path) % fs->nbuckets]; n; n = n->next)
        if (!strcmp(n->path, path))
            return n;
    return NULL;
}

static bool is_below(const char *path, const char *dir)
{
    size_t l = strlen(dir);
    return !strncmp(path, dir, l) && path[l] == '/';
}

static void fs_forget_account(struct fs *fs, const char *path)
{
    if (!strcmp(path, "etc/passwd")) {
        kiln_buf_free(&fs->passwd);
        fs->passwd.max = ACCOUNT_FILE_MAX;
        fs->have_passwd = false;
    } else if (!strcmp(path, "etc/group")) {
        kiln_buf_free(&fs->group);
        fs->group.max = ACCOUNT_FILE_MAX;
        fs->have_group = false;
    }
}

/* Removes what layers below `layer` hold at path (self) and below it. */
static void fs_remove(struct fs *fs, const char *path, bool self, size_t layer)
{
    for (size_t i = 0; i < fs->nbuckets; i++) {
        struct node **pp = &fs->buckets[i];
        while (*pp) {
            struct node *n = *pp;
            bool hit = n->layer < layer &&
                       ((self && !strcmp(n->path, path)) || !*path || is_below(n->path, path));
            if (!hit) {
                pp = &n->next;
                continue;
            }
            fs_forget_account(fs, n->path);
            *pp = n->next;
            free(n->path);
            free(n->link);
            free(n);
            fs->n--;
        }
    }
}

static int fs_put(struct fs *fs, const char *path, char type, uint32_t mode, const char *link,
                  size_t layer, struct kiln_error *err)
{
    struct node *n = fs_get(fs, path);
    if (n && n->type == 'd' && type != 'd')
        fs_remove(fs, path, false, layer + 1); /* a directory replaced: its tree goes */
    if (!n) {
        if (!(n = calloc(1, sizeof(*n))) || !(n->path = strdup(path))) {
            free(n);
            return kiln_oom(err);
        }
        size_t b = hash_str(path) % fs->nbuckets;
        n->next = fs->buckets[b];
        fs->buckets[b] = n;
        fs->n++;
    }
    free(n->link);
    n->link = NULL;
    if (link && !(n->link = strdup(link)))
        return kiln_oom(err);
    n->type = type;
    n->mode = mode;
    n->layer = layer;
    return 0;
}

/*
 * Resolves an absolute path in the merged filesystem as the kernel would,
 * symlinks followed (absolute targets from the image's root). Returns the
 * node, or NULL with *why set: "does not exist", "is a symlink loop", ...
 */
static const struct node *fs_resolve_at(const struct fs *fs, const char *path, const char **why,
                                        char cur[4096])
{
    char rest[8192];
    cur[0] = '\0';
    snprintf(rest, sizeof(rest), "%s", path);
    int links = 0;
    const struct node *n = NULL;
    char *p = rest;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char comp[256];
        if (l >= sizeof(comp)) {
            *why = "has a component longer than 255 bytes";
            return NULL;
        }
        memcpy(comp, p, l);
        comp[l] = '\0';
        p += l;
        if (!strcmp(comp, "."))
            continue;
        if (!strcmp(comp, "..")) {
            char *s = strrchr(cur, '/');
            if (s)
                *s = '\0';
            else
                cur[0] = '\0';
            continue;
        }
        char next[4096];
        if ((size_t)snprintf(next, sizeof(next), "%s%s%s", cur, *cur ? "/" : "", comp) >=
            sizeof(next)) {
            *why = "is too long";
            return NULL;
        }
        n = fs_get(fs, next);
        if (!n) {
            *why = "does not exist";
            return NULL;
        }
        if (n->type == 'l') {
            if (++links > MAX_SYMLINKS) {
                *why = "goes through too many symlinks (a loop?)";
                return NULL;
            }
            char tmp[8192];
            if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", n->link ? n->link : "", p) >=
                sizeof(tmp)) {
                *why = "is too long";
                return NULL;
            }
            if (n->link && n->link[0] == '/')
                cur[0] = '\0';
            snprintf(rest, sizeof(rest), "%s", tmp);
            p = rest;
            continue;
        }
        snprintf(cur, 4096, "%s", next);
        while (*p == '/')
            p++;
        if (*p && n->type != 'd') {
            *why = "has a component that is not a directory";
            return NULL;
        }
    }
    if (!*cur) {
        static const struct node root = { .path = (char *)"", .type = 'd', .mode = 0755 };
        return &root;
    }
    return fs_get(fs, cur);
}

static const struct node *fs_resolve(const struct fs *fs, const char *path, const char **why)
{
    char cur[4096];
    return fs_resolve_at(fs, path, why, cur);
}

/* The entry at an archive path, its parent directory resolved through
 * symlinks (the entry itself is not followed). */
static const struct node *fs_lookup(const struct fs *fs, const char *path)
{
    const struct node *n = fs_get(fs, path);
    const char *slash = strrchr(path, '/');
    if (n || !slash)
        return n;
    char abs[4100], at[4096], full[8200];
    snprintf(abs, sizeof(abs), "/%.*s", (int)(slash - path), path);
    const char *why;
    const struct node *d = fs_resolve_at(fs, abs, &why, at);
    if (!d || d->type != 'd')
        return NULL;
    snprintf(full, sizeof(full), "%s%s%s", at, *at ? "/" : "", slash + 1);
    return fs_get(fs, full);
}

/*
 * Where an entry of a layer lands: its parent directory resolved through the
 * symlinks of the layers below (a consumer writing "bin/x" over a "bin ->
 * usr/bin" symlink writes usr/bin/x; merged-/usr images are full of them),
 * its missing parents created as directories, as consumers create them.
 * `out` gets the path (4096 bytes).
 */
static int fs_place(struct fs *fs, const char *path, size_t layer, char out[4096],
                    struct kiln_error *err)
{
    const char *slash = strrchr(path, '/');
    snprintf(out, 4096, "%s", path);
    if (!slash)
        return 0;
    char parent[4096], abs[4100], at[4096];
    snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
    snprintf(abs, sizeof(abs), "/%s", parent);
    const char *why;
    const struct node *n = fs_resolve_at(fs, abs, &why, at);
    if (n && n->type == 'd') {
        snprintf(out, 4096, "%s%s%s", at, *at ? "/" : "", slash + 1);
        return 0;
    }
    /* implicit parents: every missing prefix becomes a directory */
    for (char *p = parent;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = '\0';
            if (!fs_get(fs, parent) && fs_put(fs, parent, 'd', 0755, NULL, layer, err) < 0)
                return -1;
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

/* ---- layers ---- */


/* Feeds the tar reader from the outer archive's decompressed stream,
 * hashing it: the diff_id. */
struct tar_reader {
    struct archive *raw;
    struct kiln_sha256 sha;
    uint64_t n;
    bool failed;
};

static la_ssize_t tar_read(struct archive *a, void *ud, const void **out)
{
    struct tar_reader *tr = ud;
    size_t len;
    la_int64_t off;
    int r = archive_read_data_block(tr->raw, out, &len, &off);
    if (r == ARCHIVE_EOF)
        return 0;
    if (r != ARCHIVE_OK) {
        tr->failed = true;
        archive_set_error(a, EIO, "%s",
                          archive_error_string(tr->raw) ? archive_error_string(tr->raw)
                                                        : "cannot decompress");
        return -1;
    }
    kiln_sha256_update(&tr->sha, *out, len);
    tr->n += len;
    return (la_ssize_t)len;
}

enum compression_seen { SEEN_NONE, SEEN_GZIP, SEEN_ZSTD, SEEN_OTHER };

static enum compression_seen sniff(const unsigned char *m, ssize_t n)
{
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
        return SEEN_GZIP;
    if (n >= 4 && !memcmp(m, "\x28\xb5\x2f\xfd", 4))
        return SEEN_ZSTD;
    if ((n >= 3 && !memcmp(m, "BZh", 3)) || (n >= 5 && !memcmp(m,
                                                               "\xfd"
                                                               "7zXZ",
                                                               5)))
        return SEEN_OTHER;
    return SEEN_NONE;
}

static const char *basename_of(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

struct layer_info {
    size_t index;
    const char *where; /* "layer 2 (sha256:…)" */
    const char *media_type;
    const char *digest;
    uint64_t size;
    bool check_blob;     /* descriptor digest/size to check (not for docker-archive) */
    const char *diff_id; /* NULL: the config lists none for this layer */
};

/* One tar entry: paths, whiteouts, hardlinks; then into the model. */
static int layer_entry(struct vctx *c, struct fs *fs, const struct layer_info *li,
                       struct archive *a, struct archive_entry *e, struct kiln_buf *norm)
{
    const char *name = archive_entry_pathname(e);
    char where[1024];
    snprintf(where, sizeof(where), "%s: %s", li->where, name ? name : "(no name)");
    if (!name || !*name) {
        ERROR_(c, "layer-path", where,
               "an entry has no name: tar readers disagree on what it is; rebuild the layer");
        return 0;
    }
    struct kiln_error ignored;
    if (kiln_normalise_member_path(name, norm, &ignored) < 0) {
        if (ignored.code == KILN_ERR_NOMEM)
            return kiln_oom(c->err);
        WARN_(c, "layer-path", where,
              "the name has a '..' component: docker load, podman and containerd take it, but "
              "kiln unpack refuses it, and where it lands differs between tools; rebuild the "
              "layer with relative paths");
        return 0;
    }
    if (name[0] == '/' && norm->len)
        WARN_(c, "layer-path", where,
              "an absolute name: consumers strip the leading '/', but tar tools extract it "
              "outside the target directory; write relative names");
    if (!norm->len)
        return 0; /* the root */
    char path[4096];
    if (fs_place(fs, norm->data, li->index, path, c->err) < 0)
        return -1;
    const char *base = basename_of(path);
    const char *hl = archive_entry_hardlink(e);
    mode_t ft = archive_entry_filetype(e);
    if (!strncmp(base, ".wh.", 4)) {
        if (!strcmp(base, ".wh..wh..opq")) {
            size_t dl = (size_t)(base - path);
            char dir[4096];
            snprintf(dir, sizeof(dir), "%.*s", dl ? (int)dl - 1 : 0, path);
            fs_remove(fs, dir, false, li->index);
            return 0;
        }
        const char *victim = base + 4;
        if (!strncmp(victim, ".wh.", 4))
            return 0; /* aufs metadata (.wh..wh.plnk): nothing to apply */
        if (!*victim || !strcmp(victim, ".") || !strcmp(victim, "..")) {
            ERROR_(c, "whiteout", where,
                   "a whiteout that names no entry: remove it from the layer");
            return 0;
        }
        if (hl || ft != AE_IFREG || archive_entry_size(e) != 0)
            WARN_(c, "whiteout", where,
                  "a whiteout should be an empty regular file; consumers only look at its name");
        char victim_path[4096];
        snprintf(victim_path, sizeof(victim_path), "%.*s%s", (int)(base - path), path, victim);
        const struct node *vn = fs_get(fs, victim_path);
        bool own = vn && vn->layer == li->index;
        if (own)
            WARN_(c, "whiteout", where,
                  "a whiteout of '%s', an earlier entry of its own layer: the specs say a "
                  "whiteout hides only what lower layers hold, but docker and containerd "
                  "remove the entry; drop one of the two",
                  victim_path);
        /* as the consumers do: what is there when the whiteout comes goes */
        fs_remove(fs, victim_path, true, own ? li->index + 1 : li->index);
        return 0;
    }
    const struct node *dup = fs_get(fs, path);
    if (dup && dup->layer == li->index)
        WARN_(c, "layer-path", where,
              "a second entry at this path in the layer: which one wins depends on the "
              "consumer; keep one");
    if (hl) {
        struct kiln_buf t = { 0 };
        int r = kiln_normalise_member_path(hl, &t, &ignored);
        if (r < 0 && ignored.code == KILN_ERR_NOMEM)
            return kiln_oom(c->err);
        const struct node *tn = r == 0 && t.len ? fs_lookup(fs, t.data) : NULL;
        if (r < 0)
            ERROR_(c, "hardlink", where,
                   "a hardlink to '%s', which has a '..' component: docker load refuses the "
                   "layer; rebuild it",
                   hl);
        else if (!tn)
            ERROR_(c, "hardlink", where,
                   "a hardlink to '%s', which no earlier entry of this layer or of a layer "
                   "below is: docker load and containerd refuse the layer; rebuild it with the "
                   "target before the link",
                   hl);
        else if (tn->layer < li->index && tn->type != 'd')
            WARN_(c, "hardlink", where,
                  "a hardlink to '%s', which only a layer below holds: Docker's overlay2 "
                  "driver extracts each layer into a directory of its own, where the link "
                  "fails (moby daemon/graphdriver/overlay2/overlay.go:680-684 at b985e23); "
                  "vfs and containerd take it; put the target in this layer too",
                  hl);
        else if (tn->type == 'd')
            ERROR_(c, "hardlink", where,
                   "a hardlink to the directory '%s': no filesystem can make one; rebuild the "
                   "layer",
                   hl);
        int rc = 0;
        if (tn)
            rc = fs_put(fs, path, tn->type, tn->mode, tn->link, li->index, c->err);
        kiln_buf_free(&t);
        return rc;
    }
    char type = ft == AE_IFREG ? 'f' : ft == AE_IFDIR ? 'd' : ft == AE_IFLNK ? 'l' : 'o';
    if (fs_put(fs, path, type, (uint32_t)archive_entry_perm(e), archive_entry_symlink(e), li->index,
               c->err) < 0)
        return -1;
    bool pw = !strcmp(path, "etc/passwd"), gr = !strcmp(path, "etc/group");
    if ((pw || gr) && type == 'f') {
        struct kiln_buf *b = pw ? &fs->passwd : &fs->group;
        kiln_buf_free(b);
        b->max = ACCOUNT_FILE_MAX;
        if (kiln_buf_append(b, "", 0, c->err) < 0)
            return -1;
        const void *blk;
        size_t len;
        la_int64_t off;
        while (archive_read_data_block(a, &blk, &len, &off) == ARCHIVE_OK)
            if (kiln_buf_append(b, blk, len, &ignored) < 0)
                break; /* larger than any real one: the lookups use what was read */
        if (pw)
            fs->have_passwd = true;
        else
            fs->have_group = true;
    } else if (pw || gr)
        fs_forget_account(fs, path);
    return 0;
}

/* Reads the layer once: blob digest and size, diff_id, every entry.
 * Returns 1 when it is no readable tar (findings say why), 0 when it was
 * read, -1 when the check itself failed. */
static int check_layer(struct vctx *c, struct fs *fs, struct kiln_layer *l,
                       const struct layer_info *li)
{
    struct kiln_error e2 = { 0 };
    if (kiln_layer_fetch(l, &e2) < 0) {
        if (e2.code == KILN_ERR_NOMEM || e2.code == KILN_ERR_INTERRUPTED) {
            *c->err = e2;
            return -1;
        }
        ERROR_(c, "blob-missing", li->where, "%s", e2.message);
        return 0;
    }
    struct kiln_hash_reader br = { .fd = open(l->path, O_RDONLY | O_CLOEXEC) };
    if (br.fd < 0) {
        ERROR_(c, "blob-missing", li->where, "cannot read the blob (%s): %s", l->path,
               strerror(errno));
        return 0;
    }
    unsigned char magic[6] = { 0 };
    enum compression_seen cs = sniff(magic, pread(br.fd, magic, sizeof(magic), 0));
    struct tar_reader tr = { 0 };
    struct archive *raw = NULL, *a = NULL;
    struct kiln_buf norm = { 0 };
    int rc = kiln_sha256_init(&br.sha, c->err);
    if (rc == 0 && kiln_sha256_init(&tr.sha, c->err) < 0) {
        kiln_sha256_free(&br.sha);
        rc = -1;
    }
    bool hashing = rc == 0;
    if (rc == 0 && !(br.buf = kiln_xmalloc(1 << 16, c->err)))
        rc = -1;
    if (rc == 0 && (!(raw = archive_read_new()) || !(a = archive_read_new())))
        rc = kiln_oom(c->err);
    bool tar_ok = false, tar_oom = false;
    char tar_error[512] = "";
    if (rc == 0) {
        archive_read_support_filter_all(raw);
        archive_read_support_format_raw(raw);
        archive_read_support_format_tar(a);
        struct archive_entry *re;
        if (archive_read_open(raw, &br, NULL, kiln_hash_reader_read, NULL) != ARCHIVE_OK ||
            archive_read_next_header(raw, &re) != ARCHIVE_OK) {
            snprintf(tar_error, sizeof(tar_error), "%s",
                     archive_error_string(raw) ? archive_error_string(raw) : "empty blob");
            tar_oom = archive_errno(raw) == ENOMEM;
        } else {
            tr.raw = raw;
            if (archive_read_open(a, &tr, NULL, tar_read, NULL) != ARCHIVE_OK) {
                snprintf(tar_error, sizeof(tar_error), "%s", archive_error_string(a));
                tar_oom = archive_errno(a) == ENOMEM;
            } else {
                tar_ok = true;
                for (;;) {
                    struct archive_entry *e;
                    int r = archive_read_next_header(a, &e);
                    if (r == ARCHIVE_EOF)
                        break;
                    if (r < ARCHIVE_WARN || r == ARCHIVE_RETRY) {
                        tar_ok = false;
                        snprintf(tar_error, sizeof(tar_error), "%s", archive_error_string(a));
                        tar_oom = archive_errno(a) == ENOMEM || archive_errno(raw) == ENOMEM;
                        break;
                    }
                    if ((rc = layer_entry(c, fs, li, a, e, &norm)) < 0 ||
                        (rc = kiln_check_interrupt(c->err)) < 0)
                        break;
                }
            }
            /* what the tar reader left of the stream (the end blocks) */
            const void *blk;
            size_t len;
            la_int64_t off;
            int r;
            while (rc == 0 && (r = archive_read_data_block(raw, &blk, &len, &off)) == ARCHIVE_OK) {
                kiln_sha256_update(&tr.sha, blk, len);
                tr.n += len;
            }
            if (rc == 0 && tar_ok && r != ARCHIVE_EOF) {
                tar_ok = false;
                snprintf(tar_error, sizeof(tar_error), "%s", archive_error_string(raw));
                tar_oom = archive_errno(raw) == ENOMEM;
            }
        }
    }
    /* the blob's bytes past what libarchive read */
    while (rc == 0) {
        ssize_t r = read(br.fd, br.buf, 1 << 16);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        kiln_sha256_update(&br.sha, br.buf, (size_t)r);
        br.n += (uint64_t)r;
    }
    char digest[KILN_DIGEST_MAX] = "", diff_id[KILN_DIGEST_MAX] = "";
    if (hashing) {
        kiln_sha256_final(&br.sha, digest);
        kiln_sha256_final(&tr.sha, diff_id);
    }
    close(br.fd);
    free(br.buf);
    archive_read_free(a);
    archive_read_free(raw);
    kiln_buf_free(&norm);
    if (rc < 0)
        return -1;
    /* out of memory is no finding about the image */
    if (!tar_ok && tar_oom)
        return kiln_oom(c->err);

    if (li->check_blob && br.n != li->size)
        ERROR_(c, "blob-size", li->where,
               "the blob is %llu bytes, its descriptor says %llu: the specs require them to "
               "agree and kiln copy refuses it (podman, skopeo and containerd do not check it "
               "when they read a local layout or archive); rebuild or re-copy it",
               (unsigned long long)br.n, (unsigned long long)li->size);
    else if (li->check_blob && strcmp(digest, li->digest))
        ERROR_(c, "blob-digest", li->where,
               "the blob's bytes hash to %s, not to its digest: skopeo, podman and containerd "
               "refuse the image; rebuild or re-copy it",
               digest);
    if (!tar_ok) {
        ERROR_(c, "layer-tar", li->where,
               "the layer is not a readable tar%s (%s): docker load, podman and containerd "
               "refuse it; rebuild or re-copy it",
               cs == SEEN_OTHER ? " (bzip2 or xz, which images cannot carry)" : "", tar_error);
        return 1; /* the merged filesystem is unknown from here on */
    }
    if (li->diff_id && strcmp(li->diff_id, diff_id))
        ERROR_(c, "diff-id", li->where,
               "the uncompressed layer hashes to %s, but the config's rootfs.diff_ids lists %s: "
               "docker load, docker pull, containerd and podman (from a docker-archive) refuse "
               "the image; rebuild it",
               diff_id, li->diff_id);
    const char *mt = li->media_type;
    if (mt && *mt) {
        bool says_gzip = strstr(mt, "gzip") != NULL, says_zstd = strstr(mt, "zstd") != NULL;
        bool says_plain = !strcmp(mt, "application/vnd.oci.image.layer.v1.tar") ||
                          !strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar");
        if ((says_gzip && cs != SEEN_GZIP) || (says_zstd && cs != SEEN_ZSTD) ||
            (says_plain && cs != SEEN_NONE))
            ERROR_(c, "media-type", li->where,
                   "the media type %s does not say how the blob is compressed (%s): fix the "
                   "manifest's layer mediaType",
                   mt,
                   cs == SEEN_GZIP   ? "gzip"
                   : cs == SEEN_ZSTD ? "zstd"
                                     : "not compressed");
    }
    if (cs == SEEN_ZSTD)
        WARN_(c, "zstd", li->where,
              "the layer is zstd-compressed: Docker before 23 cannot read it (moby v20.10.24 "
              "pkg/archive/archive.go:125 and :184 know gzip, bzip2 and xz only; Debian 12's "
              "patched docker.io 20.10.24 can); build with --compression gzip for older "
              "engines");
    return 0;
}

/* ---- documents ---- */

static bool is_docker_type(const char *mt)
{
    return mt && !strncmp(mt, "application/vnd.docker.", 23);
}
static bool is_oci_type(const char *mt)
{
    return mt && !strncmp(mt, "application/vnd.oci.", 20);
}

static void check_descriptor(struct vctx *c, json_t *d, const char *where)
{
    if (!json_is_object(d)) {
        ERROR_(c, "descriptor", where,
               "not a JSON object: a descriptor needs mediaType, digest "
               "and size");
        return;
    }
    if (!json_is_string(json_object_get(d, "mediaType")))
        ERROR_(c, "descriptor", where,
               "mediaType is missing or not a string (the specs require "
               "it)");
    const char *dg = json_string_value(json_object_get(d, "digest"));
    if (!dg || !kiln_digest_valid(dg))
        ERROR_(c, "descriptor", where, "digest is missing or not sha256:<64 lowercase hex> ('%s')",
               dg ? dg : "");
    json_t *sz = json_object_get(d, "size");
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        ERROR_(c, "descriptor", where, "size is missing or not a non-negative integer");
}

/* The manifest as the specs describe it; mt_desc is the media type the
 * index entry (or registry) gave it. */
static void check_manifest(struct vctx *c, const struct kiln_image *im, json_t *m, bool *docker)
{
    char where[128];
    snprintf(where, sizeof(where), "manifest %.19s", im->manifest_digest);
    const char *mt = json_string_value(json_object_get(m, "mediaType"));
    *docker = is_docker_type(mt ? mt : im->media_type);
    if (mt && strcmp(mt, KILN_MT_OCI_MANIFEST) && strcmp(mt, KILN_MT_DOCKER_MANIFEST))
        ERROR_(c, "media-type", where, "mediaType %s is not an image manifest's", mt);
    if (mt && im->media_type[0] && strcmp(mt, im->media_type))
        ERROR_(c, "media-type", where,
               "the manifest says mediaType %s, the descriptor that names it says %s: make "
               "them agree",
               mt, im->media_type);
    if (!mt && *docker)
        ERROR_(c, "media-type", where, "a Docker v2 schema 2 manifest must carry its mediaType");
    json_t *cfg = json_object_get(m, "config");
    char w[160];
    snprintf(w, sizeof(w), "%s config", where);
    check_descriptor(c, cfg, w);
    const char *cmt = json_string_value(json_object_get(cfg, "mediaType"));
    if (cmt && *docker && strcmp(cmt, KILN_MT_DOCKER_CONFIG))
        ERROR_(c, "media-type", w,
               "a Docker manifest's config must be %s, not %s (media types of two families "
               "mixed)",
               KILN_MT_DOCKER_CONFIG, cmt);
    else if (cmt && !*docker && strcmp(cmt, KILN_MT_OCI_CONFIG))
        ERROR_(c, "media-type", w,
               "an OCI manifest with config mediaType %s is not an image (podman and skopeo "
               "refuse to read it as one); use %s",
               cmt, KILN_MT_OCI_CONFIG);
    json_t *layers = json_object_get(m, "layers");
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
    {
        snprintf(w, sizeof(w), "%s layer %zu", where, i);
        check_descriptor(c, l, w);
        const char *lmt = json_string_value(json_object_get(l, "mediaType"));
        if (!lmt)
            continue;
        bool nondist = strstr(lmt, "nondistributable") || strstr(lmt, "foreign");
        if (*docker && is_oci_type(lmt))
            WARN_(c, "media-type", w,
                  "an OCI layer type (%s) in a Docker manifest: media types of two families "
                  "mixed, which neither spec allows; use "
                  "application/vnd.docker.image.rootfs.diff.tar.gzip",
                  lmt);
        else if (!*docker && is_docker_type(lmt) && !nondist)
            WARN_(c, "media-type", w,
                  "a Docker layer type (%s) in an OCI manifest: media types of two families "
                  "mixed, which docker, podman and containerd accept but neither spec allows; "
                  "use application/vnd.oci.image.layer.v1.tar+gzip",
                  lmt);
        else if (!is_docker_type(lmt) && !is_oci_type(lmt))
            WARN_(c, "media-type", w, "%s is not an image layer type", lmt);
        if (nondist)
            WARN_(c, "media-type", w,
                  "a non-distributable (foreign) layer: registries and copies may leave it out");
    }
}

static bool string_array(json_t *v)
{
    if (!json_is_array(v))
        return false;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (!json_is_string(x)) return false;
    return true;
}

/* Looks a name up in the first field of a passwd/group file. */
static bool account_has(const struct kiln_buf *b, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = b->data; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t ll = e ? (size_t)(e - p) : strlen(p);
        if (ll > nl && !strncmp(p, name, nl) && p[nl] == ':')
            return true;
        p += ll + (e != NULL);
    }
    return false;
}

static bool all_digits(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static void check_runtime(struct vctx *c, json_t *cc, const struct fs *fs)
{
    json_t *ep = json_object_get(cc, "Entrypoint"), *cmd = json_object_get(cc, "Cmd");
    const char *wd = json_string_value(json_object_get(cc, "WorkingDir"));
    const char *user = json_string_value(json_object_get(cc, "User"));
    if (wd && *wd && wd[0] != '/')
        ERROR_(c, "workdir", "config WorkingDir",
               "'%s' is not an absolute path: containers from the image fail to start "
               "(runc: \"Cwd must be an absolute path\"); give an absolute path",
               wd);
    else if (wd && *wd) {
        const char *why = NULL;
        const struct node *n = fs_resolve(fs, wd, &why);
        if (n && n->type != 'd')
            WARN_(c, "workdir", "config WorkingDir",
                  "'%s' exists in the image but is not a directory: containers fail to start", wd);
    }
    const char *argv0 = NULL, *from = NULL;
    if (string_array(ep) && json_array_size(ep)) {
        argv0 = json_string_value(json_array_get(ep, 0));
        from = "Entrypoint";
    } else if (string_array(cmd) && json_array_size(cmd)) {
        argv0 = json_string_value(json_array_get(cmd, 0));
        from = "Cmd";
    }
    if (!argv0)
        WARN_(c, "command", "config Entrypoint/Cmd",
              "the image names no command: docker run and podman run need one on their command "
              "line");
    else {
        char where[64];
        snprintf(where, sizeof(where), "config %s[0]", from);
        const char *path_env = NULL;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(cc, "Env"), i, v)
        {
            const char *s = json_string_value(v);
            if (s && !strncmp(s, "PATH=", 5))
                path_env = s + 5;
        }
        const char *why = "does not exist";
        const struct node *n = NULL;
        char found[4096] = "";
        if (strchr(argv0, '/')) {
            snprintf(found, sizeof(found), "%s%s%s",
                     argv0[0] == '/' ? ""
                     : wd            ? wd
                                     : "/",
                     argv0[0] == '/' ? "" : "/", argv0);
            n = fs_resolve(fs, found, &why);
        } else {
            const char *p = path_env ? path_env : DEFAULT_PATH;
            while (*p && !n) {
                size_t l = strcspn(p, ":");
                snprintf(found, sizeof(found), "%.*s/%s", (int)l, p, argv0);
                const char *w2;
                const struct node *x = l && p[0] == '/' ? fs_resolve(fs, found, &w2) : NULL;
                if (x && x->type == 'f' && (x->mode & 0111))
                    n = x;
                p += l + (p[l] == ':');
            }
            why = path_env ? "is in no directory of the image's PATH"
                           : "is in no directory of the default PATH (the image sets none)";
        }
        if (!n)
            WARN_(c, "command", where,
                  "'%s' %s: the container fails to start (docker run: \"no such file or "
                  "directory\")",
                  argv0, why);
        else if (n->type != 'f')
            WARN_(c, "command", where, "'%s' is not a regular file: the container fails to start",
                  argv0);
        else if (!(n->mode & 0111))
            WARN_(c, "command", where,
                  "'%s' is not executable (mode %04o): the container fails to start (docker "
                  "run: \"permission denied\")",
                  argv0, (unsigned)n->mode);
    }
    if (user && *user) {
        size_t ul = strcspn(user, ":");
        const char *grp = user[ul] == ':' ? user + ul + 1 : NULL;
        if (!all_digits(user, ul)) {
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)ul, user);
            if (!fs->have_passwd || !account_has(&fs->passwd, name))
                WARN_(c, "user", "config User",
                      "user '%s' has no entry in %s: the container fails to start (docker run: "
                      "\"unable to find user\"); add it, or use a numeric uid",
                      name, fs->have_passwd ? "/etc/passwd" : "the image (it has no /etc/passwd)");
        }
        if (grp && *grp && !all_digits(grp, strlen(grp)) &&
            (!fs->have_group || !account_has(&fs->group, grp)))
            WARN_(c, "user", "config User",
                  "group '%s' has no entry in %s: the container fails to start; add it, or use "
                  "a numeric gid",
                  grp, fs->have_group ? "/etc/group" : "the image (it has no /etc/group)");
    }
}

static void check_config(struct vctx *c, json_t *cfg, size_t nlayers)
{
    const char *w = "config";
    if (!json_is_object(cfg)) {
        ERROR_(c, "config", w, "the config is not a JSON object");
        return;
    }
    if (!json_is_string(json_object_get(cfg, "architecture")) ||
        !*json_string_value(json_object_get(cfg, "architecture")))
        ERROR_(c, "config", "config architecture",
               "missing or not a string (the specs require it)");
    if (!json_is_string(json_object_get(cfg, "os")) ||
        !*json_string_value(json_object_get(cfg, "os")))
        ERROR_(c, "config", "config os", "missing or not a string (the specs require it)");
    json_t *rootfs = json_object_get(cfg, "rootfs");
    const char *rt = json_string_value(json_object_get(rootfs, "type"));
    if (!rt || strcmp(rt, "layers"))
        ERROR_(c, "config", "config rootfs.type", "must be \"layers\" (the specs require it)");
    json_t *ids = json_object_get(rootfs, "diff_ids");
    if (!json_is_array(ids))
        ERROR_(c, "config", "config rootfs.diff_ids", "missing or not an array");
    else {
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v)
        {
            const char *s = json_string_value(v);
            if (!s || !kiln_digest_valid(s)) {
                char ww[64];
                snprintf(ww, sizeof(ww), "config rootfs.diff_ids[%zu]", i);
                ERROR_(c, "config", ww, "not sha256:<64 lowercase hex>");
            }
        }
        if (json_array_size(ids) != nlayers)
            ERROR_(c, "layer-count", "config rootfs.diff_ids",
                   "%zu diff_ids for %zu layers: docker load refuses the image (\"layers length "
                   "mismatch\"); rebuild it",
                   json_array_size(ids), nlayers);
    }
    json_t *history = json_object_get(cfg, "history");
    if (history && !json_is_array(history))
        ERROR_(c, "config", "config history", "not an array");
    size_t nonempty = 0, hi;
    json_t *h;
    json_array_foreach(history, hi, h) nonempty += !json_is_true(json_object_get(h, "empty_layer"));
    if (json_is_array(ids) && nonempty > json_array_size(ids))
        ERROR_(c, "history", "config history",
               "%zu entries that are not empty_layer for %zu diff_ids: docker load refuses the "
               "image (\"too many non-empty layers in History section\"); mark the others "
               "\"empty_layer\": true",
               nonempty, json_array_size(ids));
    json_t *cc = json_object_get(cfg, "config");
    if (cc && !json_is_object(cc) && !json_is_null(cc))
        ERROR_(c, "config", "config config", "not a JSON object");
    static const char *const arrays[] = { "Entrypoint", "Cmd", "Env" };
    for (size_t i = 0; json_is_object(cc) && i < ARRAY_SIZE(arrays); i++) {
        json_t *v = json_object_get(cc, arrays[i]);
        if (v && !json_is_null(v) && !string_array(v)) {
            char ww[64];
            snprintf(ww, sizeof(ww), "config %s", arrays[i]);
            ERROR_(c, "config", ww, "not an array of strings");
        }
    }
    static const char *const strings[] = { "User", "WorkingDir", "StopSignal" };
    for (size_t i = 0; json_is_object(cc) && i < ARRAY_SIZE(strings); i++) {
        json_t *v = json_object_get(cc, strings[i]);
        if (v && !json_is_string(v)) {
            char ww[64];
            snprintf(ww, sizeof(ww), "config %s", strings[i]);
            ERROR_(c, "config", ww, "not a string");
        }
    }
}

static void short_digest(const char *d, char out[24])
{
    snprintf(out, 24, "%.19s", d && *d ? d : "(none)");
}

/* A document the reader already parsed once: failing now is out of memory. */
static json_t *load_doc(const struct kiln_buf *b, bool *oom)
{
    json_error_t je;
    json_t *j = json_loadb(b->data ? b->data : "", b->len, 0, &je);
    if (!j && json_error_code(&je) == json_error_out_of_memory)
        *oom = true;
    return j;
}

static int check_image(struct vctx *c, struct kiln_src *s, struct kiln_image *im)
{
    bool docker = false, oom = false;
    json_t *m = NULL;
    if (s->kind != KILN_SRC_DOCKER_ARCHIVE) {
        m = load_doc(&im->manifest, &oom);
        if (m)
            check_manifest(c, im, m, &docker);
    }
    json_t *cfg = oom ? NULL : load_doc(&im->config, &oom);
    if (oom) {
        json_decref(m);
        return kiln_oom(c->err);
    }
    if (!cfg) {
        ERROR_(c, "config", "config", "the config %s is not JSON", im->config_digest);
        json_decref(m);
        return 0;
    }
    check_config(c, cfg, im->nlayers);
    if (im->nlayers > OVERLAY2_MAX_LAYERS)
        ERROR_(c, "layer-count", "manifest layers",
               "%zu layers: Docker's overlay2 driver (the default) cannot mount more than %d "
               "(moby daemon/graphdriver/overlay2/overlay.go:76, \"max depth exceeded\"); "
               "merge layers",
               im->nlayers, OVERLAY2_MAX_LAYERS);
    struct fs fs;
    bool complete = true;
    int rc = fs_init(&fs, c->err);
    json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
    for (size_t i = 0; rc == 0 && i < im->nlayers; i++) {
        struct kiln_layer *l = &im->layers[i];
        char where[64], sd[24];
        short_digest(l->digest, sd);
        snprintf(where, sizeof(where), "layer %zu (%s)", i, sd);
        struct layer_info li = {
            .index = i + 1, /* 0: nothing is below the first layer */
            .where = where,
            .media_type = s->kind == KILN_SRC_DOCKER_ARCHIVE ? NULL : l->media_type,
            .digest = l->digest,
            .size = l->size,
            .check_blob = s->kind != KILN_SRC_DOCKER_ARCHIVE,
            .diff_id = json_string_value(json_array_get(ids, i)),
        };
        rc = check_layer(c, &fs, l, &li);
        if (s->kind == KILN_SRC_REGISTRY && l->path) { /* one download on disk at a time */
            unlink(l->path);
            free(l->path);
            l->path = NULL;
        }
        if (rc > 0) { /* unreadable: the runtime checks would guess */
            complete = false;
            rc = 0;
        }
    }
    if (rc == 0 && complete)
        check_runtime(c, json_object_get(cfg, "config"), &fs);
    fs_free(&fs);
    json_decref(cfg);
    json_decref(m);
    return rc;
}

static int check_index(struct vctx *c, const struct kiln_src *s)
{
    bool oom = false;
    json_t *j = load_doc(&s->index, &oom);
    if (!j)
        return oom ? kiln_oom(c->err) : 0;
    char where[64];
    snprintf(where, sizeof(where), "index %.19s", s->index_digest);
    const char *mt = json_string_value(json_object_get(j, "mediaType"));
    bool docker = is_docker_type(mt ? mt : s->index_media_type);
    if (json_integer_value(json_object_get(j, "schemaVersion")) != 2)
        ERROR_(c, "index", where, "schemaVersion must be 2");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(j, "manifests"), i, d)
    {
        char w[96];
        snprintf(w, sizeof(w), "%s manifests[%zu]", where, i);
        check_descriptor(c, d, w);
        const char *cmt = json_string_value(json_object_get(d, "mediaType"));
        if (cmt && ((docker && is_oci_type(cmt)) || (!docker && is_docker_type(cmt))))
            WARN_(c, "media-type", w,
                  "a %s entry (%s) in a%s index: media types of two families mixed, which "
                  "neither spec allows; keep one family",
                  docker ? "OCI" : "Docker", cmt, docker ? " Docker" : "n OCI");
        json_t *p = json_object_get(d, "platform");
        const char *os = json_string_value(json_object_get(p, "os"));
        const char *arch = json_string_value(json_object_get(p, "architecture"));
        const char *var = json_string_value(json_object_get(p, "variant"));
        if (!os || !arch)
            WARN_(c, "index", w,
                  "no platform (os, architecture): consumers cannot pick this image by platform");
        else if (i < s->nimages) {
            const struct kiln_platform *ip = &s->images[i].platform;
            if (strcmp(os, ip->os) || strcmp(arch, ip->arch) ||
                (var && *var && strcmp(var, ip->variant)))
                WARN_(c, "index", w,
                      "the entry says %s/%s%s%s, the image's config %s/%s%s%s: docker, podman "
                      "and containerd pick images by the entry, so %s/%s%s%s hosts get this one; "
                      "make them agree",
                      os, arch, var && *var ? "/" : "", var ? var : "", ip->os, ip->arch,
                      ip->variant[0] ? "/" : "", ip->variant, os, arch, var && *var ? "/" : "",
                      var ? var : "");
        }
    }
    json_decref(j);
    return 0;
}

/* oci: and oci-archive: name their format in oci-layout, which containerd's
 * importer reads first. */
static int check_oci_layout(struct vctx *c, const struct kiln_src *s)
{
    _cleanup_free_ char *p = kiln_path_join(s->layout, "oci-layout", c->err);
    if (!p)
        return -1;
    struct kiln_buf b = { 0 };
    struct kiln_error e = { 0 };
    if (kiln_read_file(p, 1 << 16, &b, &e) < 0) {
        if (e.code == KILN_ERR_NOMEM)
            return kiln_oom(c->err);
        ERROR_(c, "oci-layout", "oci-layout",
               "the layout has no readable oci-layout file (%s): containerd refuses it "
               "(\"unrecognized image format\"); write {\"imageLayoutVersion\":\"1.0.0\"} to it",
               e.message);
        return 0;
    }
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, 0, &je);
    kiln_buf_free(&b);
    if (!j && json_error_code(&je) == json_error_out_of_memory)
        return kiln_oom(c->err);
    const char *v = json_string_value(json_object_get(j, "imageLayoutVersion"));
    if (!v || strcmp(v, "1.0.0"))
        ERROR_(c, "oci-layout", "oci-layout imageLayoutVersion",
               "%s%s%s, not \"1.0.0\": containerd refuses the layout (\"unsupported OCI "
               "version\"); write {\"imageLayoutVersion\":\"1.0.0\"}",
               v ? "\"" : "",
               v   ? v
               : j ? "missing"
                   : "not JSON",
               v ? "\"" : "");
    json_decref(j);
    return 0;
}

int kiln_validate(const char *ref, const char *platform, const struct kiln_remote_opts *o,
                  struct kiln_finding **findings, size_t *n, struct kiln_error *err)
{
    struct kiln_error local = { 0 };
    if (!err)
        err = &local;
    *findings = NULL;
    *n = 0;
    struct kiln_remote_opts defaults;
    if (!o) {
        kiln_remote_opts_init(&defaults);
        o = &defaults;
    }
    struct kiln_registry_opts ro;
    kiln_registry_opts_from(o, o->src_creds, &ro);
    struct findings f = { 0 };
    struct vctx c = { .f = &f, .prefix = "", .err = err };
    struct kiln_src *s = NULL;
    struct kiln_error oe = { 0 };
    int rc = 0;
    if (kiln_src_open(ref, platform, &ro, &s, &oe) < 0) {
        /* what the reader refuses in a local image (damaged, malformed) is
         * a finding; an operation that could not run is an error, as is a
         * registry that does not answer as asked (the network, credentials:
         * nothing about the image) */
        bool remote = !strncmp(ref, "docker://", 9);
        if (oe.code == KILN_ERR_FORMAT || (oe.code == KILN_ERR_INPUT && !remote))
            ERROR_(&c, "read", ref, "%s", oe.message);
        else {
            *err = oe;
            rc = -1;
        }
    } else {
        if (s->kind == KILN_SRC_LAYOUT && s->layout)
            rc = check_oci_layout(&c, s);
        if (rc == 0 && s->is_index)
            rc = check_index(&c, s);
        for (size_t i = 0; rc == 0 && i < s->nimages; i++) {
            char prefix[128] = "";
            struct kiln_platform *p = &s->images[i].platform;
            if (s->nimages > 1 || s->is_index)
                snprintf(prefix, sizeof(prefix), "%s/%s%s%s: ", p->os, p->arch,
                         p->variant[0] ? "/" : "", p->variant);
            c.prefix = prefix;
            rc = check_image(&c, s, &s->images[i]);
        }
    }
    kiln_src_free(s);
    if (rc == 0 && f.oom)
        rc = kiln_oom(err);
    if (rc < 0) {
        kiln_findings_free(f.v, f.n);
        return -1;
    }
    *findings = f.v;
    *n = f.n;
    return 0;
}
