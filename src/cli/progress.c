/* The push progress line (cli_progress) and its text (cli_progress_line). */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Below this, a transfer is too short to give a rate worth printing: the
 * bytes may all have been sent before the first report (or not at all, for
 * blobs the registry had), so the rate would be noise, or a made-up 0 B/s. */
#define MIN_RATE_SECONDS 0.05

void cli_human_size(uint64_t n, char *out, size_t len)
{
    const char *u[] = { "B", "kB", "MB", "GB", "TB" };
    double v = (double)n;
    int i = 0;
    while (v >= 1000 && i < 4) {
        v /= 1000;
        i++;
    }
    snprintf(out, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

void cli_progress_line(char *out, size_t len, const struct kiln_progress *p, double elapsed)
{
    char done[32], total[32], rate[48] = "", took[32] = "";
    cli_human_size(p->bytes_done, done, sizeof(done));
    cli_human_size(p->bytes_total, total, sizeof(total));
    /* the threshold applies to the time as printed (0.0497 s shows as 0.05) */
    if ((double)(long)(elapsed * 100 + 0.5) / 100 >= MIN_RATE_SECONDS) {
        char r[32];
        cli_human_size((uint64_t)((double)p->bytes_done / elapsed), r, sizeof(r));
        snprintf(rate, sizeof(rate), ", %s/s", r);
    }
    if (p->done)
        snprintf(took, sizeof(took), " in %.*f s", elapsed < 10 ? 2 : 0, elapsed);
    snprintf(out, len, "%s/%s: %u/%u blobs, %s / %s%s%s", p->registry, p->repository, p->blobs_done,
             p->blobs_total, done, total, took, rate);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A one-line display on a terminal, refreshed at most 10 times a second; a
 * single summary line otherwise. */
void cli_progress(void *userdata, const struct kiln_progress *p)
{
    struct cli_globals *g = userdata;
    if (g->verbosity < 0)
        return;
    double t = now_s();
    if (p->blobs_done == 0 && p->bytes_done == 0 && !p->done) {
        g->progress_start = t;
        g->progress_last = 0;
    }
    bool tty = isatty(2);
    if (!tty && !p->done)
        return;
    if (tty && !p->done && t - g->progress_last < 0.1)
        return;
    g->progress_last = t;
    char line[600];
    cli_progress_line(line, sizeof(line), p, t - g->progress_start);
    fprintf(stderr, "%s%s%s", tty ? "\r\033[K" : "kiln: ", line, p->done ? "\n" : "");
    fflush(stderr);
}
