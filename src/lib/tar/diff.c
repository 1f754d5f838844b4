/* Changesets between two trees (kiln diff, --diff): being written. */
#include "../internal.h"

int kiln_layer_from_diff(const char *old_dir, const char *new_dir, const struct kiln_layer_opts *o,
                         struct kiln_tar_writer *w, struct kiln_error *err)
{
    (void)old_dir;
    (void)new_dir;
    (void)o;
    (void)w;
    return kiln_fail(err, KILN_ERR_USAGE, "changesets are not implemented yet");
}
