/* --sign-by KEY on build, copy and index: sign what was pushed to each
 * docker:// destination, by the digest pushed (a tag that someone moves
 * meanwhile is not signed), once the push has succeeded. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_sign_by_option(int opt, const char *arg, struct cli_sign_by *s)
{
    switch (opt) {
    case OPT_SIGN_BY:
        s->key = arg;
        return 1;
    case OPT_SIGN_PFILE:
        s->pfile = arg;
        return 1;
    case OPT_SIGN_PFD:
        s->pfd = arg;
        return 1;
    }
    return 0;
}

int cli_sign_by_prepare(struct cli_sign_by *s, const char *cmd, struct kiln_error *err)
{
    if (!s->key) {
        if (s->pfile || s->pfd)
            return cli_usage(err, cmd, "--sign-passphrase-file/-fd without --sign-by KEY");
        return 0;
    }
    /* read now: a descriptor is read once, and a missing passphrase is
     * better found before the build than after the push */
    return cli_passphrase_read(s->pfile, s->pfd, &s->pass, err);
}

int cli_sign_by_run(struct cli_sign_by *s, const char *dest, const char *digest,
                    const struct kiln_remote_opts *ro, struct cli_globals *g,
                    struct kiln_error *err)
{
    if (!s->key || strncmp(dest, "docker://", 9))
        return 0;
    struct kiln_sign_opts so;
    kiln_sign_opts_init(&so);
    so.key_file = s->key;
    so.passphrase = s->pass.text;
    so.passphrase_len = s->pass.len;
    so.digest = digest;
    int rc = kiln_sign(dest, &so, ro, NULL, err);
    if (rc == 0 && g->verbosity > 0)
        fprintf(stderr, "kiln: signed %s (%s)\n", dest, digest);
    return rc;
}

void cli_sign_by_free(struct cli_sign_by *s)
{
    cli_passphrase_free(&s->pass);
}
