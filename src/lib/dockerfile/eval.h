/*
 * The Dockerfile evaluator's own declarations, shared by its files:
 * eval.c (stages, FROM, the instruction table's driver, the build),
 * instr.c (the configuration instructions and the table), copy.c (COPY
 * and ADD, --chown) and fs.c (stage trees). Not installed.
 */
#ifndef KILN_DOCKERFILE_EVAL_H
#define KILN_DOCKERFILE_EVAL_H

#include <jansson.h>
#include <sys/stat.h>

#include "../internal.h"
#include "dockerfile.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct item {
    char *src;  /* on disk; NULL: a created directory */
    char *dest; /* absolute path in the image */
    struct kiln_entry_attrs a;
};

struct layer {
    char *created_by;
    struct item *v;
    size_t n;
};

struct stage {
    char *name;     /* FROM ... AS name, lower case; NULL if none */
    int parent;     /* FROM an earlier stage: its index; -1 otherwise */
    char *base_ref; /* image for kiln (with transport); NULL: scratch */
    /* base_ref opened once (FROM IMAGE, not FROM STAGE): its config, its
     * files, then, handed to the build, its layers; NULL once handed on */
    struct kiln_src *base;
    char *base_platform; /* what base was opened for; NULL: the host's */
    char *platform;
    char *rootfs;
    json_t *config; /* the container config */
    char *author;
    struct layer *layers;
    size_t nlayers;
    struct kiln_strlist args; /* ARGs of the stage with a value: "K=V" */
    struct kiln_strlist env;  /* config Env, for substitution */
    bool cmd_set;
    bool oom; /* a JSON insertion failed: the instruction fails (exec_instr) */
};

struct kiln_dockerfile {
    struct kiln_dockerfile_opts opts; /* the caller's, of this version's size */
    const struct kiln_dockerfile_opts *o; /* &opts */
    struct df_file f;
    char *context;
    char *tmp;
    unsigned ntmp;
    struct df_ignore ig;
    struct stage *st;
    size_t nst;
    struct kiln_strlist meta;        /* ARGs before the first FROM with a value */
    struct kiln_strlist build_args;  /* "K=V" */
    struct kiln_strlist consumed;    /* build-arg names declared by an ARG */
    struct kiln_strlist images;      /* COPY --from=image: "ref", then its tree */
    const struct df_instr *cur;      /* for messages */
    uint64_t max_bytes, max_entries; /* the build's bounds on tarballs, for ADD */
};

struct copy_ctx {
    struct kiln_dockerfile *d;
    struct stage *s;
    const char *root;           /* where sources are read: the context or a tree */
    const struct df_ignore *ig; /* the context's .dockerignore, or NULL */
    struct kiln_entry_attrs a;  /* owner (always) and mode (--chmod) */
    struct layer l;
    struct kiln_strlist made; /* directories this layer creates */
};

/* An instruction of a stage; `trigger`: run as a base image's ONBUILD. */
typedef int (*df_instr_fn)(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in,
                           bool trigger, struct kiln_error *err);
struct df_instr_def {
    const char *name; /* lower case, as the parser gives it */
    df_instr_fn run;  /* NULL: FROM, which the driver runs (it opens a stage) */
};
/* The instructions kiln knows, or NULL (instr.c). */
const struct df_instr_def *df_instr_find(const char *name);

/* ---- eval.c: messages and helpers --------------------------------------- */
/* Prefixes err with "FILE:LINE: INSTRUCTION" (once); returns -1. */
int df_at(struct kiln_dockerfile *d, struct kiln_error *err);
void df_warn(struct kiln_dockerfile *d, const char *fmt, ...) KILN_PRINTF(2, 3);
/* "a/b" with one slash between. */
char *df_join(const char *a, const char *b, struct kiln_error *err);
/* Sets K=V in a list of "K=V", in place when K is there. */
int df_set_kv(struct kiln_strlist *l, const char *k, const char *v, struct kiln_error *err);
bool df_list_has(const struct kiln_strlist *l, const char *s);
/* A new name under the evaluator's temporary directory. */
char *df_new_tmp(struct kiln_dockerfile *d, const char *what, struct kiln_error *err);
/* Variable substitution of one word, with the stage's (or the global) ARGs and Env. */
int df_expand(struct kiln_dockerfile *d, const struct stage *s, const char *w, char **out,
              struct kiln_error *err);
/* Whitespace-separated words (buildkit's parseStringsWhitespaceDelimited). */
int df_split_ws(const char *s, struct kiln_strlist *out, struct kiln_error *err);
/* "--name=value" flags: fills vals for the names allowed; anything else is an
 * error naming the flag. */
int df_get_flags(struct kiln_dockerfile *d, const struct df_instr *in, const char *const *names,
                 const char **vals, size_t n, struct kiln_error *err);
int df_layer_add(struct layer *l, const char *src, const char *dest,
                 const struct kiln_entry_attrs *a, struct kiln_error *err);
void df_layer_free(struct layer *l);
/* A stage by name or index before `before`: its index, -1 if none, -2 for an
 * index out of range. */
int df_find_stage(struct kiln_dockerfile *d, const char *name, size_t before);
/* The object (or array) at key in a stage's config, created if missing;
 * NULL when out of memory. */
json_t *df_config_member(struct stage *s, const char *key, bool array);
/* Config insertions whose failure (out of memory) is noted on the stage. */
void df_jset(struct stage *s, json_t *o, const char *key, json_t *v);
void df_jpush(struct stage *s, json_t *a, json_t *v);
int df_update_env_json(struct stage *s);
/* An image name as kiln reads it: transports kept, anything else is a
 * registry reference. */
char *df_image_ref(const char *name, struct kiln_error *err);
/* Runs one instruction (not FROM) on stage s. */
int df_exec_instr(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in,
                  bool trigger, struct kiln_error *err);

/* ---- fs.c: stage trees ----------------------------------------------------- */
/* path resolved inside root as a chroot would (symlinks kept inside). */
char *df_scoped(const char *root, const char *path, bool follow_last, struct kiln_error *err);
int df_tree_lstat(const char *root, const char *path, struct stat *st);
/* Writes one COPY item into a stage's tree. */
int df_apply_entry(const char *root, const struct item *it, struct kiln_error *err);
int df_copy_tree(const char *src, const char *dst, struct kiln_error *err);

/* ---- copy.c: COPY and ADD -------------------------------------------------- */
int df_do_copy(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in, bool add,
               struct kiln_error *err);
/* Creates the parents of dir in the layer (and the tree), as docker does. */
int df_make_dirs(struct copy_ctx *c, const char *dir, struct kiln_error *err);
bool df_is_dir_in_tree(struct copy_ctx *c, const char *path);

/* ---- instr.c ---------------------------------------------------------------- */
/* ARG (also before the first FROM, where s is NULL). */
int df_do_arg(struct kiln_dockerfile *d, struct stage *s, const struct df_instr *in,
              struct kiln_error *err);

#endif
