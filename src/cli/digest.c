/* kiln digest: the manifest digest of an image, for scripts. */
#include "cli.h"

int cli_inspect_run(const char *cmd, int argc, char **argv, struct cli_globals *g,
                    enum kiln_inspect_what what, const char *usage);

static const char help[] =
    "Usage: kiln digest [OPTIONS] REF\n"
    "\n"
    "Print the digest of an image's manifest (or multi-platform index).\n"
    "REF: oci:DIR[:NAME|:@N], oci-archive:FILE[:NAME|:@N], docker-archive:FILE[:REF|:@N],\n"
    "     docker://HOST/REPO[:TAG]\n"
    "A path ends at its first ':' (a NAME may hold ':' and '/', as podman's localhost/app:1);\n"
    "write a ':' in a path as \\:. @N is the image at that position, from 0.\n"
    "\n"
    "Options:\n"
    "  --platform OS/ARCH[/VAR]  one image of a multi-platform index\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

int cmd_digest(int argc, char **argv, struct cli_globals *g)
{
    return cli_inspect_run("digest", argc, argv, g, KILN_INSPECT_DIGEST, help);
}
