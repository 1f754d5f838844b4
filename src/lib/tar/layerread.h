/* tar/layerread.c: a layer blob's tar entries, checked and padded as kiln
 * unpack and kiln export read them. */
#ifndef KILN_TAR_LAYERREAD_H
#define KILN_TAR_LAYERREAD_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/sink.h"

struct archive;
struct archive_entry;

struct kiln_layer_reader {
    struct archive *raw; /* the file through the filters (raw format) */
    struct archive *a;   /* tar, read from raw's data */
    const char *layer;   /* the layer's name in messages (its digest) */
    /* what the caller may read after kiln_layer_reader_next: */
    size_t pad;          /* zeros added at the end of a short stream (0: none) */
    char *last_name;     /* the last entry's name */
    /* private */
    int fd;
    unsigned char *rbuf, *pbuf;
    struct kiln_blob_check *check;
    struct kiln_error cerr;
    bool cfailed, eof, ended, last_regular;
    uint64_t total;
    int64_t last_size;
};

/* Opens the blob file PATH of LAYER. With CHECK (initialised by the caller,
 * who frees it), its size is checked now and every byte read is hashed; a
 * mismatch is the error reported. */
int kiln_layer_reader_open(struct kiln_layer_reader *lr, const char *path, const char *layer,
                           struct kiln_blob_check *check, struct kiln_error *err);
/* 1 and *e: the next entry (its data read from lr->a); 0: the end, the
 * stream's end and the digest checked; -1: an error. */
int kiln_layer_reader_next(struct kiln_layer_reader *lr, struct archive_entry **e,
                           struct kiln_error *err);
/* err from a failure of A (lr->a or lr->raw): the check's, when it failed. */
int kiln_layer_reader_fail(struct kiln_layer_reader *lr, struct archive *a, struct kiln_error *err);
/* After another failure: reads the rest of a checked blob; -1 with the
 * check's error in err when the blob is damaged (that explains the failure),
 * else 0. */
int kiln_layer_reader_damaged(struct kiln_layer_reader *lr, struct kiln_error *err);
/* Frees what it holds (not the check); lr may be zeroed with fd -1, or freed already. */
void kiln_layer_reader_free(struct kiln_layer_reader *lr);

#endif
