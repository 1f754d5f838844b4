/* kiln login: check credentials and store them like `docker login`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

static const char help[] =
    "Usage: kiln login [OPTIONS] REGISTRY\n"
    "\n"
    "Verify credentials against REGISTRY, then store them in the auth file\n"
    "(--authfile, $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json or\n"
    "~/.docker/config.json) as docker login does.\n"
    "\n"
    "Options:\n"
    "  -u, --username USER       user name (asked for on a terminal if missing)\n"
    "  --password-stdin          read the password from standard input\n"
    "  -h, --help\n" CLI_REMOTE_HELP;

static char *read_line(FILE *f, bool echo)
{
    struct termios old, quiet;
    bool tty = !echo && isatty(fileno(f)) && tcgetattr(fileno(f), &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fileno(f), TCSAFLUSH, &quiet);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (tty) {
        tcsetattr(fileno(f), TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

int cmd_login(int argc, char **argv, struct cli_globals *g)
{
    enum { OPT_PASSWORD_STDIN = 1 };
    static const struct option options[] = {
        CLI_REMOTE_OPTIONS,
        { "username", required_argument, NULL, 'u' },
        { "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
        CLI_OPTION_DEBUG,
        CLI_OPTION_HELP,
        { NULL, 0, NULL, 0 },
    };
    struct kiln_error err = { 0 };
    struct kiln_remote_opts ro;
    cli_remote_setup(&ro, g, false);
    const char *user = NULL;
    bool pw_stdin = false;
    int opt, rc = 0;
    CLI_EACH_OPTION(opt, rc, argc, argv, ":u:h", options, help, &ro, g, &err) {
        switch (opt) {
        case 'u':
            user = optarg;
            break;
        case OPT_PASSWORD_STDIN:
            pw_stdin = true;
            break;
        default:
            rc = cli_bad_option("login", opt, argv, &err);
            break;
        }
    }
    if (rc == CLI_HELP_SHOWN)
        return EXIT_OK;
    if (rc == 0 && argc - optind != 1) {
        rc = cli_usage(&err, "login", "expected one REGISTRY");
    }
    if (rc < 0)
        return cli_report(&err);
    char *u = NULL, *pw = NULL;
    if (!user) {
        if (pw_stdin || !isatty(0)) {
            fputs("kiln: login: give the user name with -u USER\n", stderr);
            return EXIT_USAGE;
        }
        fputs("Username: ", stderr);
        u = read_line(stdin, true);
        user = u;
    }
    if (pw_stdin)
        pw = read_line(stdin, true);
    else if (isatty(0)) {
        fputs("Password: ", stderr);
        pw = read_line(stdin, false);
    } else {
        free(u);
        fputs("kiln: login: no terminal to ask for the password: use --password-stdin\n", stderr);
        return EXIT_USAGE;
    }
    if (!user || !pw) {
        free(u);
        free(pw);
        fputs("kiln: login: no password given\n", stderr);
        return EXIT_USAGE;
    }
    rc = kiln_login(argv[optind], user, pw, &ro, &err);
    explicit_bzero(pw, strlen(pw));
    free(pw);
    free(u);
    if (rc < 0)
        return cli_report(&err);
    fprintf(stderr, "Login Succeeded\n");
    return EXIT_OK;
}
