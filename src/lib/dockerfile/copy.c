/* COPY and ADD: sources from the context, a stage or an image, --chown
 * and --chmod, .dockerignore, globs, and ADD's local tarballs. */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval.h"

/* ---- --chown --------------------------------------------------------------- */

/* Looks NAME up in the stage's /etc/passwd or /etc/group (field 3). */
static int lookup_id(const char *root, const char *file, const char *name, uint64_t *id,
                     struct kiln_error *err)
{
    _cleanup_free_ char *p = df_scoped(root, file, true, err);
    if (!p)
        return -1;
    _cleanup_free_ char *abs = kiln_path_join(root, p, err);
    if (!abs)
        return -1;
    struct kiln_buf b = { 0 };
    if (kiln_read_file(abs, 16u << 20, &b, err) < 0)
        return -1;
    int rc = 1;
    size_t nl = strlen(name);
    for (char *line = b.data, *next; line && rc == 1; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, name, nl) || line[nl] != ':')
            continue;
        char *f = strchr(line + nl + 1, ':'); /* after the password field */
        if (!f)
            continue;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(f + 1, &end, 10);
        if (!errno && end != f + 1 && (*end == ':' || !*end) && v <= 0xffffffffULL) {
            *id = v;
            rc = 0;
        }
    }
    kiln_buf_free(&b);
    return rc;
}

static int resolve_id(struct kiln_dockerfile *d, const struct stage *s, const char *spec,
                      const char *what, const char *file, uint64_t *id, struct kiln_error *err)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(spec, &end, 10);
    if (isdigit((unsigned char)spec[0]) && !*end && !errno && v <= 0xffffffffULL) {
        *id = v;
        return 0;
    }
    struct kiln_error e2 = { 0 };
    int r = lookup_id(s->rootfs, file, spec, id, &e2);
    if (r == 0)
        return 0;
    if (r < 0)
        kiln_fail(err, KILN_ERR_INPUT, "can't find %s for %s %s: %s", what,
                  strcmp(what, "uid") ? "group" : "user", spec, e2.message);
    else
        kiln_fail(err, KILN_ERR_INPUT, "can't find %s for %s %s: no such %s in the stage's %s",
                  what, strcmp(what, "uid") ? "group" : "user", spec,
                  strcmp(what, "uid") ? "group" : "user", file);
    return df_at(d, err);
}

static int parse_chown(struct kiln_dockerfile *d, const struct stage *s, const char *v,
                       struct kiln_entry_attrs *a, struct kiln_error *err)
{
    char u[256], g[256];
    const char *colon = strchr(v, ':');
    if (strchr(colon ? colon + 1 : v, ':') || !*v || strlen(v) >= sizeof(u)) {
        kiln_fail(err, KILN_ERR_USAGE, "invalid chown string format: %s", v);
        return df_at(d, err);
    }
    if (colon) {
        snprintf(u, sizeof(u), "%.*s", (int)(colon - v), v);
        snprintf(g, sizeof(g), "%s", colon + 1);
    } else {
        /* as docker: no group given, the user's name is taken as the group's */
        snprintf(u, sizeof(u), "%s", v);
        snprintf(g, sizeof(g), "%s", v);
    }
    a->set_owner = true;
    if (resolve_id(d, s, u, "uid", "/etc/passwd", &a->uid, err) < 0 ||
        resolve_id(d, s, g, "gid", "/etc/group", &a->gid, err) < 0)
        return -1;
    return 0;
}

/* ---- COPY and ADD ------------------------------------------------------------ */

static bool ignored(const struct copy_ctx *c, const char *rel)
{
    return c->ig && *rel && df_ignore_match(c->ig, rel);
}

/* Creates dir (an image path) and its missing parents in this layer, owned
 * by the copy's owner, 0755 (docker's MkdirAllAndChownNew); with
 * parents_root, the parents are root's (a directory copy: docker makes them
 * with MkdirAll and chowns only the destination). */
