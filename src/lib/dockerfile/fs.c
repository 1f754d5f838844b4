/* The trees of a Dockerfile's stages: paths resolved inside them, COPY
 * items applied, a stage copied for FROM STAGE. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval.h"

/* ---- trees: resolving paths and applying entries ------------------------ */

/* The path `path` (absolute in the image) resolved inside the tree `root` as
 * if root were "/": symlinks followed (the last one only if follow_last),
 * ".." never above root. Returns the cleaned absolute image path. */
char *df_scoped(const char *root, const char *path, bool follow_last, struct kiln_error *err)
{
    struct kiln_buf res = { 0 }, rest = { 0 };
    int rc = kiln_buf_append(&rest, path, strlen(path), err);
    if (rc == 0)
        rc = kiln_buf_append(&res, "", 0, err);
    unsigned links = 0;
    while (rc == 0 && rest.len) {
        char *p = rest.data;
        while (*p == '/')
            p++;
        char *e = strchr(p, '/');
        size_t cl = e ? (size_t)(e - p) : strlen(p);
        char comp[4096];
        if (cl >= sizeof(comp)) {
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: path component too long", path);
            break;
        }
        memcpy(comp, p, cl);
        comp[cl] = '\0';
        const char *after = p + cl;
        bool last = !*after || !after[strspn(after, "/")];
        /* drop the component from rest */
        size_t off = (size_t)(after - rest.data);
        memmove(rest.data, rest.data + off, rest.len - off + 1);
        rest.len -= off;
        if (!cl || !strcmp(comp, "."))
            continue;
        if (!strcmp(comp, "..")) {
            char *sl = strrchr(res.data, '/');
            if (sl) {
                *sl = '\0';
                res.len = (size_t)(sl - res.data);
            }
            continue;
        }
        size_t keep = res.len;
        rc = kiln_buf_printf(&res, err, "/%s", comp);
        if (rc < 0)
            break;
        _cleanup_free_ char *abs = kiln_path_join(root, res.data, err);
        if (!abs) {
            rc = -1;
            break;
        }
        struct stat st;
        if (lstat(abs, &st) < 0 || !S_ISLNK(st.st_mode) || (last && !follow_last))
            continue;
        if (++links > 40) {
            rc = kiln_fail(err, KILN_ERR_INPUT, "%s: too many levels of symbolic links", path);
            break;
        }
        char target[4096];
        ssize_t tl = readlink(abs, target, sizeof(target) - 1);
        if (tl < 0) {
            rc = kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", abs);
            break;
        }
        target[tl] = '\0';
        res.len = keep;
        res.data[keep] = '\0';
        if (target[0] == '/') {
            res.len = 0;
            res.data[0] = '\0';
        }
        struct kiln_buf nr = { 0 };
        rc = kiln_buf_printf(&nr, err, "%s/%s", target, rest.data);
        if (rc == 0) {
            kiln_buf_free(&rest);
            rest = nr;
        }
    }
    kiln_buf_free(&rest);
    if (rc < 0) {
        kiln_buf_free(&res);
        return NULL;
    }
    if (!res.len) {
        kiln_buf_free(&res);
        return kiln_strdup("/", err);
    }
    return res.data;
}

/* lstat of an image path in a tree (no following). */
int df_tree_lstat(const char *root, const char *path, struct stat *st)
{
    char *abs = kiln_path_join(root, path, NULL);
    if (!abs)
        return -1;
    int r = lstat(abs, st);
    free(abs);
    return r;
}

static int copy_file_data(const char *src, const char *dst, mode_t mode, struct kiln_error *err)
{
    _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", src);
    _cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode | 0600);
    if (out < 0)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", src);
        if (!n)
            return 0;
        if (kiln_write_all(out, buf, (size_t)n, dst, err) < 0)
            return -1;
    }
}

