/*
 * Destinations that many kiln processes share (image/layout.c).
 *
 * Temporaries: everything kiln writes at a destination before it commits
 * (a new layout or archive beside its final name, "NAME.kiln-tmp-XXXXXX"; a
 * staging directory, ".kiln-stage-XXXXXX") is held open and flock(2)ed by
 * its owner for as long as it exists. A temporary that nobody holds and that
 * has not changed for KILN_STALE_SECONDS belongs to a process that was
 * killed: the next writer in that directory removes it.
 *
 * Layouts: writers of one OCI layout serialise their updates of index.json
 * with an exclusive flock on LAYOUT/.kiln-lock, re-read index.json under it
 * and merge their entries into it, so no other writer's tag is lost. Blobs
 * enter blobs/sha256 only under that lock, just before the index.json that
 * references them; a rollback removes only the blobs it added that no entry
 * of the current index references.
 */
#ifndef KILN_IMAGE_LAYOUT_H
#define KILN_IMAGE_LAYOUT_H

#include <jansson.h>

#include "output.h"

#define KILN_LAYOUT_LOCK ".kiln-lock"
#define KILN_STAGE_PREFIX ".kiln-stage-"
#define KILN_TMP_INFIX ".kiln-tmp-"
#define KILN_STALE_SECONDS 2
#define KILN_OCI_LAYOUT_BYTES "{\"imageLayoutVersion\":\"1.0.0\"}"

/* Creates and holds DIR/NAMEXXXXXX (a directory when dir is true). */
int kiln_held_create(const char *dir_and_name, bool dir, struct kiln_held *h,
                     struct kiln_error *err);
/* Creates and holds PATH.kiln-tmp-XXXXXX, beside path (a directory when dir). */
int kiln_held_beside(const char *path, bool dir, struct kiln_held *h, struct kiln_error *err);
/* Holds an existing path (a file just linked into place, say). */
int kiln_held_open(const char *path, struct kiln_held *h, struct kiln_error *err);
/* Lets go of it; removes it first (recursively) when remove is true. */
void kiln_held_release(struct kiln_held *h, bool remove);

/* Removes the temporaries of killed kiln processes from dir (not recursive). */
void kiln_reclaim_stale(const char *dir);

/* Takes LAYOUT's lock (blocking). Returns the lock's descriptor, or -1 with
 * err set; err->code is KILN_ERR_INPUT with *gone = true when the layout
 * does not exist (any more). */
int kiln_layout_lock(const char *layout, bool *gone, struct kiln_error *err);
void kiln_layout_unlock(int fd);

/* After index.json of DIR could not be read (err set): when DIR is a
 * containers/image dir: directory instead (podman save --format docker-dir,
 * skopeo copy ... dir:), err says so and how to convert it. Returns -1. */
int kiln_layout_explain_missing(const char *dir, const char *spec, struct kiln_error *err);

/* oci: outputs (kiln_output_* for KILN_OUT_OCI). */
int kiln_layout_prepare(struct kiln_output *o, const struct kiln_image_set *set,
                        struct kiln_error *err);
int kiln_layout_commit(struct kiln_output *o, struct kiln_error *err);
void kiln_layout_rollback(struct kiln_output *o);
void kiln_layout_finish(struct kiln_output *o);

/* Removes the entries of LAYOUT tagged `tag` (org.opencontainers.image.ref.name),
 * under its lock; their blobs stay for kiln_layout_gc. An error lists the
 * tags there are when none has that name. spec names the layout in messages. */
int kiln_layout_untag(const char *layout, const char *spec, const char *tag,
                      struct kiln_error *err);
/* Under the lock: removes every blob of blobs/sha256 that no entry of
 * index.json references (through indexes, manifests, configs, layers and
 * artifact blobs), and the temporaries of killed writers. Refuses, removing
 * nothing, when a referenced document cannot be read. */
int kiln_layout_gc(const char *layout, const char *spec, bool dry_run, struct kiln_gc_stats *st,
                   struct kiln_error *err);

/* The tag an output writes, and its index.json entry. */
const char *kiln_layout_tag(const struct kiln_output *o, const struct kiln_image_set *set);
json_t *kiln_layout_entry(const struct kiln_output *o, const struct kiln_image_set *set,
                          struct kiln_error *err);
/* index.json of a layout that holds the image alone (oci-archive:). */
int kiln_layout_index_bytes(const struct kiln_output *o, const struct kiln_image_set *set,
                            struct kiln_buf *out, struct kiln_error *err);

#endif
