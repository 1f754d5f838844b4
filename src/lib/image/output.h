/* Outputs: what a build or a copy hands to each oci:, oci-archive: or
 * docker-archive: destination, prepared, committed or rolled back. */
#ifndef KILN_IMAGE_OUTPUT_H
#define KILN_IMAGE_OUTPUT_H

#include "config.h"
#include "image.h"

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
    const struct kiln_image_set *set; /* from prepare to finish: what it writes */
    char *entry;            /* oci: our index.json entry (JSON) */
    char *displaced;        /* oci: the entry of our tag that the commit replaced */
    struct kiln_strlist added_blobs; /* oci: digests the commit added (rollback list) */
};
int kiln_output_parse(const char *spec, struct kiln_output *o, struct kiln_error *err);
int kiln_output_check(struct kiln_output *o, struct kiln_error *err);
int kiln_output_prepare(struct kiln_output *o, const struct kiln_image_set *set,
                        struct kiln_error *err);
int kiln_output_commit(struct kiln_output *o, struct kiln_error *err);
/* Undoes a prepared or committed output, restoring what it replaced. */
void kiln_output_rollback(struct kiln_output *o);
/* After every output committed: drops the backups. */
void kiln_output_finish(struct kiln_output *o);
void kiln_output_free(struct kiln_output *o);

#endif