/* A directory's mode in a stage's tree: exact for root (who may write into
 * any directory), else with u+rwx so that kiln can fill it. */
static mode_t dir_mode(mode_t m)
{
    return getuid() == 0 ? m : m | 0700;
}

/* Writes one entry into a tree (the stage's view of what a layer does). */
int df_apply_entry(const char *root, const struct item *it, struct kiln_error *err)
{
    _cleanup_free_ char *dst = kiln_path_join(root, it->dest, err);
    if (!dst)
        return -1;
    struct stat sst, dstst;
    bool have = lstat(dst, &dstst) == 0;
    if (it->src && lstat(it->src, &sst) < 0)
        return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", it->src);
    bool is_dir = !it->src || S_ISDIR(sst.st_mode);
    mode_t mode = it->a.set_mode ? it->a.mode : it->src ? (sst.st_mode & 07777) : 0755;
    if (have && (!is_dir || !S_ISDIR(dstst.st_mode))) {
        if (S_ISDIR(dstst.st_mode))
            kiln_rm_rf(dst);
        else
            unlink(dst);
        have = false;
    }
    if (is_dir) {
        if (!have && mkdir(dst, 0700) < 0)
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
        chmod(dst, dir_mode(mode));
    } else if (S_ISREG(sst.st_mode)) {
        if (copy_file_data(it->src, dst, mode, err) < 0)
            return -1;
        chmod(dst, mode);
    } else if (S_ISLNK(sst.st_mode)) {
        char target[4096];
        ssize_t tl = readlink(it->src, target, sizeof(target) - 1);
        if (tl < 0)
            return kiln_fail_errno(err, KILN_ERR_INPUT, errno, "%s", it->src);
        target[tl] = '\0';
        if (symlink(target, dst) < 0)
            return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
    } else {
        /* devices and FIFOs: as far as we may (the layer has them anyway) */
        if (mknod(dst, (sst.st_mode & S_IFMT) | mode, sst.st_rdev) < 0)
            return 0;
    }
    if (getuid() == 0) {
        uid_t u = it->a.set_owner ? (uid_t)it->a.uid : it->src ? sst.st_uid : 0;
        gid_t g = it->a.set_owner ? (gid_t)it->a.gid : it->src ? sst.st_gid : 0;
        if (lchown(dst, u, g) == 0 && !S_ISLNK(is_dir ? S_IFDIR : sst.st_mode))
            chmod(dst, is_dir ? dir_mode(mode) : mode); /* chown clears setuid bits */
    }
    if (it->src && !is_dir) {
        /* COPY --from this tree keeps mtimes, as docker does */
        struct timespec ts[2] = { sst.st_atim, sst.st_mtim };
        utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW);
    }
    return 0;
}

/* Copies a whole tree (FROM stage: the new stage starts as a copy). */
int df_copy_tree(const char *src, const char *dst, struct kiln_error *err)
{
    if (mkdir(dst, 0755) < 0 && errno != EEXIST)
        return kiln_fail_errno(err, KILN_ERR_OUTPUT, errno, "%s", dst);
    char **names;
    size_t n;
    if (kiln_walk_list_dir(src, &names, &n, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        _cleanup_free_ char *s = kiln_path_join(src, names[i], err);
        _cleanup_free_ char *t = kiln_path_join(dst, names[i], err);
        if (!s || !t) {
            rc = -1;
            break;
        }
        struct stat st;
        if (lstat(s, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc = df_copy_tree(s, t, err);
            if (rc == 0 && getuid() == 0)
                if (lchown(t, st.st_uid, st.st_gid) < 0) {
                    /* the owner of a stage's directory matters to no layer */
                }
            if (rc == 0)
                chmod(t, dir_mode(st.st_mode & 07777));
        } else {
            struct item it = { .src = s, .dest = names[i] };
            rc = df_apply_entry(dst, &it, err);
        }
    }
    kiln_walk_names_free(names, n);
    return rc;
}
