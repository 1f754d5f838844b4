/* The merged filesystem of an image as one tar stream (image/flatten.c). */
#ifndef KILN_IMAGE_FLATTEN_H
#define KILN_IMAGE_FLATTEN_H

#include "source.h"

struct kiln_tar_writer;
/* Writes the entries of the first image of s, its layers applied in order
 * (whiteouts, opaque directories, hardlinks kept), to w: no end blocks. */
int kiln_flatten_write(struct kiln_src *s, struct kiln_tar_writer *w, struct kiln_error *err);
/* The same as a whole tar (end blocks included) to fd. */
int kiln_flatten_src_to_fd(struct kiln_src *s, int fd, const char *what, struct kiln_error *err);

#endif
