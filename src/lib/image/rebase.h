/* The config of a rebased image (image/rebase.c). */
#ifndef KILN_IMAGE_REBASE_H
#define KILN_IMAGE_REBASE_H

#include "../base/base.h"

/* The image's config (JSON text) moved from old_base's to new_base's: the
 * container config's inherited settings become the new base's, its own
 * stay; the history is the new base's, then the image's own entries.
 * rootfs is left for the caller. *out: malloc'ed JSON. */
int kiln_rebase_config(const char *image, const char *old_base, const char *new_base,
                       char **out, struct kiln_error *err);

#endif
