/*
 * Option parsing shared by the subcommands: getopt_long, without its
 * abbreviations. glibc's getopt_long takes any unambiguous prefix of a long
 * option ("--rootf" for "--rootfs"); the docker and podman CLIs take none,
 * and a prefix that works today breaks when an option is added. cli_getopt
 * checks the word the user wrote against the full name of the option that
 * getopt_long matched, and turns a prefix into an unknown option.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* What the last cli_getopt refused, for cli_bad_option. */
static const struct option *last_options;
static const char *last_word;

/* The length of the name in "--NAME" or "--NAME=VALUE". */
static size_t name_len(const char *word)
{
    return strcspn(word + 2, "=");
}

static const struct option *exact(const struct option *o, const char *word)
{
    size_t n = name_len(word);
    for (; o && o->name; o++)
        if (strlen(o->name) == n && !strncmp(o->name, word + 2, n))
            return o;
    return NULL;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    int idx = -1;
    last_options = longopts;
    last_word = NULL;
    int opt = getopt_long(argc, argv, shortopts, longopts, &idx);
    if (opt == -1)
        return -1;
    if (idx >= 0) {
        /* a long option matched: the word is the option, or the one
         * before its value when the value is a word of its own */
        const char *word = argv[optind - 1];
        if (optarg && optarg == argv[optind - 1] && optind >= 2)
            word = argv[optind - 2];
        if (strncmp(word, "--", 2) || exact(&longopts[idx], word) != &longopts[idx]) {
            last_word = word;
            return '?';
        }
        return opt;
    }
    if (opt == '?' || opt == ':')
        last_word = argv[optind - 1];
    return opt;
}

int cli_bad_option(const char *cmd, int opt, char **argv, struct kiln_error *err)
{
    const char *word = last_word ? last_word : argv[optind - 1];
    err->code = KILN_ERR_USAGE;
    if (strncmp(word, "--", 2) || !word[2]) {
        if (opt == ':')
            snprintf(err->message, sizeof(err->message), "%s: option '%s' needs a value", cmd,
                     word);
        else
            snprintf(err->message, sizeof(err->message),
                     "%s: unknown option '%s'; run 'kiln %s --help'", cmd, word, cmd);
        return -1;
    }
    const struct option *o = exact(last_options, word);
    size_t n = name_len(word);
    if (o && opt == ':') {
        snprintf(err->message, sizeof(err->message), "%s: option '--%s' needs a value", cmd,
                 o->name);
        return -1;
    }
    if (o && word[2 + n] == '=' && o->has_arg == no_argument) {
        snprintf(err->message, sizeof(err->message), "%s: option '--%s' takes no value", cmd,
                 o->name);
        return -1;
    }
    /* Not an option: say which ones it begins, if any, since getopt_long
     * users expect abbreviations to work. */
    char cand[512] = "";
    size_t len = 0, found = 0, total = 0;
    for (const struct option *p = last_options; p && p->name; p++)
        if (strlen(p->name) > n && !strncmp(p->name, word + 2, n))
            total++;
    for (const struct option *p = last_options; p && p->name && found < 5; p++) {
        if (strlen(p->name) <= n || strncmp(p->name, word + 2, n))
            continue;
        found++;
        const char *sep = found == 1 ? "" : total <= 5 && found == total ? " or " : ", ";
        int w = snprintf(cand + len, sizeof(cand) - len, "%s--%s", sep, p->name);
        if (w < 0 || (size_t)w >= sizeof(cand) - len)
            break;
        len += (size_t)w;
    }
    if (found)
        snprintf(err->message, sizeof(err->message),
                 "%s: unknown option '%.*s' (options cannot be abbreviated: did you mean "
                 "%s%s?); run 'kiln %s --help'",
                 cmd, (int)(2 + n), word, cand, total > found ? ", ..." : "", cmd);
    else
        snprintf(err->message, sizeof(err->message),
                 "%s: unknown option '%.*s'; run 'kiln %s --help'", cmd, (int)(2 + n), word, cmd);
    return -1;
}
