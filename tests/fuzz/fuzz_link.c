/*
 * Header values of registry answers that kiln parses itself: the Link header
 * of tag-list pagination (kiln_link_next, RFC 8288), the decimal ones
 * (OCI-Chunk-Min-Length, Retry-After: kiln_header_uint), and the header
 * lines themselves (kiln_http_parse_header, what libcurl hands over).
 *
 * Input: a header value; with newlines, one Link header per line, joined
 * with ", " as the HTTP code joins repeated headers. The "next" target is
 * then resolved against a tag-list URL, as kiln_registry_tags does. Each
 * line is also fed as a raw header line ("Name: value" or a status line).
 *
 * Checked: the parser is deterministic; a target it returns appeared between
 * '<' and '>' in the input, holds no space, control character or angle
 * bracket, and the input names a relation type "next"; a failure carries a
 * format error and a message and returns no target; a number parses only
 * from digits and blanks, and prints back to those digits; a status is
 * 0..999, at most four WWW-Authenticate values are kept, and the Link value
 * collected from the lines parses as the joined one does.
 */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "registry/http.h"

static void check_link(const char *link)
{
    char *next = NULL, *again = NULL;
    struct kiln_error err = {0}, err2 = {0};
    int rc = kiln_link_next(link, &next, &err);
    int rc2 = kiln_link_next(link, &again, &err2);
    if (rc != rc2 || (!next) != (!again) || (next && strcmp(next, again)))
        abort();
    free(again);
    if (rc < 0) {
        if (next || !err.message[0] || (err.code != KILN_ERR_FORMAT && err.code != KILN_ERR_NOMEM))
            abort();
        return;
    }
    if (!next)
        return;
    for (const char *p = next; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>')
            abort();
    size_t n = strlen(next);
    char *wrapped = malloc(n + 3);
    if (!wrapped)
        abort();
    wrapped[0] = '<';
    memcpy(wrapped + 1, next, n);
    wrapped[n + 1] = '>';
    wrapped[n + 2] = '\0';
    if (!strstr(link, wrapped))
        abort();
    free(wrapped);
    /* quoted-pair escapes aside, the input says "next" somewhere */
    char *plain = strdup(link);
    if (!plain)
        abort();
    char *w = plain;
    for (const char *p = link; *p; p++)
        if (*p != '\\')
            *w++ = *p;
    *w = '\0';
    if (!strcasestr(plain, "next"))
        abort();
    free(plain);
    char *abs = kiln_url_resolve("https://registry.example.com/v2/team/app/tags/list?n=100",
                                 next, NULL);
    if (abs)
        free(kiln_url_host(abs, NULL));
    free(abs);
    free(next);
}

static void check_uint(const char *v)
{
    uint64_t n;
    if (kiln_header_uint(v, &n) < 0)
        return;
    const char *p = v;
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p == '0' && isdigit((unsigned char)p[1]))
        p++;
    size_t digits = strspn(p, "0123456789");
    if (!digits || p[digits + strspn(p + digits, " \t")])
        abort();
    char printed[32];
    snprintf(printed, sizeof(printed), "%" PRIu64, n);
    /* equal unless it saturated (more than 20 digits, or 20 and above 2^64-1) */
    if (n != UINT64_MAX && (strlen(printed) != digits || strncmp(printed, p, digits)))
        abort();
}

static void check_lines(char **parts, size_t n)
{
    struct kiln_http_resp r;
    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < n; i++) {
        /* as libcurl hands a line: with its CRLF */
        size_t l = strlen(parts[i]);
        char *line = malloc(l + 3);
        if (!line)
            abort();
        memcpy(line, parts[i], l);
        memcpy(line + l, "\r\n", 3);
        long st = kiln_http_parse_header(&r, line, l + 2);
        free(line);
        if (st > 999 || r.status < 0 || r.status > 999 || r.n_www_auth > 4)
            abort();
    }
    check_link(r.link);
    kiln_http_resp_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *parts[8];
    size_t n = fz_split(data, size, "\n", 1, parts, NULL, 8);
    check_lines(parts, n);
    struct kiln_buf joined = {0};
    for (size_t i = 0; i < n; i++) {
        check_uint(parts[i]);
        if (kiln_buf_printf(&joined, NULL, "%s%s", i ? ", " : "", parts[i]) < 0)
            abort();
    }
    check_link(joined.data ? joined.data : "");
    if (n == 1)
        check_link(NULL);
    kiln_buf_free(&joined);
    fz_parts_free(parts, n);
    return 0;
}
