/* Pushing images and the glue between the public API and the registry client. */
#ifndef KILN_COPY_H
#define KILN_COPY_H

#include "image/source.h"

/* The caller's options (NULL: the defaults) as a struct of this version's
 * size in *local: fields an older caller's smaller struct lacks keep their
 * defaults. Returns local. */
const struct kiln_remote_opts *kiln_remote_opts_get(const struct kiln_remote_opts *o,
                                                    struct kiln_remote_opts *local);
void kiln_registry_opts_from(const struct kiln_remote_opts *o, const char *creds,
                             struct kiln_registry_opts *ro);
/* Pushes a set to dst's repository: per image its layers and config (what
 * the repository has is skipped), then its manifest, by digest under an
 * index and by `tag` alone; then the index, tagged. A blob is mounted from
 * mount_from when it is given (a repository of the same registry that has
 * them all), else a layer from its source's repository when that is on the
 * same registry. A layer without a file is fetched from its source when the
 * repository lacks it. (A streamed push would hand a layer on while it is
 * built: the set already gives layers before the documents that name them.) */
int kiln_push_set(struct kiln_registry *reg, const struct kiln_reference *dst, const char *tag,
                  const struct kiln_image_set *set, const char *mount_from, struct kiln_error *err);

#endif
