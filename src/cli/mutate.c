/* kiln mutate and kiln append: an image on any transport, changed without
 * rebuilding or uploading its layers again, written back where it was (or
 * to -o). They are kiln build with REF as the base (build.c). */
#include "cli.h"

static const char mutate_help[] =
    "Usage: kiln mutate [OPTIONS] REF\n"
    "\n"
    "Change an image's config and write it back to REF (or to each -o DEST). Its layers\n"
    "are kept as they are: not recompressed, not uploaded again (a registry already has\n"
    "them). The manifest format (OCI or Docker) and the created time are kept, unless\n"
    "--manifest-format or --source-date-epoch/SOURCE_DATE_EPOCH is given. Prints the new\n"
    "manifest digest. A multi-platform index is changed one image at a time: --platform.\n"
    "REF, DEST: oci:DIR:TAG, oci-archive:FILE:TAG, docker-archive:FILE, docker://HOST/REPO:TAG\n"
    "\n"
    "Settings (as kiln build's; each replaces or adds to the image's):\n"
    "  --entrypoint ARGS  --cmd ARGS  --env KEY=VALUE  --workdir DIR  --user USER[:GROUP]\n"
    "  --port N[-M][/PROTO]  --volume PATH  --label KEY=VALUE  --annotation KEY=VALUE\n"
    "  --stop-signal SIGNAL  --author TEXT  -t, --tag REF\n"
    "  --platform OS/ARCH[/VAR]  the image of an index to change\n"
    "Output:\n"
    "  -o, --output DEST         write here instead of back to REF (repeatable)\n"
    "  --manifest-format FMT     oci or docker (default: REF's)\n"
    "  --source-date-epoch N     created time (default: REF's)\n"
    "  --digestfile FILE         also write the digest to FILE (no newline)\n"
    "  --push-jobs N             parallel blob uploads (default 4)\n"
    "  --sign-by KEY             sign each docker:// destination (kiln-sign(1)), with\n"
    "  --sign-passphrase-file FILE, --sign-passphrase-fd N  the key's passphrase\n"
    "  -q, --quiet, -v, --verbose, -h, --help\n"
    "\n" CLI_REMOTE_HELP "\n"
    "Exit status: 0 success, 1 failure, 2 usage error. See kiln-mutate(1).\n";

static const char append_help[] =
    "Usage: kiln append [OPTIONS] REF\n"
    "\n"
    "Add layers to an image and write it back to REF (or to each -o DEST): one layer per\n"
    "--rootfs or --tar, one for all --add. The image's own layers are kept as they are\n"
    "(not recompressed, and mounted or skipped in a registry), as is its manifest format.\n"
    "Prints the new manifest digest. An index is changed one image at a time: --platform.\n"
    "REF, DEST: oci:DIR:TAG, oci-archive:FILE:TAG, docker-archive:FILE, docker://HOST/REPO:TAG\n"
    "\n"
    "Layers (as kiln build's):\n"
    "  --rootfs DIR  --tar FILE  --add SRC:DEST[:MODE[:UID:GID]]  --layer-map FILE\n"
    "  --diff OLD NEW  --compression ALGO  --compression-level N  -j, --jobs N\n"
    "  --no-xattrs  --max-bytes N  --max-entries N\n"
    "Settings (as kiln mutate's):\n"
    "  --entrypoint ARGS  --cmd ARGS  --env KEY=VALUE  --workdir DIR  --user USER[:GROUP]\n"
    "  --port N[-M][/PROTO]  --volume PATH  --label KEY=VALUE  --annotation KEY=VALUE\n"
    "  --stop-signal SIGNAL  --author TEXT  -t, --tag REF\n"
    "  --platform OS/ARCH[/VAR]  the image of an index to change\n"
    "Output:\n"
    "  -o, --output DEST         write here instead of back to REF (repeatable)\n"
    "  --manifest-format FMT     oci or docker (default: REF's)\n"
    "  --source-date-epoch N     created time; clamps file mtimes\n"
    "  --digestfile FILE         also write the digest to FILE (no newline)\n"
    "  --push-jobs N             parallel blob uploads (default 4)\n"
    "  --sign-by KEY             sign each docker:// destination (kiln-sign(1)), with\n"
    "  --sign-passphrase-file FILE, --sign-passphrase-fd N  the key's passphrase\n"
    "  -q, --quiet, -v, --verbose, -h, --help\n"
    "\n" CLI_REMOTE_HELP "\n"
    CLI_CACHE_HELP "\n"
    "Exit status: 0 success, 1 failure, 2 usage error. See kiln-mutate(1).\n";

