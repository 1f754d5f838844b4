/* The kiln command line: one file per subcommand over the public API. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include "kiln/kiln.h"

/* Exit codes (documented in kiln(1)). */
enum { EXIT_OK = 0, EXIT_FAILURE_ = 1, EXIT_USAGE = 2 };

struct cli_globals {
    int verbosity; /* -1 quiet, 0 normal, 1 verbose, 2 debug */
};

int cmd_build(int argc, char **argv, struct cli_globals *g);
int cmd_version(int argc, char **argv, struct cli_globals *g);

/* Prints "kiln: MESSAGE" on stderr and returns the exit code for the error. */
int cli_report(const struct kiln_error *err);
void cli_log(void *userdata, enum kiln_log_level level, const char *message);

#endif
