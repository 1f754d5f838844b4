/* Splitting one tree into several layers by a layer map (--layer-map). */
#ifndef KILN_TAR_LAYERMAP_H
#define KILN_TAR_LAYERMAP_H

#include "tar.h"

#define KILN_LAYER_MAP_MAX 63 /* named layers; one more takes the rest */

struct kiln_layer_map;

/* Reads a map: "[NAME]" lines start a layer; then path patterns (globs),
 * or "@FILE" lists of exact paths; "#" starts a comment. */
int kiln_layer_map_load(const char *file, struct kiln_layer_map **out, struct kiln_error *err);
void kiln_layer_map_free(struct kiln_layer_map *m);
/* Named layers + 1 (the rest). */
size_t kiln_layer_map_count(const struct kiln_layer_map *m);
const char *kiln_layer_map_name(const struct kiln_layer_map *m, size_t i);

/* The first layer (in file order) whose pattern matches "/"+rel itself,
 * or parent_claim (the claim of the parent directory) if that comes first. */
unsigned kiln_layer_map_claim(const struct kiln_layer_map *m, const char *rel, unsigned parent);

/* Scan results: which layers each directory must appear in, and the layer of
 * each hardlink group (that of its first member in walk order). */
int kiln_layer_map_set_dir(struct kiln_layer_map *m, const char *rel, uint64_t mask,
                           struct kiln_error *err);
uint64_t kiln_layer_map_dir(const struct kiln_layer_map *m, const char *rel);
/* Returns the group's layer, recording `layer` for a group seen first. */
int kiln_layer_map_link(struct kiln_layer_map *m, dev_t dev, ino_t ino, unsigned layer,
                        unsigned *out, struct kiln_error *err);
unsigned kiln_layer_map_link_get(const struct kiln_layer_map *m, dev_t dev, ino_t ino,
                                 unsigned fallback);

/* Glob match: '*' and '?' stop at '/', '**' crosses it, [...] classes. */
bool kiln_glob_match(const char *pat, const char *str);

#endif