static const char flatten_help[] =
    "Usage: kiln flatten [OPTIONS] REF\n"
    "\n"
    "Squash the layers of an image into one and write it back to REF (or to each -o DEST):\n"
    "the one layer is the image's merged filesystem, as kiln export writes it (whiteouts\n"
    "applied, owners, modes and xattrs kept). The config is kept, with rootfs.diff_ids\n"
    "and one history entry that says what was squashed; so are the manifest format\n"
    "and the created time, unless --manifest-format or --source-date-epoch is given.\n"
    "Prints the new manifest digest. An index is changed one image at a time: --platform.\n"
    "REF, DEST: oci:DIR:TAG, oci-archive:FILE:TAG, docker-archive:FILE, docker://HOST/REPO:TAG\n"
    "\n"
    "Settings (as kiln mutate's; each replaces or adds to the image's):\n"
    "  --entrypoint ARGS  --cmd ARGS  --env KEY=VALUE  --workdir DIR  --user USER[:GROUP]\n"
    "  --port N[-M][/PROTO]  --volume PATH  --label KEY=VALUE  --annotation KEY=VALUE\n"
    "  --stop-signal SIGNAL  --author TEXT  -t, --tag REF\n"
    "  --platform OS/ARCH[/VAR]  the image of an index to flatten\n"
    "Output:\n"
    "  -o, --output DEST         write here instead of back to REF (repeatable)\n"
    "  --compression ALGO        the layer's: gzip (default), zstd or none\n"
    "  --compression-level N     the compressor's level\n"
    "  -j, --jobs N              compression threads (default: the CPUs)\n"
    "  --manifest-format FMT     oci or docker (default: REF's)\n"
    "  --source-date-epoch N     created time (default: REF's)\n"
    "  --digestfile FILE         also write the digest to FILE (no newline)\n"
    "  --push-jobs N             parallel blob uploads (default 4)\n"
    "  --sign-by KEY             sign each docker:// destination (kiln-sign(1)), with\n"
    "  --sign-passphrase-file FILE, --sign-passphrase-fd N  the key's passphrase\n"
    "  -q, --quiet, -v, --verbose, -h, --help\n"
    "\n" CLI_REMOTE_HELP "\n"
    CLI_CACHE_HELP "\n"
    "Exit status: 0 success, 1 failure, 2 usage error. See kiln-flatten(1).\n";

int cmd_flatten(int argc, char **argv, struct cli_globals *g)
{
    return cli_build_main(argc, argv, g, CLI_FLATTEN, flatten_help);
}

static const char rebase_help[] =
    "Usage: kiln rebase [OPTIONS] --old-base OLD --new-base NEW REF\n"
    "\n"
    "Move the image REF from its base OLD to NEW, as crane rebase does, and write it back\n"
    "to REF (or to each -o DEST). OLD's layers must be REF's first ones (by diff_id); they\n"
    "are replaced by NEW's, and REF's own layers follow as they are (not recompressed,\n"
    "mounted or skipped in a registry). Settings REF inherited from OLD take NEW's; REF's\n"
    "own stay (Env, Labels, ports and volumes entry by entry). The history is NEW's, then\n"
    "REF's own. The manifest format and created time are REF's. Prints the new digest.\n"
    "REF, OLD, NEW, DEST: oci:DIR:TAG, oci-archive:FILE:TAG, docker-archive:FILE,\n"
    "     docker://HOST/REPO:TAG\n"
    "\n"
    "Bases:\n"
    "  --old-base OLD            the image REF was built on\n"
    "  --new-base NEW            the image to put under REF's own layers\n"
    "Settings (as kiln mutate's; each replaces or adds to the image's):\n"
    "  --entrypoint ARGS  --cmd ARGS  --env KEY=VALUE  --workdir DIR  --user USER[:GROUP]\n"
    "  --port N[-M][/PROTO]  --volume PATH  --label KEY=VALUE  --annotation KEY=VALUE\n"
    "  --stop-signal SIGNAL  --author TEXT  -t, --tag REF\n"
    "  --platform OS/ARCH[/VAR]  the image of an index to rebase\n"
    "Output:\n"
    "  -o, --output DEST         write here instead of back to REF (repeatable)\n"
    "  --manifest-format FMT     oci or docker (default: REF's)\n"
    "  --source-date-epoch N     created time (default: REF's)\n"
    "  --digestfile FILE         also write the digest to FILE (no newline)\n"
    "  --push-jobs N             parallel blob uploads (default 4)\n"
    "  --sign-by KEY             sign each docker:// destination (kiln-sign(1)), with\n"
    "  --sign-passphrase-file FILE, --sign-passphrase-fd N  the key's passphrase\n"
    "  -q, --quiet, -v, --verbose, -h, --help\n"
    "\n" CLI_REMOTE_HELP "\n"
    "Exit status: 0 success, 1 failure, 2 usage error. See kiln-rebase(1).\n";

int cmd_rebase(int argc, char **argv, struct cli_globals *g)
{
    return cli_build_main(argc, argv, g, CLI_REBASE, rebase_help);
}

int cmd_mutate(int argc, char **argv, struct cli_globals *g)
{
    return cli_build_main(argc, argv, g, CLI_MUTATE, mutate_help);
}

int cmd_append(int argc, char **argv, struct cli_globals *g)
{
    return cli_build_main(argc, argv, g, CLI_APPEND, append_help);
}