static int make_dirs_(struct copy_ctx *c, const char *dir, bool parents_root,
                      struct kiln_error *err)
{
    _cleanup_free_ char *p = kiln_strdup(dir, err);
    if (!p)
        return -1;
    for (char *s = p + 1;; s++) {
        bool end = !*s;
        if (*s == '/' || end) {
            char keep = *s;
            *s = '\0';
            struct stat st;
            if (strlen(p) > 1 && !df_list_has(&c->made, p) &&
                df_tree_lstat(c->s->rootfs, p, &st) < 0) {
                bool root = parents_root && !end;
                struct kiln_entry_attrs a = { .set_mode = true,
                                              .mode = 0755,
                                              .set_owner = true,
                                              .uid = root ? 0 : c->a.uid,
                                              .gid = root ? 0 : c->a.gid };
                if (df_layer_add(&c->l, NULL, p, &a, err) < 0 ||
                    kiln_strlist_push(&c->made, p, err) < 0)
                    return -1;
            }
            *s = keep;
        }
        if (end)
            break;
    }
    return 0;
}

int df_make_dirs(struct copy_ctx *c, const char *dir, struct kiln_error *err)
{
    return make_dirs_(c, dir, false, err);
}

bool df_is_dir_in_tree(struct copy_ctx *c, const char *path)
{
    if (df_list_has(&c->made, path))
        return true;
    struct stat st;
    return df_tree_lstat(c->s->rootfs, path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The tree below the directory abs (context-relative rel) into dest. */
static int copy_dir_contents(struct copy_ctx *c, const char *abs, const char *rel, const char *dest,
                             struct kiln_error *err)
{
    char **names;
    size_t n;
    if (kiln_walk_list_dir(abs, &names, &n, err) < 0)
        return -1;
    int rc = kiln_check_interrupt(err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        _cleanup_free_ char *a = kiln_path_join(abs, names[i], err);
        _cleanup_free_ char *r =
            *rel ? kiln_path_join(rel, names[i], err) : kiln_strdup(names[i], err);
        _cleanup_free_ char *t = df_join(dest, names[i], err);
        if (!a || !r || !t) {
            rc = -1;
            break;
        }
        struct stat st;
        if (lstat(a, &st) < 0) {
            rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", a);
            break;
        }
        bool skip = ignored(c, r);
        if (skip && !(S_ISDIR(st.st_mode) && c->ig->has_exceptions &&
                      df_ignore_may_include_below(c->ig, r)))
            continue;
        size_t before = c->l.n;
        if (!skip) {
            rc = df_layer_add(&c->l, a, t, &c->a, err);
        } else {
            /* an excluded directory entered for an exception: docker's context
             * has it only as an implicit parent, 0755 */
            struct kiln_entry_attrs da = {
                .set_mode = true, .mode = 0755, .set_owner = true, .uid = c->a.uid, .gid = c->a.gid
            };
            rc = df_layer_add(&c->l, NULL, t, &da, err);
        }
        if (rc == 0 && S_ISDIR(st.st_mode))
            rc = kiln_strlist_push(&c->made, t, err);
        if (rc == 0 && S_ISDIR(st.st_mode))
            rc = copy_dir_contents(c, a, r, t, err);
        if (rc == 0 && skip && c->l.n == before + 1) {
            /* nothing below was included: no directory either */
            c->l.n--;
            free(c->l.v[c->l.n].src);
            free(c->l.v[c->l.n].dest);
        }
    }
    kiln_walk_names_free(names, n);
    return rc;
}

/* A local tarball for ADD: true if libarchive reads it as a tar, plain or
 * compressed with any filter it knows. */
static bool is_tarball(const char *path)
{
    struct archive *a = archive_read_new();
    if (!a)
        return false;
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    struct archive_entry *e;
    bool ok = archive_read_open_filename(a, path, 65536) == ARCHIVE_OK &&
              archive_read_next_header(a, &e) == ARCHIVE_OK;
    archive_read_free(a);
    return ok;
}

/* ADD of a local tarball: extracted into dest with the archive's owners and
 * modes (docker does not apply --chown to it). */
static int add_tarball(struct copy_ctx *c, const char *path, const char *dest,
                       struct kiln_error *err)
{
    _cleanup_free_ char *x = df_new_tmp(c->d, "tar", err);
    if (!x)
        return -1;
    if (mkdir(x, 0700) < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", x);
    struct kiln_entry_attrs root = { .set_owner = true };
    struct kiln_entry_attrs saved = c->a;
    c->a = root;
    int rc = df_make_dirs(c, dest, err);
    c->a = saved;
    if (rc < 0)
        return -1;
    struct archive *a = archive_read_new();
    struct archive *w = archive_write_disk_new();
    if (!a || !w) {
        archive_read_free(a);
        archive_write_free(w);
        return kiln_oom(err);
    }
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_write_disk_set_options(w, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK)
        rc = kiln_fail(err, KILN_ERR_INPUT, "%s: %s", path, archive_error_string(a));
    struct archive_entry *e;
    int r;
    uint64_t entries = 0, bytes = 0;
    while (rc == 0 && (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) {
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: %s", path, archive_error_string(a));
            break;
        }
        /* the bounds of --tar inputs apply: an ADDed tarball is as untrusted */
        bytes += archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0;
        if (c->d->max_entries && ++entries > c->d->max_entries) {
            rc = kiln_fail(err, KILN_ERR_INPUT,
                           "%s: more than %llu members (--max-entries): refusing a possible "
                           "tar bomb",
                           path, (unsigned long long)c->d->max_entries);
            break;
        }
        if (c->d->max_bytes && bytes > c->d->max_bytes) {
            rc = kiln_fail(err, KILN_ERR_INPUT,
                           "%s: expands beyond %llu bytes (--max-bytes): refusing a possible "
                           "tar bomb",
                           path, (unsigned long long)c->d->max_bytes);
            break;
        }
        struct kiln_buf norm = { 0 };
        if (kiln_normalise_member_path(archive_entry_pathname(e), &norm, err) < 0) {
            rc = kiln_error_prefix(err, "%s", path);
            break;
        }
        if (!norm.len) {
            kiln_buf_free(&norm);
            continue;
        }
        _cleanup_free_ char *on_disk = kiln_path_join(x, norm.data, err);
        _cleanup_free_ char *t = df_join(dest, norm.data, err);
        if (!on_disk || !t) {
            kiln_buf_free(&norm);
            rc = -1;
            break;
        }
        struct kiln_entry_attrs ea = { .set_owner = true,
                                       .uid = (uint64_t)archive_entry_uid(e),
                                       .gid = (uint64_t)archive_entry_gid(e),
                                       .set_mode = archive_entry_filetype(e) != AE_IFLNK,
                                       .mode = (uint32_t)archive_entry_perm(e) };
        archive_entry_set_pathname(e, on_disk);
        const char *hl = archive_entry_hardlink(e);
        _cleanup_free_ char *hl_disk = NULL;
        if (hl) {
            struct kiln_buf hn = { 0 };
            if (kiln_normalise_member_path(hl, &hn, err) < 0) {
                kiln_buf_free(&norm);
                rc = kiln_error_prefix(err, "%s", path);
                break;
            }
            hl_disk = kiln_path_join(x, hn.data ? hn.data : "", err);
            kiln_buf_free(&hn);
            if (hl_disk)
                archive_entry_set_hardlink(e, hl_disk);
        }
        kiln_buf_free(&norm);
        r = archive_write_header(w, e);
        if (r == ARCHIVE_OK && archive_entry_size(e) > 0) {
            const void *buf;
            size_t sz;
            la_int64_t off;
            while ((r = archive_read_data_block(a, &buf, &sz, &off)) == ARCHIVE_OK)
                if (archive_write_data_block(w, buf, sz, off) < ARCHIVE_OK)
                    break;
            r = r == ARCHIVE_EOF ? ARCHIVE_OK : r;
        }
        if (r == ARCHIVE_OK)
            r = archive_write_finish_entry(w);
        if (r < ARCHIVE_WARN) {
            unsigned ft = archive_entry_filetype(e);
            if (ft == AE_IFCHR || ft == AE_IFBLK) {
                df_warn(c->d, "ADD %s: %s: cannot create a device node here (not root); left out",
                        path, t);
                continue;
            }
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: %s", path, archive_error_string(w));
            break;
        }
        rc = df_layer_add(&c->l, on_disk, t, &ea, err);
    }
    archive_read_free(a);
    archive_write_free(w);
    return rc;
}

/* One source path (in c->root) to dest. A symlink named as a source is
 * followed, scoped to the source tree as docker does. */
static int copy_one(struct copy_ctx *c, const char *img_path, const char *rel, const char *dest,
                    bool dest_is_dir, bool add, struct kiln_error *err)
{
    _cleanup_free_ char *real = df_scoped(c->root, img_path, true, err);
    if (!real)
        return -1;
    _cleanup_free_ char *abs = kiln_path_join(c->root, real + 1, err);
    if (!abs)
        return -1;
    struct stat st;
    if (lstat(abs, &st) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", rel);
    if (S_ISDIR(st.st_mode)) {
        if (!df_is_dir_in_tree(c, dest)) {
            if (make_dirs_(c, dest, true, err) < 0)
                return -1;
        }
        return copy_dir_contents(c, abs, c->ig ? real + 1 : "", dest, err);
    }
    if (add && S_ISREG(st.st_mode) && is_tarball(abs))
        return add_tarball(c, abs, dest, err);
    _cleanup_free_ char *target = NULL;
    if (dest_is_dir || df_is_dir_in_tree(c, dest)) {
        const char *base = strrchr(img_path, '/');
        target = df_join(dest, base ? base + 1 : img_path, err);
    } else {
        target = kiln_strdup(dest, err);
    }
    if (!target)
        return -1;
    _cleanup_free_ char *parent = kiln_dirname(target, err);
    if (!parent || df_make_dirs(c, parent, err) < 0)
        return -1;
    return df_layer_add(&c->l, abs, target, &c->a, err);
}

struct glob_ctx {
    struct copy_ctx *c;
    const char *pattern;
    struct kiln_strlist *out;
};

/* Context-relative paths (and dirs, not entered once matched) matching pattern. */
static int glob_walk(struct glob_ctx *g, const char *abs, const char *rel, struct kiln_error *err)
{
    char **names;
    size_t n;
    if (kiln_walk_list_dir(abs, &names, &n, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        _cleanup_free_ char *a = kiln_path_join(abs, names[i], err);
        _cleanup_free_ char *r =
            *rel ? kiln_path_join(rel, names[i], err) : kiln_strdup(names[i], err);
        if (!a || !r) {
            rc = -1;
            break;
        }
        bool ign = ignored(g->c, r);
        struct stat st;
        if (lstat(a, &st) < 0)
            continue;
        if (!ign && df_glob_match(g->pattern, r)) {
            rc = kiln_strlist_push(g->out, r, err);
            continue;
        }
        if (S_ISDIR(st.st_mode) &&
            (!ign || (g->c->ig->has_exceptions && df_ignore_may_include_below(g->c->ig, r))))
            rc = glob_walk(g, a, r, err);
    }
    kiln_walk_names_free(names, n);
    return rc;
}

static int source_tree(struct kiln_dockerfile *d, const char *from, size_t cur, const char **root,
                       struct kiln_error *err)
{
    int idx = df_find_stage(d, from, cur);
    if (idx >= 0) {
        *root = d->st[idx].rootfs;
        return 0;
    }
    if (idx == -2 || isdigit((unsigned char)from[0])) {
        kiln_fail(err, KILN_ERR_USAGE, "invalid from flag value %s: no earlier stage of that index",
                  from);
        return df_at(d, err);
    }
    for (size_t i = 0; i + 1 < d->images.n; i += 2)
        if (!strcmp(d->images.v[i], from)) {
            *root = d->images.v[i + 1];
            return 0;
        }
    _cleanup_free_ char *ref = df_image_ref(from, err);
    _cleanup_free_ char *dir = ref ? df_new_tmp(d, "image", err) : NULL;
    if (!dir)
        return -1;
    if (kiln_unpack(ref, dir, d->o->platform, d->o->remote, err) < 0) {
        kiln_error_prefix(err, "--from=%s", from);
        return df_at(d, err);
    }
    if (kiln_strlist_push(&d->images, from, err) < 0 || kiln_strlist_push(&d->images, dir, err) < 0)
        return -1;
    *root = d->images.v[d->images.n - 1];
    return 0;
}

static bool is_url(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) || !strncmp(s, "git@", 4) ||
           !strncmp(s, "git://", 6);
}

int df_do_copy(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in, bool add,
               struct kiln_error *err)
{
    /* --link changes how BuildKit stores the layer, not what it holds */
    static const char *const names[] = { "chown", "chmod", "link", "from" };
    const char *vals[4];
    if (df_get_flags(d, in, names, vals, add ? 3 : 4, err) < 0)
        return -1;
    struct kiln_strlist raw = { 0 }, args = { 0 };
    int rc = 0;
    if (in->json) {
        for (size_t i = 0; rc == 0 && i < in->jargs.n; i++)
            rc = kiln_strlist_push(&raw, in->jargs.v[i], err);
    } else {
        rc = df_split_ws(in->args, &raw, err);
    }
    for (size_t i = 0; rc == 0 && i < raw.n; i++) {
        char *v;
        rc = df_expand(d, s, raw.v[i], &v, err);
        if (rc == 0) {
            rc = kiln_strlist_push(&args, v, err);
            free(v);
        }
    }
    kiln_strlist_free(&raw);
    if (rc == 0 && args.n < 2) {
        rc = kiln_fail(err, KILN_ERR_USAGE,
                       "%s requires at least two arguments, but only one was provided. "
                       "Destination could not be determined.",
                       add ? "ADD" : "COPY");
        df_at(d, err);
    }
    struct copy_ctx c = { .d = d, .s = s, .root = d->context, .ig = &d->ig };
    c.a.set_owner = true; /* 0:0 unless --chown */
    if (rc == 0 && vals[0] && *vals[0]) {
        char *v;
        rc = df_expand(d, s, vals[0], &v, err);
        if (rc == 0)
            rc = parse_chown(d, s, v, &c.a, err);
        free(v);
    }
    if (rc == 0 && vals[1]) {
        char *end;
        unsigned long m = strtoul(vals[1], &end, 8);
        if (!*vals[1] || *end || m > 07777 || !isdigit((unsigned char)vals[1][0])) {
            rc = kiln_fail(err, KILN_ERR_USAGE,
                           "invalid --chmod=%s: kiln takes an octal mode "
                           "(e.g. 0755)",
                           vals[1]);
            df_at(d, err);
        }
        c.a.set_mode = true;
        c.a.mode = (uint32_t)m;
    }
    if (rc == 0 && !add && vals[3]) {
        char *v;
        rc = df_expand(d, s, vals[3], &v, err);
        if (rc == 0) {
            rc = source_tree(d, v, (size_t)(s - d->st), &c.root, err);
            c.ig = NULL;
        }
        free(v);
    }
    /* the destination: relative to WORKDIR; a trailing '/' makes it a directory */
    const char *dest_raw = rc == 0 ? args.v[args.n - 1] : "";
    _cleanup_free_ char *dest = NULL;
    if (rc == 0) {
        json_t *wd = json_object_get(s->config, "WorkingDir");
        const char *w = json_string_value(wd);
        _cleanup_free_ char *full = dest_raw[0] == '/' ? kiln_strdup(dest_raw, err)
                                                       : df_join(w && *w ? w : "/", dest_raw, err);
        _cleanup_free_ char *clean = full ? df_clean_path(full, err) : NULL;
        dest = clean ? df_scoped(s->rootfs, clean, true, err) : NULL;
        if (!dest)
            rc = -1;
    }
    size_t dl = strlen(dest_raw);
    bool dest_slash =
        dl && (dest_raw[dl - 1] == '/' || (dl >= 2 && !strcmp(dest_raw + dl - 2, "/.")) ||
               !strcmp(dest_raw, "."));
    /* sources: globs expanded; .dockerignore'd files are not there */
    struct kiln_strlist srcs = { 0 };
    for (size_t i = 0; rc == 0 && i + 1 < args.n; i++) {
        const char *sarg = args.v[i];
        if (add && is_url(sarg)) {
            rc = kiln_fail(err, KILN_ERR_USAGE,
                           "%s: kiln does not download: builds have no network. Fetch the file "
                           "first, then COPY (or ADD) it from the context",
                           sarg);
            df_at(d, err);
            break;
        }
        _cleanup_free_ char *rooted = df_join("/", sarg, err);
        _cleanup_free_ char *clean = rooted ? df_clean_path(rooted, err) : NULL;
        if (!clean) {
            rc = -1;
            break;
        }
        _cleanup_free_ char *rel_chk = df_clean_path(sarg, err);
        if (!rel_chk || !strcmp(rel_chk, "..") || !strncmp(rel_chk, "../", 3)) {
            if (rel_chk)
                rc = kiln_fail(err, KILN_ERR_USAGE, "forbidden path outside the build context: %s",
                               sarg);
            else
                rc = -1;
            df_at(d, err);
            break;
        }
        const char *rel = clean + 1;
        if (df_has_glob(rel)) {
            struct kiln_strlist m = { 0 };
            struct copy_ctx *cp = &c;
            struct glob_ctx g = { .c = cp, .pattern = rel, .out = &m };
            rc = glob_walk(&g, c.root, "", err);
            for (size_t k = 0; rc == 0 && k < m.n; k++)
                rc = kiln_strlist_push(&srcs, m.v[k], err);
            kiln_strlist_free(&m);
            continue;
        }
        _cleanup_free_ char *abs = kiln_path_join(c.root, clean, err);
        struct stat st;
        if (!abs) {
            rc = -1;
        } else if (lstat(abs, &st) < 0 || ignored(&c, rel)) {
            rc =
                kiln_fail(err, KILN_ERR_INPUT,
                          "file not found in build context or excluded by .dockerignore: %s", sarg);
            df_at(d, err);
        } else {
            rc = kiln_strlist_push(&srcs, rel, err);
        }
    }
    if (rc == 0 && !srcs.n) {
        rc = kiln_fail(err, KILN_ERR_INPUT, "no source files were specified (no file matches)");
        df_at(d, err);
    }
    if (rc == 0 && srcs.n > 1 && !dest_slash) {
        rc = kiln_fail(err, KILN_ERR_USAGE,
                       "When using %s with more than one source file, the destination must be a "
                       "directory and end with a /",
                       add ? "ADD" : "COPY");
        df_at(d, err);
    }
    for (size_t i = 0; rc == 0 && i < srcs.n; i++) {
        _cleanup_free_ char *ip = df_join("/", srcs.v[i], err);
        rc = ip ? copy_one(&c, ip, srcs.v[i], dest, dest_slash, add, err) : -1;
        if (rc < 0)
            df_at(d, err);
    }
    kiln_strlist_free(&srcs);
    kiln_strlist_free(&args);
    kiln_strlist_free(&c.made);
    /* the stage's tree sees what the layer does */
    for (size_t i = 0; rc == 0 && i < c.l.n; i++)
        rc = df_apply_entry(s->rootfs, &c.l.v[i], err);
    if (rc == 0 && !(c.l.created_by = kiln_strdup(in->original, err)))
        rc = -1;
    struct layer *lv = rc == 0 ? realloc(s->layers, (s->nlayers + 1) * sizeof(*lv)) : NULL;
    if (rc == 0 && !lv)
        rc = kiln_oom(err);
    if (rc < 0) {
        df_layer_free(&c.l);
        return -1;
    }
    s->layers = lv;
    s->layers[s->nlayers++] = c.l;
    return 0;
}
