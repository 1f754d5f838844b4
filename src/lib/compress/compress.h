/* Compressing sinks: gzip (parallel, order-preserving), zstd, none. */
#ifndef KILN_COMPRESS_H
#define KILN_COMPRESS_H

#include "../base/sink.h"

/* ---- compress/compress.c ---------------------------------------------- */
struct kiln_compressor;
/* A sink that compresses into next. level < 0 = default. */
int kiln_compressor_new(enum kiln_compression c, int level, unsigned jobs, struct kiln_sink *next,
                        struct kiln_compressor **out, struct kiln_error *err);
/* Reuses and stores gzip blocks in cache (NULL: none); before the first
 * write. zstd and none are not cached. */
struct kiln_chunk_cache;
void kiln_compressor_set_cache(struct kiln_compressor *c, struct kiln_chunk_cache *cache);
struct kiln_sink *kiln_compressor_sink(struct kiln_compressor *c);
void kiln_compressor_free(struct kiln_compressor *c);
int kiln_compression_default_level(enum kiln_compression c);
int kiln_compression_check_level(enum kiln_compression c, int level, struct kiln_error *err);
const char *kiln_compression_name(enum kiln_compression c);
#define KILN_GZIP_BLOCK_SIZE (4 * 1024 * 1024) /* docs/layer-format.md, "Blocks" */

#endif
