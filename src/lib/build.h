/* What the build offers the other modules (the Dockerfile front end). */
#ifndef KILN_BUILD_H
#define KILN_BUILD_H

#include "base/base.h"

/* The --max-bytes / --max-entries bounds of a build (also for a Dockerfile's
 * ADD of a tarball). */
void kiln_build_tar_limits(const kiln_build *b, uint64_t *max_bytes, uint64_t *max_entries);
struct kiln_src;
/* KILN_SET_FROM with the image already opened (kiln_src_open_ex with
 * KILN_SRC_HOST_DEFAULT, for the build's platform): the build takes s and
 * uses it once instead of opening ref again. */
int kiln_build_set_base(kiln_build *b, const char *ref, struct kiln_src *s, struct kiln_error *err);

#endif
